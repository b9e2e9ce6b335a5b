"""The batched kernels (`dain.sim.batched`) against `vmap` over `grad` (the path they
replace) and against the per-client `train_local` loop: convolutions with strides and
padding, pools, norms, activations, and layers that fall back to `vmap`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dain.learning import ModelSpec, build_model
from dain.sim import SimConfig, build_federation, simulate
from dain.sim.batched import batched_forward, batched_gradients, has_fast_path
from dain.sim.functional import client_gradients
from dain.sim.loop import simulate_layers_loop

CLIENTS, ROWS = 4, 6


def conv2d(out: int, kernel: int, stride: int = 1, padding: int | str = 0) -> dict[str, object]:
    return {"type": "conv2d", "out_channels": out, "kernel_size": kernel, "stride": stride,
            "padding": padding}  # fmt: skip


def conv1d(out: int, kernel: int, stride: int = 1, padding: int | str = 0) -> dict[str, object]:
    return {**conv2d(out, kernel, stride, padding), "type": "conv1d"}


FLAT, LINEAR = {"type": "flatten"}, {"type": "linear", "out_features": 3}
IMAGES = {
    "conv2d-pad1-relu-maxpool": [conv2d(4, 3, padding=1), {"type": "relu"},
                                 {"type": "max_pool2d", "kernel_size": 2}, FLAT, LINEAR],
    "conv2d-stride2-no-bias": [{**conv2d(3, 3, stride=2), "bias": False}, {"type": "gelu"},
                               FLAT, LINEAR],
    "conv2d-same-avgpool-stride": [conv2d(4, 5, padding="same"), {"type": "tanh"},
                                   {"type": "avg_pool2d", "kernel_size": 3, "stride": 2},
                                   FLAT, LINEAR],
    "conv2d-groupnorm-adaptive": [conv2d(4, 3, stride=2, padding=2),
                                  {"type": "group_norm", "num_groups": 2}, {"type": "sigmoid"},
                                  {"type": "adaptive_avg_pool2d", "output_size": 2},
                                  FLAT, LINEAR],
    "residual-falls-back-to-vmap": [conv2d(2, 3, padding=1),
                                    {"type": "residual", "layers": [conv2d(2, 3, padding=1),
                                                                    {"type": "relu"}]},
                                    FLAT, LINEAR],
}  # fmt: skip
SERIES = {
    "conv1d-pad2-relu-maxpool": [{"type": "transpose"}, conv1d(4, 3, padding=2),
                                 {"type": "relu"}, {"type": "max_pool1d", "kernel_size": 2},
                                 FLAT, LINEAR],
    "conv1d-stride3-avgpool-layernorm": [{"type": "transpose"}, conv1d(4, 2, stride=3),
                                         {"type": "avg_pool1d", "kernel_size": 2},
                                         {"type": "layer_norm"}, FLAT, LINEAR],
    "conv1d-same-adaptive": [{"type": "transpose"}, conv1d(3, 3, padding="same"),
                                          {"type": "adaptive_avg_pool1d", "output_size": 3},
                                          FLAT, LINEAR],
    "gru-falls-back-to-vmap": [{"type": "gru", "hidden_size": 4}, LINEAR],
}  # fmt: skip


def stacked_inputs(spec: ModelSpec, seed: int) -> tuple[tuple[torch.Tensor, ...], ...]:
    """Different parameters per client, rows with padding (client 1 has 2 real rows, client
    3 none), labels, and class weights."""
    generator = torch.Generator().manual_seed(seed)
    module, _ = model_of_spec(spec)
    params = tuple(p.detach() + 0.1 * torch.randn(CLIENTS, *p.shape, generator=generator)
                   for p in module.parameters())  # fmt: skip
    x = torch.randn(CLIENTS, ROWS, *spec.input_shape, generator=generator)
    y = torch.randint(0, 3, (CLIENTS, ROWS), generator=generator)
    mask = torch.ones(CLIENTS, ROWS)
    mask[1, 2:], mask[3] = 0, 0
    weights = torch.rand(CLIENTS, 3, generator=generator) + 0.5
    anchor = tuple(p.detach() for p in module.parameters())
    return params, (x, y, mask, weights, anchor)


def model_of_spec(spec: ModelSpec) -> tuple[torch.nn.Module, list[str]]:
    torch.manual_seed(0)
    module = build_model(spec)
    return module, [name for name, _ in module.named_parameters()]


@pytest.mark.parametrize(
    ("spec", "proximal_mu"),
    [*[(ModelSpec.network((1, 8, 8), layers, 3), 0.0) for layers in IMAGES.values()],
     *[(ModelSpec.network((12, 5), layers, 3), 0.0) for layers in SERIES.values()],
     (ModelSpec.network((1, 8, 8), IMAGES["conv2d-pad1-relu-maxpool"], 3), 0.3)],
    ids=[*IMAGES, *SERIES, "conv2d-fedprox"],
)  # fmt: skip
def test_batched_gradients_equal_vmap_over_grad(spec: ModelSpec, proximal_mu: float) -> None:
    module, names = model_of_spec(spec)
    params, rest = stacked_inputs(spec, seed=1)

    batched = batched_gradients(module, names, False, proximal_mu)(params, *rest)
    reference = client_gradients(module, names, False, proximal_mu)(params, *rest)

    assert len(batched) == len(reference) == len(names)
    for name, got, want in zip(names, batched, reference, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5, msg=name)
    if not proximal_mu:  # client 3 has no rows: no gradient
        assert not any(g[3].any() for g in batched)


def test_batched_forward_equals_each_client_alone() -> None:
    spec = ModelSpec.network((1, 8, 8), IMAGES["conv2d-same-avgpool-stride"], 3)
    module, names = model_of_spec(spec)
    params, (x, *_) = stacked_inputs(spec, seed=2)

    out = batched_forward(module)(dict(zip(names, params, strict=True)), x)

    for c in range(CLIENTS):
        own = {name: p[c] for name, p in zip(names, params, strict=True)}
        alone = torch.func.functional_call(module, own, (x[c],))
        torch.testing.assert_close(out[c], alone, rtol=1e-5, atol=1e-6)


def test_only_pytorchs_own_layers_take_a_fast_path() -> None:
    class Scaled(torch.nn.Linear):  # a subclass may compute anything
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 2 * super().forward(x)

    assert has_fast_path(torch.nn.Conv2d(1, 2, 3)) and has_fast_path(torch.nn.ReLU())
    assert not has_fast_path(Scaled(2, 2))
    assert not has_fast_path(torch.nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"))
    assert not has_fast_path(torch.nn.GRU(2, 2))


@pytest.mark.parametrize(
    ("dataset", "input_shape", "layers"),
    [("digits", (1, 8, 8), [conv2d(4, 3, stride=2, padding=1), {"type": "relu"}, FLAT,
                            {"type": "linear", "out_features": 10}]),
     ("digits", (1, 8, 8), [conv2d(3, 3, padding="same"), {"type": "relu"},
                            {"type": "max_pool2d", "kernel_size": 2}, conv2d(4, 2, stride=2),
                            FLAT, {"type": "linear", "out_features": 10}]),
     ("smart_city", (12, 5), [{"type": "transpose"}, conv1d(4, 3, stride=2, padding=1),
                              {"type": "relu"}, {"type": "max_pool1d", "kernel_size": 2},
                              FLAT, {"type": "linear", "out_features": 1}]),
     ("smart_city", (12, 5), [{"type": "transpose"}, conv1d(3, 5, padding="same"),
                              {"type": "tanh"}, FLAT, {"type": "linear", "out_features": 1}])],
    ids=["conv2d-stride2-pad1", "conv2d-same-pool-stride2", "conv1d-stride2-pad1-pool",
         "conv1d-same"],
)  # fmt: skip
def test_convolutions_match_the_per_client_loop_after_one_round(
    dataset: str, input_shape: tuple[int, ...], layers: list[dict[str, object]]
) -> None:
    outputs = 1 if dataset == "smart_city" else 10
    spec = ModelSpec.network(input_shape, layers, outputs)
    config = SimConfig(dataset, clients=4, rounds=1, epochs=2, momentum=0.5, batch_size=32,
                       learning_rate=0.05, model=spec)  # fmt: skip
    fed = build_federation(config)

    engine = simulate(config, fed=fed)
    scores, loop_params = simulate_layers_loop(config, fed, rounds=1)

    for name, value in loop_params.items():
        np.testing.assert_allclose(engine.params[name], value, rtol=1e-4, atol=1e-5)
    assert engine.accuracy[0] == pytest.approx(scores[0], abs=1e-6)
