"""Error types and exit codes: the vocabulary the CLI's one error boundary turns into output."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1  # a bug or an environment failure: not the user's mistake
    USAGE = 2  # the user's mistake: invalid spec, missing file, unknown source
    PEER_LOST = 170  # a cluster's worker was lost: 128-255, which Kubernetes's TFJob retries


class NnctlError(Exception):
    """A failure nnctl explains in one message; never shown with a traceback."""

    exit_code = ExitCode.INTERNAL


class UserError(NnctlError):
    """A mistake the user can fix from the message alone."""

    exit_code = ExitCode.USAGE


class Diverged(UserError):
    """Training met a NaN or an infinity and stopped; the last good checkpoint is intact."""


class DataError(UserError):
    """A problem with the data a spec key names (``data.target``), to be shown at that key."""

    def __init__(self, key: str, reason: str):
        self.path, self.reason = tuple(key.split(".")), reason
        super().__init__(f"{key}: {reason}")


@dataclass(frozen=True)
class Problem:
    """One located mistake in a spec: ``file:line:col: error: path: message``."""

    path: str
    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    source_line: str | None = None

    def render(self) -> str:
        where = self.file or "<spec>"
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        head = f"{where}: error: {self.path + ': ' if self.path else ''}{self.message}"
        if self.source_line is None:
            return head
        caret = " " * ((self.column or 1) - 1) + "^"
        return f"{head}\n    {self.source_line}\n    {caret}"


class SpecError(UserError):
    """One or more problems in a spec, all reported together."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))


class PeerLost(NnctlError):
    """A worker of a ``multi_worker`` cluster stopped or stopped answering, so this one stops
    too; restarting every worker continues from the last checkpoint."""

    exit_code = ExitCode.PEER_LOST


class Interrupted(NnctlError):
    """Training stopped by a signal after committing a checkpoint: exit 128 + signal number."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum
