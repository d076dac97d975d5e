import pickle

import pytest
import torch

from core.errors import CheckpointFormatError, CheckpointWriteError
from core.files.model_file import (
    FORMAT_VERSION,
    load_model,
    load_trainer,
    model_from_data,
    model_info,
    read_checkpoint,
    save_trainer,
)
from core.generation.sampling import sample


def _trained(tiny_trainer, steps=3):
    it = tiny_trainer.steps()
    for _ in range(steps):
        next(it)
    it.close()
    return tiny_trainer


def test_round_trip_gives_identical_samples(tmp_path, tiny_trainer):
    trainer = _trained(tiny_trainer)
    path = tmp_path / "m.sinddm"
    save_trainer(trainer, path)
    data = torch.load(path, weights_only=True)  # plain tensors and primitives only
    assert data["format_version"] == FORMAT_VERSION and data["step"] == 3
    for key in ("model", "ema", "optimizer", "pyramid", "start_steps", "rng", "loss_history"):
        assert key in data
    loaded = load_model(path)
    assert loaded.sizes == trainer.pyramid.sizes and loaded.steps_trained == 3
    torch.testing.assert_close(
        sample(loaded, count=2, seed=7), sample(trainer.sampling_model(), count=2, seed=7)
    )


def test_sampling_only_half_file_is_smaller_and_not_resumable(tmp_path, tiny_trainer):
    trainer = _trained(tiny_trainer)
    full, small = tmp_path / "full.sinddm", tmp_path / "small.sinddm"
    save_trainer(trainer, full)
    save_trainer(trainer, small, include_training_state=False, half=True)
    assert small.stat().st_size < full.stat().st_size
    out_full = sample(load_model(full), count=1, seed=1)
    out_small = sample(load_model(small), count=1, seed=1)
    assert (out_full - out_small).abs().mean() < 0.05
    with pytest.raises(CheckpointFormatError, match="sampling-only"):
        load_trainer(small)


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage" * 100, pickle.dumps({"format": "sinddm-studio-model"})],
    ids=["empty", "garbage", "plain-pickle"],
)
def test_corrupt_files_get_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.sinddm"
    path.write_bytes(content)
    with pytest.raises(CheckpointFormatError, match=r"bad\.sinddm"):
        load_model(path)


def test_foreign_and_future_files_are_refused(tmp_path, tiny_trainer):
    foreign = tmp_path / "other.pt"
    torch.save({"model": {}, "step": 5}, foreign)
    with pytest.raises(CheckpointFormatError, match="not a SinDDM Studio model"):
        read_checkpoint(foreign)
    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)
    data = torch.load(path, weights_only=True)
    data["format_version"] = FORMAT_VERSION + 1
    torch.save(data, path)
    with pytest.raises(CheckpointFormatError, match="newer"):
        read_checkpoint(path)


def test_truncated_file_is_refused(tmp_path, tiny_trainer):
    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointFormatError, match="damaged"):
        load_model(path)


def test_failed_write_keeps_previous_file(tmp_path, tiny_trainer, monkeypatch):
    path = tmp_path / "m.sinddm"
    save_trainer(tiny_trainer, path)
    before = path.read_bytes()

    def full_disk(obj, f, *args, **kwargs):
        with open(f, "wb") as handle:
            handle.write(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(CheckpointWriteError, match="No space left on device"):
        save_trainer(_trained(tiny_trainer), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.sinddm"]


def test_resumed_trainer_asks_for_the_same_numerics(tmp_path, tiny_image):
    from core.config import ModelConfig, TrainConfig
    from core.training.trainer import Trainer

    trainer = Trainer.from_image(
        tiny_image, ModelConfig(dim=8), TrainConfig(steps=2, batch_size=1), bf16=True
    )
    save_trainer(trainer, tmp_path / "m.sinddm")
    assert load_trainer(tmp_path / "m.sinddm").bf16_requested is True
    trainer.bf16_requested = False
    save_trainer(trainer, tmp_path / "f.sinddm")
    assert load_trainer(tmp_path / "f.sinddm").bf16_requested is False


def _crafted(tmp_path, tiny_trainer, change) -> str:
    """A model file whose dictionary `change` altered, as a damaged or hostile file would be."""
    path = tmp_path / "m.sinddm"
    save_trainer(_trained(tiny_trainer), path)
    data = torch.load(path, weights_only=True)
    change(data)
    torch.save(data, path)
    return path


def test_model_with_nan_weights_is_refused_by_every_loader(tmp_path, tiny_trainer):
    def poison(data):
        next(iter(data["ema"].values())).view(-1)[0] = float("nan")

    path = _crafted(tmp_path, tiny_trainer, poison)
    for load in (load_model, model_info, load_trainer):
        with pytest.raises(CheckpointFormatError, match=r"^m\.sinddm has weights that are not fin"):
            load(path)


def test_damaged_fields_of_a_file_are_one_sentence(tmp_path, tiny_trainer):
    path = _crafted(tmp_path, tiny_trainer, lambda data: data.update(step="abc"))
    for load in (load_model, model_info, load_trainer):
        with pytest.raises(CheckpointFormatError, match=r"^m\.sinddm is damaged: step is 'abc'"):
            load(path)


def test_bad_rng_state_refuses_resume_in_one_sentence(tmp_path, tiny_trainer):
    """An RNG state of the right size whose contents the generator rejects."""
    # All zeros: "Invalid mt19937 state" in torch's words.
    path = _crafted(tmp_path, tiny_trainer, lambda data: data["rng"]["index"].zero_())
    with pytest.raises(CheckpointFormatError, match="random-number state is not valid"):
        load_trainer(path)


def test_model_from_data_checks_a_dictionary_read_elsewhere(tmp_path, tiny_trainer):
    path = tmp_path / "m.sinddm"
    save_trainer(_trained(tiny_trainer), path)
    data = read_checkpoint(path)
    assert model_from_data(data, "m.sinddm").steps_trained == 3
    data["model_config"] = "dim=8"
    with pytest.raises(CheckpointFormatError, match="model_config is 'dim=8'"):
        model_from_data(data, "m.sinddm")
