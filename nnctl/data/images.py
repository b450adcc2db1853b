"""Images: reading one as a model input (``nnctl predict``), and ``source: image_folder``, one
subfolder of images per class, decoded and resized as batches need them (``FileRows``)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.data.splits import Raw
from nnctl.data.stream import FileRows
from nnctl.errors import DataError, UserError
from nnctl.task import Task

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
MODES = {"rgb": ("RGB", 3), "grayscale": ("L", 1)}  # PIL mode and channels of data.color


def read_image(path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    """``path`` converted to PIL ``mode`` and resized to ``size`` (width, height): float32 pixel
    values 0-255, shape (height, width) or (height, width, 3)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert(mode).resize(size), dtype="float32")
    except OSError as exc:
        raise UserError(f"{path}: not a readable image ({exc})") from None


def images_in(folder: Path) -> list[Path]:
    """The images directly in ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


@dataclass(frozen=True)
class ImageFiles:
    """A ``Store`` of image files: each read decoded, converted and resized."""

    paths: tuple[Path, ...]
    size: tuple[int, int]  # height, width
    color: str
    digest: str

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.paths), *self.size, MODES[self.color][1])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype("float32")

    def read(self, rows: np.ndarray) -> np.ndarray:
        mode, (height, width) = MODES[self.color][0], self.size
        images = [read_image(self.paths[row], mode, (width, height)) for row in rows]
        return np.stack(images).reshape(len(rows), *self.shape[1:])


def load_image_folder(spec, base_dir: Path, key: str) -> Raw:
    """A folder with one subfolder per class (and a test folder like it, if named)."""
    from nnctl.data.files import resolve

    folder = resolve(spec.path, base_dir, f"{key}.path")
    names = _classes(folder, f"{key}.path")
    x, y = _rows(spec, folder, names, f"{key}.path")
    test = None
    if spec.test_path is not None:
        test_folder = resolve(spec.test_path, base_dir, f"{key}.test_path")
        unknown = set(_classes(test_folder, f"{key}.test_path")) - set(names)
        if unknown:
            lacking = ", ".join(sorted(unknown))
            message = f"{test_folder} has classes the training folder lacks: {lacking}"
            raise DataError(f"{key}.test_path", message)
        test = _rows(spec, test_folder, names, f"{key}.test_path")
    return Raw(x, y, test=test, task=Task.CLASSIFICATION, class_names=names)


def _classes(folder: Path, key: str) -> list[str]:
    if not folder.is_dir():
        raise DataError(key, f"{folder} is not a folder (one subfolder of images per class)")
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DataError(key, f"{folder} has no subfolders; put each class's images in one")
    return names


def _rows(spec, folder: Path, names: list[str], key: str) -> tuple[FileRows, np.ndarray]:
    """The folder's images (class by class, each sorted by name) and their class indices; the
    digest covers each file's class, name and bytes, and every image is checked to open."""
    from PIL import Image

    paths, labels, digest = [], [], hashlib.sha256(f"{spec.image_size}{spec.color};".encode())
    for label, name in enumerate(names):
        found = images_in(folder / name) if (folder / name).is_dir() else []
        for path in found:
            data = path.read_bytes()
            digest.update(f"{name}/{path.name}:{len(data)};".encode())
            digest.update(data)
            try:
                with Image.open(io.BytesIO(data)) as image:  # the bytes hashed: one read
                    image.verify()
            except Exception as exc:  # PIL raises many kinds for a damaged file
                raise DataError(key, f"{path} is not a readable image ({exc})") from None
        paths += found
        labels += [label] * len(found)
    if not paths:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        raise DataError(key, f"no images ({suffixes}) in the class folders of {folder}")
    size = (spec.image_size[0], spec.image_size[1])
    store = ImageFiles(tuple(paths), size, spec.color, digest.hexdigest())
    return FileRows(store), np.array(labels, dtype=np.int64)
