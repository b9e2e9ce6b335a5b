"""Datasets, partitioning among owners, asset manifests and consent policies.

Names load on first use: a simulation that needs datasets and partitions does not load
the key and content-id libraries that manifests and policies use.
"""

from dain.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "format_asset_id": "dain.data.asset_id",
    "parse_asset_id": "dain.data.asset_id",
    "BUNDLED": "dain.data.bundled",
    "load_bundled": "dain.data.bundled",
    "load_arrays": "dain.data.arrays",
    "conform": "dain.data.conformance",
    "Dataset": "dain.data.datasets",
    "load_csv": "dain.data.datasets",
    "AssetIdError": "dain.data.errors",
    "DataError": "dain.data.errors",
    "DatasetError": "dain.data.errors",
    "PartitionError": "dain.data.errors",
    "PolicyError": "dain.data.errors",
    "ImageFolders": "dain.data.images",
    "load_image_folder": "dain.data.images",
    "write_digit_images": "dain.data.images",
    "MAX_HELD_OUT": "dain.data.holdout",
    "held_out_count": "dain.data.holdout",
    "holdout_seed": "dain.data.holdout",
    "holdout_split": "dain.data.holdout",
    "content_digest": "dain.data.loaders",
    "load_asset": "dain.data.loaders",
    "load_options": "dain.data.loaders",
    "AssetManifest": "dain.data.manifest",
    "data_commitment": "dain.data.manifest",
    "dirichlet_partition": "dain.data.partition",
    "iid_partition": "dain.data.partition",
    "partition_stratified": "dain.data.partition",
    "quantity_skew_partition": "dain.data.partition",
    "stratified_split": "dain.data.partition",
    "unequal_sizes": "dain.data.partition",
    "ConsentPolicy": "dain.data.policy",
    "bytes32_to_purpose": "dain.data.policy",
    "check_purpose": "dain.data.policy",
    "parse_expiry": "dain.data.expiry",
    "purpose_to_bytes32": "dain.data.policy",
    "CsvSchema": "dain.data.schema",
    "InputSchema": "dain.data.schema",
    "card_fraud": "dain.data.synthetic",
    "smart_city_series": "dain.data.synthetic",
    "USE_CASES": "dain.data.use_cases",
    "UseCaseData": "dain.data.use_cases",
    "write_csv": "dain.data.use_cases",
    "write_use_case_data": "dain.data.use_cases",
    "smart_city_load": "dain.data.synthetic",
    "load_parquet": "dain.data.tables",
    "cut_windows": "dain.data.windows",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports("dain.data", _EXPORTS)
