"""Regenerate the README's figures: the five maps (docs/tasks.png) and the exact joint optimum
of task 1 as an animation (docs/optimal-task1.gif).

Run from anywhere: ``python scripts/make_readme_figures.py``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import mdlib  # noqa: E402
from mdlib.plots import draw_tasks  # noqa: E402
from mdlib.render import save_gif, trajectory_frames  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    fig = draw_tasks("original", title="The five tasks of the report")
    fig.savefig(DOCS / "tasks.png", dpi=110, metadata={"Software": None})
    solution = mdlib.solve_joint("task1")
    caption = f"task 1, joint optimum: discounted return so far (\u03b3 = {solution.gamma:g})"
    frames = trajectory_frames(solution.trajectory, caption=caption)
    save_gif(frames, DOCS / "optimal-task1.gif", fps=4, hold_last=2.5)
    for name in ("tasks.png", "optimal-task1.gif"):
        print(f"{DOCS / name}: {(DOCS / name).stat().st_size / 1000:.1f} kB")


if __name__ == "__main__":
    main()
