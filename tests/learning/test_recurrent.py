"""GRU and LSTM from Linear layers: equal to torch's, and per-sample / per-client
gradients through Opacus and torch.func are each example's or client's own."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

import pytest
import torch
from torch import nn

from dain.learning.errors import ModelSpecError
from dain.learning.recurrent import GRU, LSTM, Output, copy_torch_weights

KINDS = [(GRU, nn.GRU), (LSTM, nn.LSTM)]
BATCH, TIME, FEATURES, HIDDEN = 5, 7, 3, 6


def make_pair(
    ours: type[GRU | LSTM], torch_kind: type[nn.GRU | nn.LSTM], layers: int, output: Output
) -> tuple[GRU | LSTM, nn.GRU | nn.LSTM]:
    """Our layer holding a freshly initialized torch layer's weights."""
    reference = torch_kind(FEATURES, HIDDEN, layers, batch_first=True)
    layer = ours(FEATURES, HIDDEN, layers, output=output)
    copy_torch_weights(layer, reference)
    return layer, reference


def regressor(kind: type[GRU | LSTM], output: Output) -> nn.Module:
    """A two-layer recurrent net with a Linear head: the shape a forecasting spec builds."""
    return nn.Sequential(kind(FEATURES, HIDDEN, 2, output=output), nn.Linear(HIDDEN, 1))


def squared_error(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    # a "sequence" output predicts every step: its steps are summed per example
    summed = prediction.reshape(prediction.shape[0], -1).sum(dim=1)
    return ((summed - target) ** 2).mean()


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.mark.parametrize(("ours", "torch_kind"), KINDS)
@pytest.mark.parametrize("layers", [1, 2])
def test_equal_to_torch_given_the_same_weights(
    ours: type[GRU | LSTM], torch_kind: type[nn.GRU | nn.LSTM], layers: int
) -> None:
    sequence, reference = make_pair(ours, torch_kind, layers, "sequence")
    last = ours(FEATURES, HIDDEN, layers, output="last")
    last.load_state_dict(sequence.state_dict())
    x = torch.randn(BATCH, TIME, FEATURES)

    expected, _ = reference(x)

    assert sequence(x).shape == (BATCH, TIME, HIDDEN)
    torch.testing.assert_close(sequence(x), expected, atol=1e-5, rtol=1e-5)
    assert last(x).shape == (BATCH, HIDDEN)
    torch.testing.assert_close(last(x), expected[:, -1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("ours", "torch_kind"), KINDS)
def test_a_seed_draws_the_weights_torch_would(
    ours: type[GRU | LSTM], torch_kind: type[nn.GRU | nn.LSTM]
) -> None:
    torch.manual_seed(7)
    layer = ours(FEATURES, HIDDEN, 2)
    torch.manual_seed(7)
    reference = torch_kind(FEATURES, HIDDEN, 2, batch_first=True)

    drawn = [
        p
        for block in layer.layers
        for p in (block.ih.weight, block.hh.weight, block.ih.bias, block.hh.bias)
    ]

    for ours_p, torch_p in zip(drawn, reference.parameters(), strict=True):
        assert torch.equal(ours_p, torch_p)
    assert max(p.abs().max().item() for p in drawn) <= HIDDEN**-0.5


def test_parameter_names_are_stable() -> None:
    names = [name for name, _ in LSTM(FEATURES, HIDDEN, 2).named_parameters()]

    assert names == [
        f"layers.{k}.{proj}.{kind}"
        for k in (0, 1)
        for proj in ("ih", "hh")
        for kind in ("weight", "bias")
    ]
    assert GRU(FEATURES, HIDDEN).layers[0].hh.weight.shape == (3 * HIDDEN, HIDDEN)


def test_refuses_bad_arguments_and_inputs() -> None:
    with pytest.raises(ModelSpecError, match="output"):
        GRU(FEATURES, HIDDEN, output="mean")  # type: ignore[arg-type]
    with pytest.raises(ModelSpecError, match="positive"):
        LSTM(FEATURES, 0)
    with pytest.raises(ModelSpecError, match="expects"):
        GRU(FEATURES, HIDDEN)(torch.randn(BATCH, TIME, FEATURES + 1))
    with pytest.raises(ModelSpecError, match="Cannot copy"):
        copy_torch_weights(GRU(FEATURES, HIDDEN), nn.LSTM(FEATURES, HIDDEN))
    with pytest.raises(ModelSpecError, match="Cannot copy"):
        copy_torch_weights(GRU(FEATURES, HIDDEN), nn.GRU(FEATURES, HIDDEN, bidirectional=True))


@pytest.mark.parametrize("kind", [GRU, LSTM])
@pytest.mark.parametrize("output", ["last", "sequence"])
def test_opacus_per_sample_gradients_are_each_records_own(
    kind: type[GRU | LSTM], output: Output
) -> None:
    from opacus import GradSampleModule

    model = regressor(kind, output)
    plain = copy.deepcopy(model)
    x, y = torch.randn(BATCH, TIME, FEATURES), torch.randn(BATCH)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus warns about full backward hooks
        private = GradSampleModule(model)
        squared_error(private(x), y).backward()
    per_sample = {name: p.grad_sample for name, p in model.named_parameters()}

    for i in range(BATCH):
        plain.zero_grad()
        squared_error(plain(x[i : i + 1]), y[i : i + 1]).backward()
        for name, p in plain.named_parameters():
            # hh runs at every step: Opacus must sum its steps, not keep the last one
            assert isinstance(per_sample[name], torch.Tensor), name
            torch.testing.assert_close(per_sample[name][i], p.grad, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("kind", [GRU, LSTM])
def test_vmap_over_stacked_client_parameters(kind: type[GRU | LSTM]) -> None:
    from torch.func import functional_call, grad, stack_module_state, vmap

    clients = [regressor(kind, "last") for _ in range(3)]
    params, _ = stack_module_state(clients)
    base = copy.deepcopy(clients[0]).to("meta")
    x, y = torch.randn(3, BATCH, TIME, FEATURES), torch.randn(3, BATCH)

    def loss(p: dict[str, torch.Tensor], xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
        return squared_error(functional_call(base, p, (xs,)), ys)

    forward: Callable[..., torch.Tensor] = vmap(lambda p, xs: functional_call(base, p, (xs,)))
    outputs = forward(params, x)
    grads = vmap(grad(loss))(params, x, y)

    for c, client in enumerate(clients):
        torch.testing.assert_close(outputs[c], client(x[c]), atol=1e-5, rtol=1e-5)
        client.zero_grad()
        squared_error(client(x[c]), y[c]).backward()
        for name, p in client.named_parameters():
            torch.testing.assert_close(grads[name][c], p.grad, atol=1e-5, rtol=1e-4)
