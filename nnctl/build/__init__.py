"""The one place that turns a validated spec into Keras objects."""

from nnctl.build.model import build_model, build_symbolic, compile_model

__all__ = ["build_model", "build_symbolic", "compile_model"]
