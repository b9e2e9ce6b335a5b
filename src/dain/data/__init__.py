"""Datasets, partitioning among owners, asset manifests and consent policies."""

from dain.data.datasets import BUNDLED, Dataset, load_bundled, load_csv
from dain.data.errors import DataError, DatasetError, PartitionError, PolicyError
from dain.data.manifest import AssetManifest, data_commitment
from dain.data.partition import partition_stratified, stratified_split, unequal_sizes
from dain.data.policy import ConsentPolicy, bytes32_to_purpose, check_purpose, purpose_to_bytes32

__all__ = [
    "BUNDLED",
    "AssetManifest",
    "ConsentPolicy",
    "DataError",
    "Dataset",
    "DatasetError",
    "PartitionError",
    "PolicyError",
    "bytes32_to_purpose",
    "check_purpose",
    "data_commitment",
    "load_bundled",
    "load_csv",
    "partition_stratified",
    "purpose_to_bytes32",
    "stratified_split",
    "unequal_sizes",
]
