"""The memory estimate, the free memory of a device, and the refusal (core.generation.memory)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.config import ModelConfig
from core.denoisers.trained import SinDDMModel
from core.errors import SinDDMError
from core.generation import memory
from core.generation.memory import (
    FIXED_BYTES,
    NotEnoughMemoryError,
    available_bytes,
    describe_bytes,
    ensure_fits,
    estimate_generation_bytes,
)
from tests.conftest import ROOT


def _trained(dim: int) -> SinDDMModel:
    """A trained model of width `dim` as far as memory goes (its profile needs only the
    configuration; no network is built)."""
    return SinDDMModel(net=None, pyramid=None, schedule=None, config=ModelConfig(dim=dim))  # type: ignore[arg-type]


def test_estimate_grows_with_pixels_batch_and_width(tiny_model):
    small = estimate_generation_bytes(tiny_model, 100, 100, 1) - FIXED_BYTES
    assert estimate_generation_bytes(tiny_model, 200, 100, 1) - FIXED_BYTES == 2 * small
    assert estimate_generation_bytes(tiny_model, 100, 100, 3) - FIXED_BYTES == 3 * small
    wide = estimate_generation_bytes(_trained(160), 100, 100, 1)
    assert wide > estimate_generation_bytes(_trained(16), 100, 100, 1)
    # the default network at 4096×4096: five 160-channel float32 maps alone are 54 GB
    assert estimate_generation_bytes(_trained(160), 4096, 4096, 1) > 5 * 160 * 4 * 4096**2


def test_estimate_of_instant_counts_its_candidates(tiny_image):
    from core.denoisers.instant import InstantModel, InstantSettings

    instant = InstantModel.from_image(tiny_image)
    per_pixel = (estimate_generation_bytes(instant, 100, 100, 1) - FIXED_BYTES) / 100**2
    assert per_pixel > 1000  # 18 int64 candidates a pixel, sorted, are already 400 bytes
    mean = InstantModel.from_image(tiny_image, settings=InstantSettings(aggregation="mean"))
    assert estimate_generation_bytes(mean, 100, 100, 1) > estimate_generation_bytes(
        instant, 100, 100, 1
    )


def test_ensure_fits_refuses_in_plain_words(tiny_model, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda device: 6 * 2**30)
    with pytest.raises(NotEnoughMemoryError) as caught:
        ensure_fits(_trained(160), 4096, 4096, 1, "cpu")
    message = str(caught.value)
    assert isinstance(caught.value, SinDDMError)
    assert message.startswith("A 4096×4096 image needs about ")
    assert "this computer has 6.0 GB free. Try a smaller size." in message
    with pytest.raises(NotEnoughMemoryError, match=r"4 images of 2048×1024 at once .* the GPU"):
        ensure_fits(_trained(160), 1024, 2048, 4, "cuda:0")
    ensure_fits(tiny_model, 72, 96, 8, "cpu")  # fits: returns quietly


def test_available_memory_reads_meminfo_and_falls_back(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  16000000 kB\nMemFree: 100 kB\nMemAvailable:   6291456 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", meminfo)
    assert available_bytes("cpu") == 6 * 2**30
    monkeypatch.setattr(memory, "MEMINFO", tmp_path / "missing")
    fallback = available_bytes("cpu")
    assert fallback > 0  # the physical memory (or, where unknown, no limit)


def test_available_memory_of_this_computer_is_plausible():
    have = available_bytes("cpu")
    assert 2**20 < have < 2**50


def test_describe_bytes_rounds_like_a_person():
    assert describe_bytes(640 * 2**20) == "640 MB"
    assert describe_bytes(int(3.44 * 2**30)) == "3.4 GB"
    assert describe_bytes(int(12.4 * 2**30)) == "12 GB"
    assert describe_bytes(10) == "1 MB"


MEASURE = textwrap.dedent(
    """
    import json, sys
    import torch
    from core.config import ModelConfig, TrainConfig
    from core.generation.plan import GenerationRequest, plan
    from core.generation.run import generate_images
    from core.imageio import load_image
    from core.generation.memory import estimate_generation_bytes
    from core.training.trainer import Trainer
    from resources import DEMO_IMAGE

    image = load_image(DEMO_IMAGE).resize((96, 72))
    trainer = Trainer.from_image(image, ModelConfig(dim=16), TrainConfig(steps=1), "cpu")
    model = trainer.sampling_model()
    request = GenerationRequest(count=2, batch=2, size=(320, 240))
    the_plan = plan(model, request)

    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    before = status("VmRSS:")
    open("/proc/self/clear_refs", "w").write("5")  # resets the peak (VmHWM) to the current size
    generate_images(model, the_plan)
    peak = status("VmHWM:") - before
    print(json.dumps([peak, estimate_generation_bytes(model, 240, 320, 2)]))
    """
)


@pytest.mark.slow  # a separate process: run by .ci/run's second step
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc")
def test_estimate_covers_a_measured_generation():
    """The estimate is an upper bound of what a real generation grows by, and not a wild one."""
    run = subprocess.run(
        [sys.executable, "-c", MEASURE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    if "clear_refs" in run.stderr and "Permission" in run.stderr:
        pytest.skip("this system does not let a process reset its peak memory")
    assert run.returncode == 0, run.stderr
    peak, estimate = json.loads(run.stdout)
    assert peak <= estimate <= 4 * peak + FIXED_BYTES
