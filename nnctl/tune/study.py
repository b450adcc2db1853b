"""The Optuna study of a tune: its storage, sampler and pruner, as the spec's search asks.

The storage is a SQLite database in the tune directory unless ``--storage`` (or
``NNCTL_TUNE_STORAGE``) names another Optuna storage URL; a password in it is never printed
(``redact``).
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

from nnctl.errors import UserError
from nnctl.spec.schema import SearchSpec

DATABASE = "study.db"
STORAGE_ENV = "NNCTL_TUNE_STORAGE"
SPACE = "space"  # the study's user attribute: the search space it was created for
_PASSWORD = re.compile(r"(?P<head>://[^/@:]*:)(?P<password>[^/@]*)@")


def redact(text: str) -> str:
    """``postgresql://user:***@host/db``: any password of a URL in ``text`` hidden."""
    return _PASSWORD.sub(r"\g<head>***@", text)


def storage_url(tune_dir: Path, given: str | None) -> str:
    """The storage URL: the one given, else a SQLite database in the tune directory."""
    return given or f"sqlite:///{(tune_dir / DATABASE).resolve()}"


def open_study(search: SearchSpec, name: str, url: str, seed: int, epochs: int):
    """The study (created, or loaded to continue); refuses one made for another search.
    ``epochs``: the most a trial trains (the pruners' scale)."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs=_engine(url))
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            direction=search.goal,
            sampler=sampler(search, seed),
            pruner=pruner(search, epochs),
            load_if_exists=True,
        )
    except (ImportError, ValueError, optuna.exceptions.OptunaError, OSError) as exc:
        raise UserError(f"cannot open the study at {redact(url)}: {redact(str(exc))}") from None
    except Exception as exc:  # the database driver's own errors (sqlalchemy.exc.*)
        if type(exc).__module__.startswith("sqlalchemy"):
            raise UserError(f"cannot open the study at {redact(url)}: {redact(str(exc))}") from None
        raise
    _check_space(study, search)
    return study


def _engine(url: str) -> dict:
    """SQLite: wait for another worker's write instead of failing at once."""
    return {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}


def space(search: SearchSpec) -> dict:
    return {key: {p.kind: p.values} for key, p in search.parameters.items()} | {
        "metric": search.metric,
        "goal": search.goal,
    }


def _check_space(study, search: SearchSpec) -> None:
    stored = study.user_attrs.get(SPACE)
    if stored is None:
        study.set_user_attr(SPACE, space(search))
    elif stored != space(search):
        raise UserError(
            f"study {study.study_name!r} in this storage was made for another search "
            "(its parameters, metric or goal differ); tune into another --out, or restore "
            "the search section it was made with"
        )


def sampler(search: SearchSpec, seed: int):
    import optuna

    if search.sampler == "grid":
        return _grid_sampler()(_grid(search), seed=seed)
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search.sampler == "cmaes":
        try:
            import cmaes  # noqa: F401 -- Optuna's CMA-ES sampler needs it
        except ImportError:
            raise UserError(
                "search.sampler cmaes needs the cmaes package: pip install cmaes"
            ) from None
        return optuna.samplers.CmaEsSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _grid_sampler():
    """Optuna's grid sampler, without its call of ``Study.stop`` once the grid is done, which
    works only inside ``Study.optimize``: nnctl's workers stop at the budget themselves."""
    import optuna

    class Grid(optuna.samplers.GridSampler):
        def after_trial(self, study, trial, state, values) -> None:
            pass

    return Grid


def _grid(search: SearchSpec) -> dict[str, list]:
    """The grid of choices (validation refuses ranges with sampler grid)."""
    return {key: p.choice for key, p in search.parameters.items()}


def pruner(search: SearchSpec, epochs: int):
    """Median: after 3 finished trials, stop one whose metric is behind their median at the
    same epoch, once a quarter of the epochs are done (early epochs say little)."""
    import optuna

    if search.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=max(1, epochs // 4))
    if search.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, epochs // 8), max_resource=epochs)
    return optuna.pruners.NopPruner()


def suggest(trial, search: SearchSpec) -> dict:
    """The trial's values (a resumed trial's are the ones it was given)."""
    values = {}
    for key, p in search.parameters.items():
        if p.kind == "choice":
            values[key] = trial.suggest_categorical(key, p.choice)
        elif p.kind == "intuniform":
            values[key] = trial.suggest_int(key, *p.intuniform)
        else:
            values[key] = trial.suggest_float(key, *p.values, log=p.kind == "loguniform")
    return values
