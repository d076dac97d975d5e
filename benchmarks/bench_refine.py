"""The `refine` preset against Instant and the `cpu` preset's time, in one run (issue 14).

    python -m benchmarks.bench_refine resources/eval/mountains_trail_112.png -n 16 \
        --weights 0.5,0.3,0.7 --json out.json --grid out.jpg

1. Times the `cpu` preset's steps at each scale (a warm-up step, then `--timed` steps) and
   multiplies their mean by its step count: its training time on this machine, now.
2. Trains the `refine` preset (docs/method.md §11) whole, timing it.
3. Samples `-n` images at the training size (seeds 0…n−1, the model's own strides) from
   Instant and from the refined model at each weight w of `--weights` (the first is the
   preset's), and measures them with `sinddm eval`'s metrics plus the share of near-verbatim
   15×15 patches (core.evaluation.metrics.verbatim_patches).

Prints one table row per model; compare ratios within the run, not seconds across days.

    python -m benchmarks.bench_refine resources/demo.png --speed

times instead one sample at the `cpu` and `refine` presets' training size (best of 3, seeds
0–2, each model's own strides) from Instant, the refined model and the `cpu` preset's network;
the networks are untrained, as the cost does not depend on the weights.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from core.denoisers.refined import RefinedModel
from core.device import keep_freed_cpu_memory
from core.evaluation.metrics import verbatim_patches
from core.evaluation.report import BASELINE_DISTANCES, evaluate
from core.generation.plan import plan
from core.generation.run import generate_images
from core.imageio import load_image
from core.requests import GenerationRequest
from core.training.presets import PRESETS, Preset
from core.training.trainer import Trainer

METRICS = ("pixel_diversity", *BASELINE_DISTANCES, "memorised_fraction")
GAP = 4


def trainer_for(preset: Preset, image: Image.Image, steps: int | None = None) -> Trainer:
    """The preset's trainer from seed 0 on the CPU (`steps`: its schedule fitted to those)."""
    config = preset.train_config(steps)
    return Trainer.from_image(image, preset.model, config, "cpu", seed=0, bf16=preset.bf16)


def estimated_training_seconds(preset: Preset, image: Image.Image, timed: int) -> float:
    """The preset's whole run, from the mean time of `timed` steps at each scale it draws."""
    trainer = trainer_for(preset, image)
    per_scale = []
    for scale in trainer.scales:
        trainer.train_step(scale=scale)  # warm-up: allocations
        start = time.perf_counter()
        for _ in range(timed):
            trainer.train_step(scale=scale)
        per_scale.append((time.perf_counter() - start) / timed)
    return float(np.mean(per_scale)) * preset.steps


def samples_of(model, count: int, seed: int = 0) -> list[np.ndarray]:
    """`count` samples at the training size, seeds seed…, the model's own strides (as eval)."""
    return generate_images(model, plan(model, GenerationRequest(count=count, seed=seed)))


def measure(name: str, images: list[np.ndarray], reference: np.ndarray) -> dict:
    report = evaluate(images, reference, seed=0)
    row: dict = {"model": name}
    for metric in METRICS:
        row[metric] = report[metric]["mean"]
        row[f"{metric}_std"] = report[metric]["std"]
    shares = [verbatim_patches(image, reference) for image in images]
    row["verbatim_patches"] = float(np.mean(shares))
    row["verbatim_patches_std"] = float(np.std(shares))
    return row


def format_row(row: dict) -> str:
    cells = [f"{row[m]:.3f} ± {row[m + '_std']:.3f}" for m in (*METRICS, "verbatim_patches")]
    return f"| {row['model']} | " + " | ".join(cells) + " |"


def save_grid(images: list[np.ndarray], reference: np.ndarray, path: str, limit: int = 14):
    """The training image (framed in red) and the first samples, five to a row."""
    pictures = [Image.fromarray(image) for image in images[:limit]]
    framed = ImageOps.expand(Image.fromarray(reference), 2, fill="red")
    pictures.insert(0, framed.resize(pictures[0].size))
    width, height = pictures[0].size
    rows = (len(pictures) + 4) // 5
    grid = Image.new("RGB", (5 * (width + GAP) - GAP, rows * (height + GAP) - GAP), "white")
    for index, picture in enumerate(pictures):
        row, col = divmod(index, 5)
        grid.paste(picture, (col * (width + GAP), row * (height + GAP)))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    grid.save(path, quality=88)


def sample_seconds(model, seed: int) -> float:
    """Seconds for one sample at the training size with the model's own strides."""
    start = time.perf_counter()
    samples_of(model, 1, seed)
    return time.perf_counter() - start


def speed(image: Image.Image) -> None:
    """Seconds for one sample of Instant, the refined model and the `cpu` preset's network."""
    refined = trainer_for(PRESETS["refine"], image).sampling_model()
    network = trainer_for(PRESETS["cpu"], image).sampling_model()
    assert isinstance(refined, RefinedModel)
    width, height = refined.sizes[-1]
    models = (("Instant", refined.instant), ("refine", refined), ("cpu preset network", network))
    best = {name: min(sample_seconds(model, seed) for seed in range(3)) for name, model in models}
    for name, seconds in best.items():
        print(
            f"{name}: one {width}×{height} sample {seconds:.2f} s "
            f"= {seconds / best['Instant']:.2f}× Instant"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("-n", "--count", type=int, default=16)
    parser.add_argument("--weights", default="0.5", help="refiner weights w to sample with")
    parser.add_argument("--timed", type=int, default=5, help="cpu preset steps timed per scale")
    parser.add_argument("--steps", type=int, help="refine steps (default: the preset's)")
    parser.add_argument("--json")
    parser.add_argument("--grid", help="picture of the refined model's samples (first weight)")
    parser.add_argument("--speed", action="store_true", help="time one sample of each model")
    args = parser.parse_args(argv)
    keep_freed_cpu_memory()
    image = load_image(args.image)
    print(f"{args.image}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    if args.speed:
        speed(image)
        return

    cpu_seconds = estimated_training_seconds(PRESETS["cpu"], image, args.timed)
    trainer = trainer_for(PRESETS["refine"], image, args.steps)
    start = time.perf_counter()
    for _ in trainer.steps():
        pass
    refine_seconds = time.perf_counter() - start
    print(
        f"training: cpu preset {cpu_seconds / 60:.1f} min (estimated from {args.timed} steps a "
        f"scale), refine {refine_seconds / 60:.1f} min ({trainer.state.step} steps): "
        f"{refine_seconds / cpu_seconds:.2f} of the cpu preset's time"
    )
    refined = trainer.sampling_model()
    assert isinstance(refined, RefinedModel)
    reference = refined.pyramid.sharp[-1]
    header = ("model", *METRICS, "verbatim_patches")
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    rows = []
    candidates = [("Instant", refined.instant, None)]
    candidates += [(f"refine w={w}", refined, float(w)) for w in args.weights.split(",")]
    for name, model, weight in candidates:
        if weight is not None:
            model.weight = weight
        start = time.perf_counter()
        images = samples_of(model, args.count)
        seconds = time.perf_counter() - start
        row = measure(name, images, reference)
        row["sample_seconds"] = round(seconds, 1)
        rows.append(row)
        print(format_row(row), flush=True)
        if args.grid and weight is not None and len(rows) == 2:
            save_grid(images, reference, args.grid)
    if args.json:
        summary = {
            "image": args.image,
            "cpu_preset_seconds_estimated": round(cpu_seconds, 1),
            "refine_seconds": round(refine_seconds, 1),
            "refine_steps": trainer.state.step,
            "rows": rows,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
