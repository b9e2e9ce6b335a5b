"""One loader for every kind of asset (issue 14, point 2): the path picks it, a target is
asked for only where the format needs one; manifests commit to every kind of data (a CSV
asset's id exactly as before), and a folder has a content digest as a file has."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from dain.data import (
    AssetManifest,
    Dataset,
    DatasetError,
    content_digest,
    load_asset,
    load_csv,
    load_options,
    write_digit_images,
)

SALT = b"\x01" * 32
CLINIC = "age,marker,outcome\n50,1.5,sick\n30,0.2,well\n41,0.9,sick\n"


def _folder(root: Path, sizes: dict[str, tuple[int, int]]) -> Path:
    for name, (height, width) in sizes.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (width, height), 99).save(root / name)
    return root


def _clinic(root: Path) -> Dataset:
    (root / "c.csv").write_text(CLINIC)
    return load_csv(root / "c.csv", "outcome")


def test_the_path_picks_the_loader(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(CLINIC)
    pq.write_table(pa.table({"a": [1.0, 2.0], "t": ["x", "y"]}), tmp_path / "t.parquet")
    np.savez(tmp_path / "a.npz", x=np.ones((2, 3)), y=np.array([0, 1]))
    images = _folder(tmp_path / "pics", {"a/1.png": (4, 4), "b/1.png": (4, 4)})

    assert load_asset(tmp_path / "t.csv", "outcome").feature_names == ("age", "marker")
    assert load_asset(tmp_path / "t.parquet", "t").classes == ("x", "y")
    assert load_asset(tmp_path / "a.npz").kind == "array"
    assert load_asset(images).kind == "image"
    assert load_asset(images, "class", size=(2, 3), channels=3).example_shape == (3, 2, 3)


@pytest.mark.parametrize(
    ("name", "target", "message"),
    [
        ("t.xlsx", "t", "does not read '.xlsx' files"),
        ("t.csv", None, "is a CSV table: name the column"),
        ("t.parquet", None, "is a Parquet table: name the column"),
        ("pics", "label", "classes are its subfolders' names"),
        ("nothing.csv", "t", "No file or folder at"),
    ],
)
def test_what_no_loader_can_read_is_refused(
    tmp_path: Path, name: str, target: str | None, message: str
) -> None:
    for made in ("t.xlsx", "t.csv", "t.parquet"):
        (tmp_path / made).write_text("a,t\n1,x\n")
    _folder(tmp_path / "pics", {"a/1.png": (4, 4), "b/1.png": (4, 4)})

    with pytest.raises(DatasetError, match=message) as raised:
        load_asset(tmp_path / name, target)
    if "xlsx" in name:
        assert raised.value.hint and "a folder of images" in raised.value.hint


def test_an_image_size_is_for_folders_only(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(CLINIC)
    with pytest.raises(DatasetError, match="apply to image folders"):
        load_asset(tmp_path / "t.csv", "outcome", channels=1)


def test_load_options_reload_a_folder_exactly_after_images_of_another_size_arrive(
    tmp_path: Path,
) -> None:
    folder = _folder(tmp_path / "pics", {"a/1.png": (6, 6), "b/1.png": (6, 6), "b/2.png": (9, 9)})
    first = load_asset(folder)
    options = load_options(first)
    _folder(folder, {"a/3.png": (9, 9), "b/4.png": (9, 9)})  # now 9 x 9 is the most common

    again = load_asset(folder, **options)

    assert options == {"size": [6, 6], "channels": 1}
    assert again.example_shape == first.example_shape == (1, 6, 6)
    assert load_options(_clinic(tmp_path)) == {}


def test_a_csv_assets_manifest_and_id_are_what_they_were(tmp_path: Path) -> None:
    manifest, _ = AssetManifest.describe(_clinic(tmp_path), "clinic", SALT)

    # computed before images, arrays and Parquet existed: a CSV asset's id must not move
    assert manifest.to_json() == (
        b'{"classes":["sick","well"],"data_commitment":"c0b28e9a0aab269fdb17f11d85bc23624aede0a'
        b'4ad3286b05e2a15b5c010d9eb","features":["age","marker"],"num_rows":3,"target":"outco'
        b'me","title":"clinic"}'
    )
    assert manifest.digest.hex() == (
        "3a96018547e6bfb24550d926158f9d191773faac05b353e62fd673e84b64a7fb"
    )


def test_an_image_manifest_names_its_kind_and_shape_and_no_pixel(tmp_path: Path) -> None:
    folders = write_digit_images(tmp_path, owners=1, test_fraction=0.5, seed=1)
    data = load_asset(folders.owners[0])

    manifest, _ = AssetManifest.describe(data, "clinic scans", SALT)

    assert manifest.kind == "image" and manifest.shape == (1, 8, 8)
    assert b'"kind":"image"' in manifest.to_json() and b'"shape":[1,8,8]' in manifest.to_json()
    assert len(manifest.to_json()) < 400  # schema and size, never rows


def test_the_same_bytes_in_another_shape_are_another_asset() -> None:
    x = np.arange(2 * 64, dtype=np.float32).reshape(2, 64) / 128
    y = np.array([0, 1])
    flat = Dataset("a", x, y, (), "y", ("0", "1"), "array")
    square = Dataset("a", x.reshape(2, 1, 8, 8), y, (), "y", ("0", "1"), "array")

    one, _ = AssetManifest.describe(flat, "a", SALT)
    two, _ = AssetManifest.describe(square, "a", SALT)

    assert one.data_commitment != two.data_commitment and one.digest != two.digest


def test_regression_targets_are_committed_beyond_their_whole_part() -> None:
    x = np.zeros((2, 1), np.float32)
    low = Dataset("r", x, np.array([1.25, 2.0], np.float32), ("a",), "v", ())
    high = Dataset("r", x, np.array([1.75, 2.0], np.float32), ("a",), "v", ())

    assert AssetManifest.describe(low, "r", SALT)[0] != AssetManifest.describe(high, "r", SALT)[0]


def test_a_folders_digest_covers_its_names_and_bytes_not_where_it_is(tmp_path: Path) -> None:
    one = _folder(tmp_path / "one", {"a/1.png": (4, 4), "b/1.png": (4, 4)})
    two = _folder(tmp_path / "two", {"a/1.png": (4, 4), "b/1.png": (4, 4)})
    (two / ".DS_Store").write_bytes(b"finder")  # skipped, as the loader skips it
    (tmp_path / "f.csv").write_text(CLINIC)

    assert content_digest(one) == content_digest(two)
    (two / "b" / "1.png").rename(two / "b" / "2.png")
    assert content_digest(one) != content_digest(two)
    assert content_digest(tmp_path / "f.csv") == hashlib.sha256(CLINIC.encode()).digest()
