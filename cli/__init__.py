"""The `sinddm` command line: argument parsing, terminal output and files over `core`.

`cli.main.main(argv)` is the console script's entry point. Everything that generates or trains
goes through the same core API as the app (`core.generation.plan.plan`, then
`core.generation.run.generate`; `core.training.trainer.run_training`); this package only turns
arguments into requests and results into PNG files and lines of text. `core` never imports it.
"""
