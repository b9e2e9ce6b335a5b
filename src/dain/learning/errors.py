"""Learning errors.

LearningError
├── ModelSpecError    a model specification is malformed or unknown
└── AggregationError  updates cannot be combined (no updates, shapes differ, bad weights)
"""

from dain.errors import DainError


class LearningError(DainError):
    pass


class ModelSpecError(LearningError):
    pass


class AggregationError(LearningError):
    pass
