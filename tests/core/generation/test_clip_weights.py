"""Where CLIP weights come from, checked without the network (tests never download)."""

import pytest

from core.generation import clip_weights
from core.generation.clip_weights import (
    GuidanceUnavailableError,
    cached_weights,
    check_weights,
    download_weights,
    is_local_file,
)

MODEL = "ViT-B-32"
OPENAI_REPO = "timm/vit_base_patch32_clip_224.openai"


def _fake_hub_file(hub, repo, name):
    """The layout huggingface_hub leaves after a download: refs/main -> snapshots/<rev>/name."""
    folder = hub / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("abc123")
    snapshot = folder / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / name).write_bytes(b"weights")
    return snapshot / name


def test_files_and_tags_are_told_apart():
    assert is_local_file("/home/me/clip.pt") and is_local_file("clip.safetensors")
    assert not is_local_file("openai") and not is_local_file("laion2b_s34b_b79k")


def test_check_explains_each_case(tmp_path, empty_clip_cache):
    assert not check_weights(MODEL, "  ").ready
    missing = check_weights(MODEL, str(tmp_path / "none.pt"))
    assert (
        not missing.ready and not missing.downloadable and "No CLIP weights file" in missing.message
    )
    present = tmp_path / "clip.pt"
    present.write_bytes(b"x")
    assert check_weights(MODEL, str(present)).ready
    unknown = check_weights(MODEL, "no-such-tag")
    assert not unknown.ready and not unknown.downloadable and "no weights called" in unknown.message
    fresh = check_weights(MODEL, "openai")
    assert not fresh.ready and fresh.downloadable and "600 MB" in fresh.message


def test_weights_downloaded_before_are_found_in_the_cache(empty_clip_cache):
    assert cached_weights(MODEL, "openai") is None
    path = _fake_hub_file(empty_clip_cache, OPENAI_REPO, "open_clip_pytorch_model.bin")
    assert cached_weights(MODEL, "openai") == str(path)
    assert check_weights(MODEL, "openai").ready
    assert download_weights(MODEL, "openai") == str(path)  # nothing to fetch


def test_download_reports_progress_and_explains_failure(monkeypatch, empty_clip_cache):
    import huggingface_hub

    calls = []

    def fake_download(repo, name, cache_dir=None, tqdm_class=None):
        bar = tqdm_class(total=1000)
        bar.update(400)
        bar.update(600)
        calls.append((repo, name))
        return "/cache/" + name

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(clip_weights, "ensure_hub_reachable", lambda *args: None)  # "online"
    seen = []
    path = download_weights(MODEL, "openai", lambda done, total: seen.append((done, total)))
    assert path == "/cache/open_clip_model.safetensors"  # the safer format is tried first
    assert calls == [(OPENAI_REPO, "open_clip_model.safetensors")]
    assert seen == [(400, 1000), (1000, 1000)]

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(GuidanceUnavailableError, match=r"could not be downloaded.*unreachable"):
        download_weights(MODEL, "openai")
    assert clip_weights.cached_weights(MODEL, "openai") is None
