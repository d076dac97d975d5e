"""app.viewmodels.training and .generation on their own parts (the whole runs in test_state)."""

from __future__ import annotations

from app.viewmodels.generation import Generation, GenerationRun
from app.viewmodels.training import autosave_path, preset_limit, preset_refusal, shrinks_more
from core.errors import ImageTooSmallError, SinDDMError
from core.training.presets import PRESETS


def test_autosaves_never_replace_a_file(tmp_path):
    first = autosave_path(tmp_path / "models", "photo")
    first.write_bytes(b"")
    second = autosave_path(tmp_path / "models", "photo")
    assert first.name.startswith("photo-") and first.suffix == ".sinddm"
    assert second != first and not second.exists()


def test_preset_texts_name_the_limit_and_what_stays_chosen():
    smallest = min(PRESETS, key=lambda name: PRESETS[name].model.max_pixels)
    largest = max(PRESETS, key=lambda name: PRESETS[name].model.max_pixels)
    assert shrinks_more(smallest) and not shrinks_more(largest)
    assert f"{PRESETS[smallest].model.max_pixels:,} pixels" in preset_limit(smallest)
    small = preset_refusal(smallest, largest, ImageTooSmallError("too small"))
    assert "too narrow" in small and PRESETS[largest].label in small
    other = preset_refusal(smallest, largest, SinDDMError("The file went away."))
    assert other.startswith("The file went away.")


def test_without_a_model_nothing_is_generated_or_foretold(fake_state):
    generation: Generation = fake_state.generation
    generation.generate()
    assert fake_state.engine.requests == [] and generation.time_estimate() == ""
    assert generation.run == GenerationRun()
