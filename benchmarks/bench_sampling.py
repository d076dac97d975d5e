"""Sampling speed-ups (fine-scale stride, bf16) and what they cost in quality, in one run.

    python -m benchmarks.bench_sampling MODEL.sinddm --variants plain,stride2,bf16,stride2+bf16 \
        --size 250x200 -n 24 --json out.json

For each variant: seconds for one sample at --size and for --batch-samples together (median of
--repeats), then `-n` samples at the training size measured with
`core.evaluation.report.evaluate` (the
metrics of `sinddm eval`, seeds 0..n−1). The first variant is the reference for the speed-ups and
the quality bar (`compare_to_baseline`). Figures belong in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from benchmarks.bench_core import synchronize
from benchmarks.bench_presets import TABLE_METRICS, metric_cell
from cli.arguments import parse_size
from core.denoisers.trained import SinDDMModel
from core.device import bf16_supported, resolve_device
from core.evaluation.report import compare_to_baseline, evaluate
from core.files.model_file import load_model
from core.generation.sampling import canvas_sizes, resolve_start_steps, sample, sampling_work
from core.method.tensors import tensor_to_images
from core.requests import SamplingOptions


@dataclass(frozen=True)
class Variant:
    name: str
    fine_stride: int = 1
    bf16: bool = False

    @classmethod
    def parse(cls, text: str) -> Variant:
        """'plain', 'bf16', 'stride2', 'stride3+bf16', …"""
        stride, bf16 = 1, False
        for part in text.split("+"):
            if part == "bf16":
                bf16 = True
            elif part.startswith("stride") and part[6:].isdigit():
                stride = int(part[6:])
            elif part != "plain":
                raise ValueError(f"unknown variant part {part!r}")
        return cls(text, stride, bf16)


def seconds_to_sample(
    model: SinDDMModel, variant: Variant, size: tuple[int, int], count: int, repeats: int
) -> float:
    """Median seconds to draw `count` samples of `size` in one batch, after a warm-up."""
    speed = SamplingOptions(fine_stride=variant.fine_stride, bf16=variant.bf16)
    options = {"size": size, "options": speed}
    sample(model, count=1, last_scale=1, **options)
    times = []
    for _ in range(repeats):
        synchronize(model.device)
        start = time.perf_counter()
        sample(model, count=count, **options)
        synchronize(model.device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def measure(model: SinDDMModel, variant: Variant, args) -> dict:
    one = seconds_to_sample(model, variant, args.size, 1, args.repeats)
    many = seconds_to_sample(model, variant, args.size, args.batch_samples, 1)
    images = []
    for first in range(0, args.count, 8):
        batch = sample(
            model,
            count=min(8, args.count - first),
            seed=first,
            options=SamplingOptions(fine_stride=variant.fine_stride, bf16=variant.bf16),
        )
        images.extend(tensor_to_images(batch))
    report = evaluate(images, model.pyramid.sharp[-1], seed=0)
    return {"variant": variant.name, "one": one, "many": many, "report": report}


def network_calls(model: SinDDMModel, variant: Variant, size: tuple[int, int]) -> float:
    """Network evaluations of one sample, weighted by pixels relative to the finest scale."""
    sizes = canvas_sizes(model.sizes, size, None)
    work = sampling_work(sizes, resolve_start_steps(model, None), None, variant.fine_stride)
    w, h = sizes[-1]
    return sum(work) / (w * h)


def format_table(model: SinDDMModel, results: list[dict], variants: list[Variant], args) -> str:
    w, h = args.size
    first = results[0]
    header = (
        f"| variant | work (finest-scale calls) | 1 sample {w}×{h} | speed-up | "
        f"{args.batch_samples} samples | " + " | ".join(TABLE_METRICS) + " | memorised | bar |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for result, variant in zip(results, variants, strict=True):
        checks = compare_to_baseline(result["report"], first["report"])
        failed = [c.metric for c in checks if not c.passed]
        verdict = "pass" if not failed else "FAIL (" + ", ".join(failed) + ")"
        cells = " | ".join(metric_cell(result["report"], name) for name in TABLE_METRICS)
        lines.append(
            f"| {variant.name} | {network_calls(model, variant, args.size):.1f} | "
            f"{result['one']:.2f} s | {first['one'] / result['one']:.2f}× | "
            f"{result['many']:.2f} s | {cells} | "
            f"{metric_cell(result['report'], 'memorised_fraction')} | "
            f"{'(reference)' if result is first else verdict} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--variants", default="plain,stride2,bf16,stride2+bf16")
    parser.add_argument("--size", type=parse_size, default=(250, 200))
    parser.add_argument("-n", "--count", type=int, default=24, help="samples to evaluate")
    parser.add_argument("--batch-samples", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="write the measurements to this file")
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    model = load_model(args.model, device)
    variants = [Variant.parse(name) for name in args.variants.split(",")]
    with torch.no_grad():
        results = [measure(model, variant, args) for variant in variants]
    print(
        f"{args.model} (width {model.config.dim}, trained at {model.sizes[-1][0]}×"
        f"{model.sizes[-1][1]}) on {device.type} ({platform.machine()}, "
        f"{torch.get_num_threads()} threads, bf16 {'native' if bf16_supported(device) else 'no'}"
        f"), torch {torch.__version__}"
    )
    print(format_table(model, results, variants, args))
    if args.json:
        out = {"model": args.model, "device": str(device), "date": time.strftime("%Y-%m-%d")}
        out.update(size=list(args.size), batch_samples=args.batch_samples, results=results)
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
