"""`evaluate`: every metric of `metrics` over a set of samples, as one JSON-ready dict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.evaluation import metrics

NIQE_MIN_SIDE = 194
"""scikit-video's NIQE asserts that each side exceeds two 96-px patches plus one (193 px)."""
REPORTED_METRICS = (
    "pixel_diversity",
    "patch_distance",
    "coherence",
    "completeness",
    "layout_distance",
    "memorised_fraction",
    "niqe",
    "lpips_diversity",
    "sifid",
)
NIQE_MISSING = (
    "needs the optional package absolutely-not-scikit-video (pip install 'sinddm-studio[niqe]')"
)
UNAVAILABLE_WEIGHTS = (
    "needs pretrained {net} weights, which no package ships and this tool does not download"
)


def summarise(values: list[float]) -> dict:
    """{"mean", "std", "min", "max"} of per-sample values (population std)."""
    array = np.asarray(values, dtype=np.float64)
    return {
        "mean": float(array.mean()),
        "std": float(array.std()),
        "min": float(array.min()),
        "max": float(array.max()),
    }


def bootstrap_diversity(
    samples: list[np.ndarray], reference: np.ndarray, rounds: int = 50, seed: int = 0
) -> dict:
    """Pixel diversity of the whole set; its `std` is the bootstrap spread over resampled sets."""
    value = metrics.pixel_diversity(samples, reference)
    rng = np.random.default_rng(seed)
    spread = []
    for _ in range(rounds):
        picks = rng.integers(0, len(samples), len(samples))
        if len(set(picks.tolist())) > 1:
            spread.append(metrics.pixel_diversity([samples[i] for i in picks], reference))
    return {"mean": value, "std": float(np.std(spread)) if spread else 0.0}


def niqe_fits(image: np.ndarray) -> bool:
    """Whether `image` (H×W×3) is large enough for `niqe`."""
    return min(image.shape[:2]) >= NIQE_MIN_SIDE


def niqe(image: np.ndarray) -> float:
    """NIQE (Mittal et al. 2013) of the luminance, via absolutely-not-scikit-video's port.

    Its values are not MATLAB's, and with 96×96 patches it is unstable below about 400×400 px.
    Raises ImportError when the optional `niqe` extra is not installed.
    """
    import skvideo.measure  # optional heavy import, only when asked for

    rgb = image.astype(np.float64)
    luminance = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    return float(skvideo.measure.niqe(luminance[None])[0])


def evaluate(
    samples: list[np.ndarray],
    reference: np.ndarray,
    seed: int = 0,
    on_sample: Callable[[int], None] | None = None,
    weights: PerceptualWeights | None = None,
) -> dict:
    """Measure `samples` (H×W×3 uint8 each) against the training image `reference`.

    LPIPS diversity and SIFID are computed only when `weights` names local weight files.
    """
    per_sample: dict[str, list[float]] = {
        "patch_distance": [],
        "coherence": [],
        "completeness": [],
        "layout_distance": [],
        "memorised_fraction": [],
    }
    niqe_values: list[float] = []
    niqe_failure = ""
    for index, sample in enumerate(samples):
        per_sample["patch_distance"].append(metrics.patch_distance(sample, reference, seed=seed))
        coherence, completeness = metrics.bidirectional_similarity(sample, reference)
        per_sample["coherence"].append(coherence)
        per_sample["completeness"].append(completeness)
        per_sample["layout_distance"].append(metrics.layout_distance(sample, reference))
        per_sample["memorised_fraction"].append(metrics.memorised_fraction(sample, reference))
        if niqe_fits(sample) and not niqe_failure:
            try:
                niqe_values.append(niqe(sample))
            except ImportError:
                # NIQE is an optional extra (pyproject `niqe`): say so rather than crash.
                niqe_failure = NIQE_MISSING
                niqe_values.clear()
            except (AssertionError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                # A failing optional metric must not lose the others (and the sampling time).
                niqe_failure = f"scikit-video's NIQE failed: {exc}"
                niqe_values.clear()
        if on_sample is not None:
            on_sample(index)
    result: dict = {
        "n": len(samples),
        "sample_sizes": sorted({(s.shape[1], s.shape[0]) for s in samples}),
        "reference_size": [reference.shape[1], reference.shape[0]],
    }
    same_size = len({s.shape for s in samples}) == 1
    result["pixel_diversity"] = (
        bootstrap_diversity(samples, reference, seed=seed)
        if len(samples) >= 2 and same_size
        else {"available": False, "reason": "needs 2 or more samples of one size"}
    )
    result.update({name: summarise(values) for name, values in per_sample.items()})
    result["niqe"] = (
        summarise(niqe_values)
        if niqe_values
        else {
            "available": False,
            "reason": niqe_failure or f"images under {NIQE_MIN_SIDE} px on a side",
        }
    )
    result.update(_perceptual(samples, reference, weights or PerceptualWeights()))
    return result


@dataclass(frozen=True)
class PerceptualWeights:
    """Local weight files for the metrics that need pretrained networks (see `perceptual`)."""

    inception: str | None = None
    alexnet: str | None = None
    lpips: str | None = None


def _perceptual(samples: list[np.ndarray], reference: np.ndarray, weights: PerceptualWeights):
    from core.evaluation import perceptual

    result: dict[str, dict[str, object]] = {}
    if weights.alexnet and weights.lpips and len(samples) >= 2:
        model = perceptual.Lpips(weights.alexnet, weights.lpips)
        result["lpips_diversity"] = {"mean": perceptual.lpips_diversity(samples, model), "std": 0.0}
    else:
        reason = UNAVAILABLE_WEIGHTS.format(net="AlexNet and LPIPS")
        result["lpips_diversity"] = {"available": False, "reason": reason + "; give both files"}
    if weights.inception:
        net = perceptual.InceptionBlock1(weights.inception)
        result["sifid"] = summarise([perceptual.sifid(s, reference, net) for s in samples])
    else:
        reason = UNAVAILABLE_WEIGHTS.format(net="InceptionV3")
        result["sifid"] = {"available": False, "reason": reason + "; give the file"}
    return result


BASELINE_DISTANCES = ("patch_distance", "coherence", "completeness", "layout_distance")
MEMORISED_LIMIT = 0.05
"""A model that copies more than 5% of its samples' area verbatim fails the bar."""


@dataclass(frozen=True)
class BaselineCheck:
    """One line of the quality bar of docs/quality.md: `value` must not exceed `limit`."""

    metric: str
    value: float
    limit: float

    @property
    def passed(self) -> bool:
        return self.value <= self.limit


def compare_to_baseline(report: dict, baseline: dict) -> list[BaselineCheck]:
    """Hold an `evaluate` report to the bar of docs/quality.md set by `baseline` (another report).

    Each distance (patch distance, coherence, completeness, layout distance) and the pixel
    diversity may be at most the baseline's mean plus one standard deviation (within its spread;
    diversity "not higher": the baseline's is already 2-3× the paper's); the memorised share at
    most 5%. A metric missing from either report (a baseline measured before the layout distance
    existed) is left out rather than failed.
    """
    checks = [
        BaselineCheck(name, report[name]["mean"], baseline[name]["mean"] + baseline[name]["std"])
        for name in (*BASELINE_DISTANCES, "pixel_diversity")
        if name in report
        and name in baseline
        and report[name].get("available", True)
        and baseline[name].get("available", True)
    ]
    memorised = report["memorised_fraction"]["mean"]
    checks.append(BaselineCheck("memorised_fraction", memorised, MEMORISED_LIMIT))
    return checks
