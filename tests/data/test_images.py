"""Image folders (issue 14, point 2): one subfolder per class read into (n, C, H, W) floats
in [0, 1], in a stable order, resized to one size; every malformed folder refused with the
file or folder named. And the digits written as PNG files, the offline hospital images."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dain.data import DatasetError, load_bundled, load_image_folder, write_digit_images

Draw = Callable[..., Path]


@pytest.fixture
def draw(tmp_path: Path) -> Draw:
    """Writes an image file: draw("cat/1.png", value, size=(h, w), mode="L")."""

    def write(name: str, value: int = 128, size: tuple[int, int] = (4, 6), mode: str = "L",
              fmt: str | None = None) -> Path:  # fmt: skip
        path = tmp_path / "pics" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        color = value if mode == "L" else (value, 0, 255 - value)
        Image.new(mode, (size[1], size[0]), color).save(path, format=fmt)
        return path

    return write


def test_a_folder_per_class_becomes_rows_in_class_then_file_order(draw: Draw) -> None:
    for name, value in (("dog/b.png", 30), ("cat/z.png", 200), ("dog/a.png", 10),
                        ("cat/y.jpg", 100)):  # fmt: skip
        folder = draw(name, value).parents[1]

    data = load_image_folder(folder)

    assert data.classes == ("cat", "dog") and data.kind == "image"
    assert data.x.shape == (4, 1, 4, 6) and data.x.dtype == np.float32
    assert data.example_shape == (1, 4, 6)
    assert data.y.tolist() == [0, 0, 1, 1]
    means = data.x.mean(axis=(1, 2, 3)) * 255
    assert np.allclose(means, [100, 200, 10, 30], atol=2)  # cat/y, cat/z, dog/a, dog/b
    assert load_image_folder(folder).x.tobytes() == data.x.tobytes()  # the same every time


def test_color_images_give_three_channels_unless_one_is_asked(draw: Draw) -> None:
    draw("a/1.png", 200, mode="RGB")
    folder = draw("b/1.png", 50).parents[1]  # grayscale among color

    colored = load_image_folder(folder)
    gray = load_image_folder(folder, channels=1)

    assert colored.x.shape == (2, 3, 4, 6)
    assert np.allclose(colored.x[0, :, 0, 0] * 255, [200, 0, 55], atol=1)  # R, G, B
    assert np.allclose(colored.x[1, :, 0, 0] * 255, [50, 50, 50], atol=1)  # gray repeated
    assert gray.x.shape == (2, 1, 4, 6)


def test_the_size_most_images_have_wins_and_the_rest_are_resized(draw: Draw) -> None:
    draw("a/1.png", 90, size=(8, 8))
    draw("a/2.png", 90, size=(8, 8))
    draw("b/1.png", 90, size=(20, 12))
    folder = draw("b/2.png", 90, size=(8, 8)).parents[1]

    default = load_image_folder(folder)
    asked = load_image_folder(folder, size=(5, 7))

    assert default.x.shape == (4, 1, 8, 8) and asked.x.shape == (4, 1, 5, 7)
    assert np.allclose(default.x, 90 / 255, atol=1 / 255)  # a flat image stays flat


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "0 class folder"),
        ({"a/1.png": "image"}, "1 class folder"),
        ({"a/1.png": "image", "b/": "folder"}, "is empty"),
        ({"a/1.png": "image", "b/1.png": "image", "notes.txt": b"hi"}, "outside the class"),
        (
            {"a/1.png": "image", "b/1.png": "image", "b/readme.txt": b"hi"},
            "b/readme.txt is not an image",
        ),
        ({"a/1.png": "image", "b/1.png": "image", "b/deep/2.png": "image"}, "holds folders"),
        ({"a/1.png": "image", "b/1.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 40}, "b/1.png"),
        ({"a/1.png": "image", "b/1.gif": "gif"}, "GIF image; only PNG and JPEG"),
        ({"a/1.png": "image", "b/1.png": "deep"}, "more than 8 bits"),
    ],
)
def test_a_malformed_folder_is_refused_naming_what_is_wrong(
    tmp_path: Path, layout: dict[str, object], message: str
) -> None:
    root = tmp_path / "pics"
    root.mkdir()
    for name, content in layout.items():
        path = root / name
        if name.endswith("/"):
            path.mkdir(parents=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == "image":
            Image.new("L", (3, 3), 7).save(path)
        elif content == "gif":
            Image.new("L", (3, 3), 7).save(path, format="GIF")
        elif content == "deep":
            Image.new("I;16", (3, 3), 7).save(path, format="PNG")
        else:
            path.write_bytes(content)  # type: ignore[arg-type]

    with pytest.raises(DatasetError, match=message) as raised:
        load_image_folder(root)
    assert raised.value.hint  # each says what to do about it


def test_a_truncated_png_is_named_as_damaged(draw: Draw) -> None:
    draw("a/1.png", size=(32, 32))
    broken = draw("b/1.png", size=(32, 32))
    # noise does not compress, so cutting the file cuts the pixel data
    noise = np.random.default_rng(0).integers(0, 255, (32, 32), dtype=np.uint8)
    Image.fromarray(noise).save(broken)
    broken.write_bytes(broken.read_bytes()[:300])

    with pytest.raises(DatasetError, match=r"b/1\.png is a damaged image"):
        load_image_folder(broken.parents[1])


def test_hidden_files_are_skipped(draw: Draw) -> None:
    draw("a/1.png")
    folder = draw("b/1.png").parents[1]
    (folder / ".DS_Store").write_bytes(b"\0\1")
    (folder / "a" / ".thumbs").write_bytes(b"\0\1")

    assert len(load_image_folder(folder)) == 2


def test_a_missing_folder_and_bad_options_are_refused(tmp_path: Path, draw: Draw) -> None:
    with pytest.raises(DatasetError, match="No folder at"):
        load_image_folder(tmp_path / "nowhere")
    folder = draw("a/1.png").parents[1]
    with pytest.raises(DatasetError, match=r"1 \(grayscale\) or 3"):
        load_image_folder(folder, channels=2)
    with pytest.raises(DatasetError, match="each 1 to 4096"):
        load_image_folder(folder, size=(0, 8))


def test_digits_as_images_split_among_owners_hold_every_digit_once(tmp_path: Path) -> None:
    written = write_digit_images(tmp_path, owners=3, test_fraction=0.2, seed=0)
    again = write_digit_images(tmp_path / "again", owners=3, test_fraction=0.2, seed=0)

    parts = [load_image_folder(p) for p in (*written.owners, written.test)]  # type: ignore[arg-type]
    digits = load_bundled("digits")
    assert [p.name for p in written.owners] == ["owner_1", "owner_2", "owner_3"]
    assert sum(len(p) for p in parts) == len(digits)
    assert all(p.classes == digits.classes and p.example_shape == (1, 8, 8) for p in parts)
    assert abs(len(parts[3]) - 0.2 * len(digits)) <= 1
    # the pixels are the digits' own (0..16 as 0..255)
    first = sorted((written.owners[0] / "0").iterdir())[0]
    row = int(first.stem)
    assert np.allclose(parts[0].x[0, 0], digits.x[row].reshape(8, 8) / 16, atol=1 / 255)
    first_time = {p.relative_to(tmp_path) for p in tmp_path.glob("[ot]*/*/*.png")}
    second_time = {p.relative_to(tmp_path / "again") for p in tmp_path.glob("again/*/*/*.png")}
    assert first_time == second_time  # the same seed, the same files
    assert again.test is not None


def test_digit_images_refuse_a_folder_already_written(tmp_path: Path) -> None:
    write_digit_images(tmp_path, owners=1, test_fraction=0)
    with pytest.raises(DatasetError, match="not empty"):
        write_digit_images(tmp_path, owners=1, test_fraction=0)
