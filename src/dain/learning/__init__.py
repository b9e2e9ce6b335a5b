"""Models, local training and aggregation: pure computation, no I/O."""

from dain.learning.aggregate import add, subtract, weighted_mean
from dain.learning.errors import AggregationError, LearningError, ModelSpecError
from dain.learning.models import (
    ModelSpec,
    Params,
    build_model,
    feature_statistics,
    init_params,
    param_shapes,
)
from dain.learning.strategy import (
    STRATEGY_NAMES,
    ClientUpdate,
    FedAvg,
    ServerOptimizer,
    Strategy,
    make_strategy,
)
from dain.learning.training import (
    LocalResult,
    TrainConfig,
    accuracy,
    predict,
    train_local,
    warm_up,
)

__all__ = [
    "STRATEGY_NAMES",
    "AggregationError",
    "ClientUpdate",
    "FedAvg",
    "LearningError",
    "LocalResult",
    "ModelSpec",
    "ModelSpecError",
    "Params",
    "ServerOptimizer",
    "Strategy",
    "TrainConfig",
    "accuracy",
    "add",
    "build_model",
    "feature_statistics",
    "init_params",
    "make_strategy",
    "param_shapes",
    "predict",
    "subtract",
    "train_local",
    "warm_up",
    "weighted_mean",
]
