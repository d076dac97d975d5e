"""Where CLIP weights come from: a local file, or an open_clip tag downloaded once and cached.

open_clip downloads a tag's weights from the Hugging Face hub (or, for a few tags, from a URL)
into its cache on first use. This module answers "are they here already?" without touching the
network, and downloads them with a progress callback, so the app can say what will happen before
it happens and show the download as it runs.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import SinDDMError

WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".ckpt")
HF_WEIGHT_NAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
"""open_clip's file names in a hub repository, in the order it tries them."""
URL_CACHE = Path("~/.cache/clip").expanduser()


class GuidanceUnavailableError(SinDDMError):
    """CLIP weights could not be loaded (offline, missing or damaged file)."""


def is_local_file(weights: str) -> bool:
    """True when `weights` names a file rather than an open_clip tag such as 'openai'."""
    return os.sep in weights or "/" in weights or weights.lower().endswith(WEIGHT_SUFFIXES)


@dataclass(frozen=True)
class WeightsCheck:
    ready: bool
    """Usable now, without the network."""
    downloadable: bool
    """A known open_clip tag that is not here yet: the first use downloads it."""
    message: str
    """What the user should know, in plain words."""


def check_weights(model_name: str, weights: str, cache_dir: str | None = None) -> WeightsCheck:
    """Whether `weights` (a file or an open_clip tag) can be used for `model_name` now."""
    weights = weights.strip()
    if not weights:
        return WeightsCheck(False, False, "Choose CLIP weights: a file, or the tag 'openai'.")
    if is_local_file(weights):
        if Path(weights).expanduser().is_file():
            return WeightsCheck(True, False, f"CLIP weights: {Path(weights).name}.")
        return WeightsCheck(
            False,
            False,
            f"No CLIP weights file at {weights}. Choose one, or type 'openai' to download the "
            "weights once (needs the internet).",
        )
    if not _pretrained_config(model_name, weights):
        return WeightsCheck(
            False, False, f"open_clip has no weights called '{weights}' for {model_name}."
        )
    if cached_weights(model_name, weights, cache_dir):
        return WeightsCheck(True, False, f"CLIP weights '{weights}': downloaded earlier.")
    return WeightsCheck(
        False,
        True,
        f"CLIP weights '{weights}' are not on this computer yet: the first text run downloads "
        "them once (about 600 MB, needs the internet). Or choose a weights file.",
    )


def load_failure(model_name: str, weights: str, cause: BaseException) -> str:
    """One plain line for CLIP weights that would not load, from the error open_clip or torch
    raised (`cause`), whose own text can run to 14 KB of state-dict keys or unpickler notes."""
    reason = str(cause)
    if not is_local_file(weights):
        return (
            f"The CLIP weights '{weights}' for {model_name} could not be loaded "
            f"({_first_line(reason)}). Connect to the internet once so they can be downloaded "
            "and cached, or choose a local weights file."
        )
    name = Path(weights).name
    if "state_dict" in reason or "size mismatch" in reason:  # torch's load_state_dict report
        return (
            f"{name} holds other weights than CLIP {model_name}'s. Choose a {model_name} "
            "weights file, or the tag 'openai' to download them once."
        )
    return (
        f"{name} is not a CLIP weights file that can be read ({_first_line(reason)}). Choose "
        f"a {model_name} weights file (.pt, .bin or .safetensors)."
    )


def _first_line(text: str, limit: int = 120) -> str:
    """The first sentence of `text`'s first non-empty line, cut to `limit` characters (torch's
    next sentences advise turning off the safe loader, which we do not want to pass on)."""
    line = next((part.strip() for part in text.splitlines() if part.strip()), "unknown error")
    line = line.split(". ")[0].rstrip(".:")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def cached_weights(model_name: str, tag: str, cache_dir: str | None = None) -> str | None:
    """The path of the tag's weights if open_clip downloaded them before, else None."""
    config = _pretrained_config(model_name, tag)
    repo, filename = _hub_location(config)
    if repo:
        from huggingface_hub import try_to_load_from_cache

        names = (filename,) if filename else HF_WEIGHT_NAMES
        for name in names:
            found = try_to_load_from_cache(repo, name, cache_dir=cache_dir)
            if isinstance(found, str) and os.path.isfile(found):
                return found
    url = config.get("url", "")
    if url:
        target = Path(cache_dir or URL_CACHE) / os.path.basename(url)
        if target.is_file():
            return str(target)
    return None


def download_weights(
    model_name: str,
    tag: str,
    on_progress: Callable[[int, int], None] | None = None,
    cache_dir: str | None = None,
) -> str:
    """Download the tag's weights into open_clip's cache (if not there) and return their path.

    `on_progress(done_bytes, total_bytes)` is called as bytes arrive (total 0 when unknown).
    """
    found = cached_weights(model_name, tag, cache_dir)
    if found:
        return found
    repo, filename = _hub_location(_pretrained_config(model_name, tag))
    if not repo:
        raise GuidanceUnavailableError(
            f"The weights '{tag}' for {model_name} are not on the Hugging Face hub; they will "
            "be downloaded when first used."
        )
    ensure_hub_reachable(model_name, tag)
    from huggingface_hub import hf_hub_download

    errors = []
    for name in (filename,) if filename else HF_WEIGHT_NAMES:
        try:
            return hf_hub_download(
                repo, name, cache_dir=cache_dir, tqdm_class=_progress_class(on_progress)
            )
        except Exception as exc:  # network errors, missing file in the repository
            errors.append(f"{name}: {exc}")
    raise GuidanceUnavailableError(
        f"The CLIP weights '{tag}' could not be downloaded ({errors[-1]}). Connect to the "
        "internet and try again, or choose a local weights file."
    )


HUB_CHECK_SECONDS = 3.0
"""How long the hub may take to accept a connection before it counts as unreachable (a
download left to itself retried for about 50 s, printing 40 messages, before it gave up)."""


def ensure_hub_reachable(model_name: str, tag: str) -> None:
    """Raise `GuidanceUnavailableError` (one line) at once where the tag's weights could not be
    downloaded: the hub's offline mode is set (HF_HUB_OFFLINE), or its host does not accept a
    connection within HUB_CHECK_SECONDS."""
    from urllib.parse import urlparse

    from huggingface_hub import constants

    advice = "Connect to the internet once so they can be downloaded, or choose a local file."
    if constants.HF_HUB_OFFLINE:
        raise GuidanceUnavailableError(
            f"The CLIP weights '{tag}' for {model_name} are not on this computer, and the "
            f"Hugging Face hub's offline mode is on (HF_HUB_OFFLINE). {advice}"
        )
    address = urlparse(constants.ENDPOINT)
    host = address.hostname or "huggingface.co"
    port = address.port or (80 if address.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=HUB_CHECK_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise GuidanceUnavailableError(
            f"The CLIP weights '{tag}' for {model_name} are not on this computer, and {host} "
            f"cannot be reached to download them ({reason}). {advice}"
        ) from None


def _pretrained_config(model_name: str, tag: str) -> dict:
    import open_clip

    return open_clip.get_pretrained_cfg(model_name, tag) or {}


def _hub_location(config: dict) -> tuple[str, str]:
    """open_clip's 'org/repo/[file]' hub entry as (repo, file); file '' means the defaults."""
    entry = config.get("hf_hub", "")
    if not entry:
        return "", ""
    repo, filename = os.path.split(entry)
    return repo, filename


def _progress_class(on_progress: Callable[[int, int], None] | None):
    """A tqdm stand-in for huggingface_hub that reports bytes to `on_progress`, silently."""
    from tqdm.auto import tqdm

    class Progress(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._done = 0

        def update(self, n=1):
            self._done += n or 0
            if on_progress is not None:
                on_progress(self._done, int(self.total or 0))

    return Progress
