"""Stored learning runs (``mdlib.runstore``): what a chapter reads is what the library computes.

Specification: under a store, ``run_many`` returns exactly what it computes without one (every
array bit for bit, every setting), reads an entry only for the very call that wrote it (method,
settings, maps and seeds), and computes what is missing; ``record`` empties the store first,
``live`` ignores it; a bad mode or name is refused. Then the committed stores: each entry names a
learner its settings rebuild, and seeds drawn at random from it (a different draw each run,
printed) recompute to the same returns (to the last digits a CPU may change).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from portable import ABSOLUTE, RELATIVE

from mdlib import MultiDistral, QLearning, runstore
from mdlib.experiments import run_many, run_seeds
from mdlib.tasks import resolve_tasks

METHODS = [MultiDistral(iterations=2, e_games=10, m_games=10), QLearning(episodes=100, eval_every=50)]


@pytest.fixture
def store_root(tmp_path, monkeypatch):
    monkeypatch.setattr(runstore, "STORE_ROOT", tmp_path)
    monkeypatch.delenv(runstore.MODE_VARIABLE, raising=False)
    yield tmp_path
    runstore.close_store()


def same(a, b):
    assert (a.method, a.settings, a.tasks, a.seeds, a.env_steps, a.eval_mode) == (
        b.method,
        b.settings,
        b.tasks,
        b.seeds,
        b.env_steps,
        b.eval_mode,
    )
    for name in ("train_x", "train", "eval_x", "evals"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.eval_returns.keys() == b.eval_returns.keys()
    assert all(np.array_equal(a.eval_returns[k], b.eval_returns[k]) for k in a.eval_returns)


def test_a_recorded_store_gives_back_exactly_what_was_computed(store_root):
    live = run_many(METHODS, "task5", seeds=2, progress=False)
    runstore.stored_runs("chapter", mode="record")
    recorded = run_many(METHODS, "task5", seeds=2, progress=False)
    assert len(list((store_root / "chapter").glob("*.npz"))) == 2
    runstore.stored_runs("chapter")
    read = run_many(METHODS, "task5", seeds=2, progress=False)
    for a, b, c in zip(live, recorded, read):
        same(a, b)
        same(a, c)


def test_an_entry_answers_only_its_own_call(store_root, monkeypatch):
    runstore.stored_runs("chapter", mode="record")
    run_seeds(METHODS[0], "task5", seeds=2, progress=False)
    runstore.stored_runs("chapter")
    calls = []
    monkeypatch.setattr("mdlib.experiments._run_one", lambda job: calls.append(job) or job[0].run(job[1], seed=job[2]))
    run_seeds(METHODS[0], "task5", seeds=2, progress=False, workers=1)
    assert calls == [], "the stored call is read"
    for other in (
        dict(method=replace(METHODS[0], beta=2.0), tasks="task5", seeds=2),
        dict(method=METHODS[0], tasks="task4", seeds=2),
        dict(method=METHODS[0], tasks="task5", seeds=[0, 2]),
    ):
        calls.clear()
        run_seeds(other["method"], other["tasks"], seeds=other["seeds"], progress=False, workers=1)
        assert len(calls) == 2, f"{other} is computed, not read"


def test_record_empties_the_store_and_live_ignores_it(store_root):
    runstore.stored_runs("chapter", mode="record")
    run_seeds(METHODS[1], "task5", seeds=1, progress=False)
    (store_root / "chapter" / "stale.npz").write_bytes(b"")
    runstore.stored_runs("chapter", mode="record")
    assert list((store_root / "chapter").iterdir()) == []
    runstore.stored_runs("chapter", mode="live")
    assert runstore.active_store().load(METHODS[1], ("task5",), (0,)) is None


def test_a_bad_mode_or_name_is_refused(store_root, monkeypatch):
    monkeypatch.setenv(runstore.MODE_VARIABLE, "sometimes")
    with pytest.raises(ValueError, match="MDLIB_RUNS must be one of stored, record, live"):
        runstore.stored_runs("chapter")
    with pytest.raises(ValueError, match="one folder name"):
        runstore.stored_runs("../elsewhere", mode="stored")


ENTRIES = sorted(runstore.STORE_ROOT.glob("*/*.npz"))


def test_every_stored_chapter_opens_its_store():
    import json
    from pathlib import Path

    chapters = Path(__file__).resolve().parents[1] / "notebooks"
    for folder in sorted({p.parent for p in ENTRIES}):
        source = json.loads((chapters / f"{folder.name}.ipynb").read_text())
        code = "".join("".join(c["source"]) for c in source["cells"] if c["cell_type"] == "code")
        assert f'stored_runs("{folder.name}")' in code, f"{folder.name} has a store it does not open"


@pytest.mark.parametrize("path", ENTRIES, ids=[f"{p.parent.name}/{p.stem}" for p in ENTRIES])
def test_stored_seeds_drawn_at_random_recompute(path):
    stored = runstore.read_entry(path)
    meta = runstore.read_meta(path)
    method = runstore.method_from_settings(meta["method"], meta["settings"])
    assert method.method == meta["method"] and method.settings() == meta["settings"]
    assert path.stem == runstore.entry_key({k: meta[k] for k in ("method", "settings", "tasks", "maps", "seeds")})
    # and the learner rebuilt finds this very entry, as the chapter's call does
    assert runstore.RunStore(path.parent).key(method, resolve_tasks(list(stored.tasks)), stored.seeds) == path.stem
    index = int(np.random.default_rng().integers(len(stored.seeds)))
    seed = stored.seeds[index]
    print("recomputing", path.parent.name, meta["method"], "seed", seed)
    fresh = method.run(list(stored.tasks), seed=seed)
    close = dict(rtol=RELATIVE, atol=ABSOLUTE)  # to the digits a CPU may change (tests/portable.py)
    np.testing.assert_allclose(fresh.train_return, stored.train[index], **close)
    for mode, values in stored.eval_returns.items():
        np.testing.assert_allclose(fresh.eval_returns[mode], values[index], err_msg=mode, **close)
