"""The command line: ``python -m mdlib reproduce``, ``sweep``, ``optimum``, ``bench`` and
``student-notebooks``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from .files import OutputError, check_output_folder
from .learners import MultiDistral, QLearning
from .tasks import resolve_tasks


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _tasks(text: str):
    names = text.split(",") if "," in text else text
    try:
        return resolve_tasks(names)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mdlib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    rep = commands.add_parser(
        "reproduce",
        help="regenerate the report's figures 3-5 and results.json",
        description="Regenerate the report's figures 3, 4 and 5 (PNG and SVG) and results.json.",
    )
    rep.add_argument(
        "--quick", action="store_true", help="3 seeds and short runs: a smoke test of every experiment in seconds"
    )
    rep.add_argument("--seeds", type=_count, help="number of seeds (default 20; 3 with --quick)")
    rep.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")
    rep.add_argument("--workers", type=_count, help="processes (default: all cores)")
    rep.add_argument(
        "--tasks",
        type=_tasks,
        default="original",
        help="task set or comma-separated tasks for figures 3 and 4 (default: original)",
    )
    rep.add_argument("--episodes", type=_count, help="Q-learning games per task (default 2000)")
    rep.add_argument("--iterations", type=_count, help="MultiDistral iterations (default 10)")
    rep.add_argument("--e-games", type=_count, help="E-step games per task and iteration (default 75)")
    rep.add_argument("--m-games", type=_count, help="M-step games per task and iteration (default 75)")
    rep.add_argument("--alpha", type=_real, help="Distral alpha, the weight of pi0, in [0, 1] (default 0.7)")
    rep.add_argument("--beta", type=_real, help="Distral beta, the inverse temperature, > 0 (default 0.5)")
    rep.add_argument("--eval-games", type=_count, help="evaluation games per task and point (default 20)")
    rep.add_argument("--contention", choices=("reference", "both_blocked"), help="contention rule")
    rep.add_argument(
        "--restart-q",
        action="store_true",
        help="restart MultiDistral's Q tables every iteration, as the original code did",
    )
    rep.add_argument("--no-progress", action="store_true", help="no progress bars")

    opt = commands.add_parser("optimum", help="print the exact joint optimum of every task as a table")
    opt.add_argument("--gamma", type=_real, action="append", help="discount factor (repeatable; default 0.99 and 0.9)")

    sw = commands.add_parser(
        "sweep",
        help="run a grid of Distral settings x seeds into one tidy CSV table (resumable)",
        description="Run MultiDistral (and/or the exact alternation) over a grid of Distral settings, "
        "versions, learner switches and seeds, one CSV row per run, appended as each run "
        "finishes. Rerunning the same command resumes; other arguments into the same file "
        "are refused. Lists: 0,0.5,1; ranges: 0:1:11; log ranges: log:0.1:100:13.",
    )
    sw.add_argument("--alphas", required=True, help="Distral alpha values, in [0, 1]")
    sw.add_argument("--betas", required=True, help="Distral beta values, > 0")
    sw.add_argument("--seeds", default="10", help="a count (10: seeds 0-9), a range (100-119) or a list (default 10)")
    sw.add_argument("--versions", default="v1,v2", help="v1, v2 or both (default v1,v2)")
    sw.add_argument(
        "--methods",
        default="multidistral",
        help="multidistral (sampled), exact_alone, exact_both (solve_distral); default multidistral",
    )
    sw.add_argument("--tasks", type=_tasks, default="original", help="task set or comma-separated tasks")
    sw.add_argument("--q-init", default="0", help="initial Q values: numbers and/or 'wander' (default 0)")
    sw.add_argument("--distill", default="on", help="on (default), off (pi0 frozen uniform: the control) or on,off")
    sw.add_argument("--rollouts-learn", default="off", help="off (default), on (M-step games also teach Q) or on,off")
    sw.add_argument("--e-games", default="75", help="E-step games per task and iteration (default 75; a list sweeps)")
    sw.add_argument("--m-games", type=_count, help="M-step games per task and iteration (default 75)")
    sw.add_argument("--iterations", type=_count, help="iterations (default 10)")
    sw.add_argument("--learning-rate", type=_real, help="step size of the soft-Q update (default 0.1)")
    sw.add_argument("--players", choices=("both", "alone"), help="the sampled learner's game (default both)")
    sw.add_argument("--out", type=Path, required=True, help="the CSV file to write or resume")
    sw.add_argument("--workers", type=_count, help="local processes (default: all cores)")
    sw.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on an existing Dask distributed cluster, e.g. tcp://10.0.0.5:8786"
    )
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")

    held = commands.add_parser(
        "held-out",
        help="held-out maps: learn a map from scratch with a pi0 distilled on the others",
        description="For every held-out map (each report map in turn, trained on the other four; each new map, "
        "trained on all five): distil pi0 with MultiDistral on the training maps, then learn the "
        "held-out map from scratch with that pi0 as a fixed prior, with a uniform prior, and with "
        "Q-learning for as many games, paired seeds; and the exact counterparts (solve_distral). "
        "One CSV row per map x version x setting x arm x seed, written when all are done.",
    )
    held.add_argument("--out", type=Path, required=True, help="the CSV file to write (replaced if it exists)")
    held.add_argument(
        "--seeds", default="20", help="a count (20: seeds 0-19), a range (100-119) or a list (default 20)"
    )
    held.add_argument("--versions", default="v1,v2", help="v1, v2 or both (default v1,v2)")
    held.add_argument("--alphas", default="0.7", help="Distral alpha values, in [0, 1] (default 0.7)")
    held.add_argument(
        "--betas",
        default="0.5,100",
        help="Distral beta values, > 0 (default 0.5,100: the report's and the book's better setting)",
    )
    held.add_argument(
        "--heldout", help="comma-separated held-out maps (default: task1-task5, swapped_roles, same_direction)"
    )
    held.add_argument(
        "--exact",
        default="alone,both",
        help="the exact counterparts' players: alone, both, alone,both (default) or none",
    )
    held.add_argument("--iterations", type=_count, help="MultiDistral iterations (default 10)")
    held.add_argument("--e-games", type=_count, help="E-step games per task and iteration (default 75)")
    held.add_argument("--m-games", type=_count, help="M-step games per task and iteration (default 75)")
    held.add_argument("--workers", type=_count, help="local processes (default: all cores)")
    held.add_argument("--no-progress", action="store_true", help="no progress bar")

    bench = commands.add_parser("bench", help="measure the compiled loops on this machine")
    bench.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    bench.add_argument(
        "--quick",
        action="store_true",
        help="leave out compiling from an empty cache and the exact two-agent alternation (a minute or "
        "more each); 3 rounds against pure Python, not 7",
    )

    _chapters_command(
        commands,
        "student-notebooks",
        help="write every chapter without its solutions, ready to hand out",
        description="Write a copy of every chapter (notebooks/0*.ipynb) into DIR with every solution taken "
        "out: {solution} blocks, gated solutions and code cells tagged solution or solution-glue; "
        "outputs cleared; exercises, stubs and the Colab install cell kept.",
        what="the student notebooks",
    )
    _chapters_command(
        commands,
        "reader-notebooks",
        help="write every chapter as a reader opens it: numbers written in, bookkeeping folded",
        description="Write a reader copy of every chapter (notebooks/0*.ipynb) into DIR: every glue role "
        "replaced by the number the book shows, bookkeeping cells folded (JupyterLab and Colab), outputs "
        "cleared. The book's launch buttons open the copies committed in reader/.",
        what="the reader copies",
    )
    return parser


def _chapters_command(commands, name: str, help: str, description: str, what: str) -> None:
    """A command that writes a copy of every chapter into DIR (student notebooks, reader copies)."""
    command = commands.add_parser(
        name,
        help=help,
        description=f"{description} Files of the same names in DIR are replaced; nothing is written if any "
        "chapter cannot be converted.",
    )
    command.add_argument("out", metavar="DIR", type=Path, help=f"folder to write {what} into")
    command.add_argument(
        "--notebooks",
        type=Path,
        metavar="SRC",
        help="the chapters' folder (default: the notebooks/ folder of this repository)",
    )


def plan_from_args(args, parser):
    """Build and check every setting before any work; a bad one is a usage error."""
    from .reproduce import Plan

    try:
        plan = Plan.quick() if args.quick else Plan(QLearning(), MultiDistral())
        setup = plan.q_learning.setup
        if args.eval_games is not None:
            setup = replace(setup, eval_games=args.eval_games)
        if args.contention is not None:
            setup = replace(setup, contention=args.contention)
        q_changes = {"setup": setup}
        if args.episodes is not None:
            q_changes["episodes"] = args.episodes
        md_changes = {"setup": setup, "carry_q": not args.restart_q}
        for name in ("iterations", "e_games", "m_games", "alpha", "beta"):
            if getattr(args, name) is not None:
                md_changes[name] = getattr(args, name)
        plan = replace(
            plan,
            q_learning=replace(plan.q_learning, **q_changes),
            multidistral=replace(plan.multidistral, **md_changes),
            tasks=args.tasks,
            workers=args.workers,
        )
        if args.seeds is not None:
            plan = replace(plan, seeds=args.seeds)
        check_output_folder(args.out, "--out")
    except ValueError as error:
        parser.error(str(error))
    return plan


def _words(text: str, name: str, allowed: dict) -> tuple:
    values = [v.strip() for v in text.split(",") if v.strip()]
    for value in values:
        if value not in allowed:
            raise ValueError(f"{name}: expected {' or '.join(allowed)}, got {value!r}")
    if not values:
        raise ValueError(f"{name}: no value given")
    return tuple(allowed[v] for v in values)


def sweep_from_args(args, parser):
    """Build and check the sweep and its output file before any work; a bad value is a usage error."""
    from .sweep import Sweep, check_out, parse_grid, parse_seeds

    try:
        learner = {
            name: getattr(args, name)
            for name in ("m_games", "iterations", "learning_rate", "players")
            if getattr(args, name) is not None
        }
        q_inits = tuple(
            v if v == "wander" else float(_real_or_fail(v, "--q-init"))
            for v in (x.strip() for x in args.q_init.split(","))
            if v
        )
        sweep = Sweep(
            alphas=parse_grid(args.alphas, "--alphas"),
            betas=parse_grid(args.betas, "--betas"),
            seeds=parse_seeds(args.seeds),
            versions=_words(args.versions, "--versions", {"v1": "v1", "v2": "v2"}),
            methods=_words(args.methods, "--methods", {m: m for m in ("multidistral", "exact_alone", "exact_both")}),
            tasks=tuple(t.name for t in args.tasks) if not isinstance(args.tasks, str) else args.tasks,
            q_inits=q_inits,
            distills=_words(args.distill, "--distill", {"on": True, "off": False}),
            rollouts_learns=_words(args.rollouts_learn, "--rollouts-learn", {"on": True, "off": False}),
            e_games=tuple(_count_or_fail(v, "--e-games") for v in args.e_games.split(",")),
            learner=learner,
        )
        check_out(args.out, sweep)
    except ValueError as error:
        parser.error(str(error))
    return sweep


def heldout_from_args(args, parser):
    """Build and check the held-out experiment and its output file before any work."""
    from .sweep import parse_grid, parse_seeds
    from .transfer import EXACT_PLAYERS, HELDOUT_MAPS, HeldOut, check_out

    try:
        learner = {
            name: getattr(args, name)
            for name in ("iterations", "e_games", "m_games")
            if getattr(args, name) is not None
        }
        maps = HELDOUT_MAPS if args.heldout is None else tuple(m.strip() for m in args.heldout.split(",") if m.strip())
        exact = () if args.exact.strip() == "none" else _words(args.exact, "--exact", {p: p for p in EXACT_PLAYERS})
        spec = HeldOut(
            heldout=maps,
            seeds=parse_seeds(args.seeds),
            versions=_words(args.versions, "--versions", {"v1": "v1", "v2": "v2"}),
            alphas=parse_grid(args.alphas, "--alphas"),
            betas=parse_grid(args.betas, "--betas"),
            exact=exact,
            learner=learner,
        )
        check_out(args.out)
    except ValueError as error:
        parser.error(str(error))
    return spec


def _real_or_fail(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name}: expected a number or 'wander', got {text!r}") from None


def _count_or_fail(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}: expected whole numbers, got {text!r}") from None
    if value < 1:
        raise ValueError(f"{name}: must be at least 1, got {value}")
    return value


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        from .reproduce import reproduce

        plan = plan_from_args(args, parser)
        try:
            results = reproduce(plan, args.out, progress=not args.no_progress)
        except OutputError as error:
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 1
        print(
            f"wrote figures 3-5 (PNG, SVG) and results.json to {args.out}/ "
            f"in {results['elapsed_s']} s, peak memory <= {results['peak_memory_mb']} MB"
        )
        return 0
    if args.command == "sweep":
        from .sweep import run_sweep

        sweep = sweep_from_args(args, parser)
        try:
            path = run_sweep(
                sweep, args.out, workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress
            )
        except OutputError as error:
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 1
        except ValueError as error:  # an unreachable scheduler, found before any work
            parser.error(str(error))
        print(f"wrote {len(sweep.runs())} runs to {path}")
        return 0
    if args.command == "held-out":
        import time

        from .transfer import run_heldout

        spec = heldout_from_args(args, parser)
        start = time.perf_counter()
        try:
            path = run_heldout(spec, args.out, workers=args.workers, progress=not args.no_progress)
        except OutputError as error:
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 1
        print(f"wrote {len(spec.row_keys())} rows to {path} in {time.perf_counter() - start:.0f} s")
        return 0
    if args.command == "optimum":
        from .solver import optimum_table

        try:
            print(optimum_table(gammas=tuple(args.gamma or (0.99, 0.9))))
        except ValueError as error:
            parser.error(str(error))
        return 0
    if args.command == "student-notebooks":
        from .student import NotebookError, check_student_folders, student_notebooks

        try:
            check_student_folders(args.out, args.notebooks)
        except OutputError as error:
            parser.error(str(error))
        try:
            removed = student_notebooks(args.out, args.notebooks)
        except (OutputError, NotebookError) as error:
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 1

        def count(n, what):
            return f"{n} {what}{'' if n == 1 else 's'}"

        for name, what in removed.items():
            print(
                f"  {name}: removed {count(what.solution_blocks, 'solution')}, "
                f"{count(what.solution_cells, 'solution code cell')} and {count(what.glue_cells, 'glue cell')}"
            )
        print(f"wrote {count(len(removed), 'student notebook')} to {args.out}/")
        return 0
    if args.command == "reader-notebooks":
        from .reader import ReaderError, reader_notebooks

        try:
            check_output_folder(args.out)
        except OutputError as error:
            parser.error(str(error))
        try:
            written = reader_notebooks(args.out, args.notebooks)
        except (OutputError, ReaderError) as error:
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return 1
        print(f"wrote {len(written)} reader notebooks to {args.out}/")
        return 0
    if args.command == "bench":
        from .bench import format_report, run_benchmark

        report = run_benchmark(progress=lambda m: print(m, file=sys.stderr), quick=args.quick)
        print(format_report(report))
        if args.json:
            print(json.dumps(report))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
