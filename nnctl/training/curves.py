"""``curves.png``: loss and each metric per epoch, training against validation; for an agent,
returns and losses per episode."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_curves(history: dict[str, list[float]], target: Path) -> None:
    names = [k for k in history if not k.startswith("val_") and k != "learning_rate"]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", markersize=3, label="training")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", markersize=3, label="validation")
        _label(ax, name, "epoch")
    _save(fig, target)


def plot_episodes(history: dict[str, list[float]], solved_at: float | None, target: Path) -> None:
    """Episode returns with the running reward, and the losses, per episode."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    episodes = range(1, len(history.get("return", [])) + 1)
    left.plot(episodes, history.get("return", []), alpha=0.5, label="episode return")
    left.plot(episodes, history.get("running_reward", []), label="running reward")
    if solved_at is not None:
        left.axhline(solved_at, color="gray", linestyle="--", label=f"solved at {solved_at:g}")
    for name in ("actor_loss", "critic_loss", "entropy"):
        right.plot(episodes, history.get(name, []), label=f"{name} per step")
    _label(left, "return", "episode")
    _label(right, "losses", "episode")
    _save(fig, target)


def _label(ax, title: str, xlabel: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.legend()


def _save(fig, target: Path) -> None:
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)
