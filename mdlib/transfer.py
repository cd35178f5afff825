"""Held-out maps: does a pi0 distilled on some maps help to learn another map from scratch?

For a held-out map h (each of the report's five maps in turn, trained on the other four; and each
map of :data:`mdlib.tasks.HELDOUT_TASKS`, trained on all five report maps):

a. **distil** pi0 on the training maps: one MultiDistral run (V1 or V2, a Distral setting α, β)
   with a seed; its final pi0 is the transferred prior;
b. **learn h from scratch**, on h alone, with the same seed, in three arms:

   * ``transferred``: MultiDistral with that pi0 as its prior (``initial_pi0``), kept fixed
     (``distill=False``): what the distilled knowledge is worth on a new map;
   * ``uniform``: the same learner with a uniform prior (``distill=False``): the control;
   * ``q_learning``: independent Q-learning (the report's baseline settings) for as many games
     per task as MultiDistral plays (E- and M-step games both count), evaluated at the same points.

The exact counterparts replace the sampled learner by :func:`mdlib.solve_distral`: the exact
alternation on the training maps (``players="alone"`` and ``"both"``) gives its final pi0, and
``exact_transferred`` is the exact E-step on h under that prior (one iteration), against
``exact_uniform``, the first iteration under a uniform prior (for agents alone, the lone soft
optimum). The exact prior has no floor: an action its pi0 never takes is forbidden on h.

Measures (returns discounted with γ = 0.99, averaged over the two agents unless the column names
one): the learning curve ``curve_<k>`` (the evaluation return after iteration k, or, for
Q-learning, after as many games), ``final`` (its last point), ``games_to_95`` (games per task
until the curve first reaches 95% of h's exact joint optimum per agent, ``solve_joint(h).value /
2``, the ``optimum`` column; empty if it never does) and ``auc`` (the curve's mean as a share of
that optimum). Exact rows hold the exact task return of their one E-step (``final``) and no curve.

The table (:func:`run_heldout`, ``python -m mdlib held-out``) has one row per held-out map ×
version × setting × arm × seed (exact rows: × players, no seed), every setting and measure a
column, and starts with one comment line holding its arguments, so that :func:`recompute` can
recompute any row. :func:`load` reads it into pandas. Q-learning has no prior and no α, β: its
rows repeat the same run (same map and seed) under every version and setting, so that every
(map, version, setting, seed) has all three arms.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from itertools import product
from pathlib import Path

import numpy as np

from .experiments import mean_interval
from .files import check_output_file, write_text_atomically
from .landscape import BETTER_SETTING, REPORT_SETTING
from .learners import MultiDistral, QLearning
from .learners.base import check_count, check_real, require
from .tasks import HELDOUT_TASKS, REPORT_TASKS, resolve_tasks

VERSIONS = ("v1", "v2")
#: The sampled arms, and the exact ones (each with ``players`` "alone" or "both").
ARMS = ("transferred", "uniform", "q_learning")
EXACT_ARMS = ("exact_transferred", "exact_uniform")
EXACT_PLAYERS = ("alone", "both")
#: Every held-out map of the experiment: the report's five, then the maps it never used.
HELDOUT_MAPS = REPORT_TASKS + HELDOUT_TASKS
#: The share of the exact joint optimum that counts as reached for ``games_to_95``.
REACHED = 0.95
HEADER_PREFIX = "# mdlib held-out: "
#: Learner settings fixed by the arms themselves, which ``learner`` may not set.
FIXED_BY_ARM = ("version", "alpha", "beta", "distill")


def training_maps(heldout: str) -> tuple[str, ...]:
    """The maps pi0 is distilled on for held-out map ``heldout``: the other four report maps, or
    all five for a map the report never used."""
    return tuple(t for t in REPORT_TASKS if t != heldout)


def setting_name(alpha: float, beta: float) -> str:
    """``"report"`` for the report's α 0.7, β 0.5, ``"better"`` for the book's α 0.7, β 100, else
    ``"alpha=<α> beta=<β>"``."""
    if (alpha, beta) == REPORT_SETTING:
        return "report"
    if (alpha, beta) == BETTER_SETTING:
        return "better"
    return f"alpha={alpha:g} beta={beta:g}"


@dataclass(frozen=True)
class HeldOut:
    """The arguments of a held-out experiment.

    ``alphas`` × ``betas`` are the Distral settings (a grid), ``exact`` the ``players`` of the exact
    counterparts (empty: none), ``learner`` the MultiDistral settings shared by every sampled run
    (iterations, e_games, m_games, ..., any but those the arms fix: version, alpha, beta, distill)
    and ``q_learning`` the Q-learning settings other than its budget (episodes, eval_every: set to
    MultiDistral's games). Everything is checked when the object is made, before any work.
    """

    heldout: tuple[str, ...] = HELDOUT_MAPS
    seeds: tuple[int, ...] = tuple(range(20))
    versions: tuple[str, ...] = VERSIONS
    alphas: tuple[float, ...] = (REPORT_SETTING[0],)
    betas: tuple[float, ...] = (REPORT_SETTING[1], BETTER_SETTING[1])
    exact: tuple[str, ...] = EXACT_PLAYERS
    learner: dict = field(default_factory=dict)
    q_learning: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("heldout", "seeds", "versions", "alphas", "betas", "exact"):
            values = getattr(self, name)
            require(isinstance(values, tuple), f"{name} must be a tuple, got {values!r}")
            require(len(set(values)) == len(values), f"{name} repeat a value: {list(values)}")
        for name in ("heldout", "seeds", "versions", "alphas", "betas"):
            require(len(getattr(self, name)) > 0, f"a held-out experiment needs at least one of {name}")
        for task in self.heldout:
            require(task in HELDOUT_MAPS, f"held-out maps must be among {', '.join(HELDOUT_MAPS)}, got {task!r}")
        resolve_tasks(list(self.heldout) + list(REPORT_TASKS))  # one layout, so that pi0 fits every map
        for seed in self.seeds:
            check_count("seed", seed, minimum=0)
        for version in self.versions:
            require(version in VERSIONS, f"version must be one of {', '.join(VERSIONS)}, got {version!r}")
        for alpha in self.alphas:
            check_real("alpha", alpha, 0.0, 1.0)
        for beta in self.betas:
            check_real("beta", beta, 0.0, float("inf"), low_open=True, high_open=True)
        for players in self.exact:
            require(players in EXACT_PLAYERS, f"exact must list {' or '.join(EXACT_PLAYERS)}, got {players!r}")
        require(
            isinstance(self.learner, dict) and isinstance(self.q_learning, dict),
            "learner and q_learning must be dicts of settings",
        )
        for name in FIXED_BY_ARM:
            require(name not in self.learner, f"learner may not set {name!r}: the experiment sets it")
        for name in ("episodes", "eval_every", "setup"):
            require(name not in self.q_learning, f"q_learning may not set {name!r}: the experiment sets it")
        for version, alpha, beta in product(self.versions, self.alphas, self.betas):
            self.multidistral(version, alpha, beta)
        self.q_learner()

    def multidistral(self, version: str, alpha: float, beta: float, distill: bool = True) -> MultiDistral:
        """The sampled learner at one setting (``distill=False`` for both arms on the held-out map)."""
        return MultiDistral(version=version, alpha=float(alpha), beta=float(beta), distill=distill, **self.learner)

    @property
    def games(self) -> int:
        """Games per task of one run of the sampled learner (E- and M-step games)."""
        learner = self.multidistral(self.versions[0], self.alphas[0], self.betas[0])
        return learner.iterations * learner.games_per_iteration

    def q_learner(self) -> QLearning:
        """Q-learning with as many games per task as MultiDistral, evaluated where it is."""
        learner = self.multidistral(self.versions[0], self.alphas[0], self.betas[0])
        return QLearning(
            **self.q_learning, episodes=self.games, eval_every=learner.games_per_iteration, setup=learner.setup
        )

    @property
    def iterations(self) -> int:
        return self.multidistral(self.versions[0], self.alphas[0], self.betas[0]).iterations

    def units(self) -> list[Unit]:
        """The pieces of work: one per training set × version × setting × seed (the sampled arms
        of every held-out map trained on that set share one distillation run), and one per
        training set × version × setting × players for the exact counterparts. The slowest (the
        exact two-agent alternation) come first."""
        groups: dict[tuple[str, ...], list[str]] = {}
        for task in self.heldout:
            groups.setdefault(training_maps(task), []).append(task)
        settings = list(product(self.versions, self.alphas, self.betas))
        exact = [
            Unit(training, tuple(maps), version, float(alpha), float(beta), None, players)
            for players in sorted(self.exact, key=lambda p: p != "both")
            for (training, maps), (version, alpha, beta) in product(groups.items(), settings)
        ]
        sampled = [
            Unit(training, tuple(maps), version, float(alpha), float(beta), int(seed), None)
            for (training, maps), (version, alpha, beta), seed in product(groups.items(), settings, self.seeds)
        ]
        return exact + sampled

    def row_keys(self) -> list[tuple]:
        """The key of every row, in the table's order."""
        keys = []
        sampled = self.multidistral(self.versions[0], self.alphas[0], self.betas[0]).players
        for task, version, alpha, beta in product(self.heldout, self.versions, self.alphas, self.betas):
            for arm, seed in product(ARMS, self.seeds):
                keys.append(
                    _key(
                        task, version, float(alpha), float(beta), arm, "both" if arm == "q_learning" else sampled, seed
                    )
                )
            for players, arm in product(self.exact, EXACT_ARMS):
                keys.append(_key(task, version, float(alpha), float(beta), arm, players, None))
        return keys

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HeldOut:
        arguments = json.loads(text)
        return cls(**{name: tuple(value) if isinstance(value, list) else value for name, value in arguments.items()})


@dataclass(frozen=True)
class Unit:
    """One piece of work: a training set and the held-out maps trained on it, at one version and
    setting, for one seed (sampled arms) or for the exact counterparts of ``players``."""

    training: tuple[str, ...]
    heldout: tuple[str, ...]
    version: str
    alpha: float
    beta: float
    seed: int | None
    players: str | None


def _key(heldout, version, alpha, beta, arm, players, seed) -> tuple:
    return (heldout, version, repr(float(alpha)), repr(float(beta)), arm, players, "" if seed is None else str(seed))


def _row_key(row: dict) -> tuple:
    """The key of a row as the file stores it (text)."""
    return (row["heldout"], row["version"], row["alpha"], row["beta"], row["arm"], row["players"], row["seed"])


# Measures -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def optimum(task: str, gamma: float = 0.99, contention: str = "reference") -> float:
    """The exact joint optimum per agent of one map, ``solve_joint(task).value / 2``."""
    from .solver import solve_joint

    return float(solve_joint(task, gamma, contention).value / 2)


def curve_measures(curve, x, optimum: float) -> dict:
    """``final``, the curve ``curve_<k>``, ``games_to_95`` (the first ``x`` where the curve is at
    least 95% of ``optimum``, None if never) and ``auc`` (the curve's mean over ``optimum``)."""
    curve, x = np.asarray(curve, float), np.asarray(x)
    require(
        curve.shape == x.shape and curve.ndim == 1,
        f"curve and x must be two equal 1-d arrays, got {curve.shape} and {x.shape}",
    )
    reached = np.flatnonzero(curve >= REACHED * optimum)
    row = {"final": float(curve[-1])}
    row |= {f"curve_{k + 1:02d}": float(v) for k, v in enumerate(curve)}
    row["games_to_95"] = int(x[reached[0]]) if len(reached) else None
    row["auc"] = float(curve.mean() / optimum)
    return row


def _learner_row(result, optimum_value: float) -> dict:
    """The measures of one run on the held-out map (one task): curves averaged over both agents."""
    evals = result.eval_return[0]  # (points, agents)
    row = curve_measures(evals.mean(axis=1), result.eval_x, optimum_value)
    row |= {"final_agent_1": float(evals[-1, 0]), "final_agent_2": float(evals[-1, 1])}
    if "greedy" in result.eval_returns and result.method.startswith("multidistral"):
        row["greedy_final"] = float(result.eval_returns["greedy"][0, -1].mean())
    row["env_steps"] = int(result.env_steps)
    return row


# Computing rows -----------------------------------------------------------------------------------


def _base(spec: HeldOut, unit: Unit, heldout: str, arm: str, players: str, settings: dict) -> dict:
    learner = spec.multidistral(unit.version, unit.alpha, unit.beta)
    return {
        "heldout": heldout,
        "training": "+".join(unit.training),
        "version": unit.version,
        "alpha": unit.alpha,
        "beta": unit.beta,
        "setting": setting_name(unit.alpha, unit.beta),
        "arm": arm,
        "players": players,
        "seed": unit.seed,
        "settings": json.dumps(settings, sort_keys=True, default=str),
        "optimum": optimum(heldout, learner.setup.return_gamma, learner.setup.contention),
    }


def _sampled_rows(spec: HeldOut, unit: Unit, arms: Sequence[str] = ARMS) -> list[dict]:
    learner = spec.multidistral(unit.version, unit.alpha, unit.beta)
    frozen = replace(learner, distill=False)
    rows = []
    if "transferred" in arms:
        source = learner.run(unit.training, seed=unit.seed, keep_tables=True)  # (a) distil pi0 on the training maps
        pi0 = source.pi0
        source_final = float(source.final_eval.mean())
    for heldout in unit.heldout:
        for arm in arms:
            if arm == "q_learning":
                q_learner = spec.q_learner()
                result = q_learner.run([heldout], seed=unit.seed)
                settings = q_learner.settings()
            else:
                result = frozen.run([heldout], seed=unit.seed, initial_pi0=pi0 if arm == "transferred" else None)
                settings = frozen.settings() | {"initial_pi0": "distilled" if arm == "transferred" else "uniform"}
            row = _base(spec, unit, heldout, arm, "both" if arm == "q_learning" else learner.players, settings)
            row["games"] = spec.games
            row |= _learner_row(result, row["optimum"])
            if arm == "transferred":
                row["source_final"] = source_final
            rows.append(row)
    return rows


def _exact_rows(spec: HeldOut, unit: Unit, arms: Sequence[str] = EXACT_ARMS) -> list[dict]:
    from .exact_distral import solve_distral

    learner = spec.multidistral(unit.version, unit.alpha, unit.beta)
    setup = learner.setup
    common = dict(
        gamma=learner.gamma,
        version=unit.version,
        players=unit.players,
        contention=setup.contention,
        order=setup.order,
        max_steps=setup.max_steps,
    )
    if "exact_transferred" in arms:  # the exact alternation on the training maps, for as many iterations
        source = solve_distral(unit.training, unit.alpha, unit.beta, iterations=learner.iterations, **common)
    rows = []
    for heldout in unit.heldout:
        for arm in arms:
            prior = source.pi0 if arm == "exact_transferred" else None
            solution = solve_distral([heldout], unit.alpha, unit.beta, iterations=1, initial_pi0=prior, **common)
            settings = solution.settings | {
                "training_iterations": learner.iterations,
                "initial_pi0": "distilled" if prior is not None else "uniform",
            }
            settings.pop("tasks")
            row = _base(spec, unit, heldout, arm, unit.players, settings)
            returns = solution.task_return[0, 0]  # (agents,) of the one E-step on the one map
            row |= {
                "final": float(returns.mean()),
                "final_agent_1": float(returns[0]),
                "final_agent_2": float(returns[1]),
                "arrival": float(solution.arrival[0, 0].mean()),
                "converged": bool(solution.converged.all()),
                "weighted_residual": float(solution.weighted_residual.max()),
            }
            if arm == "exact_transferred":
                row |= {
                    "source_final": float(source.final_return.mean()),
                    "source_converged": bool(source.converged.all()),
                }
            rows.append(row)
    return rows


def run_unit(job: tuple[HeldOut, Unit]) -> list[dict]:
    """The rows of one unit of work, as the file stores them (a pure function of the job)."""
    spec, unit = job
    rows = _sampled_rows(spec, unit) if unit.seed is not None else _exact_rows(spec, unit)
    return [_canonical(row) for row in rows]


def columns(spec: HeldOut) -> list[str]:
    """The table's columns, in order."""
    names = [
        "heldout",
        "training",
        "version",
        "alpha",
        "beta",
        "setting",
        "arm",
        "players",
        "seed",
        "settings",
        "optimum",
        "games",
        "final",
        "final_agent_1",
        "final_agent_2",
    ]
    names += [f"curve_{k + 1:02d}" for k in range(spec.iterations)]
    names += ["games_to_95", "auc", "greedy_final", "env_steps", "source_final"]
    if spec.exact:
        names += ["arrival", "converged", "weighted_residual", "source_converged"]
    return names


def _format(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def _canonical(row: dict) -> dict:
    return {name: _format(value) for name, value in row.items()}


def _line(row: dict, names: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([row.get(name, "") for name in names])
    return buffer.getvalue()


# Running, reading and checking a table ---------------------------------------------------------


def check_out(path) -> Path:
    """The output file, checked before any work: a writable ``.csv`` path."""
    return check_output_file(path, (".csv",), "--out")


def warm_up(spec: HeldOut) -> None:
    """Load the compiled kernels and every optimum in this process, so forked workers inherit them."""
    from .exact_distral import solve_distral

    learner = spec.multidistral(spec.versions[0], spec.alphas[0], spec.betas[0])
    for task in spec.heldout:
        optimum(task, learner.setup.return_gamma, learner.setup.contention)
    small = replace(learner, iterations=1, e_games=1, m_games=1)
    small.run(spec.heldout[:1], seed=0)
    replace(spec.q_learner(), episodes=1, eval_every=1).run(spec.heldout[:1], seed=0)
    for players in spec.exact:
        solve_distral(spec.heldout[:1], spec.alphas[0], spec.betas[0], iterations=1, players=players)


def _execute(jobs: list, workers: int) -> Iterable[list[dict]]:
    if workers == 1:
        for job in jobs:
            yield run_unit(job)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(run_unit, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def run_heldout(spec: HeldOut, out, workers: int | None = None, progress: bool = True) -> Path:
    """Compute every row of ``spec`` over ``workers`` forked processes (default: all cores) and
    write the table to ``out`` (a ``.csv``, checked first, written whole at the end or not at all)."""
    from tqdm.auto import tqdm

    path = check_out(out)
    if workers is not None:
        check_count("workers", workers)
    units = spec.units()
    workers = min(len(units), workers or os.cpu_count() or 1)
    warm_up(spec)
    rows: dict[tuple, dict] = {}
    with tqdm(total=len(units), desc="held-out", unit="unit", disable=not progress) as bar:
        for unit_rows in _execute([(spec, unit) for unit in units], workers):
            rows.update((_row_key(row), row) for row in unit_rows)
            bar.update()
    keys = spec.row_keys()
    require(set(keys) == set(rows), "internal error: the computed rows are not the table's rows")
    names = columns(spec)
    text = HEADER_PREFIX + spec.to_json() + "\n" + _line(dict(zip(names, names)), names)
    text += "".join(_line(rows[key], names) for key in keys)
    write_text_atomically(path, text, "held-out table")
    return path


def read_rows(path) -> tuple[HeldOut, list[dict]]:
    """A held-out table's arguments and its rows as text (exactly as written)."""
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    require(
        lines[0].startswith(HEADER_PREFIX),
        f"{path} is not a held-out table (its first line is not '{HEADER_PREFIX}...')",
    )
    return HeldOut.from_json(lines[0][len(HEADER_PREFIX) :]), list(csv.DictReader(line for line in lines[1:] if line))


def load(path):
    """A held-out table as a pandas DataFrame; its ``attrs`` hold the experiment's arguments."""
    import pandas as pd

    spec, _ = read_rows(path)
    integers = {name: "Int64" for name in ("seed", "games", "games_to_95", "env_steps")}  # empty cells: <NA>
    flags = {name: "boolean" for name in ("converged", "source_converged") if name in columns(spec)}
    frame = pd.read_csv(path, comment="#", dtype=integers | flags)
    frame.attrs.update(json.loads(spec.to_json()))
    return frame


def heldout_table(name: str = "held-out"):
    """The committed table of ``mdlib/data/sweeps`` (``scripts/make-data.sh held-out``)."""
    from importlib import resources

    path = resources.files("mdlib.data.sweeps") / f"{name}.csv"
    require(path.is_file(), f"no table {name!r} in mdlib/data/sweeps (see scripts/make-data.sh)")
    return load(path)


def recompute(spec: HeldOut, row: dict) -> dict:
    """Recompute one row of a table made with ``spec`` (``row`` as :func:`read_rows` gives it) from
    scratch, as text: a spot check of a committed table."""
    heldout, arm = row["heldout"], row["arm"]
    unit = Unit(
        training_maps(heldout),
        (heldout,),
        row["version"],
        float(row["alpha"]),
        float(row["beta"]),
        int(row["seed"]) if row["seed"] else None,
        None if row["seed"] else row["players"],
    )
    rows = _sampled_rows(spec, unit, (arm,)) if unit.seed is not None else _exact_rows(spec, unit, (arm,))
    (out,) = rows
    names = columns(spec)
    return {name: _format(out.get(name)) for name in names}


# Summaries ----------------------------------------------------------------------------------------


def interval(values) -> tuple[float, float, float]:
    """Mean and Student-t 95% interval of one number per seed (NaN for none; the mean for one)."""
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    return mean_interval(values)


def summary(frame):
    """Per held-out map, version, setting and sampled arm: seeds, how many reached 95% of the
    optimum, games to 95% among those (mean and 95% interval), and the AUC and final return (mean
    and 95% interval over all seeds)."""
    import pandas as pd

    out = []
    sampled = frame[frame["arm"].isin(ARMS)]
    for (heldout, version, setting, arm), group in sampled.groupby(
        ["heldout", "version", "setting", "arm"], sort=False
    ):
        games = group["games_to_95"].astype(float)
        row = {
            "heldout": heldout,
            "version": version,
            "setting": setting,
            "arm": arm,
            "seeds": len(group),
            "reached": int(games.notna().sum()),
        }
        for name, values in (("games_to_95", games), ("auc", group["auc"]), ("final", group["final"])):
            row[name], row[f"{name}_low"], row[f"{name}_high"] = interval(values)
        out.append(row)
    return pd.DataFrame(out)


def paired_difference(frame, measure: str = "auc", a: str = "transferred", b: str = "uniform"):
    """Per held-out map, version and setting: ``measure`` of arm ``a`` minus arm ``b``, paired by
    seed, mean and 95% interval (``games_to_95`` over the seeds where both reached)."""
    import pandas as pd

    out = []
    keys = ["heldout", "version", "setting"]
    for key, group in frame[frame["arm"].isin((a, b))].groupby(keys, sort=False):
        wide = group.pivot(index="seed", columns="arm", values=measure).astype(float)
        gaps = (wide[a] - wide[b]).dropna()
        mean, low, high = interval(gaps)
        out.append(
            dict(zip(keys, key)) | {"measure": measure, "seeds": len(gaps), "mean": mean, "low": low, "high": high}
        )
    return pd.DataFrame(out)
