"""The search space of ``nnctl tune``, checked before any trial runs: every choice and both ends
of every range are set through ``--set``'s machinery and the spec validated again, so a value
the spec cannot take is reported at the search parameter that offers it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnctl.errors import Problem, SpecError
from nnctl.spec.compose import parse_key, set_value, value_at
from nnctl.spec.loader import PathKey, SourceMap, format_value
from nnctl.spec.schema import SearchSpec

Candidate = tuple[str, PathKey, Any]  # (parameter key, where the value is in the spec, value)
NO_SEARCH = "search=null"  # a trial's spec, and best.yaml, are plain specs without the section


def candidates(search: SearchSpec) -> Iterator[Candidate]:
    """Each parameter's choices, or its range's two ends, with where the search section has it."""
    for key, parameter in search.parameters.items():
        for index, value in enumerate(parameter.values):
            yield key, ("search", "parameters", key, parameter.kind, index), value


def hand_set(data: dict[str, Any], search: SearchSpec) -> dict[str, Any]:
    """The spec's own values at the searched paths that lie in the space (the first trial)."""
    values = {}
    for key, parameter in search.parameters.items():
        value = value_at(data, parse_key(key))
        if parameter.kind == "choice":
            inside = value in parameter.choice
        else:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            low, high = parameter.values
            inside = numeric and low <= value <= high
            inside = inside and (parameter.kind != "intuniform" or isinstance(value, int))
        if inside:
            values[key] = value
    return values


def override(key: str, value: Any) -> str:
    """``--set`` text for one value (JSON is YAML, and keeps strings strings)."""
    return f"{key}={json.dumps(value)}"


def check_space(
    data: dict[str, Any],
    source: SourceMap,
    search: SearchSpec,
    base_dir: Path | None,
    known: set[tuple[str, str]] = frozenset(),
) -> list[Problem]:
    """A problem at each choice or range end that makes the spec invalid (once per message;
    ``known``: the spec's own (path, message) problems, not repeated for each value)."""
    from nnctl.spec.validate import validate  # validate.py calls this module

    problems, seen = [], set()
    if search.sampler == "grid":
        for key, parameter in search.parameters.items():
            if parameter.kind != "choice":
                message = "sampler grid takes choices only; list the values as choice"
                problems.append(source.problem(("search", "parameters", key), message))
    for key, at, value in candidates(search):
        try:
            path = parse_key(key)
        except ValueError as exc:
            problems += _once(seen, source, at[:3], f"not a key path like --set takes: {exc}")
            continue
        trial = copy.deepcopy(data)
        trial.pop("search", None)
        try:
            set_value(trial, path, value)
            validate(trial, source, base_dir)
        except ValueError as exc:
            problems += _once(seen, source, at[:3], str(exc))
        except SpecError as exc:
            for problem in exc.problems:
                if (problem.path, problem.message) in known:
                    continue
                where = f"{problem.path}: " if problem.path and problem.path != key else ""
                message = f"with {key} = {format_value(value)}: {where}{problem.message}"
                problems += _once(seen, source, at, message, dedupe=(key, where, problem.message))
    return problems


def _once(seen: set, source: SourceMap, at: PathKey, message: str, dedupe=None) -> list[Problem]:
    """The problem, unless one with the same message (for another value) was already reported."""
    token = dedupe or (at[:3], message)
    if token in seen:
        return []
    seen.add(token)
    return [source.problem(at, message)]


def describe(search: SearchSpec) -> list[str]:
    """One line per parameter: ``optimizer.learning_rate  loguniform [0.0001, 0.1]``."""
    width = max(len(key) for key in search.parameters)
    lines = []
    for key, parameter in search.parameters.items():
        shown = ", ".join(format_value(v) for v in parameter.values)
        lines.append(f"{key:<{width}}  {parameter.kind} [{shown}]")
    return lines
