"""CPU training step time with glibc's default malloc settings vs `keep_freed_cpu_memory()`.

    python -m benchmarks.bench_allocator --image resources/eval/mountains_trail_112.png

Each setting runs in its own fresh process (the thresholds cannot be reset once changed), twice
and interleaved (default, kept, default, kept) so that a machine that slows down or speeds up
during the run does not favour either. Prints seconds per step at each scale, the ratio, and the
peak resident memory of each process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(image: str, dim: int, batch: int, steps: int, keep: bool) -> dict:
    """Runs in the child process: warm-up plus `steps` timed steps at each scale."""
    from core.config import ModelConfig, TrainConfig
    from core.device import keep_freed_cpu_memory
    from core.imageio import load_image
    from core.training.trainer import Trainer

    applied = keep_freed_cpu_memory() if keep else False
    trainer = Trainer.from_image(
        load_image(image), ModelConfig(dim=dim), TrainConfig(batch_size=batch), "cpu"
    )
    seconds = []
    for scale in range(trainer.pyramid.num_scales):
        trainer.train_step(scale=scale)
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step(scale=scale)
        seconds.append((time.perf_counter() - start) / steps)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"keep": keep, "applied": applied, "seconds": seconds, "peak_mb": peak_mb}


def run_child(args: argparse.Namespace, keep: bool) -> dict:
    command = [
        sys.executable, "-m", "benchmarks.bench_allocator", "--child", "--image", args.image,
        "--dim", str(args.dim), "--batch", str(args.batch), "--steps", str(args.steps),
    ]  # fmt: skip
    if keep:
        command.append("--keep")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="resources/eval/mountains_trail_112.png")
    parser.add_argument("--dim", type=int, default=48)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6, help="timed steps per scale")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.image, args.dim, args.batch, args.steps, args.keep)))
        return
    runs = [run_child(args, keep) for _ in range(args.rounds) for keep in (False, True)]
    default = [r for r in runs if not r["keep"]]
    kept = [r for r in runs if r["keep"]]
    scales = len(runs[0]["seconds"])
    print(f"{args.image}, width {args.dim}, batch {args.batch}, {args.steps} steps per scale")
    print("| scale | default s/step | kept s/step | speed-up |")
    print("|---|---|---|---|")
    for s in range(scales):
        a = min(r["seconds"][s] for r in default)
        b = min(r["seconds"][s] for r in kept)
        print(f"| {s} | {a:.3f} | {b:.3f} | {a / b:.2f}× |")
    mean_a = sum(min(r["seconds"][s] for r in default) for s in range(scales)) / scales
    mean_b = sum(min(r["seconds"][s] for r in kept) for s in range(scales)) / scales
    print(f"| mean over scales | {mean_a:.3f} | {mean_b:.3f} | {mean_a / mean_b:.2f}× |")
    print(
        f"peak memory: default {max(r['peak_mb'] for r in default):.0f} MB, "
        f"kept {max(r['peak_mb'] for r in kept):.0f} MB; applied: {kept[0]['applied']}"
    )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"args": vars(args), "runs": runs}, handle, indent=1)


if __name__ == "__main__":
    main()
