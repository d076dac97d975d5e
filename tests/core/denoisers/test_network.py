import torch

from core.denoisers.network import SinDDMNet, count_parameters, sinusoidal_embedding


def test_default_network_has_reference_parameter_count():
    net = SinDDMNet()
    assert count_parameters(net) == 1_106_772
    assert count_parameters(net.cond_mlp) == 12_448
    assert [count_parameters(b) for b in net.blocks] == [61_473, 364_656, 471_616, 196_336]
    assert count_parameters(net.out) == 243


def test_receptive_field_is_33_by_33():
    torch.manual_seed(0)
    net = SinDDMNet(dim=16)
    x = torch.zeros(1, 3, 49, 49, requires_grad=True)
    net(x, 5, 1)[0, :, 24, 24].sum().backward()
    rows, cols = torch.nonzero(x.grad.abs().sum((0, 1))).unbind(1)
    assert (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1) == (33, 33)


def test_network_runs_on_any_size_and_batch():
    net = SinDDMNet(dim=8)
    out = net(torch.randn(3, 3, 17, 29), torch.tensor([0, 50, 99]), 2)
    assert out.shape == (3, 3, 17, 29)
    assert net(torch.randn(1, 3, 8, 8), 4, 0).shape == (1, 3, 8, 8)


def test_sinusoidal_embedding_layout():
    emb = sinusoidal_embedding(torch.tensor([0, 3]))
    assert emb.shape == (2, 32)
    assert torch.all(emb[0, :16] == 0) and torch.all(emb[0, 16:] == 1)
    assert float(emb[1, 0]) == torch.sin(torch.tensor(3.0)).item()
