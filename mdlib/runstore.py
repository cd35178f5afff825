"""Stored learning runs: a chapter's seeded runs computed once, committed, and read back.

Some chapters learn for minutes (twenty seeds of several learners); the test suite executes every
chapter twice (here and on a "different machine"), and the book must stay quick to check. A chapter
therefore opens a store once, ``stored_runs("07_replication_notes")``, and from then on every
:func:`mdlib.experiments.run_many` (and so ``run_seeds`` and ``compare_equal_games``) first looks
for its runs there: one entry per method, keyed by the method's name, every setting, the tasks and
the seeds. The entries are exactly what the calls return (the arrays of
:class:`~mdlib.experiments.SeedRuns`, bit for bit); a call the store does not hold is computed.

``MDLIB_RUNS`` chooses what happens:

* unset or ``stored``: read what the store holds, compute the rest, write nothing;
* ``record``: empty the chapter's store, compute everything and write it (how the committed
  stores are made: ``bash scripts/make-data.sh runs`` executes the chapters so);
* ``live``: ignore the store and compute everything.

``tests/test_data.py`` recomputes seeds drawn at random from every stored entry and requires
them equal, so a store cannot drift from what the library computes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

#: Where the stores live: one folder per chapter.
#:
#: :meta hide-value:
STORE_ROOT = Path(__file__).resolve().parent / "data" / "runs"
#: The environment variable that chooses the mode, and its values.
MODE_VARIABLE = "MDLIB_RUNS"
MODES = ("stored", "record", "live")


@dataclass
class RunStore:
    """One chapter's stored runs, in ``folder`` (one ``KEY.npz`` per entry); ``mode`` as above."""

    folder: Path
    mode: str = "stored"

    def key(self, method, tasks, seeds) -> str:
        return entry_key(describe(method, tasks, seeds))

    def load(self, method, tasks, seeds):
        """The stored :class:`~mdlib.experiments.SeedRuns` of this call, or None."""
        if self.mode != "stored":
            return None
        path = self.folder / f"{self.key(method, tasks, seeds)}.npz"
        return read_entry(path) if path.exists() else None

    def save(self, method, tasks, seeds, runs) -> None:
        if self.mode == "record":
            write_entry(self.folder / f"{self.key(method, tasks, seeds)}.npz", describe(method, tasks, seeds), runs)


_active: RunStore | None = None


def stored_runs(name: str, mode: str | None = None) -> None:
    """Open the store of chapter ``name`` for every later ``run_many`` in this process (the
    mode from ``MDLIB_RUNS`` unless given); ``record`` empties it first."""
    global _active
    mode = mode or os.environ.get(MODE_VARIABLE) or "stored"
    if mode not in MODES:
        raise ValueError(f"{MODE_VARIABLE} must be one of {', '.join(MODES)}, got {mode!r}")
    if not name or Path(name).name != name:
        raise ValueError(f"a store is named by one folder name, got {name!r}")
    folder = STORE_ROOT / name
    if mode == "record":
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    _active = RunStore(folder, mode)


def active_store() -> RunStore | None:
    """The store :func:`stored_runs` opened in this process, if any."""
    return _active


def close_store() -> None:
    """Stop reading and writing the open store."""
    global _active
    _active = None


def describe(method, tasks, seeds) -> dict:
    """What identifies a call: the method's name and settings, the tasks (names and maps) and the
    seeds."""
    maps = [{"walls": t.walls.astype(int).tolist(), "starts": t.starts, "goals": t.goals} for t in tasks]
    return {
        "method": method.method,
        "settings": method.settings(),
        "tasks": [t.name for t in tasks],
        "maps": json.loads(json.dumps(maps)),
        "seeds": [int(s) for s in seeds],
    }


def entry_key(description: dict) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]


def write_entry(path: Path, description: dict, runs) -> None:
    arrays = {"train_x": runs.train_x, "train": runs.train, "eval_x": runs.eval_x}
    arrays |= {f"eval_{mode}": values for mode, values in runs.eval_returns.items()}
    meta = description | {"env_steps": int(runs.env_steps), "eval_mode": runs.eval_mode}
    partial = path.with_suffix(".partial.npz")
    np.savez_compressed(partial, meta=np.array(json.dumps(meta, sort_keys=True)), **arrays)
    os.replace(partial, path)


def read_meta(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["meta"]))


def read_entry(path: Path):
    """The :class:`~mdlib.experiments.SeedRuns` stored at ``path``."""
    from .experiments import SeedRuns

    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        modes = {
            name[len("eval_") :]: data[name] for name in data.files if name.startswith("eval_") and name != "eval_x"
        }
        return SeedRuns(
            method=meta["method"],
            settings=meta["settings"],
            tasks=tuple(meta["tasks"]),
            seeds=tuple(meta["seeds"]),
            train_x=data["train_x"],
            train=data["train"],
            eval_x=data["eval_x"],
            evals=modes[meta["eval_mode"]],
            env_steps=meta["env_steps"],
            eval_mode=meta["eval_mode"],
            eval_returns=modes,
        )


def method_from_settings(name: str, settings: dict):
    """The learner a stored entry describes (``settings`` as ``method.settings()`` gives them: one
    flat dict, the :class:`~mdlib.learners.Setup`'s fields among the learner's own, so that
    entries do not depend on what the learner calls its setup)."""
    from .learners import MultiDistral, QLearning, Setup

    setup_names = {f.name for f in fields(Setup)}
    setup = Setup(**{k: v for k, v in settings.items() if k in setup_names})
    own = {k: v for k, v in settings.items() if k not in setup_names}
    learner = QLearning if name == "q_learning" else MultiDistral
    return learner(**own, setup=setup)
