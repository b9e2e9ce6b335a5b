"""Models, local training, aggregation, server optimizers and privacy: pure computation,
no I/O. Secure aggregation is `dain.learning.secagg`."""

from dain.learning.aggregate import (
    bulyan,
    krum,
    mean,
    median,
    multi_krum,
    stack,
    trimmed_mean,
    unstack,
)
from dain.learning.architecture import LAYER_TYPES, Layer, Plan, layer, parse_layers, plan
from dain.learning.attacks import ATTACKS, attack_updates, attackers, flip_labels
from dain.learning.dp_sgd import train_local_dp
from dain.learning.errors import (
    AggregationError,
    LearningError,
    MetricsError,
    ModelSpecError,
    PrivacyError,
    SecAggAborted,
    SecAggError,
)
from dain.learning.local import local_update
from dain.learning.metrics import (
    Metrics,
    classification_metrics,
    combine,
    evaluate,
    regression_metrics,
    roc_auc,
)
from dain.learning.models import (
    ModelSpec,
    build_model,
    feature_statistics,
    init_params,
    param_shapes,
)
from dain.learning.optimizers import ServerOptimizer, ServerState
from dain.learning.params import ClientUpdate, Params, subtract
from dain.learning.privacy import (
    PrivacyLevel,
    PrivacySpec,
    budget_allows,
    calibrate,
    clip_and_noise,
    clip_and_noise_rows,
)
from dain.learning.strategies import STRATEGY_NAMES, Strategy, make_strategy
from dain.learning.training import (
    LocalResult,
    TrainConfig,
    accuracy,
    predict,
    row_losses,
    train_local,
    warm_up,
)
from dain.learning.valuation import Valuation, ValuationConfig, value_updates

__all__ = [
    "ATTACKS",
    "LAYER_TYPES",
    "STRATEGY_NAMES",
    "AggregationError",
    "ClientUpdate",
    "Layer",
    "LearningError",
    "LocalResult",
    "Metrics",
    "MetricsError",
    "ModelSpec",
    "ModelSpecError",
    "Params",
    "Plan",
    "PrivacyError",
    "PrivacyLevel",
    "PrivacySpec",
    "SecAggAborted",
    "SecAggError",
    "ServerOptimizer",
    "ServerState",
    "Strategy",
    "TrainConfig",
    "Valuation",
    "ValuationConfig",
    "accuracy",
    "attack_updates",
    "attackers",
    "budget_allows",
    "build_model",
    "bulyan",
    "calibrate",
    "classification_metrics",
    "clip_and_noise",
    "clip_and_noise_rows",
    "combine",
    "evaluate",
    "feature_statistics",
    "flip_labels",
    "init_params",
    "krum",
    "layer",
    "local_update",
    "make_strategy",
    "mean",
    "median",
    "multi_krum",
    "param_shapes",
    "parse_layers",
    "plan",
    "predict",
    "regression_metrics",
    "roc_auc",
    "row_losses",
    "stack",
    "subtract",
    "train_local",
    "train_local_dp",
    "trimmed_mean",
    "unstack",
    "value_updates",
    "warm_up",
]
