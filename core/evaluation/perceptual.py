"""Metrics that need pretrained networks: computed only with weight files the user points to.

No package ships these weights and this tool never downloads them, so without files the
evaluation reports both as unavailable. Values depend on the exact weights; they match the
papers' numbers only with the weights those papers used (pytorch-fid's Inception for SIFID,
torchvision's AlexNet with LPIPS v0.1 linear layers for LPIPS).
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import torch
from torch import nn

from core.errors import ConfigError

LPIPS_LAYERS = (1, 4, 7, 9, 11)
"""ReLU outputs of torchvision's AlexNet `features` used by LPIPS (Zhang et al. 2018)."""
LPIPS_SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
LPIPS_SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)


def _load_state(path: str | os.PathLike, what: str) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        # one line: torch's refusal runs to a dozen lines of advice about `weights_only`
        raise ConfigError(
            f"Cannot read the {what} weights in {path}: it is not a weights file that can be "
            "read safely."
        ) from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConfigError(f"{path} does not hold {what} weights (no state dict).")
    return state


def _to_input(image: np.ndarray) -> torch.Tensor:
    """H×W×3 uint8 -> (1, 3, H, W) in [-1, 1]."""
    return torch.tensor(image).permute(2, 0, 1)[None].float() / 127.5 - 1


class InceptionBlock1(nn.Module):
    """InceptionV3 up to its first max-pool (64 channels): SIFID's feature layer (SinGAN)."""

    def __init__(self, weights: str | os.PathLike):
        super().__init__()
        from torchvision.models.inception import BasicConv2d

        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)
        state = _load_state(weights, "InceptionV3")
        wanted = {k: v for k, v in state.items() if k.split(".")[0] in self._modules}
        missing = set(self.state_dict()) - set(wanted)
        if missing:
            raise ConfigError(f"{weights} lacks InceptionV3 layers: {sorted(missing)[:3]}…")
        self.load_state_dict(wanted, strict=False)
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in (self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3, self.pool):
            x = layer(x)
        return x


def sifid(sample: np.ndarray, reference: np.ndarray, net: InceptionBlock1) -> float:
    """Single-image FID (Shaham et al. 2019): the Fréchet distance between the distributions
    of 64-d features over all positions of the two images."""
    from scipy import linalg

    with torch.no_grad():
        a = net(_to_input(sample))[0].flatten(1).T.double().numpy()
        b = net(_to_input(reference))[0].flatten(1).T.double().numpy()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(root).all():
        offset = np.eye(cov_a.shape[0]) * 1e-6
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = root.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


class Lpips(nn.Module):
    """LPIPS v0.1 with an AlexNet backbone (Zhang et al. 2018), from two local weight files."""

    def __init__(self, alexnet_weights: str | os.PathLike, lpips_weights: str | os.PathLike):
        super().__init__()
        from torchvision.models import alexnet

        self.features = alexnet(weights=None).features
        backbone = _load_state(alexnet_weights, "AlexNet")
        try:
            self.features.load_state_dict(
                {k[len("features.") :]: v for k, v in backbone.items() if k.startswith("features.")}
            )
        except RuntimeError as exc:
            raise ConfigError(f"{alexnet_weights} does not hold AlexNet weights.") from exc
        linear = _load_state(lpips_weights, "LPIPS")
        channels = (64, 192, 384, 256, 256)
        try:
            self.linear = [linear[f"lin{i}.model.1.weight"].float() for i in range(5)]
        except KeyError as exc:
            raise ConfigError(f"{lpips_weights} does not hold LPIPS linear layers.") from exc
        if [w.shape[1] for w in self.linear] != list(channels):
            raise ConfigError(f"{lpips_weights} does not match AlexNet's channels.")
        self.eval().requires_grad_(False)

    def _activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - LPIPS_SHIFT) / LPIPS_SCALE
        outputs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in LPIPS_LAYERS:
                outputs.append(x / (x.norm(dim=1, keepdim=True) + 1e-10))
            if index == LPIPS_LAYERS[-1]:
                break
        return outputs

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        with torch.no_grad():
            total = 0.0
            pairs = zip(
                self._activations(_to_input(a)), self._activations(_to_input(b)), strict=True
            )
            for weight, (fa, fb) in zip(self.linear, pairs, strict=True):
                total += float(nn.functional.conv2d((fa - fb) ** 2, weight).mean())
        return total


def lpips_diversity(samples: list[np.ndarray], model: Lpips) -> float:
    """Mean LPIPS over all pairs of samples (SinDDM's Table 1 'LPIPS diversity')."""
    if len(samples) < 2:
        raise ConfigError("LPIPS diversity needs at least 2 samples.")
    values = [
        model.distance(samples[i], samples[j])
        for i in range(len(samples))
        for j in range(i + 1, len(samples))
    ]
    return float(np.mean(values))
