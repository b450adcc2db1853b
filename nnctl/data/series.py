"""Time series as supervised samples: a window of past values in, the next value out."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnctl.data.splits import Raw
from nnctl.task import Task

SUNSPOTS = Path(__file__).with_name("sunspots.csv")  # its source and licence are in its header


def windows(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``x[i] = values[i : i + window]`` (shape (n, window, 1)), ``y[i] = values[i + window]``."""
    values = np.asarray(values, dtype=np.float32)
    count = len(values) - window
    x = np.stack([values[i : i + window] for i in range(count)])[..., None]
    return x, values[window:].copy()


def sunspot_numbers() -> np.ndarray:
    """statsmodels' yearly sunspot numbers, 1700-2008 in time order (309 float64 values)."""
    lines = [line for line in SUNSPOTS.read_text().splitlines() if not line.startswith("#")]
    return np.array([float(line.split(",")[1]) for line in lines[1:]])  # after YEAR,SUNACTIVITY


def sunspots(window: int) -> Raw:
    """The yearly sunspot series as windows of ``window`` past years and the next year's number."""
    x, y = windows(sunspot_numbers(), window)
    return Raw(x, y, task=Task.REGRESSION, ordered=True)


def naive_forecast_mse(x: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of predicting each next value as the last one seen ("next = last")."""
    return float(np.mean((x[:, -1, 0] - y) ** 2))
