"""Regenerate every figure of the report (3, 4, 5) with intervals over seeds and the optimum line.

Writes ``fig3_q_learning``, ``fig4_multidistral_original`` and ``fig5_multidistral_symmetric``
as PNG and SVG, and ``results.json`` with every curve (x = games per task; per-agent mean and 95%
interval of the training and evaluation returns) and the settings used. The output folder is
checked before any run starts; everything is written to a scratch folder first and moved into
place at the end (:class:`mdlib.files.StagedFolder`), so a failed run leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from dataclasses import dataclass, replace

import matplotlib

from . import __version__
from .experiments import optimum_per_agent, run_seeds
from .files import StagedFolder
from .learners import MultiDistral, QLearning
from .tasks import resolve_tasks

Q_LEARNING_WINDOW = 50


@dataclass(frozen=True)
class Plan:
    """What ``reproduce`` will run: the learners' settings, the task sets and the seeds."""

    q_learning: QLearning
    multidistral: MultiDistral
    tasks: object = "original"
    symmetric_tasks: object = "symmetric"
    seeds: int = 20
    workers: int | None = None

    @classmethod
    def quick(cls, **overrides) -> Plan:
        """A small version of every experiment (seconds, for smoke tests): 3 seeds, shorter runs."""
        plan = cls(QLearning(episodes=400, eval_every=50), MultiDistral(iterations=3, e_games=25, m_games=25), seeds=3)
        return replace(plan, **overrides)


def reproduce(plan: Plan, out: str | os.PathLike, progress: bool = True) -> dict:
    """Run the plan, write figures and ``results.json`` into ``out``; return the results.

    Raises :class:`mdlib.files.OutputError` before any run if ``out`` cannot be written, and
    after the runs if writing fails (nothing is left behind then).
    """
    matplotlib.use("Agg")
    from .plots import figure_multidistral, figure_q_learning, save_figure

    start = time.perf_counter()
    tasks, symmetric = resolve_tasks(plan.tasks), resolve_tasks(plan.symmetric_tasks)
    staging = StagedFolder(out, "--out")  # checks the folder before any run
    runs = {}
    runs["q_learning"] = run_seeds(plan.q_learning, tasks, plan.seeds, plan.workers, progress, "figure 3: Q-learning")
    for label, task_set in (("original", tasks), ("symmetric", symmetric)):
        for version in ("v1", "v2"):
            method = replace(plan.multidistral, version=version)
            runs[f"multidistral_{version}_{label}"] = run_seeds(
                method,
                task_set,
                plan.seeds,
                plan.workers,
                progress,
                f"figure {4 if label == 'original' else 5}: MultiDistral {version.upper()}, {label} tasks",
            )
    gamma = plan.q_learning.setup.return_gamma
    optimum = {"original": optimum_per_agent(tasks, gamma), "symmetric": optimum_per_agent(symmetric, gamma)}

    with staging as folder:
        figures = {
            "fig3_q_learning": figure_q_learning(runs["q_learning"], optimum["original"], Q_LEARNING_WINDOW),
            "fig4_multidistral_original": figure_multidistral(
                runs["multidistral_v1_original"],
                runs["multidistral_v2_original"],
                optimum["original"],
                "MultiDistral on the report's tasks",
            ),
            "fig5_multidistral_symmetric": figure_multidistral(
                runs["multidistral_v1_symmetric"],
                runs["multidistral_v2_symmetric"],
                optimum["symmetric"],
                "MultiDistral on the symmetric tasks (task 4 replaced by task 1)",
            ),
        }
        try:
            for name, fig in figures.items():
                save_figure(fig, folder / name)
        finally:
            for fig in figures.values():
                matplotlib.pyplot.close(fig)
        elapsed = time.perf_counter() - start
        results = {
            "mdlib_version": __version__,
            "python": platform.python_version(),
            "seeds": plan.seeds,
            "elapsed_s": round(elapsed, 2),
            "peak_memory_mb": round(peak_memory_mb(plan.workers or os.cpu_count() or 1), 1),
            "optimum_per_agent": optimum,
            "figures": {
                "fig3_q_learning": ["q_learning"],
                "fig4_multidistral_original": ["multidistral_v1_original", "multidistral_v2_original"],
                "fig5_multidistral_symmetric": ["multidistral_v1_symmetric", "multidistral_v2_symmetric"],
            },
            "curves": {
                name: r.to_dict(window=Q_LEARNING_WINDOW if name == "q_learning" else 1) for name, r in runs.items()
            },
        }
        (folder / "results.json").write_text(json.dumps(results, indent=1))
    return results


def peak_memory_mb(workers: int) -> float:
    """An upper bound on the peak resident memory of the run, in MB: this process's peak plus
    ``workers`` times the largest peak of a finished worker process."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + workers * child) / 1024
