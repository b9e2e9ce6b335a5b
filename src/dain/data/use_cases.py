"""Data for the three use-case templates, written as owners would hold it (generated
offline and reproducibly): digit images in class folders for imaging, each district's
hourly series as a CSV for smart-city forecasting, card payments as CSV tables for fraud
detection. Each writes one share per owner and the requester's held-out data."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dain.data.datasets import Dataset
from dain.data.errors import DatasetError

USE_CASES = ("imaging", "smart_city", "fraud")


@dataclass(frozen=True)
class UseCaseData:
    """Where each owner's data and the requester's held-out data were written."""

    owners: tuple[Path, ...]
    test: Path


def write_use_case_data(name: str, out: Path, owners: int = 3, seed: int = 0) -> UseCaseData:
    if name not in USE_CASES:
        raise DatasetError(f"There is no use case '{name}'.", hint=f"Use one of {USE_CASES}.")
    if not 1 <= owners <= 50:
        raise DatasetError(f"A use case is written for 1 to 50 owners, not {owners}.")
    out.mkdir(parents=True, exist_ok=True)
    if name == "imaging":
        from dain.data.images import write_digit_images

        folders = write_digit_images(out, owners=owners, seed=seed)
        assert folders.test is not None
        return UseCaseData(folders.owners, folders.test)
    if name == "smart_city":
        from dain.data.synthetic import smart_city_series

        districts = smart_city_series(districts=owners + 1, days=56, seed=seed)
        paths = [write_csv(d, out / f"district_{k}.csv")
                 for k, d in enumerate(districts[:-1], 1)]  # fmt: skip
        return UseCaseData(tuple(paths), write_csv(districts[-1], out / "district_test.csv"))
    from dain.data.partition import partition_stratified, stratified_split
    from dain.data.synthetic import card_fraud

    data = card_fraud(transactions=4_000 * (owners + 1), seed=seed)
    train, test = stratified_split(data.y, 1 / (owners + 1), seed)
    shares = partition_stratified(data.y[train], np.full(owners, 1 / owners), seed)
    paths = [write_csv(data.subset(train[rows]), out / f"bank_{k}.csv")
             for k, rows in enumerate(shares, 1)]  # fmt: skip
    return UseCaseData(tuple(paths), write_csv(data.subset(test), out / "test.csv"))


def write_csv(data: Dataset, path: Path) -> Path:
    """A table dataset as a CSV with a header; the target last, as its class names, unless
    it is also a feature column (a series' own past), which is written once."""
    if data.x.ndim != 2:
        raise DatasetError(f"Only a table is written as CSV, not examples of {data.x.shape[1:]}.")
    with_target = data.target not in data.feature_names
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*data.feature_names, *([data.target] if with_target else [])])
        text = np.char.mod("%.6g", data.x)
        labels = (np.asarray(data.classes)[data.y] if data.classes
                  else np.char.mod("%.6g", data.y))  # fmt: skip
        for row, label in zip(text, labels, strict=True):
            writer.writerow([*row, *([label] if with_target else [])])
    return path
