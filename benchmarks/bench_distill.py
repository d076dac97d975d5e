"""Steps-to-quality of the reference loss against the distilled one, in one run (issue 14).

    python -m benchmarks.bench_distill resources/eval/mountains_trail_112.png \
        --variants standard:0:1,distilled:1:1,mixed:0.5:1 --steps 730 --eval-every 243 \
        --json out.json --save-samples samples/

Each variant NAME:SHARE:UNTIL[:STEPS] trains the `cpu` preset's network (width 32, batch 8,
bf16 where native, its late learning-rate halvings fitted to STEPS, by default --steps) from the
same seed, with TrainConfig.distill = SHARE and distill_until = UNTIL (docs/method.md §10).
Every --eval-every steps, and at the end, -n samples of the EMA network at the training size
are measured with the metrics of `sinddm eval`; the training seconds so far (sampling and
metrics excluded) are printed beside them, so variants compare at equal time as well as at
equal steps. All variants run in one process, one after another: compare their ratios, not the
seconds across days.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from benchmarks.bench_presets import generate
from core.device import keep_freed_cpu_memory, resolve_device
from core.evaluation.report import BASELINE_DISTANCES, evaluate
from core.files.model_file import save_trainer
from core.imageio import load_image, save_png
from core.training.presets import PRESETS
from core.training.trainer import Trainer

METRICS = ("pixel_diversity", *BASELINE_DISTANCES, "memorised_fraction")
"""The metrics `evaluate` measures without weight files."""


@dataclass(frozen=True)
class Variant:
    name: str
    share: float
    until: float
    steps: int | None = None
    """None: --steps."""


def parse_variants(text: str) -> list[Variant]:
    """'name:share:until[:steps],…' -> variants."""
    variants = []
    for item in text.split(","):
        name, share, until, *steps = item.split(":")
        variants.append(Variant(name, float(share), float(until), int(steps[0]) if steps else None))
    return variants


def checkpoints(steps: int, every: int) -> list[int]:
    return sorted({*range(every, steps, every), steps})


def run_variant(variant: Variant, image, args, device) -> list[dict]:
    """Train one variant, measuring at each checkpoint: one row (dict) per checkpoint."""
    preset = PRESETS["cpu"]
    steps = variant.steps or args.steps
    config = replace(preset.train_config(steps), distill=variant.share, distill_until=variant.until)
    trainer = Trainer.from_image(image, preset.model, config, device, seed=0, bf16=preset.bf16)
    rows, seconds = [], 0.0
    for stop in checkpoints(steps, args.eval_every):
        start = time.perf_counter()
        while trainer.state.step < stop:
            trainer.train_step()
        seconds += time.perf_counter() - start
        model = trainer.sampling_model()
        with torch.no_grad():
            samples = generate(model, args.count, batch=8)
        report = evaluate(samples, model.pyramid.sharp[-1], seed=0)
        row = {"variant": variant.name, "step": stop, "train_seconds": round(seconds, 1)}
        row.update({name: report[name]["mean"] for name in METRICS})
        row.update({f"{name}_std": report[name]["std"] for name in METRICS})
        rows.append(row)
        print(format_row(row), flush=True)
        if args.save_samples and stop == steps:
            folder = Path(args.save_samples) / variant.name
            folder.mkdir(parents=True, exist_ok=True)
            for index, picture in enumerate(samples):
                save_png(picture, folder / f"sample_{index:03d}.png")
            save_trainer(trainer, folder / "model.sinddm")
    return rows


def format_row(row: dict) -> str:
    cells = " | ".join(f"{row[name]:.3f}" for name in METRICS)
    minutes = row["train_seconds"] / 60
    return f"| {row['variant']} | {row['step']:,} | {minutes:.1f} min | {cells} |"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--variants", default="standard:0:1,distilled:1:1")
    parser.add_argument("--steps", type=int, default=730)
    parser.add_argument("--eval-every", type=int, default=243)
    parser.add_argument("-n", "--count", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json")
    parser.add_argument(
        "--save-samples", help="folder for each variant's last samples and its model.sinddm"
    )
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    if device.type == "cpu":
        keep_freed_cpu_memory()
    image = load_image(args.image)
    print(f"{args.image}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| variant | step | training | " + " | ".join(METRICS) + " |")
    print("|" + "---|" * (3 + len(METRICS)))
    rows = []
    for variant in parse_variants(args.variants):
        rows += run_variant(variant, image, args, device)
    if args.json:
        out = {"image": args.image, "date": time.strftime("%Y-%m-%d"), "rows": rows}
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
