"""Time series as supervised samples: a window of past values in, the next value out."""

from __future__ import annotations

import numpy as np

from nnctl.data.splits import Raw
from nnctl.data.task import Task


def windows(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """``x[i] = values[i : i + window]`` (shape (n, window, 1)), ``y[i] = values[i + window]``."""
    values = np.asarray(values, dtype=np.float32)
    count = len(values) - window
    x = np.stack([values[i : i + window] for i in range(count)])[..., None]
    return x, values[window:].copy()


def sunspots(window: int) -> Raw:
    """statsmodels' yearly sunspot numbers (1700-2008, offline), in time order."""
    from statsmodels.datasets import sunspots as dataset

    values = dataset.load_pandas().data["SUNACTIVITY"].to_numpy()
    x, y = windows(values, window)
    return Raw(x, y, task=Task.REGRESSION, ordered=True)


def naive_forecast_mse(x: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error of predicting each next value as the last one seen ("next = last")."""
    return float(np.mean((x[:, -1, 0] - y) ** 2))
