"""Image folders: one subfolder per class, PNG or JPEG files inside (how hospitals, labs
and most image datasets keep labelled pictures), read with Pillow into channels-first
float32 arrays in [0, 1].

Also the offline stand-in for a hospital's images: scikit-learn's bundled 8 x 8 digits
written as PNG files, split among owners with a held-out folder for the requester."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dain.data.datasets import Dataset
from dain.data.errors import DatasetError

FORMATS = ("PNG", "JPEG")
TARGET = "class"  # an image folder's target: the name of the folder a picture is in
MAX_PIXELS = 4096 * 4096  # per image; beyond this a file is a mistake or a decompression bomb
MAX_SIDE = 4096  # of the size images are resized to
_GRAY = {"1", "L", "LA"}
_DEEP = {"I", "F"}  # 32-bit modes (and 16-bit ones, named I;16...), which 8-bit conversion clips
_TURNED = {5, 6, 7, 8}  # EXIF orientations that swap width and height


@dataclass(frozen=True)
class _Header:
    """What a file's header tells before its pixels are decoded."""

    path: Path
    label: int
    mode: str
    size: tuple[int, int]  # (height, width), after the EXIF orientation


def load_image_folder(
    path: Path, size: tuple[int, int] | None = None, channels: int | None = None
) -> Dataset:
    """The images of a folder holding one subfolder per class (class names are the
    subfolder names, sorted), each image a row: x is (images, channels, height, width)
    float32 in [0, 1], rows ordered by class, then file name.

    `size` is (height, width); by default the size most of the images have (others are
    resized, with Lanczos resampling). `channels` is 1 (grayscale) or 3 (RGB); by default
    1 if every image is grayscale, else 3. Files and folders whose names start with a
    dot are skipped (.DS_Store, .thumbnails); everything else must be an image where it
    belongs."""
    if channels not in (None, 1, 3):
        raise DatasetError(f"Images have 1 (grayscale) or 3 (RGB) channels, not {channels}.")
    if size is not None and not all(1 <= side <= MAX_SIDE for side in size):
        raise DatasetError(
            f"An image size is (height, width), each 1 to {MAX_SIDE} pixels, not {size}."
        )
    classes, files = image_files(path)
    headers = [_header(file, label) for label, file in files]
    if size is None:
        counts = Counter(h.size for h in headers)
        size = max(counts, key=lambda s: (counts[s], s[0] * s[1], s))
    if channels is None:
        channels = 1 if all(h.mode in _GRAY for h in headers) else 3
    x = np.empty((len(headers), channels, *size), np.float32)
    for row, header in enumerate(headers):
        x[row] = _pixels(header, size, channels)
    y = np.array([h.label for h in headers], np.int64)
    return Dataset(path.name, x, y, (), TARGET, classes, "image")


def image_files(path: Path) -> tuple[tuple[str, ...], list[tuple[int, Path]]]:
    """The class names (sorted) and every image file as (class index, path), in row order;
    refuses a folder that is not laid out one subfolder per class."""
    layout = "Put each class's images in a subfolder named after the class: folder/cat/1.png."
    if not path.is_dir():
        raise DatasetError(
            f"No folder at {path}." if not path.exists() else f"{path} is not a folder.",
            hint=layout,
        )
    entries = sorted(p for p in path.iterdir() if not p.name.startswith("."))
    stray = [p.name for p in entries if not p.is_dir()]
    if stray:
        raise DatasetError(
            f"{path} holds files outside the class folders: {', '.join(stray[:5])}"
            + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
            + ".",
            hint=layout,
        )
    if len(entries) < 2:
        raise DatasetError(
            f"{path} has {len(entries)} class folder(s); a classifier needs at least 2.",
            hint=layout,
        )
    files: list[tuple[int, Path]] = []
    for label, folder in enumerate(entries):
        inside = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
        nested = [p.name for p in inside if p.is_dir()]
        if nested:
            raise DatasetError(
                f"Class folder {folder} holds folders ({', '.join(nested[:5])}); a class "
                "folder holds image files only.",
                hint=layout,
            )
        if not inside:
            raise DatasetError(
                f"Class folder {folder} is empty.",
                hint="Remove it, or add that class's images.",
            )
        files.extend((label, file) for file in inside)
    return tuple(p.name for p in entries), files


def _header(file: Path, label: int) -> _Header:
    """The file's format, mode and oriented size, refusing anything but a PNG or JPEG."""
    from PIL import Image

    try:
        with Image.open(file) as picture:
            kind, mode, (width, height) = picture.format, picture.mode, picture.size
            turned = picture.getexif().get(0x0112) in _TURNED
    except Image.DecompressionBombError as exc:
        raise DatasetError(f"{file} is too large an image ({exc}).") from None
    except Image.UnidentifiedImageError:
        raise DatasetError(
            f"{file} is not an image.", hint="A class folder holds PNG or JPEG files only."
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(
            f"{file} is a damaged image ({exc}).", hint="Replace or remove the file."
        ) from None
    if kind not in FORMATS:
        raise DatasetError(
            f"{file} is a {kind} image; only {' and '.join(FORMATS)} are read.",
            hint="Convert it to PNG.",
        )
    if width * height > MAX_PIXELS:
        raise DatasetError(f"{file} has {width} x {height} pixels, more than {MAX_PIXELS}.")
    if mode in _DEEP or mode.startswith("I;"):
        raise DatasetError(
            f"{file} has {mode} pixels (more than 8 bits a channel).",
            hint="Save it as an 8-bit grayscale or RGB image.",
        )
    return _Header(file, label, mode, (width, height) if turned else (height, width))


def _pixels(header: _Header, size: tuple[int, int], channels: int) -> np.ndarray:
    """One image decoded, upright, in the asked mode and size: (channels, height, width)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(header.path) as picture:
            upright = ImageOps.exif_transpose(picture).convert("L" if channels == 1 else "RGB")
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt pixel data
        raise DatasetError(
            f"{header.path} is a damaged image ({exc}).",
            hint="Replace or remove the file.",
        ) from None
    if header.size != size:
        upright = upright.resize((size[1], size[0]), Image.Resampling.LANCZOS)
    pixels = np.asarray(upright, dtype=np.float32) / 255.0
    return pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)


@dataclass(frozen=True)
class ImageFolders:
    """Where `write_digit_images` put each owner's images, and the requester's."""

    owners: tuple[Path, ...]
    test: Path | None


def write_digit_images(
    folder: Path, owners: int = 1, test_fraction: float = 0.2, seed: int = 0
) -> ImageFolders:
    """scikit-learn's bundled 8 x 8 digits (offline) as grayscale PNG files, the stand-in
    for hospitals' images: `owners` folders folder/owner_<k>/<digit>/<row>.png (k from 1),
    each with every digit in about the same proportion, and, if `test_fraction` > 0, the
    requester's held-out folder/test/<digit>/<row>.png. The same seed writes the same
    files."""
    from PIL import Image

    from dain.data.bundled import load_bundled
    from dain.data.partition import partition_stratified, stratified_split

    if owners < 1:
        raise DatasetError(f"Digit images need at least one owner, not {owners}.")
    digits = load_bundled("digits")
    pixels = np.rint(digits.x.reshape(-1, 8, 8) * (255 / 16)).astype(np.uint8)
    if test_fraction > 0:
        train, test = stratified_split(digits.y, test_fraction, seed)
    else:
        train, test = np.arange(len(digits)), np.zeros(0, np.int64)
    shares = partition_stratified(digits.y[train], np.full(owners, 1 / owners), seed)
    parts = [(folder / f"owner_{k}", train[rows]) for k, rows in enumerate(shares, start=1)]
    if len(test):
        parts.append((folder / "test", test))
    for where, _ in parts:
        if where.exists() and any(where.iterdir()):
            raise DatasetError(f"{where} is not empty.", hint="Write the images to a new folder.")
    for where, rows in parts:
        for row in rows:
            label = digits.classes[int(digits.y[row])]
            (where / label).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels[row]).save(where / label / f"{row:04d}.png")
    return ImageFolders(tuple(p for p, _ in parts[:owners]), folder / "test" if len(test) else None)
