"""A job as its requester writes it: one TOML file with the terms (for the chain), the spec
(for every node) and the evaluation data (which stays on the requester's machine).

    title = "Malignancy from cell nuclei"
    purpose = "diagnosis"
    rounds = 5
    round_duration = 600          # seconds each elected aggregator has
    pool = "50 DAIN"              # escrowed when proposed
    max_assets = 20
    secure_aggregation = false
    min_participants = 2          # a round is recorded with at least this many updates

    [sampling]                    # optional: each round takes part of the assets
    fraction = 0.3                # each asset's chance per round, in (0, 1]
    # count = 20                  # or: about this many a round (a rate fixed at start)

    [model]
    kind = "mlp"                  # or "logreg", or layers = [...]
    hidden = [32]
    # base = "pretrained.safetensors"  # fine-tuning: see dain.node.job_fine_tune

    [input]                       # the columns every owner's CSV must have
    features = ["radius", "texture"]
    target = "diagnosis"
    classes = ["benign", "malignant"]   # omit for regression

    [training]
    learning_rate = 0.1
    epochs = 1
    batch_size = 32

    [strategy]
    name = "fedavg"
    options = { server_lr = 1.0 }

    [privacy]
    level = "record"              # "none", "record" (DP-SGD) or "client"
    epsilon = 3.0                 # over the whole job; the noise is calibrated to it
    delta = 1e-5

    [evaluation]                  # scores every round's model; never leaves this machine
    csv = "holdout.csv"
    target = "diagnosis"

With an [evaluation] file, [input] may be left out: its columns and classes are read from
the file. Either way the features are standardized by the evaluation file's statistics
(none without one).

Sampling draws each asset into a round independently from the job's seed on chain, so every
node knows the sample and nobody picks it (`dain.ledger.sampling`); a count becomes the rate
count / enrolled (rounded up) when the job starts. It cannot be combined with secure
aggregation yet."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dain.data import CsvSchema, Dataset, conform, load_asset
from dain.errors import ConfigError, DainError
from dain.learning import (
    LearningError,
    ModelSpec,
    PrivacyLevel,
    PrivacySpec,
    TrainConfig,
    calibrate,
    feature_statistics,
    init_params,
)
from dain.ledger import JobTerms, fraction_to_bps, parse_dain
from dain.node.job_fine_tune import KEYS as FINE_TUNE_KEYS
from dain.node.job_fine_tune import (
    Pretrained,
    fine_tune_settings,
    fine_tune_words,
    fine_tuned,
    with_stored_base,
)
from dain.node.job_view import sampling_words
from dain.node.spec import JobSpec
from dain.storage import BlobStore, encode_tensors

TOP = {"title", "purpose", "rounds", "round_duration", "pool", "max_assets",
       "secure_aggregation", "min_participants", "seed", "description", "model", "input",
       "training", "strategy", "privacy", "evaluation", "sampling"}  # fmt: skip
# DP-SGD defaults: each record in a step's batch with probability 0.5, two steps a round
RECORD_SAMPLE_RATE, RECORD_STEPS = 0.5, 2


@dataclass(frozen=True)
class JobPlan:
    """Everything `dain job propose` needs; the CIDs are filled in when the blobs are kept."""

    spec: JobSpec
    purpose: str
    rounds: int
    round_duration: int
    pool: int  # base units
    max_assets: int
    secure_aggregation: bool
    min_participants: int
    max_epsilon: float | None
    description: str
    schema: CsvSchema
    evaluation: Path | None  # the requester's own scoring data
    pretrained: Pretrained | None = None  # a fine-tuning job's, when read from a file
    sample_bps: int = 0  # each asset's chance per round in basis points; 0: every asset
    sample_count: int = 0  # or about this many assets a round; 0: by sample_bps

    def terms(self, spec_cid: str, model_cid: str) -> JobTerms:
        return JobTerms(self.purpose, self.rounds, self.pool, spec_cid, model_cid,
                        round_duration=self.round_duration, max_epsilon=self.max_epsilon,
                        secure_aggregation=self.secure_aggregation,
                        max_assets=self.max_assets, sample_bps=self.sample_bps,
                        sample_count=self.sample_count)  # fmt: skip

    def first_model(self, blobs: BlobStore) -> bytes:
        """The job's first model (safetensors); for a fine-tuning job, of the trained
        tensors only, once the pretrained model is in `blobs` (stored from the job file's
        base, or already there by its base_cid)."""
        model = self.spec.model
        if self.pretrained is not None:
            blobs.put(self.pretrained.data)
        elif model.fine_tune is not None:
            model = with_stored_base(model, blobs)
        return encode_tensors(init_params(model, self.spec.seed))

    def evaluation_data(self) -> Dataset | None:
        """The requester's scoring data as the job's model reads it."""
        if self.evaluation is None:
            return None
        return _evaluation(self.evaluation, self.schema)


def load_job_file(path: Path) -> JobPlan:
    """Reads and checks a job file; every mistake is reported with its key and the fix."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"No job file at {path}.", hint="Check the path.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}.", hint="See 'dain job propose --help'."
        ) from None
    try:
        return _plan(raw, path.parent)
    except DainError as exc:
        raise ConfigError(f"{path}: {exc.message}", hint=exc.hint) from None


def _plan(raw: dict[str, Any], base: Path) -> JobPlan:
    unknown = sorted(set(raw) - TOP)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}.",
                          hint=f"Settings: {', '.join(sorted(TOP))}.")  # fmt: skip
    title = _get(raw, "title", str)
    purpose = _get(raw, "purpose", str)
    rounds = _get(raw, "rounds", int)
    if not 1 <= rounds <= 1000:
        raise ConfigError(f"rounds must be 1 to 1000, not {rounds}.")
    duration = _get(raw, "round_duration", int, 600)
    if duration < 30:
        raise ConfigError(f"round_duration is in seconds and at least 30, not {duration}.")
    pool = parse_dain(_get(raw, "pool", (str, int, float)))
    evaluation_table = _table(raw, "evaluation")
    evaluation, target = None, None
    if evaluation_table:
        evaluation = base / _evaluation_path(evaluation_table)
        target = _get(evaluation_table, "target", str, None, key_path="evaluation.target")
    schema, stats_from = _schema(_table(raw, "input"), evaluation, target)
    model_table = _table(raw, "model")
    model, pretrained = _model(model_table, schema, stats_from), None
    if fine_tune_settings(model_table):
        model, pretrained = fine_tuned(model_table, model, base)
    training = _table(raw, "training")
    rate = _get(training, "learning_rate", (int, float), 0.1, key_path="training.learning_rate")
    weights = _get(training, "class_weights", list, [], key_path="training.class_weights")
    if not all(isinstance(w, int | float) and not isinstance(w, bool) for w in weights):
        raise ConfigError("training.class_weights must be a list of numbers, one per class.")
    if weights and len(weights) != len(schema.classes):
        raise ConfigError(
            f"training.class_weights has {len(weights)} weights for {len(schema.classes)} "
            "classes.", hint=f"One per class, in order: {', '.join(schema.classes)}.")
    try:
        train = TrainConfig(
            float(rate),
            _get(training, "epochs", int, 1, key_path="training.epochs"),
            _get(training, "batch_size", int, 32, key_path="training.batch_size"),
            float(_get(training, "momentum", (int, float), 0.0, key_path="training.momentum")),
            tuple(float(w) for w in weights),
            _get(training, "balance_classes", bool, False, key_path="training.balance_classes"),
        )
    except LearningError as exc:
        raise ConfigError(f"[training]: {exc.message}") from None
    strategy = _table(raw, "strategy")
    secure = _get(raw, "secure_aggregation", bool, False)
    privacy, max_epsilon = _privacy(_table(raw, "privacy"), rounds, secure)
    min_participants = _get(raw, "min_participants", int, 1)
    spec = JobSpec(
        title, model, train, _get(strategy, "name", str, "fedavg", key_path="strategy.name"),
        seed=_get(raw, "seed", int, 0), privacy=privacy, input=schema,
        min_participants=min_participants,
        strategy_options={k: float(v) for k, v in _get(strategy, "options", dict, {},
                                                       key_path="strategy.options").items()},
    )  # fmt: skip
    spec.check_terms(secure)
    max_assets = _get(raw, "max_assets", int, 100)
    sample_bps, sample_count = _sampling(_table(raw, "sampling"), max_assets, secure,
                                         min_participants)  # fmt: skip
    plan = JobPlan(
        spec, purpose, rounds, duration, pool, max_assets,
        secure, min_participants, max_epsilon, "", schema, evaluation, pretrained,
        sample_bps, sample_count,
    )  # fmt: skip
    written = _get(raw, "description", str, "")
    return _with_description(plan, written)


SAMPLING_KEYS = {"fraction", "count"}


def _sampling(
    table: dict[str, Any], max_assets: int, secure: bool, min_participants: int
) -> tuple[int, int]:
    """[sampling] as the contract takes it: (rate in basis points, count), at most one set."""
    unknown = sorted(set(table) - SAMPLING_KEYS)
    if unknown:
        raise ConfigError(f"sampling has no setting {', '.join(unknown)}.",
                          hint="Its settings: fraction (0 to 1) or count.")  # fmt: skip
    if not table:
        return 0, 0
    if len(table) > 1:
        raise ConfigError("sampling has both fraction and count.", hint="Keep one.")
    if secure:
        raise ConfigError("sampling with secure aggregation is not supported yet.",
                          hint="Remove [sampling] or set secure_aggregation = false.")  # fmt: skip
    if "fraction" in table:
        fraction = float(_get(table, "fraction", (int, float), key_path="sampling.fraction"))
        if not 0 < fraction <= 1:
            raise ConfigError(f"sampling.fraction must be above 0 and at most 1, not "
                              f"{fraction}.", hint="e.g. fraction = 0.3")  # fmt: skip
        return fraction_to_bps(fraction), 0
    count = _get(table, "count", int, key_path="sampling.count")
    if count < 1:
        raise ConfigError(f"sampling.count must be at least 1, not {count}.")
    if count > max_assets:
        raise ConfigError(f"sampling.count ({count}) is more than max_assets ({max_assets}).",
                          hint="Lower the count, or raise max_assets.")  # fmt: skip
    if count < min_participants:
        raise ConfigError(f"sampling.count ({count}) is below min_participants "
                          f"({min_participants}): rounds would rarely reach it.",
                          hint="Sample at least min_participants assets.")  # fmt: skip
    return 0, count


def _evaluation_path(table: dict[str, Any]) -> str:
    """[evaluation] names its data as `path` (any kind dain reads) or, as before, `csv`."""
    if "path" in table and "csv" in table:
        raise ConfigError("evaluation has both path and csv.", hint="Keep one: path.")
    key = "path" if "path" in table or "csv" not in table else "csv"
    return _get(table, key, str, key_path=f"evaluation.{key}")


def _evaluation(path: Path, schema: CsvSchema) -> Dataset:
    target = None if schema.kind == "image" else schema.target
    return conform(load_asset(path, target), schema)


def _schema(
    table: dict[str, Any], evaluation: Path | None, target: str | None
) -> tuple[CsvSchema, Dataset | None]:
    """What owners' data must hold, from [input] or else the evaluation data; and the
    evaluation data as the model reads it (for the standardization statistics)."""
    if table:
        schema = _input(table)
        return schema, None if evaluation is None else _evaluation(evaluation, schema)
    if evaluation is None or (target is None and not evaluation.is_dir()):
        raise ConfigError("the job has no [input] table, and no [evaluation] file with a target.",
                          hint="Add [input] with features, target and classes, or "
                          "[evaluation] with path = 'FILE' and target = 'COLUMN'.")  # fmt: skip
    data = load_asset(evaluation, target)
    if data.kind == "image":
        schema = CsvSchema((), data.target, False, data.classes, "image", data.example_shape)
    elif data.kind == "array":
        schema = CsvSchema((), data.target, not data.classes, data.classes, "array",
                           data.example_shape)  # fmt: skip
    else:
        schema = CsvSchema(data.feature_names, data.target, not data.classes, data.classes)
    return schema, conform(data, schema)


INPUT_KEYS = {"kind", "features", "target", "classes", "shape", "lookback", "horizon"}


def _input(table: dict[str, Any]) -> CsvSchema:
    unknown = sorted(set(table) - INPUT_KEYS)
    if unknown:
        raise ConfigError(f"input has no setting {', '.join(unknown)}.",
                          hint=f"Its settings: {', '.join(sorted(INPUT_KEYS))}.")  # fmt: skip
    kind = _get(table, "kind", str, "table", key_path="input.kind")
    needs_features = kind in ("table", "series")
    features = tuple(str(f) for f in _get(table, "features", list, None if needs_features
                                          else [], key_path="input.features"))  # fmt: skip
    default_target = "class" if kind == "image" else _MISSING
    target = _get(table, "target", str, default_target, key_path="input.target")
    classes = tuple(str(c) for c in _get(table, "classes", list, [], key_path="input.classes"))
    if needs_features and not features:
        raise ConfigError("input.features is empty.", hint="Name the feature columns.")
    if classes and len(classes) < 2:
        raise ConfigError("input.classes needs at least two classes (or none: regression).")
    shape = _get(table, "shape", list, [], key_path="input.shape")
    try:
        return CsvSchema(
            features, target, regression=not classes, classes=classes, kind=kind,
            shape=tuple(int(d) for d in shape),
            lookback=_get(table, "lookback", int, 0, key_path="input.lookback"),
            horizon=_get(table, "horizon", int, 0, key_path="input.horizon"),
        )  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"input.shape must be whole numbers ({exc}).") from None


MODEL_KEYS = {"kind", "hidden", "layers", *FINE_TUNE_KEYS}


def _model(table: dict[str, Any], schema: CsvSchema, stats_from: Dataset | None) -> ModelSpec:
    """The model from [model]: a preset (logreg, mlp) or a list of layers, reading examples
    of the shape the input schema gives them."""
    unknown = sorted(set(table) - MODEL_KEYS)
    if unknown:
        raise ConfigError(f"model has no setting {', '.join(unknown)}.",
                          hint=f"Its settings: {', '.join(sorted(MODEL_KEYS))}.")  # fmt: skip
    layers = _get(table, "layers", list, [], key_path="model.layers")
    kind = _get(table, "kind", str, "layers" if layers else "logreg", key_path="model.kind")
    hidden = tuple(_get(table, "hidden", list, [], key_path="model.hidden"))
    classes = len(schema.classes) if not schema.regression else 1
    shape = input_shape(schema)
    mean, scale = feature_statistics(stats_from.x) if stats_from is not None else ((), ())
    if kind == "layers":
        model = ModelSpec.network(shape, layers, classes, mean, scale)
    elif len(shape) != 1:
        raise ConfigError(f"model.kind '{kind}' reads table rows, but the input gives examples "
                          f"of shape {list(shape)}.",
                          hint="List the model's layers instead (model.layers).")  # fmt: skip
    else:
        model = ModelSpec(kind, shape[0], classes, hidden, mean, scale)
    if not layers or stats_from is None or not schema.regression:
        return model  # presets keep their specs (and content ids) as they were
    spread = float(np.std(stats_from.y)) or 1.0
    return replace(model, target_mean=float(np.mean(stats_from.y)), target_scale=spread)


def input_shape(schema: CsvSchema) -> tuple[int, ...]:
    """The shape of one example as the model reads it."""
    if schema.kind in ("image", "array"):
        return schema.shape
    if schema.kind == "series":
        return (schema.lookback, len(schema.features))
    return (len(schema.features),)


def _privacy(table: dict[str, Any], rounds: int, secure: bool) -> tuple[PrivacySpec, float | None]:
    level = _get(table, "level", str, "none", key_path="privacy.level")
    try:
        kind = PrivacyLevel(level)
    except ValueError:
        raise ConfigError(f"privacy.level '{level}' is not a privacy level.",
                          hint="Use none, record or client.") from None  # fmt: skip
    if kind is PrivacyLevel.NONE:
        return PrivacySpec(), None
    epsilon = float(_get(table, "epsilon", (int, float), key_path="privacy.epsilon"))
    delta = float(_get(table, "delta", (int, float), 1e-5, key_path="privacy.delta"))
    clip = float(_get(table, "clip", (int, float), 1.0, key_path="privacy.clip"))
    if kind is PrivacyLevel.RECORD:
        base = PrivacySpec(kind, 1.0, clip, delta, sample_rate=RECORD_SAMPLE_RATE,
                           steps=RECORD_STEPS)  # fmt: skip
    else:
        clients = _get(table, "clients", int, 3, key_path="privacy.clients")
        base = PrivacySpec(kind, 1.0, clip, delta, clients=clients)
    return calibrate(base, epsilon, rounds), epsilon


def _with_description(plan: JobPlan, written: str) -> JobPlan:
    """What voters read: the terms in words (the spec CID is added once known)."""
    from dain.ledger import format_dain

    spec = plan.spec
    lines = [
        f"Train '{spec.title}' for {plan.purpose}: {plan.rounds} rounds of "
        f"{plan.round_duration} s, pool {format_dain(plan.pool)}, at most {plan.max_assets} "
        "assets.",
        f"Model: {_model_words(spec.model)} on {_input_words(plan.schema)} -> "
        f"{', '.join(plan.schema.classes) or plan.schema.target}; strategy {spec.strategy}.",
        "Privacy: " + (f"{spec.privacy.level} level, epsilon {plan.max_epsilon} over the job, "
                       f"delta {spec.privacy.delta}." if plan.max_epsilon else "none.")
        + (" Secure aggregation." if plan.secure_aggregation else ""),
    ]  # fmt: skip
    if plan.sample_bps or plan.sample_count:
        lines.append(sampling_words(plan.sample_bps, plan.sample_count))
    if spec.model.fine_tune is not None:
        lines.append(fine_tune_words(spec.model))
    if written:
        lines.append(written)
    return replace(plan, description="\n".join(lines))


def _model_words(model: ModelSpec) -> str:
    if model.kind != "layers":
        return f"{model.kind} {list(model.hidden) or ''}".strip()
    names = " > ".join(lay.type for lay in model.layers)
    from dain.learning import plan as plan_layers

    return f"layers {names} ({plan_layers(model.input_shape, model.layers).parameters:,} " \
        "parameters)"


def _input_words(schema: CsvSchema) -> str:
    if schema.kind == "image":
        return f"images {'x'.join(map(str, schema.shape))}"
    if schema.kind == "array":
        return f"arrays {'x'.join(map(str, schema.shape))}"
    columns = f"{', '.join(schema.features[:8])}{', ...' if len(schema.features) > 8 else ''}"
    if schema.kind == "series":
        return (f"windows of {schema.lookback} steps of {len(schema.features)} features "
                f"({columns}), {schema.horizon} ahead")  # fmt: skip
    return f"{len(schema.features)} features ({columns})"


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key} must be a table ([{key}]).")
    return value


_MISSING = object()


def _get(
    table: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any = _MISSING,
    *, key_path: str | None = None,
) -> Any:  # fmt: skip
    name = key_path or key
    if key not in table:
        if default is _MISSING:
            raise ConfigError(f"{name} is missing.", hint=f"Add {name} = ... to the job file.")
        return default
    value = table[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:  # TOML true is not the number 1
        raise ConfigError(f"{name} must be a {_names(kinds)}, not {value!r}.")
    if not isinstance(value, kinds):
        raise ConfigError(f"{name} must be a {_names(kinds)}, not {value!r}.")
    return value


def _names(kinds: tuple[type, ...]) -> str:
    words = {str: "text", int: "whole number", float: "number", bool: "true or false",
             list: "list", dict: "table"}  # fmt: skip
    return " or ".join(words.get(k, k.__name__) for k in kinds)
