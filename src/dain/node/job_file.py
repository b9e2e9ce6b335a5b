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

    [model]
    kind = "mlp"                  # or "logreg"
    hidden = [32]

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
(none without one)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dain.data import CsvSchema, Dataset, load_csv
from dain.errors import ConfigError, DainError
from dain.learning import (
    ModelSpec,
    PrivacyLevel,
    PrivacySpec,
    TrainConfig,
    calibrate,
    feature_statistics,
)
from dain.ledger import JobTerms, parse_dain
from dain.node.spec import JobSpec

TOP = {"title", "purpose", "rounds", "round_duration", "pool", "max_assets",
       "secure_aggregation", "min_participants", "seed", "description", "model", "input",
       "training", "strategy", "privacy", "evaluation"}  # fmt: skip
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

    def terms(self, spec_cid: str, model_cid: str) -> JobTerms:
        return JobTerms(self.purpose, self.rounds, self.pool, spec_cid, model_cid,
                        round_duration=self.round_duration, max_epsilon=self.max_epsilon,
                        secure_aggregation=self.secure_aggregation,
                        max_assets=self.max_assets)  # fmt: skip

    def evaluation_data(self) -> Dataset | None:
        if self.evaluation is None:
            return None
        return load_csv(self.evaluation, self.schema.target, self.schema)


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
        evaluation = base / _get(evaluation_table, "csv", str, key_path="evaluation.csv")
        target = _get(evaluation_table, "target", str, None, key_path="evaluation.target")
    schema, stats_from = _schema(_table(raw, "input"), evaluation, target)
    model_table = _table(raw, "model")
    kind = _get(model_table, "kind", str, "logreg", key_path="model.kind")
    hidden = tuple(_get(model_table, "hidden", list, [], key_path="model.hidden"))
    classes = len(schema.classes) if not schema.regression else 1
    mean, scale = feature_statistics(stats_from.x) if stats_from is not None else ((), ())
    model = ModelSpec(kind, len(schema.features), classes, hidden, mean, scale)
    training = _table(raw, "training")
    rate = _get(training, "learning_rate", (int, float), 0.1, key_path="training.learning_rate")
    train = TrainConfig(
        float(rate),
        _get(training, "epochs", int, 1, key_path="training.epochs"),
        _get(training, "batch_size", int, 32, key_path="training.batch_size"),
    )
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
    plan = JobPlan(
        spec, purpose, rounds, duration, pool, _get(raw, "max_assets", int, 100),
        secure, min_participants, max_epsilon, "", schema, evaluation,
    )  # fmt: skip
    written = _get(raw, "description", str, "")
    return _with_description(plan, written)


def _schema(
    table: dict[str, Any], evaluation: Path | None, target: str | None
) -> tuple[CsvSchema, Dataset | None]:
    """The columns owners' files must have, from [input] or else the evaluation file."""
    data = None
    if table:
        features = tuple(str(f) for f in _get(table, "features", list, key_path="input.features"))
        target = _get(table, "target", str, key_path="input.target")
        classes = tuple(str(c) for c in _get(table, "classes", list, [], key_path="input.classes"))
        schema = CsvSchema(features, target, regression=not classes, classes=classes)
        if not features:
            raise ConfigError("input.features is empty.", hint="Name the feature columns.")
        if classes and len(classes) < 2:
            raise ConfigError("input.classes needs at least two classes (or none: regression).")
        if evaluation is not None:
            data = load_csv(evaluation, target, schema)
        return schema, data
    if evaluation is None or target is None:
        raise ConfigError("the job has no [input] table, and no [evaluation] file with a target.",
                          hint="Add [input] with features, target and classes, or "
                          "[evaluation] with csv = 'FILE' and target = 'COLUMN'.")  # fmt: skip
    data = load_csv(evaluation, target)
    regression = not data.classes
    return CsvSchema(data.feature_names, target, regression, tuple(data.classes)), data


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
    from dataclasses import replace

    from dain.ledger import format_dain

    spec = plan.spec
    lines = [
        f"Train '{spec.title}' for {plan.purpose}: {plan.rounds} rounds of "
        f"{plan.round_duration} s, pool {format_dain(plan.pool)}, at most {plan.max_assets} "
        "assets.",
        f"Model: {spec.model.kind} {list(spec.model.hidden) or ''} on "
        f"{spec.model.num_features} features ({', '.join(plan.schema.features[:8])}"
        f"{', ...' if len(plan.schema.features) > 8 else ''}) -> "
        f"{', '.join(plan.schema.classes) or plan.schema.target}; strategy {spec.strategy}.",
        "Privacy: " + (f"{spec.privacy.level} level, epsilon {plan.max_epsilon} over the job, "
                       f"delta {spec.privacy.delta}." if plan.max_epsilon else "none.")
        + (" Secure aggregation." if plan.secure_aggregation else ""),
    ]  # fmt: skip
    if written:
        lines.append(written)
    return replace(plan, description="\n".join(lines))


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
