"""Instant's speed against trained models, and how far its approximations move the denoiser.

    python -m benchmarks.bench_instant speed [--photo PHOTO] [--model MODEL] [--device cuda]
    python -m benchmarks.bench_instant approx [--photo resources/demo.png] [--scale 2]

`speed` times, in one run: one 250×200 Instant sample from a 250×200 photo including building
the patch index (the best of three, each from a fresh model), 16 samples, a 1024×768 retarget,
and one 250×200 sample of each trained model given and of the `cpu` preset's width-32
network (untrained: the cost of sampling does not depend on the weights), plain and Fast.
Ratios within the run are what to compare; absolute seconds depend on the machine and the
minute.

`approx` compares the candidate denoiser (the default) with exact search over every patch at
one scale, on the photo's own noised mixture, for several t: the 99th percentile and the mean
of the per-pixel difference in grey levels (of 255), after three earlier sampler steps at that
scale have refined the candidates. They start either from the index (as on entering the first
candidate scale) or carried up from the scale below (as on entering every finer one).
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from PIL import Image

from benchmarks.bench_core import synchronize
from core.denoisers.instant import InstantModel, InstantSettings
from core.denoisers.protocol import DiffusionModel
from core.files.model_file import load_model
from core.generation.sampling import sample
from core.imageio import load_image
from core.method.tensors import image_to_tensor
from core.requests import FAST_SAMPLING, SamplingOptions
from core.training.presets import PRESETS
from core.training.trainer import Trainer

PHOTO_SIZE = (250, 200)


def _photo(path: str) -> Image.Image:
    return load_image(path).resize(PHOTO_SIZE, Image.Resampling.LANCZOS)


def _sample_seconds(model: DiffusionModel, options: SamplingOptions, **kwargs) -> float:
    start = time.perf_counter()
    sample(model, options=options, **kwargs)
    synchronize(model.device)
    return time.perf_counter() - start


def speed(args: argparse.Namespace) -> None:
    photo = _photo(args.photo)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}")
    first = []
    for seed in range(3):
        start = time.perf_counter()
        model = InstantModel.from_image(photo, device=device)
        synchronize(device)
        built = time.perf_counter() - start
        total = built + _sample_seconds(model, model.default_sampling, seed=seed)
        first.append(total)
        print(f"instant: index {built:.2f} s, first 250×200 sample in {total:.2f} s in all")
    best = min(first)
    batch = _sample_seconds(model, model.default_sampling, count=16, seed=0)
    print(f"instant: 16 samples (one batch) {batch:.1f} s, {batch / 16:.2f} s each")
    wide = _sample_seconds(model, model.default_sampling, size=(1024, 768), seed=0)
    print(f"instant: one 1024×768 retarget {wide:.1f} s")
    trained_models = [(path, load_model(path, device)) for path in args.model]
    cpu_net = _cpu_preset_net(photo).to(device)
    trained_models.append(("cpu preset network (untrained: speed only)", cpu_net))
    for label, trained in trained_models:
        for name, options in (("plain", trained.default_sampling), ("fast", FAST_SAMPLING)):
            seconds = _sample_seconds(trained, options, size=PHOTO_SIZE, seed=0)
            print(
                f"{label} ({name}): one 250×200 sample {seconds:.1f} s "
                f"= {seconds / best:.1f}× Instant's first"
            )


def _cpu_preset_net(photo: Image.Image) -> DiffusionModel:
    """The `cpu` preset's width-32 network for the photo, untrained: what sampling a model
    trained with that preset costs (the cost does not depend on the weights)."""
    preset = PRESETS["cpu"]
    trainer = Trainer.from_image(photo, preset.model, preset.train_config(1))
    return trainer.sampling_model()


def approx(args: argparse.Namespace) -> None:
    photo = _photo(args.photo)
    exact_settings = InstantSettings(exact_scales=99, components=0, position_sigma=0)
    exact = InstantModel.from_image(photo, settings=exact_settings)
    scale = args.scale
    start = exact.schedule.start_steps[scale]
    print(
        f"scale {scale} {exact.sizes[scale]}, T[s] = {start}; the candidates refined at "
        f"t + {2 * REFINEMENTS}, …, t + 2 first, as the sampler does (every 2nd step)"
    )
    blurry = _blurry(exact)
    for t in sorted({1, 2, 5, start // 2, start - 1 - 2 * REFINEMENTS}):
        noisy, gamma = _noised(exact, scale, t, t, blurry[scale])
        alpha_bar = float(exact.schedule.alpha_bar[t])
        want = exact.predict_mixture(noisy, alpha_bar, scale, gamma, blurry[scale])
        for start_from in ("index", "coarser scale"):
            fast = InstantModel.from_image(photo, settings=InstantSettings(position_sigma=0))
            fast.start_run()
            if start_from == "coarser scale":
                _denoise_at(fast, scale - 1, t + 2 * REFINEMENTS + 2, t, blurry[scale - 1])
            for earlier in range(t + 2 * REFINEMENTS, t, -2):
                _denoise_at(fast, scale, earlier, t, blurry[scale])
            got = fast.predict_mixture(noisy, alpha_bar, scale, gamma, blurry[scale])
            levels = (got - want).abs().amax(dim=1).flatten() * 127.5
            print(
                f"  t {t:3d} (sqrt(1 − ᾱ) {math.sqrt(1 - alpha_bar):.2f}), candidates from "
                f"the {start_from:13s}: 99th percentile "
                f"{torch.quantile(levels, 0.99).item():5.1f} grey levels, "
                f"mean {levels.mean().item():.2f}"
            )


REFINEMENTS = 3
"""Sampler steps at the same scale before the one compared (each refines the candidates)."""


def _noised(model: InstantModel, scale: int, t: int, seed: int, blurry: torch.Tensor):
    """The photo's own mixture at `scale` noised to step t: (x_t, γ). `blurry` is x̃ of that
    scale, the same tensor at every step (the candidates carry over only with the same x̃)."""
    sharp = image_to_tensor(model.pyramid.sharp[scale])
    alpha_bar = float(model.schedule.alpha_bar[t])
    gamma = model.schedule.sampling_gamma(scale, t)
    noise = torch.randn(sharp.shape, generator=torch.Generator().manual_seed(seed))
    mixture = gamma * blurry + (1 - gamma) * sharp
    return math.sqrt(alpha_bar) * mixture + math.sqrt(1 - alpha_bar) * noise, gamma


def _blurry(model: InstantModel) -> list[torch.Tensor]:
    return [image_to_tensor(image) for image in model.pyramid.blurry]


def _denoise_at(model: InstantModel, scale: int, t: int, seed: int, blurry: torch.Tensor):
    """One denoiser call at `scale` and step t on the photo's own noised mixture, as a sampler
    step would make it (it keeps and refines the candidates)."""
    noisy, gamma = _noised(model, scale, t, seed, blurry)
    model.predict_mixture(noisy, float(model.schedule.alpha_bar[t]), scale, gamma, blurry)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("speed")
    p.add_argument("--photo", default="resources/demo.png")
    p.add_argument("--device", default="cpu", help="cpu or cuda (the GPU figure of issue 11)")
    p.add_argument("--model", action="append", default=[], help="a trained model to compare")
    p.set_defaults(run=speed)
    p = commands.add_parser("approx")
    p.add_argument("--photo", default="resources/demo.png")
    p.add_argument("--scale", type=int, default=2)
    p.set_defaults(run=approx)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
