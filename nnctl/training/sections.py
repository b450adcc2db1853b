"""Sections of a run's report (``nnctl report``) as data: titled blocks of tables, pictures and
notes, which each mode contributes (``Mode.report_sections``) and the report turns into one HTML
page, escaping every text in one place. The figures the modes draw for it are here too."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from nnctl.rundir import CURVES, RunDir


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class Picture:
    png: bytes
    alt: str  # what the picture shows, for a reader who cannot see it
    caption: str = ""


@dataclass(frozen=True)
class Note:
    text: str


@dataclass(frozen=True)
class Code:
    text: str  # YAML lines, each value's origin after ``  # ``


Block = Table | Picture | Note | Code


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


def png_of(fig) -> bytes:
    """A matplotlib figure as PNG bytes (closed afterwards)."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return buffer.getvalue()


def curves_section(run: RunDir, title: str, caption: str) -> list[Section]:
    """The run's ``curves.png`` (none if it has no curves)."""
    path = run.file(CURVES)
    if not path.is_file():
        return []
    return [Section(title, [picture_file(path, title, caption)])]


def picture_file(path: Path, alt: str, caption: str) -> Picture:
    return Picture(path.read_bytes(), alt, caption)


def confusion_heatmap(confusion: np.ndarray, names: list[str]) -> bytes:
    """Counts per (true, predicted) class as a heatmap, each cell labelled with its count."""
    k = len(names)
    size = min(9.0, 2.5 + 0.5 * k)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(k), names, rotation=45 if k > 6 else 0, ha="right" if k > 6 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 20:  # counts stay legible
        threshold = confusion.max() / 2 if confusion.size else 0
        for (row, column), value in np.ndenumerate(confusion):
            color = "white" if value > threshold else "black"
            ax.text(column, row, str(value), ha="center", va="center", color=color, fontsize=8)
    return png_of(fig)


def image_rows(rows: list[np.ndarray]) -> bytes | None:
    """Rows of samples drawn as grey or colour images — shaped (height, width), (height, width,
    1 or 3), or flat with a square number of values — on one shared scale; None if they are not
    images."""
    shape = _image_shape(rows[0].shape[1:])
    if shape is None:
        return None
    low = min(float(r.min()) for r in rows)
    high = max(max(float(r.max()) for r in rows), low + 1e-12)
    columns = len(rows[0])
    fig, axes = plt.subplots(len(rows), columns, figsize=(1.2 * columns, 1.2 * len(rows)),
                             squeeze=False)  # fmt: skip
    for row, samples in zip(axes, rows, strict=True):
        for ax, sample in zip(row, samples, strict=False):
            image = (sample.reshape(shape) - low) / (high - low)
            ax.imshow(image[..., 0] if image.shape[-1:] == (1,) else image, cmap="gray",
                      vmin=0.0, vmax=1.0)  # fmt: skip
        for ax in row:
            ax.axis("off")
    return png_of(fig)


def _image_shape(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    if len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3)):
        return tuple(shape)
    size = int(np.prod(shape))
    side = int(np.sqrt(size))
    return (side, side) if side * side == size and side > 1 else None
