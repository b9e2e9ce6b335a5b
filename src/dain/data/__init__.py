"""Datasets, partitioning among owners, asset manifests and consent policies."""

from dain.data.datasets import BUNDLED, CsvSchema, Dataset, load_bundled, load_csv
from dain.data.errors import DataError, DatasetError, PartitionError, PolicyError
from dain.data.manifest import AssetManifest, data_commitment
from dain.data.partition import (
    dirichlet_partition,
    iid_partition,
    partition_stratified,
    quantity_skew_partition,
    stratified_split,
    unequal_sizes,
)
from dain.data.policy import ConsentPolicy, bytes32_to_purpose, check_purpose, purpose_to_bytes32
from dain.data.synthetic import card_fraud, smart_city_load

__all__ = [
    "BUNDLED",
    "AssetManifest",
    "ConsentPolicy",
    "CsvSchema",
    "DataError",
    "Dataset",
    "DatasetError",
    "PartitionError",
    "PolicyError",
    "bytes32_to_purpose",
    "card_fraud",
    "check_purpose",
    "data_commitment",
    "dirichlet_partition",
    "iid_partition",
    "load_bundled",
    "load_csv",
    "partition_stratified",
    "purpose_to_bytes32",
    "quantity_skew_partition",
    "smart_city_load",
    "stratified_split",
    "unequal_sizes",
]
