import math

import pytest
import torch

from core.denoisers.network import SinDDMNet
from core.denoisers.trained import SinDDMModel
from core.errors import ConfigError
from core.generation.sampling import (
    canvas_sizes,
    fine_timesteps,
    iter_sample,
    sample,
    sampling_work,
)
from core.method.tensors import image_to_tensor
from core.requests import SamplingOptions


class OracleNet(SinDDMNet):
    """Predicts the exact noise that separates x_t from the (mixed) training image.

    With such a perfect denoiser the sampler must return the training image: this checks the
    DDPM posterior, the reblurring update and the deblurring division together.
    """

    def __init__(self, model: SinDDMModel):
        super().__init__(dim=2)
        self.model = model
        self.sharp = [image_to_tensor(img) for img in model.pyramid.sharp]
        self.blurry = None

    def forward(self, x, t, scale):
        t, scale = int(t), int(scale)
        ab = float(self.model.schedule.alpha_bar[t])
        target = self.sharp[scale]
        if scale > 0:
            gamma = float(self.model.schedule.gamma[scale, t])
            target = gamma * self.blurry + (1 - gamma) * target
        return (x - math.sqrt(ab) * target) / math.sqrt(1 - ab)


def _oracle_model(tiny_model):
    model = SinDDMModel(None, tiny_model.pyramid, tiny_model.schedule, tiny_model.config)
    model.net = OracleNet(model)
    return model


@pytest.mark.parametrize("fine_stride", [1, 3])
def test_sampler_with_oracle_denoiser_recovers_training_image(tiny_model, fine_stride):
    """Also with a fine-scale stride: the reblurring update is DDIM's, so skipping steps with a
    perfect denoiser must land on the same image."""
    model = _oracle_model(tiny_model)
    result = None
    for step in iter_sample(
        model, count=1, seed=0, options=SamplingOptions(fine_stride=fine_stride)
    ):
        if step.scale == 1 and model.net.blurry is None:
            pytest.fail("blurry image was not set")
        result = step.x0_pred
        if step.scale == 0 and step.t == 0:
            torch.testing.assert_close(result, model.net.sharp[0], atol=1e-5, rtol=0)
            # x̃¹ is the bilinear upsample of the scale-0 output (Alg. 2, line 15).
            model.net.blurry = torch.nn.functional.interpolate(
                result, size=(72, 96), mode="bilinear", align_corners=False
            )
    torch.testing.assert_close(result, model.net.sharp[1], atol=1e-5, rtol=0)


def test_steps_count_and_order(tiny_model):
    steps = list(iter_sample(tiny_model, count=1, seed=0))
    starts = tiny_model.schedule.start_steps
    assert len(steps) == sum(starts) == steps[-1].total == steps[-1].index
    assert [s.t for s in steps[:2]] == [99, 98]
    first_fine = steps[starts[0]]
    assert (first_fine.scale, first_fine.t) == (1, starts[1] - 1)


def test_fine_stride_skips_steps_at_the_finer_scales_only(tiny_model):
    assert fine_timesteps(10, 3) == [9, 6, 3, 0]
    assert fine_timesteps(9, 3) == [8, 5, 2, 0]
    assert fine_timesteps(5, 1) == [4, 3, 2, 1, 0] and fine_timesteps(2, 9) == [1, 0]
    assert fine_timesteps(0, 2) == []
    steps = list(iter_sample(tiny_model, count=1, seed=0, options=SamplingOptions(fine_stride=2)))
    starts = tiny_model.schedule.start_steps
    fine = [s.t for s in steps if s.scale == 1]
    assert fine == fine_timesteps(starts[1], 2) and fine[-1] == 0
    assert len([s for s in steps if s.scale == 0]) == starts[0]
    assert len(steps) == steps[-1].total
    sizes = tiny_model.sizes
    assert sampling_work(sizes, starts, None, 2)[1] == len(fine) * sizes[1][0] * sizes[1][1]
    with pytest.raises(ConfigError, match="stride"):
        sample(tiny_model, options=SamplingOptions(fine_stride=0))


def test_bf16_sampling_stays_close_to_fp32_or_is_ignored(tiny_model, monkeypatch):
    plain = sample(tiny_model, seed=3)
    fast = sample(tiny_model, seed=3, options=SamplingOptions(bf16=True))
    assert fast.dtype == torch.float32 and fast.shape == plain.shape
    assert (fast - plain).abs().mean() < 0.1
    monkeypatch.setattr("core.generation.sampling.bf16_supported", lambda device: False)
    torch.testing.assert_close(
        sample(tiny_model, seed=3, options=SamplingOptions(bf16=True)), plain
    )


def test_same_seed_same_image_and_sample_i_reproduces_alone(tiny_model):
    batch = sample(tiny_model, count=3, seed=10)
    again = sample(tiny_model, count=3, seed=10)
    assert torch.equal(batch, again)
    alone = sample(tiny_model, count=1, seed=12)
    torch.testing.assert_close(alone[0], batch[2], atol=1e-4, rtol=0)
    assert not torch.allclose(batch[0], batch[1])
    assert batch.min() >= -1 and batch.max() <= 1


def test_arbitrary_output_sizes(tiny_model):
    assert sample(tiny_model, count=1, size=(150, 50)).shape == (1, 3, 50, 150)
    assert sample(tiny_model, count=1, multipliers=(2.0, 1.0)).shape == (1, 3, 72, 192)
    assert canvas_sizes(((64, 48), (96, 72)), size=(192, 72)) == [(128, 48), (192, 72)]


def test_bad_canvas_and_options_are_clear_errors(tiny_model):
    with pytest.raises(ConfigError, match="too small"):
        canvas_sizes(((64, 48), (96, 72)), size=(10, 10))
    with pytest.raises(ConfigError, match="too large"):
        canvas_sizes(((64, 48), (96, 72)), size=(20000, 20000))
    with pytest.raises(ConfigError, match="not both"):
        canvas_sizes(((64, 48), (96, 72)), size=(96, 72), multipliers=(1, 1))
    with pytest.raises(ConfigError, match="omega"):
        list(iter_sample(tiny_model, options=SamplingOptions(omega=2.0)))
    with pytest.raises(ConfigError, match="start steps"):
        list(iter_sample(tiny_model, options=SamplingOptions(start_steps=[1, 2])))


def test_omega_and_start_steps_change_the_result_deterministically(tiny_model):
    base = sample(tiny_model, count=1, seed=4)
    paper = sample(tiny_model, count=1, seed=4, options=SamplingOptions(omega=1.0))
    assert not torch.allclose(base, paper)
    assert torch.equal(
        paper, sample(tiny_model, count=1, seed=4, options=SamplingOptions(omega=1.0))
    )
    shorter = list(
        iter_sample(tiny_model, count=1, seed=4, options=SamplingOptions(start_steps=[5]))
    )
    assert len(shorter) == 100 + 5


def test_sampling_builds_no_autograd_graph(tiny_trainer):
    model = tiny_trainer.sampling_model()
    model.net = tiny_trainer.net  # live weights require grad
    assert next(model.net.parameters()).requires_grad
    for step in iter_sample(model, count=1, seed=0):
        assert not step.x0_pred.requires_grad
    assert torch.is_grad_enabled()  # the generator leaves grad mode as it found it


def test_coarse_stride_respaces_scale_zero(tiny_model):
    """Every 4th step at scale 0: a quarter of the calls there, the finer scales untouched,
    and stride 1 is the reference chain exactly."""
    plain = list(iter_sample(tiny_model, count=1, seed=0))
    strided = list(
        iter_sample(tiny_model, count=1, seed=0, options=SamplingOptions(coarse_stride=4))
    )
    coarse = [s.t for s in strided if s.scale == 0]
    assert coarse == [*range(99, -1, -4), 0]  # always ending at t = 0
    assert [s.t for s in strided if s.scale > 0] == [s.t for s in plain if s.scale > 0]
    assert strided[-1].total == len(strided)
    same = list(iter_sample(tiny_model, count=1, seed=0, options=SamplingOptions(coarse_stride=1)))
    torch.testing.assert_close(same[-1].x0_pred, plain[-1].x0_pred, atol=0, rtol=0)
    with pytest.raises(ConfigError):
        list(iter_sample(tiny_model, options=SamplingOptions(coarse_stride=0)))


@pytest.mark.parametrize("reblur", [True, False])
def test_start_step_zero_keeps_the_upsampled_coarser_image(tiny_model, reblur):
    """T[s] = 0 adds no noise and leaves nothing to denoise: the scale passes x̃ (the upsampled
    scale-0 output) through in one step, so the run still ends at the finest size (it once
    crashed after scale 0). Plain DDPM steps (the CLIP modes, reblur=False) do the same."""
    steps = list(
        iter_sample(
            tiny_model, count=1, seed=2, reblur=reblur, options=SamplingOptions(start_steps=[0])
        )
    )
    coarse_out, last = steps[-2], steps[-1]
    assert (coarse_out.scale, coarse_out.t, last.scale, last.t) == (0, 0, 1, 0)
    assert last.index == last.total == len(steps) == tiny_model.schedule.start_steps[0] + 1
    expected = torch.nn.functional.interpolate(
        coarse_out.x0_pred, size=(72, 96), mode="bilinear", align_corners=False
    ).clamp(-1, 1)
    torch.testing.assert_close(last.x0_pred, expected, atol=0, rtol=0)
    starts = [tiny_model.schedule.start_steps[0], 0]
    assert sampling_work(tiny_model.sizes, starts)[1] == 96 * 72  # the one pass-through step
