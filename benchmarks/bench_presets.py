"""Train presets on one image in one run and print their speed and quality side by side.

    python -m benchmarks.bench_presets resources/eval/mountains_trail_112.png --presets cpu \
        --baseline docs/quality/mountains_trail_112.json --json out.json

Each preset is trained from scratch on the image (seed 0, the preset's steps unless --steps), then
`-n` samples at the training size are measured with `core.evaluation.report.evaluate` (the
metrics of
`sinddm eval`) and held to the bar of docs/quality.md when --baseline names a baseline report.
One sample at --sample-size and a batch of --batch-samples are timed too. Speed-ups are relative
to the first preset listed. Figures belong in docs/benchmarks.md with the device and the date.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench_core import synchronize
from cli.arguments import parse_size
from core.denoisers.trained import SinDDMModel
from core.device import bf16_supported, keep_freed_cpu_memory, resolve_device
from core.evaluation.report import compare_to_baseline, evaluate
from core.generation.sampling import sample
from core.imageio import load_image, save_png
from core.method.tensors import tensor_to_images
from core.training.presets import PRESETS, Preset
from core.training.trainer import Trainer

TABLE_METRICS = ("pixel_diversity", "patch_distance", "coherence", "completeness")


@dataclass
class PresetRun:
    """What one preset's training, sampling and evaluation measured."""

    preset: str
    steps: int
    bf16: bool
    train_seconds: float
    sample_seconds: float
    batch_seconds: float
    report: dict
    checks: list = field(default_factory=list)

    @property
    def seconds_per_step(self) -> float:
        return self.train_seconds / self.steps

    @property
    def passed(self) -> bool | None:
        return all(check.passed for check in self.checks) if self.checks else None


def train(preset: Preset, image, steps: int, device: torch.device, progress: bool) -> Trainer:
    trainer = Trainer.from_image(
        image, preset.model, preset.train_config(steps), device, seed=0, bf16=preset.bf16
    )
    for step in trainer.steps():
        if progress and (step.step % 100 == 0 or step.step == steps):
            print(f"  {preset.name}: step {step.step}/{steps}", file=sys.stderr, flush=True)
    synchronize(device)
    return trainer


def time_sampling(model: SinDDMModel, size: tuple[int, int], count: int) -> float:
    """Seconds to draw `count` samples of `size` in one batch (after a one-sample warm-up)."""
    sample(model, count=1, size=size, last_scale=0)
    synchronize(model.device)
    start = time.perf_counter()
    sample(model, count=count, size=size)
    synchronize(model.device)
    return time.perf_counter() - start


def generate(model: SinDDMModel, count: int, batch: int) -> list[np.ndarray]:
    """`count` samples at the training size, seeds 0..count−1 (as `sinddm eval`)."""
    images: list[np.ndarray] = []
    for first in range(0, count, batch):
        chunk = sample(model, count=min(batch, count - first), seed=first)
        images.extend(tensor_to_images(chunk))
    return images


def run_preset(name: str, args, image, device: torch.device, baseline: dict | None) -> PresetRun:
    preset = PRESETS[name]
    steps = args.steps or preset.steps
    start = time.perf_counter()
    trainer = train(preset, image, steps, device, args.progress)
    train_seconds = time.perf_counter() - start
    model = trainer.sampling_model()
    with torch.no_grad():
        sample_seconds = time_sampling(model, args.sample_size, 1)
        batch_seconds = time_sampling(model, args.sample_size, args.batch_samples)
        samples = generate(model, args.count, batch=8)
    if args.save_samples:
        folder = Path(args.save_samples) / name
        folder.mkdir(parents=True, exist_ok=True)
        for index, picture in enumerate(samples):
            save_png(picture, folder / f"sample_{index:03d}.png")
    report = evaluate(samples, model.pyramid.sharp[-1], seed=0)
    checks = compare_to_baseline(report, baseline) if baseline else []
    return PresetRun(
        name,
        steps,
        trainer.bf16,
        train_seconds,
        sample_seconds,
        batch_seconds,
        report,
        checks,
    )


def metric_cell(report: dict, name: str) -> str:
    entry = report[name]
    if not entry.get("available", True):
        return "n/a"
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def format_table(runs: list[PresetRun], baseline: dict | None, args) -> str:
    first = runs[0]
    w, h = args.sample_size
    header = (
        f"| preset | steps | s/step | training | speed-up | 1 sample {w}×{h} | "
        f"{args.batch_samples} samples | " + " | ".join(TABLE_METRICS) + " | memorised | bar |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    if baseline:
        cells = " | ".join(metric_cell(baseline, name) for name in TABLE_METRICS)
        memorised = metric_cell(baseline, "memorised_fraction")
        lines.append(f"| baseline (docs/quality.md) | | | | | | | {cells} | {memorised} | |")
    for run in runs:
        cells = " | ".join(metric_cell(run.report, name) for name in TABLE_METRICS)
        verdict = {True: "pass", False: "FAIL", None: ""}[run.passed]
        failed = [c.metric for c in run.checks if not c.passed]
        if failed:
            verdict += " (" + ", ".join(failed) + ")"
        lines.append(
            f"| {run.preset}{' bf16' if run.bf16 else ''} | {run.steps:,} | "
            f"{run.seconds_per_step:.3f} | {run.train_seconds / 60:.1f} min | "
            f"{first.train_seconds / run.train_seconds:.2f}× | {run.sample_seconds:.2f} s | "
            f"{run.batch_seconds:.2f} s | {cells} | "
            f"{metric_cell(run.report, 'memorised_fraction')} | {verdict} |"
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("image")
    parser.add_argument("--presets", default="cpu", help="comma-separated preset names")
    parser.add_argument("--steps", type=int, help="train every preset this long instead")
    parser.add_argument("-n", "--count", type=int, default=24, help="samples to evaluate")
    parser.add_argument("--sample-size", type=parse_size, default=(250, 200))
    parser.add_argument("--batch-samples", type=int, default=16, help="samples timed together")
    parser.add_argument("--baseline", help="a `sinddm eval --json` report to hold presets to")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--save-samples", help="write each preset's samples under this folder")
    parser.add_argument("--json", help="write the measurements to this file")
    parser.add_argument("--progress", action="store_true", help="print every 100 steps")
    args = parser.parse_args(argv)
    args.presets = [name.strip() for name in args.presets.split(",") if name.strip()]
    unknown = [name for name in args.presets if name not in PRESETS]
    if unknown:
        parser.error(f"unknown preset(s) {unknown}; choose from {list(PRESETS)}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    device = resolve_device(args.device)
    if device.type == "cpu":
        keep_freed_cpu_memory()
    image = load_image(args.image)
    baseline = json.loads(Path(args.baseline).read_text()) if args.baseline else None
    runs = [run_preset(name, args, image, device, baseline) for name in args.presets]
    print(
        f"{args.image} on {device.type} ({platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, bf16 {'native' if bf16_supported(device) else 'no'}), "
        f"torch {torch.__version__}; peak memory "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    print(format_table(runs, baseline, args))
    if args.json:
        out = {
            "image": args.image,
            "device": str(device),
            "torch": torch.__version__,
            "date": time.strftime("%Y-%m-%d"),
            "runs": [
                {
                    "preset": run.preset,
                    "steps": run.steps,
                    "bf16": run.bf16,
                    "train_seconds": run.train_seconds,
                    "sample_seconds": run.sample_seconds,
                    "batch_seconds": run.batch_seconds,
                    "batch_samples": args.batch_samples,
                    "sample_size": list(args.sample_size),
                    "report": run.report,
                    "checks": [
                        {"metric": c.metric, "value": c.value, "limit": c.limit, "passed": c.passed}
                        for c in run.checks
                    ],
                }
                for run in runs
            ],
        }
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
