"""The parts `app.state.AppState` is composed of, each a small view-model of its own.

- `jobs`: the running job and those queued (`JobKind`, `Jobs`)
- `settings`: what the next generation asks for (`GenerationSettings`)
- `clip`: where the CLIP weights for text guidance come from (`ClipWeights`)
- `results`: the generated images in the strip, and exporting them (`ResultsList`)
- `engines`: the models open now, Instant and trained, and which one Generate uses
- `canvas`: the image the canvas shows, with its caption (`CanvasImage`)
- `training`: the photo to train on, the training options and the training job
- `generation`: running generations and foretelling how long they take

None of them imports torch, the engine or the worker: they reach both through app.engine_api.
"""
