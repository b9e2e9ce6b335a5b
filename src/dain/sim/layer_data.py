"""The data side of a simulation of a layer model: every client's examples in the shape
the model reads, standardized, padded to one (clients, rows, *example) tensor.

Tables stay rows; a table whose rows hold exactly an image's pixels (the bundled 8 x 8
digits) becomes images of the model's (channels, height, width); the smart city becomes
each district's windows of its own series, one district per client, the last fifth of
every district's windows held out for the test (a forecast is scored on the future)."""

from __future__ import annotations

import math

import numpy as np
import torch

from dain.data import Dataset, cut_windows, smart_city_load, stratified_split
from dain.learning import LearningError, ModelSpec, attackers, flip_labels
from dain.sim.engine import Federation, SimConfig, load_dataset, partition

# what a district's sensors record, hour by hour (the other smart-city columns are lags)
SERIES_FEATURES = ("hour_sin", "hour_cos", "weekend", "temperature_c", "load_mw")
SERIES_TARGET = "load_mw"
TEST_FRACTION = 0.2


def plain_spec(model: ModelSpec) -> ModelSpec:
    """The model as a layer list without standardization: the federation holds rows
    already standardized by its own training data's statistics."""
    return ModelSpec.network(model.example_shape, model.architecture, model.num_classes)


def build_layer_federation(config: SimConfig) -> Federation:
    if config.model is None:
        raise LearningError("A layer federation needs the config's model.")
    spec = plain_spec(config.model)
    shape = spec.example_shape
    if config.dataset == "smart_city" and len(shape) == 2:
        parts_x, parts_y, test_x, test_y = _district_windows(config, shape)
        regression, outputs = True, 1
    else:
        data, _ = load_dataset(config.dataset, config.seed)
        x = _as_examples(data, shape)
        rows = np.arange(len(data))
        if data.is_regression:
            rng = np.random.default_rng(config.seed)
            test_rows = np.sort(rng.choice(rows, len(rows) // 5, replace=False))
            train_rows = np.setdiff1d(rows, test_rows)
        else:
            train_rows, test_rows = stratified_split(data.y, TEST_FRACTION, config.seed)
        parts = partition(config, data.y[train_rows])
        parts_x = [x[train_rows[p]] for p in parts]
        parts_y = [data.y[train_rows[p]] for p in parts]
        test_x, test_y = x[test_rows], data.y[test_rows]
        regression, outputs = data.is_regression, data.num_outputs
    if spec.num_classes != outputs:
        raise LearningError(
            f"The model gives {spec.num_classes} outputs, but {config.dataset} needs {outputs}."
        )
    mean, scale = _statistics(np.concatenate(parts_x), len(shape))
    if regression:  # targets in standard units, so one learning rate fits all
        pooled = np.concatenate(parts_y)
        centre, spread = float(pooled.mean()), float(pooled.std() or 1.0)
        parts_y = [(y - centre) / spread for y in parts_y]
        test_y = (test_y - centre) / spread
    who = attackers(config.clients, config.attack_fraction, config.seed + 1)
    if config.attack == "label_flip" and not regression:
        parts_y = [flip_labels(y, outputs) if who[c] else y for c, y in enumerate(parts_y)]
    longest = max(len(y) for y in parts_y)
    x_all = np.zeros((config.clients, longest, *shape), np.float32)
    y_all = np.zeros((config.clients, longest), np.float32 if regression else np.int64)
    for c, (xs, ys) in enumerate(zip(parts_x, parts_y, strict=True)):
        x_all[c, : len(ys)] = (xs - mean) / scale
        y_all[c, : len(ys)] = ys
    return Federation(
        torch.from_numpy(x_all), torch.from_numpy(y_all),
        torch.tensor([len(y) for y in parts_y]),
        torch.from_numpy(((test_x - mean) / scale).astype(np.float32)),
        torch.from_numpy(np.asarray(test_y, np.float32 if regression else np.int64)),
        outputs, regression, spec, _class_weights(config, spec, parts_y, outputs),
    )  # fmt: skip


def _as_examples(data: Dataset, shape: tuple[int, ...]) -> np.ndarray:
    """The dataset's rows in the model's input shape: as they are, or a table's rows as
    images when they hold exactly the image's values."""
    if data.example_shape == shape:
        return data.x
    if len(shape) == 3 and data.x.ndim == 2 and data.num_features == math.prod(shape):
        return data.x.reshape(len(data), *shape)
    raise LearningError(
        f"The model reads examples of shape {list(shape)}, but {data.name} has "
        f"{list(data.example_shape)}.",
        hint="Images: [channels, height, width] with as many values as a row; series "
        f"windows (smart_city): [lookback, {len(SERIES_FEATURES)}].",
    )


def _district_windows(
    config: SimConfig, shape: tuple[int, ...]
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    """One client per district: its windows in time order, the last fifth held out."""
    lookback, features = shape
    if features != len(SERIES_FEATURES):
        raise LearningError(
            f"Smart-city windows have {len(SERIES_FEATURES)} features per step "
            f"({', '.join(SERIES_FEATURES)}), not {features}.",
            hint=f"Give the model input_shape [lookback, {len(SERIES_FEATURES)}].",
        )
    if config.partition != "iid":
        raise LearningError("Smart-city windows are split by district, one per client; "
                            "leave the partition at iid.")  # fmt: skip
    data, groups = smart_city_load(districts=config.clients, seed=config.seed)
    columns = [data.feature_names.index(name) for name in SERIES_FEATURES]
    parts_x, parts_y, test_x, test_y = [], [], [], []
    for district in range(config.clients):
        rows = np.flatnonzero(groups == district)  # in time order
        series = data.x[rows][:, columns]
        table = Dataset(f"district_{district}", series, series[:, -1].copy(), SERIES_FEATURES,
                        SERIES_TARGET, ())  # fmt: skip
        windows = cut_windows(table, lookback, config.horizon, SERIES_TARGET)
        cut = len(windows) - max(1, round(TEST_FRACTION * len(windows)))
        parts_x.append(windows.x[:cut])
        parts_y.append(windows.y[:cut])
        test_x.append(windows.x[cut:])
        test_y.append(windows.y[cut:])
    return parts_x, parts_y, np.concatenate(test_x), np.concatenate(test_y)


def _statistics(x: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale per image channel, or per feature of a row or a series' step, shaped
    to broadcast over examples; a constant gets scale 1."""
    axes = (0, 2, 3) if rank == 3 else tuple(range(x.ndim - 1))
    mean = x.mean(axis=axes, dtype=np.float64)
    scale = x.std(axis=axes, dtype=np.float64)
    scale[scale == 0] = 1.0
    view = (-1, 1, 1) if rank == 3 else (-1,)
    return mean.astype(np.float32).reshape(view), scale.astype(np.float32).reshape(view)


def _class_weights(
    config: SimConfig, spec: ModelSpec, parts_y: list[np.ndarray], outputs: int
) -> torch.Tensor:
    """Every client's loss weight per class (clients, classes), as a node computes it
    from its own rows (`TrainConfig.weights_for`): fixed, balanced, or all 1."""
    train = config.train_config()
    found = [train.weights_for(spec, y) for y in parts_y]
    ones = torch.ones(outputs)
    return torch.stack([ones if w is None else w for w in found])
