"""The committed sweep tables are what their commands compute, on the grids the chapters use.

The chapters read tables too large to recompute in a book build (``mdlib/data/sweeps``, made by
``scripts/make-data.sh``). This module recomputes rows drawn at random from every table (a
different draw each run; the rows drawn are printed) and requires them equal to the stored
text (floats to the last digits a CPU may change: ``tests/portable.py``), and checks that each
table's arguments are the grids the chapters and ``mdlib.landscape`` name. The explorer's exact
two-agent tables hold cells of the fine two-agent table, and are checked equal to it instead of
recomputed (a minute a row).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from portable import differences

from mdlib import landscape
from mdlib.sweep import HEADER_PREFIX, Run, _canonical, load, read_rows, run_one

SWEEPS = Path(str(resources.files("mdlib.data.sweeps")))
#: The sweep tables (``held-out.csv`` is mdlib.transfer's, tested in tests/test_transfer.py).
TABLES = sorted(p for p in SWEEPS.glob("*.csv") if p.read_text().startswith(HEADER_PREFIX))
ALL_TABLES = sorted(SWEEPS.glob("*.csv"))
MAKE_DATA = (Path(__file__).resolve().parents[1] / "scripts" / "make-data.sh").read_text()
#: make-data.sh's loops (``for beta in 0.5 100; do``), by variable: the values each takes.
LOOPS = {name: values.split() for name, values in re.findall(r"for (\w+) in ([^;]+); do", MAKE_DATA)}


def spelled_out(target: str) -> set[str]:
    """A make-data.sh output path with each loop variable in it replaced by each of its values."""
    paths = {target}
    for name, values in LOOPS.items():
        paths = {p.replace(f"${name}", v) for p in paths for v in values} if f"${name}" in target else paths
    return paths


#: The tables make-data.sh writes, spelled out.
MADE = {
    path
    for line in MAKE_DATA.splitlines()
    if "--out mdlib/data/sweeps/" in line
    for path in spelled_out(line.split("--out ")[1].split()[0])
}
SAMPLED_ROWS, EXACT_ALONE_ROWS = 2, 1


def rows_of(path: Path) -> list[dict]:
    return read_rows(path)[1]


def as_run(row: dict, tasks) -> Run:
    return Run(
        row["method"],
        row["version"],
        float(row["alpha"]),
        float(row["beta"]),
        tuple(tasks),
        json.loads(row["settings"]),
        None if row["seed"] == "" else int(row["seed"]),
    )


def test_every_table_is_made_by_make_data():
    assert TABLES, "no committed sweep tables"
    for path in ALL_TABLES:
        assert f"mdlib/data/sweeps/{path.name}" in MADE, f"{path.name} has no command in scripts/make-data.sh"


def test_tables_are_complete_on_the_chapters_grids():
    for path in TABLES:
        arguments, frame = load(path)
        from mdlib.sweep import Sweep

        sweep = Sweep(**{k: tuple(v) if isinstance(v, list) else v for k, v in arguments.items()})
        assert len(frame) == len(sweep.runs()), f"{path.name} is incomplete"
        if path.name.startswith("landscape"):
            assert tuple(arguments["alphas"]) == landscape.LANDSCAPE_ALPHAS
            assert tuple(arguments["betas"]) == landscape.LANDSCAPE_BETAS
        if path.name.startswith("explorer"):
            assert tuple(arguments["alphas"]) == landscape.EXPLORER_ALPHAS
            assert tuple(arguments["betas"]) == landscape.EXPLORER_BETAS
        if path.name.startswith("diagnosis"):
            alpha, beta = (float(arguments["alphas"][0]), float(arguments["betas"][0]))
            assert (alpha, beta) in (landscape.REPORT_SETTING, landscape.BETTER_SETTING)


#: The fine two-agent table, and the explorer tables whose cells are all cells of it.
FINE_BOTH = SWEEPS / "landscape-exact-both.csv"
EXPLORER_BOTH = [p for p in TABLES if p.name.startswith("explorer-exact-both")]


def cell_key(row: dict) -> tuple:
    return row["method"], row["version"], float(row["alpha"]), float(row["beta"]), row["settings"], row["seed"]


@pytest.mark.parametrize("path", EXPLORER_BOTH, ids=[p.stem for p in EXPLORER_BOTH])
def test_the_explorer_two_agent_tables_are_cells_of_the_fine_one(path):
    """Every explorer setting is on the fine grid, so its exact two-agent rows must be the fine
    table's (to the last digits a CPU may change); the fine table's rows are recomputed below."""
    fine = {cell_key(row): row for row in rows_of(FINE_BOTH)}
    rows = rows_of(path)
    assert rows
    for row in rows:
        assert cell_key(row) in fine, f"{path.name}: {cell_key(row)} is not a cell of {FINE_BOTH.name}"
        assert not differences(row, fine[cell_key(row)]), f"{path.name} != {FINE_BOTH.name} at {cell_key(row)}"


@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in TABLES if p not in EXPLORER_BOTH], ids=lambda p: p.stem)
def test_rows_drawn_at_random_recompute_identically(path):
    arguments, _ = load(path)
    rows = rows_of(path)
    rng = np.random.default_rng()
    sampled = [r for r in rows if r["method"] == "multidistral"]
    alone = [r for r in rows if r["method"] == "exact_alone"]
    both = [r for r in rows if r["method"] == "exact_both"]
    drawn = [sampled[i] for i in rng.choice(len(sampled), min(SAMPLED_ROWS, len(sampled)), replace=False)]
    drawn += [alone[i] for i in rng.choice(len(alone), min(EXACT_ALONE_ROWS, len(alone)), replace=False)]
    if both and not sampled and not alone:  # the two-agent tables: one row (about a minute)
        drawn.append(both[int(rng.integers(len(both)))])
    assert drawn
    for row in drawn:
        print(
            "recomputing",
            path.name,
            {k: row[k] for k in ("method", "version", "alpha", "beta", "seed")},
            row["settings"],
        )
        fresh = _canonical(run_one(as_run(row, arguments["tasks"])))
        assert set(fresh) <= set(row)
        assert not differences(fresh, row), f"recomputed != committed: {differences(fresh, row)}"
