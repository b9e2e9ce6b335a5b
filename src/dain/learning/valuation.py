"""What each participant's update was worth to a round: its Shapley value in the game whose
coalitions are sub-models rebuilt from the round's updates (no retraining, as in
GTG-Shapley, Liu et al. 2022), each worth its utility on the valuer's held-out split.

The game. For a coalition S of the valued updates, the sub-model is the global model before
the round moved by the FedAvg mean of S's updates (weighted by example counts) times the
server learning rate: w + lr sum_{i in S} n_i d_i / sum_{i in S} n_i; the empty coalition is
the model before the round. This is how `fedavg`, `fedprox` and (at the round's scale)
every mean-based strategy combine; strategies whose server optimizer keeps momentum or
moments are valued as if their step were plain, since the optimizer's state is nobody's
contribution. Robust rules (median, Krum, ...) are not games of this kind and are not
supported.

The utility is minus the mean loss on the held-out split (cross-entropy, or squared error for
regression), not accuracy. A valuer's split is small (a node's own rows held back), and
accuracy on 40 rows moves in steps of 2.5 points: most marginal changes are 0 or one step,
ties everywhere, and a harmful update that only lowers confidence scores nothing. The loss
moves with every update, is what the model is trained on, and needs no classes. Accuracy
(R^2 for regression) is available as `utility="accuracy"`.

The valuer never values its own updates: `exclude` names them, and they take no part in the
game at all (they are in no sub-model), so they can neither earn nor shape what others earn.

Evaluation is batched: the first layer is linear in the update, so each update's
pre-activations on the split are computed once and a coalition's are a weighted sum of them
(1.4-1.8x faster than building every coalition's first layer, 256 coalitions of an MLP
64-64-10 on 36 rows: about 10 microseconds a sub-model on one thread); deeper layers are
built for all coalitions of a batch at once and applied with batched matrix products, as
`dain.sim.engine` trains many clients."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional

from dain.learning import aggregate
from dain.learning.errors import AggregationError, LearningError
from dain.learning.models import ModelSpec, build_model, param_shapes
from dain.learning.params import ClientUpdate, Params
from dain.learning.shapley import ShapleyEstimate, exact_shapley, gtg_shapley, leave_one_out
from dain.learning.training import targets

METHODS = ("auto", "exact", "gtg", "loo")
ANY_CHUNK = 16  # coalitions of a layer model evaluated at once
UTILITIES = ("loss", "accuracy")


@dataclass(frozen=True)
class ValuationConfig:
    method: str = "auto"  # auto: exact Shapley up to `exact_up_to` players, GTG-Shapley beyond
    utility: str = "loss"  # "loss": minus the mean loss; "accuracy": accuracy, or R^2
    server_lr: float = 1.0  # the strategy's server learning rate (FedAvg: 1)
    exact_up_to: int = 8  # 2^8 coalitions cost about what GTG's first 30 permutations do
    truncation: float = 0.01  # GTG within a permutation, as a fraction of |v(N) - v(0)|
    round_truncation: float = 0.0  # GTG between rounds: off, see `value_updates`
    tolerance: float = 0.05  # GTG convergence (the paper's 5%)
    min_permutations: int = 30  # the paper's minimum (or one per player, if more)
    max_permutations: int = 2000
    batch: int = 256  # sub-models evaluated at once: memory is batch x split rows x width

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise LearningError(f"Unknown valuation method '{self.method}'.",
                                hint=f"Use one of {', '.join(METHODS)}.")  # fmt: skip
        if self.utility not in UTILITIES:
            raise LearningError(f"Unknown utility '{self.utility}'.",
                                hint=f"Use one of {', '.join(UTILITIES)}.")  # fmt: skip
        if not (self.server_lr > 0 and self.truncation >= 0 and self.round_truncation >= 0
                and self.tolerance > 0 and self.batch >= 1 and self.exact_up_to >= 0
                and 1 <= self.min_permutations <= self.max_permutations):  # fmt: skip
            raise LearningError("The valuation settings are out of range.")


@dataclass(frozen=True)
class Valuation:
    values: dict[int, float]  # index of an update -> its value; the excluded are absent
    method: str  # the method that ran: "exact", "gtg", "loo", or "none" (nothing to value)
    utility_before: float  # the model before the round (the empty coalition)
    utility_after: float  # the model of every valued update
    evaluations: int  # sub-models evaluated
    permutations: int  # GTG permutations sampled (0 otherwise)


def value_updates(
    spec: ModelSpec,
    global_params: Params,
    updates: Sequence[ClientUpdate],
    x: np.ndarray,
    y: np.ndarray,
    *,
    rng: np.random.Generator,
    exclude: Collection[int] = (),
    config: ValuationConfig | None = None,
) -> Valuation:
    """Each update's value to the round, by the index of the update in `updates`, except
    those in `exclude` (the valuer's own). `x`, `y` are the valuer's held-out rows (raw
    features: the spec standardizes them). `rng` orders GTG's permutations; they protect no
    secret, so a seed is fine.

    Values are in utility units (a loss decrease, or accuracy points) and, for the exact
    methods, add up to utility_after - utility_before. An update of no examples weighs
    nothing in any mean, so it changes no sub-model: it is worth exactly 0 and the game is
    played without it. A zero update with examples is not worthless: it dilutes the mean,
    and is valued for that. GTG's between-round truncation (all zero when the whole round
    gained little) is off by default: a round whose good and bad updates cancel out gains
    nothing, yet tells them apart."""
    config = config or ValuationConfig()
    bad = sorted(i for i in exclude if not 0 <= i < len(updates))
    if bad:
        raise LearningError(f"Cannot exclude updates {bad}: there are {len(updates)}.")
    if any(not u.num_examples >= 0 for u in updates):
        raise AggregationError("Example counts must be non-negative.")
    own = set(exclude)
    valued = [i for i in range(len(updates)) if i not in own]
    players = [i for i in valued if updates[i].num_examples > 0]
    weightless = {i: 0.0 for i in valued if updates[i].num_examples == 0}
    game = _Game(spec, global_params, [updates[i] for i in players], x, y, config)
    if not players:
        before = float(game(np.zeros((1, 0), dtype=bool))[0])
        return Valuation(weightless, "none", before, before, 1, 0)
    method = config.method
    if method == "auto":
        method = "exact" if len(players) <= config.exact_up_to else "gtg"
    estimate = _estimate(game, len(players), method, config, rng)
    values = weightless | {i: float(v) for i, v in zip(players, estimate.values, strict=True)}
    return Valuation(
        dict(sorted(values.items())), method, estimate.worth_empty, estimate.worth_all,
        estimate.evaluations, estimate.permutations,
    )  # fmt: skip


def _estimate(
    game: _Game, players: int, method: str, config: ValuationConfig, rng: np.random.Generator
) -> ShapleyEstimate:
    if method == "exact":
        return exact_shapley(game, players, batch=config.batch)
    if method == "loo":
        return leave_one_out(game, players, batch=config.batch)
    return gtg_shapley(game, players, rng, truncation=config.truncation,
                       round_truncation=config.round_truncation, tolerance=config.tolerance,
                       min_permutations=config.min_permutations,
                       max_permutations=config.max_permutations, batch=config.batch)  # fmt: skip


class _Game:
    """Coalitions of updates -> utilities of their sub-models on (x, y), a batch at a time."""

    def __init__(
        self,
        spec: ModelSpec,
        global_params: Params,
        updates: Sequence[ClientUpdate],
        x: np.ndarray,
        y: np.ndarray,
        config: ValuationConfig,
    ) -> None:
        shapes = param_shapes(spec)
        if sorted(global_params) != sorted(shapes) or any(
            tuple(global_params[n].shape) != s for n, s in shapes.items()
        ):
            raise LearningError("The global model's tensors do not fit its specification.")
        if len(x) != len(y) or len(x) == 0:
            raise LearningError("The held-out split needs as many labels as rows, and a row.")
        self.regression = spec.is_regression
        self.accuracy = config.utility == "accuracy"
        self.lr = config.server_lr
        self.x = torch.from_numpy(
            np.ascontiguousarray(spec.standardize(np.asarray(x)), dtype=np.float32)
        )
        self.y = targets(spec, np.asarray(y))[:, 0] if self.regression else \
            torch.from_numpy(np.asarray(y, np.int64))
        if not self.regression and not bool(((self.y >= 0) & (self.y < spec.num_classes)).all()):
            raise LearningError(f"Held-out labels must be classes 0 to {spec.num_classes - 1}.")
        base = {n: torch.from_numpy(np.asarray(global_params[n], np.float32)) for n in shapes}
        names = list(shapes)  # the model's own layer order: "0.weight", "0.bias", "2.weight", ...
        self.base = [base[n] for n in names]
        self.counts = np.zeros(0)
        self.deltas: list[torch.Tensor] = [torch.zeros((0, *shapes[n])) for n in names]
        if updates:
            matrix, stacked_names, stacked_shapes = aggregate.stack([u.delta for u in updates])
            aggregate.check_finite(matrix)
            fits = stacked_names == sorted(names)
            if not fits or stacked_shapes != [shapes[n] for n in stacked_names]:
                raise LearningError("The updates' tensors do not fit the model's specification.")
            self.counts = np.asarray([u.num_examples for u in updates], dtype=np.float64)
            aggregate.check_weights(self.counts)
            per_name = _columns(matrix, stacked_names, stacked_shapes)
            self.deltas = [per_name[n] for n in names]
        self.names = names
        any_network = spec.kind == "layers" or spec.fine_tune is not None
        self.network = build_model(spec).eval() if any_network else None
        if self.network is not None:
            return  # any other network: each coalition's model built and run (`_any`)
        # the first layer is linear in the update: pre-activations of the model before the
        # round and of each update's change, computed once for every coalition
        with torch.no_grad():
            self.pre_base = self.x @ self.base[0].T + self.base[1]
            first = torch.einsum("md,nhd->nmh", self.x, self.deltas[0])
            self.pre_delta = first + self.deltas[1].unsqueeze(1)

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        weights = masks * self.counts
        totals = weights.sum(axis=1, keepdims=True)
        share = np.divide(weights, totals, out=np.zeros_like(weights), where=totals > 0)
        coef = torch.from_numpy((self.lr * share).astype(np.float32))  # (coalitions, updates)
        if self.network is not None:
            return self._any(coef)
        with torch.no_grad():
            m, width = self.pre_base.shape
            flat = self.pre_delta.reshape(len(self.counts), m * width)
            h = self.pre_base + (coef @ flat).reshape(len(coef), m, width)
            for layer in range(2, len(self.base), 2):
                h = torch.relu(h)
                w = self.base[layer] + (coef @ self.deltas[layer].flatten(1)).reshape(
                    len(coef), *self.base[layer].shape
                )
                b = self.base[layer + 1] + coef @ self.deltas[layer + 1]
                h = torch.bmm(h, w.transpose(1, 2)) + b.unsqueeze(1)
            return self._utility(h).numpy().astype(np.float64)

    def _any(self, coef: torch.Tensor) -> np.ndarray:
        """Any layer model: each coalition's parameters, and all of a chunk's coalitions run
        at once with `vmap` over them (chunks bound the activations held)."""
        network = self.network
        assert network is not None

        def run(params: dict[str, torch.Tensor]) -> torch.Tensor:
            return torch.func.functional_call(network, params, (self.x,))

        found = []
        with torch.no_grad():
            for start in range(0, len(coef), ANY_CHUNK):
                part = coef[start : start + ANY_CHUNK]
                params = {
                    name: base + (part @ delta.flatten(1)).reshape(len(part), *base.shape)
                    for name, base, delta in zip(self.names, self.base, self.deltas, strict=True)
                }
                found.append(self._utility(torch.func.vmap(run)(params)))
        return torch.cat(found).numpy().astype(np.float64)

    def _utility(self, out: torch.Tensor) -> torch.Tensor:
        """(coalitions, rows, outputs) -> one utility per coalition."""
        if self.regression:
            error = ((out[..., 0] - self.y) ** 2).sum(dim=1)
            if not self.accuracy:
                return -error / len(self.y)
            spread = float(((self.y - self.y.mean()) ** 2).sum()) or 1.0
            return 1 - error / spread
        if self.accuracy:
            return (out.argmax(dim=2) == self.y).float().mean(dim=1)
        logp = functional.log_softmax(out, dim=2)
        return logp.gather(2, self.y.expand(len(out), -1).unsqueeze(2))[..., 0].mean(dim=1)


def _columns(
    matrix: np.ndarray, names: list[str], shapes: list[tuple[int, ...]]
) -> dict[str, torch.Tensor]:
    """A (updates x parameters) matrix split back into one (updates x *shape) tensor per name."""
    out, at = {}, 0
    for name, shape in zip(names, shapes, strict=True):
        size = int(np.prod(shape))
        out[name] = torch.from_numpy(
            np.ascontiguousarray(matrix[:, at : at + size]).reshape(len(matrix), *shape)
        )
        at += size
    return out
