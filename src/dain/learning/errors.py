"""Learning errors.

LearningError
├── ModelSpecError    a model specification is malformed or unknown
├── AggregationError  updates cannot be combined (no updates, shapes differ, bad weights)
├── SecAggError       a secure-aggregation message or share is malformed or inconsistent
│   └── SecAggAborted too few clients survived to unmask the sum: the round is aborted
├── PrivacyError      a differential-privacy setting is invalid or the budget is spent
└── MetricsError      a model cannot be scored on these rows, or scores are malformed
"""

from dain.errors import DainError


class LearningError(DainError):
    pass


class ModelSpecError(LearningError):
    pass


class AggregationError(LearningError):
    pass


class SecAggError(LearningError):
    pass


class SecAggAborted(SecAggError):
    """Too few clients are left to rebuild the secrets the sum needs."""


class PrivacyError(LearningError):
    pass


class MetricsError(LearningError):
    pass
