"""app.viewmodels.clip on its own: where the CLIP weights come from, and a failed download."""

from __future__ import annotations

import pytest

from app.events import ClipStatus
from app.viewmodels.clip import DEFAULT_CLIP_WEIGHTS, ClipWeights


class Engine:
    """Answers clip_status from a table, counting the questions."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.statuses = {
            "openai": ClipStatus("openai", "download", "Downloaded at the first text run."),
            "/w.bin": ClipStatus("/w.bin", "present", "A local file."),
        }

    def clip_status(self, weights: str) -> ClipStatus:
        self.asked.append(weights)
        return self.statuses.get(weights, ClipStatus(weights, "unavailable", "No such tag."))


@pytest.fixture
def clip(qapp):
    return ClipWeights(Engine())


def test_the_status_is_computed_only_when_first_asked_for(clip):
    clip.set_weights("/w.bin")
    assert clip.engine.asked == [], "nobody looked yet: open_clip stays unimported"
    assert clip.status.availability == "present"
    assert clip.engine.asked == ["/w.bin"]
    assert clip.status.availability == "present" and len(clip.engine.asked) == 1, "kept"


def test_blank_weights_mean_the_default_and_changes_are_said(clip, qtbot):
    assert clip.status.usable
    with qtbot.waitSignal(clip.status_changed, timeout=1000):
        clip.set_weights("/w.bin")
    with qtbot.waitSignal(clip.status_changed, timeout=1000):
        clip.set_weights("  ")
    assert clip.weights == DEFAULT_CLIP_WEIGHTS


def test_a_failed_download_turns_text_off_until_retried(clip):
    clip.download_failed("openai", "The server did not answer.")
    status = clip.status
    assert (status.availability, status.can_retry, status.usable) == ("failed", True, False)
    assert status.text.startswith("The server did not answer.")
    clip.retry_download()
    assert clip.status.availability == "download"


def test_a_failure_does_not_hide_weights_that_are_here(clip):
    clip.set_weights("/w.bin")
    clip.download_failed("/w.bin", "Interrupted.")
    assert clip.status.availability == "present"
