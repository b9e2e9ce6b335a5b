"""Data errors.

DataError
├── AssetIdError      text is not an asset id (truncated, garbled)
├── DatasetError      a dataset cannot be loaded (unknown name, bad CSV, missing target)
├── PartitionError    a dataset cannot be split as asked
└── PolicyError       a consent policy is malformed (bad purpose tag, past expiry)
"""

from dain.errors import DainError


class DataError(DainError):
    pass


class AssetIdError(DataError):
    pass


class DatasetError(DataError):
    pass


class PartitionError(DataError):
    pass


class PolicyError(DataError):
    pass
