"""An Optuna study read straight from its RDB storage (``sqlite:///study.db``) with the stdlib.

Optuna is not needed: the storage's tables are plain data (schema of optuna 3.x-5.x, stable since
the v3 migration): ``studies``, ``study_directions``, ``trials`` (number, state), ``trial_params``
(the value as a float, and ``distribution_json`` to decode it: an index into the choices for a
categorical, an int for an int distribution), ``trial_values`` (objective values; infinities are
stored as a NULL value with ``value_type`` INF_POS/INF_NEG), ``trial_user_attributes`` (JSON values).

The database is opened read-only. A trial's logs are found through a user attribute the objective
sets (``trial.set_user_attr("log_dir", path)``; the key is configurable); a relative path is taken
against the database's directory, and the directory must lie under the roots like any target. A
trial without the attribute, or whose directory is missing or outside the roots, is still a row,
with its params, state and value and an error saying what is missing.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from ..errors import InputError, OutsideRootsError, TargetNotFoundError
from ..sandbox import Sandbox
from .jobs import SweepPlan, TrialJob

_SQLITE_URL = re.compile(r"sqlite(?:\+\w+)?:///", re.IGNORECASE)  # sqlite+pysqlite:/// too (a driver name)
MAX_TRIALS = 5000


_OTHER_RDB_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb", "oracle", "mssql")
"""SQLAlchemy URLs Optuna accepts (``postgresql+psycopg2://``, ``mysql+pymysql://``, ...) that are not
read here: that would need a database driver, and the server would connect to a network service."""


def is_optuna_url(target: str) -> bool:
    return _SQLITE_URL.match(target) is not None


def check_other_storage(target: str) -> None:
    """Refuse an Optuna storage in a database other than an SQLite file, saying how to read it anyway."""
    scheme = target.split("://", 1)[0].lower() if "://" in target else ""
    if scheme.startswith(_OTHER_RDB_SCHEMES):
        raise InputError(
            f"{scheme}:// Optuna storages are not read (only SQLite files, sqlite:///study.db, are: no database "
            "driver, no network connection).",
            hint="Copy the study into an SQLite file, then sweep that: optuna.copy_study(from_study_name=NAME, "
            f"from_storage='{scheme}://...', to_storage='sqlite:///study.db').",
        )


def db_path(url: str) -> Path:
    """``sqlite:///rel/study.db`` -> ``rel/study.db``; ``sqlite:////abs/study.db`` -> ``/abs/study.db``
    (SQLAlchemy's convention, which Optuna uses)."""
    rest = url[_SQLITE_URL.match(url).end() :].split("?", 1)[0]  # type: ignore[union-attr]
    if not rest:
        raise InputError(f"{url!r} names no database file.", hint="Use sqlite:///path/to/study.db.")
    return Path(rest).expanduser()


def decode_param(value: float | None, distribution_json: str | None) -> Any:
    """The value the objective saw: a categorical's choice, an int for int distributions, else the float."""
    if value is None:
        return None
    try:
        dist = json.loads(distribution_json or "{}")
    except ValueError:
        return value
    name = dist.get("name", "")
    attrs = dist.get("attributes", {}) or {}
    if name == "CategoricalDistribution":
        choices = attrs.get("choices", [])
        index = int(value)
        return choices[index] if 0 <= index < len(choices) else value
    if name in ("IntDistribution", "IntUniformDistribution", "IntLogUniformDistribution"):
        return round(value)
    return float(value)


def _objective_value(value: float | None, value_type: str | None) -> float | str | None:
    if value_type == "INF_POS":
        return "inf"
    if value_type == "INF_NEG":
        return "-inf"
    return value


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM studies LIMIT 1")
    except sqlite3.Error as err:
        raise InputError(
            f"{path} is not a readable Optuna storage ({err}).",
            hint="Pass the study's storage URL as given to optuna.create_study(storage=...), e.g. sqlite:///study.db.",
        ) from None
    return conn


def _choose_study(conn: sqlite3.Connection, study: str | None, path: Path) -> tuple[int, str]:
    studies = conn.execute("SELECT study_id, study_name FROM studies ORDER BY study_id").fetchall()
    if not studies:
        raise InputError(f"{path} holds no study.", hint="Run the study first, or check the storage URL.")
    names = ", ".join(name for _, name in studies[:30])
    if study is None:
        if len(studies) > 1:
            raise InputError(f"{path} holds {len(studies)} studies.", hint=f"Choose one with --study NAME: {names}.")
        return studies[0]
    for study_id, name in studies:
        if name == study:
            return study_id, name
    raise TargetNotFoundError(f"no study {study!r} in {path}.", hint=f"Studies there: {names}.")


def _log_dir(value: Any, base: Path, sandbox: Sandbox, attr: str) -> tuple[Path | None, str | None]:
    """The trial's log directory from its user attribute, checked; or None and why not."""
    if not isinstance(value, str) or not value.strip():
        return None, f"no log directory: the trial has no user attribute {attr!r} (set it in the objective)."
    if "://" in value:
        return None, (
            f"the log directory {value!r} is a URL; a study's trials are read from local paths. "
            "Sweep the remote prefix itself instead (traintriage sweep URL --root URL)."
        )
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.exists():
        return None, f"the log directory {value!r} (user attribute {attr!r}) does not exist."
    try:
        return sandbox.check(path), None
    except OutsideRootsError as err:
        return None, f"the log directory of this trial is not readable: {err.message}"


def plan_optuna(
    url: str,
    *,
    sandbox: Sandbox,
    study: str | None = None,
    log_dir_attr: str = "log_dir",
) -> SweepPlan:
    """One job per trial of the study (in trial-number order), with params, state and values attached."""
    from .discover import locate

    given = db_path(url)
    found = locate(str(given), sandbox)
    if found is None or not found.is_file():
        raise TargetNotFoundError(
            f"no database file {given}.",
            hint="sqlite:///relative/study.db (relative to the working directory or a root) or "
            "sqlite:////absolute/study.db, as given to optuna.create_study(storage=...).",
        )
    path = sandbox.check(found)
    conn = _connect(path)
    try:
        study_id, name = _choose_study(conn, study, path)
        directions = [
            d
            for (d,) in conn.execute(
                "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective", (study_id,)
            )
        ]
        trials = conn.execute(
            "SELECT trial_id, number, state FROM trials WHERE study_id = ? ORDER BY number LIMIT ?",
            (study_id, MAX_TRIALS + 1),
        ).fetchall()
        ids = [t[0] for t in trials[:MAX_TRIALS]]
        marks = ",".join("?" * len(ids))
        params: dict[int, dict[str, Any]] = {i: {} for i in ids}
        values: dict[int, list] = {i: [] for i in ids}
        attrs: dict[int, dict[str, Any]] = {i: {} for i in ids}
        if ids:
            for tid, pname, pvalue, dist in conn.execute(
                f"SELECT trial_id, param_name, param_value, distribution_json FROM trial_params "
                f"WHERE trial_id IN ({marks}) ORDER BY param_id",
                ids,
            ):
                params[tid][pname] = decode_param(pvalue, dist)
            for tid, _obj, value, vtype in conn.execute(
                f"SELECT trial_id, objective, value, value_type FROM trial_values "
                f"WHERE trial_id IN ({marks}) ORDER BY objective",
                ids,
            ):
                values[tid].append(_objective_value(value, vtype))
            for tid, key, value_json in conn.execute(
                f"SELECT trial_id, key, value_json FROM trial_user_attributes WHERE trial_id IN ({marks})", ids
            ):
                try:
                    attrs[tid][key] = json.loads(value_json)
                except (TypeError, ValueError):
                    attrs[tid][key] = value_json
    except sqlite3.Error as err:
        raise InputError(
            f"{path}: could not read the study's tables ({err}).",
            hint="The file may be from an Optuna version this reader does not know, or still being written.",
        ) from None
    finally:
        conn.close()

    warnings = []
    if len(trials) > MAX_TRIALS:
        warnings.append(f"the study has more than {MAX_TRIALS} trials; analysing the first {MAX_TRIALS}.")
    jobs = []
    for tid, number, state in trials[:MAX_TRIALS]:
        log_dir, error = _log_dir(attrs[tid].get(log_dir_attr), path.parent, sandbox, log_dir_attr)
        jobs.append(
            TrialJob(
                id=str(number),
                path=log_dir,
                display=str(log_dir) if log_dir is not None else None,
                sandbox=sandbox,
                params=params[tid],
                attrs=_scalars(attrs[tid]),
                params_from=("optuna",),
                state=state,
                objective=tuple(values[tid]) if values[tid] else None,
                error=error,
            )
        )
    without = sum(1 for j in jobs if j.error and "no user attribute" in j.error)
    if jobs and without == len(jobs):
        warnings.append(
            f"no trial has the user attribute {log_dir_attr!r}: set trial.set_user_attr({log_dir_attr!r}, log_dir) "
            "in the objective, or pass --log-dir-attr with the key you used."
        )
    return SweepPlan(
        target=url,
        kind="optuna",
        jobs=jobs,
        warnings=warnings,
        truncated=len(trials) > MAX_TRIALS,
        study=name,
        directions=directions,
    )


def _scalars(attrs: dict[str, Any]) -> dict[str, Any]:
    """User attributes as flat JSON-safe values; reported next to the params, never compared as if they were."""
    from .hparams import flatten

    return {k: v for k, v in flatten(attrs).items() if isinstance(v, (int, float, str, bool)) or v is None}
