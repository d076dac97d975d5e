"""One GPU session, end to end: step and sampling timings, then a timed training of the demo image.

    python -m benchmarks.gpu_session --out OUT [--budget 330] [--dim 160] [--batch 32]

Writes OUT/gpu_results.json, OUT/demo_model.sinddm (EMA weights only, float16: a full
resumable file at width 160 is about 18 MB, over what the device tool brings back) and sample
grids. Needs only torch, numpy and pillow (the GPU machine has no
Qt or open_clip). Prove it on the CPU with tiny settings before spending GPU time:

    python -m benchmarks.gpu_session --out /tmp/g --dim 8 --batch 2 --size 100x80 --budget 60
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.bench_core import _device_name, make_trainer, synchronize, timed
from core.config import ModelConfig
from core.device import resolve_device
from core.files.model_file import load_model, save_trainer
from core.generation.sampling import sample
from core.imageio import load_image, save_png
from core.method.pyramid import build_pyramid
from core.method.tensors import tensor_to_images
from core.training.presets import fitted_train_config
from core.training.trainer import Trainer


def set_tf32(enabled: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def variant_context(name: str, device: torch.device):
    if name.startswith("bf16") and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def time_variants(image: Image.Image, args, device: torch.device) -> dict:
    """Per-scale training-step seconds and sampling seconds for each numeric variant."""
    results = {}
    for name in ("fp32_strict", "tf32", "bf16_autocast", "bf16_channels_last"):
        set_tf32(name != "fp32_strict")
        torch.backends.cudnn.benchmark = name != "fp32_strict"
        trainer = make_trainer(image, args.dim, args.batch, device)
        if name.endswith("channels_last"):
            trainer.net.to(memory_format=torch.channels_last)
            trainer._sharp = [
                x.contiguous(memory_format=torch.channels_last) for x in trainer._sharp
            ]
            trainer._blurry = [
                x.contiguous(memory_format=torch.channels_last) for x in trainer._blurry
            ]
        per_scale = []
        for s in range(trainer.pyramid.num_scales):
            with variant_context(name, device):
                step = lambda s=s, tr=trainer: tr.train_step(scale=s)  # noqa: E731
                per_scale.append(timed(step, device, args.repeats, 2))
        model = trainer.sampling_model()
        with variant_context(name, device):
            one = timed(lambda m=model: sample(m, count=1, seed=0), device, 3, 1)
            sixteen = timed(lambda m=model: sample(m, count=16, seed=0), device, 1, 1)
        results[name] = {
            "seconds_per_step": per_scale,
            "mean_seconds_per_step": sum(per_scale) / len(per_scale),
            "seconds_one_sample": one,
            "seconds_sixteen_samples": sixteen,
            "peak_memory_gb": _peak_memory_gb(device),
        }
        print(name, json.dumps(results[name]), flush=True)
        del trainer, model
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
    return results


def train_for(image: Image.Image, args, device: torch.device, seconds: float, step_time: float):
    steps = max(20, int(seconds / step_time))
    config = ModelConfig(dim=args.dim)
    pyramid = build_pyramid(image, config.max_pixels, config.scale_factor)
    train_config = fitted_train_config(steps, args.batch)
    trainer = Trainer(pyramid, config, train_config, device, seed=0, bf16=args.bf16)
    start = time.perf_counter()
    for step in trainer.steps():
        if step.step % 500 == 0:
            print(f"step {step.step}/{steps} loss {step.loss:.4f} lr {step.lr:.2e}", flush=True)
    synchronize(device)
    return trainer, steps, time.perf_counter() - start


def write_grid(images: list[np.ndarray], path: Path, columns: int = 4) -> None:
    h, w, _ = images[0].shape
    rows = (len(images) + columns - 1) // columns
    grid = np.full((rows * (h + 4) - 4, columns * (w + 4) - 4, 3), 255, np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * (h + 4) : r * (h + 4) + h, c * (w + 4) : c * (w + 4) + w] = img
    save_png(grid, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--image", default="resources/demo.png")
    parser.add_argument("--size", default="250x200", help="image size for the timings")
    parser.add_argument("--dim", type=int, default=160)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--budget", type=float, default=330, help="seconds for the whole script")
    parser.add_argument("--skip-timings", action="store_true", help="only train and sample")
    parser.add_argument("--bf16", action="store_true", help="train under bf16 autocast")
    parser.add_argument("--step-time", type=float, default=0.05, help="seconds per step guess")
    args = parser.parse_args()
    began = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device("auto")
    print(f"device {_device_name(device)}, torch {torch.__version__}", flush=True)

    demo = load_image(args.image)
    w, h = (int(v) for v in args.size.split("x"))
    results = {"device": _device_name(device), "torch": torch.__version__}
    step_time = args.step_time
    if not args.skip_timings:
        timings = time_variants(demo.resize((w, h), Image.Resampling.LANCZOS), args, device)
        results["timings"] = timings
        _dump(results, out)
        step_time = timings["bf16_autocast" if args.bf16 else "tf32"]["mean_seconds_per_step"]

    set_tf32(True)
    torch.backends.cudnn.benchmark = True
    remaining = args.budget - (time.perf_counter() - began) - 40  # leave time to save and sample
    trainer, steps, train_seconds = train_for(demo, args, device, remaining, step_time)
    save_trainer(trainer, out / "demo_model.sinddm", include_training_state=False, half=True)
    _save_live_weights(trainer, out / "demo_model_live.sinddm")
    live = load_model(out / "demo_model_live.sinddm", device)
    write_grid(tensor_to_images(sample(live, count=8, seed=0)), out / "samples_grid_live.png")
    model = load_model(out / "demo_model.sinddm", device)
    start = time.perf_counter()
    samples = sample(model, count=8, seed=0)
    synchronize(device)
    sample_seconds = time.perf_counter() - start
    write_grid(tensor_to_images(samples), out / "samples_grid.png")
    fw, fh = model.sizes[-1]
    wide = sample(model, count=2, seed=100, size=(2 * fw, fh))
    write_grid(tensor_to_images(wide), out / "samples_wide.png", columns=1)
    results["training"] = {
        "image": args.image,
        "sizes": [list(s) for s in trainer.pyramid.sizes],
        "start_steps": list(trainer.schedule.start_steps),
        "steps": steps,
        "seconds": train_seconds,
        "train_config": trainer.train_config.to_dict(),
        "loss_history": trainer.state.loss_history,
        "seconds_eight_samples_fp16_model": sample_seconds,
    }
    results["total_seconds"] = time.perf_counter() - began
    _dump(results, out)
    print(json.dumps({k: v for k, v in results["training"].items() if k != "loss_history"}))


def _save_live_weights(trainer: Trainer, path: Path) -> None:
    """A sampling-only file holding the live (not averaged) weights, to compare with the EMA."""
    ema_weights = {k: v.clone() for k, v in trainer.ema.state_dict().items()}
    trainer.ema.load_state_dict(trainer.net.state_dict())
    save_trainer(trainer, path, include_training_state=False, half=True)
    trainer.ema.load_state_dict(ema_weights)


def _peak_memory_gb(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**30


def _dump(results: dict, out: Path) -> None:
    (out / "gpu_results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
