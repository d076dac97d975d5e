import pytest
import torch

from core.method.schedule import SAMPLING_GAMMA_CLAMP, make_schedule, noise_to_signal, start_step


def test_cosine_schedule_values_match_spec():
    schedule = make_schedule([0.0])
    ab = schedule.alpha_bar
    assert float(ab[0]) == pytest.approx(0.99937, abs=1e-5)
    assert float(ab[49]) == pytest.approx(0.4938, abs=1e-4)
    assert float(ab[98]) == pytest.approx(2.43e-4, rel=1e-2)
    assert float(ab[99]) == pytest.approx(2.43e-7, rel=1e-2)
    assert [round(float(b), 6) for b in schedule.betas[:3]] == pytest.approx(
        [6.3e-4, 1.12e-3, 1.60e-3], abs=1e-5
    )
    assert float(schedule.betas[-1]) == pytest.approx(0.999)


def test_noise_to_signal_first_values():
    sigma = noise_to_signal(make_schedule([0.0]).alpha_bar)
    assert sigma[:4].tolist() == pytest.approx([0.0251, 0.0418, 0.058, 0.0739], abs=2e-4)


def test_gamma_reaches_one_at_start_step_and_is_clamped_for_sampling():
    schedule = make_schedule([0.0, 1.156])
    start = schedule.start_steps[1]
    gamma = schedule.gamma[1]
    assert torch.all(gamma[1:] >= gamma[:-1])
    assert float(gamma[start - 1]) < 1.0 and float(gamma[start]) == 1.0
    assert torch.all(schedule.gamma[0] == 0)
    assert schedule.sampling_gamma(1, start) == SAMPLING_GAMMA_CLAMP
    assert schedule.sampling_gamma(1, 0) == pytest.approx(float(gamma[0]))
    assert schedule.sampling_gamma(1, -1) == 0.0


def test_start_step_is_zero_when_loss_is_never_exceeded():
    sigma = noise_to_signal(make_schedule([0.0]).alpha_bar)
    assert start_step(sigma, 1e9) == 0
    assert start_step(sigma, 0.0) == 0  # σ_0 > 0 already


def test_loss_factor_shifts_start_steps():
    base = make_schedule([0.0, 0.5]).start_steps[1]
    assert make_schedule([0.0, 0.5], loss_factor=2.0).start_steps[1] > base
