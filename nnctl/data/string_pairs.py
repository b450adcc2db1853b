"""Sources of (input string, output string) pairs for ``train.mode: seq2seq``.

``addition`` and ``dates`` are generated offline from ``seed``; ``text_pairs`` reads two columns of
a CSV file. Strings are NumPy unicode arrays; the seq2seq mode turns them into token ids.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

from nnctl.data import files
from nnctl.data.splits import Raw
from nnctl.errors import UserError
from nnctl.task import Task

TASK = Task.SEQ2SEQ
MONTHS = [dt.date(2000, m, 1).strftime("%B") for m in range(1, 13)]
WEEKDAYS = [dt.date(2001, 1, d).strftime("%A") for d in range(1, 8)]  # 2001-01-01 is a Monday
FIRST_DAY, LAST_DAY = dt.date(1950, 1, 1).toordinal(), dt.date(2049, 12, 31).toordinal()


def addition(n_samples: int, digits: int, seed: int) -> Raw:
    """``"123+45"`` -> ``"168"``: distinct pairs of numbers of up to ``digits`` digits each."""
    rng = np.random.default_rng(seed)
    available = (10**digits) ** 2
    if n_samples > available:
        raise UserError(
            f"data.n_samples: only {available} distinct sums of {digits}-digit numbers exist; "
            "lower n_samples or raise digits"
        )
    seen, sources, targets = set(), [], []
    while len(sources) < n_samples:
        a, b = (int(v) for v in _numbers(rng, digits, 2))
        if (a, b) in seen:
            continue
        seen.add((a, b))
        sources.append(f"{a}+{b}")
        targets.append(str(a + b))
    return Raw(np.array(sources), np.array(targets), task=TASK)


def _numbers(rng: np.random.Generator, digits: int, count: int) -> np.ndarray:
    """Numbers whose length (1..digits) is uniform, as in keras.io's addition example."""
    lengths = rng.integers(1, digits + 1, size=count)
    return np.array([rng.integers(0, 10**n) for n in lengths])


DATE_FORMATS = {
    "3 May 1979": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "Thursday, 05/03/79": lambda d: f"{WEEKDAYS[d.weekday()]}, {d:%m/%d/%y}",
    "May 3, 1979": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "3 may 79": lambda d: f"{d.day} {MONTHS[d.month - 1].lower()} {d:%y}",
    "03.05.1979": lambda d: f"{d:%d.%m.%Y}",
    "Thu 3 May 1979": lambda d: f"{WEEKDAYS[d.weekday()][:3]} {d:%-d} {MONTHS[d.month - 1]} {d:%Y}",
    "1979-05-03": lambda d: d.isoformat(),
    "MAY 3 1979": lambda d: f"{MONTHS[d.month - 1].upper()} {d.day} {d.year}",
}


def dates(n_samples: int, seed: int) -> Raw:
    """Human-readable dates of 1950-2049 in the formats of ``DATE_FORMATS`` -> ISO dates."""
    rng = np.random.default_rng(seed)
    days = rng.integers(FIRST_DAY, LAST_DAY + 1, size=n_samples)
    styles = rng.integers(0, len(DATE_FORMATS), size=n_samples)
    writers = list(DATE_FORMATS.values())
    sources, targets = [], []
    for day, style in zip(days, styles, strict=True):
        date = dt.date.fromordinal(int(day))
        sources.append(writers[style](date))
        targets.append(date.isoformat())
    return Raw(np.array(sources), np.array(targets), task=TASK)


def text_pairs(spec, base_dir: Path, key: str) -> Raw:
    """Two columns of a CSV file (with a header row): the input and the output strings."""
    path = files.resolve(spec.path, base_dir, f"{key}.path")
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle, delimiter=spec.delimiter))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{key}.path: cannot read {path}: {exc}") from None
    if not rows:
        raise UserError(f"{key}.path: {path} is empty")
    header, body = rows[0], rows[1:]
    columns = []
    for name in (spec.input, spec.output):
        if name not in header:
            listed = ", ".join(header)
            raise UserError(f"{key}: {path} has no column {name!r} (its columns: {listed})")
        columns.append(header.index(name))
    pairs = []
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise UserError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        pairs.append((row[columns[0]], row[columns[1]]))
    if not pairs:
        raise UserError(f"{key}.path: {path} has a header but no rows")
    sources, targets = zip(*pairs, strict=True)
    return Raw(np.array(sources), np.array(targets), task=TASK)
