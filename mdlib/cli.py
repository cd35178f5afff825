"""The command line: ``python -m mdlib reproduce`` and ``python -m mdlib bench``."""

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
        "reproduce", help="regenerate the report's figures 3-5 and results.json",
        description="Regenerate the report's figures 3, 4 and 5 (PNG and SVG) and results.json.",
    )
    rep.add_argument("--quick", action="store_true",
                     help="3 seeds and short runs: a smoke test of every experiment in seconds")
    rep.add_argument("--seeds", type=_count, help="number of seeds (default 20; 3 with --quick)")
    rep.add_argument("--out", type=Path, default=Path("results"), help="output folder (default: results)")
    rep.add_argument("--workers", type=_count, help="processes (default: all cores)")
    rep.add_argument("--tasks", type=_tasks, default="original",
                     help="task set or comma-separated tasks for figures 3 and 4 (default: original)")
    rep.add_argument("--episodes", type=_count, help="Q-learning games per task (default 2000)")
    rep.add_argument("--iterations", type=_count, help="MultiDistral iterations (default 10)")
    rep.add_argument("--e-games", type=_count, help="E-step games per task and iteration (default 75)")
    rep.add_argument("--m-games", type=_count, help="M-step games per task and iteration (default 75)")
    rep.add_argument("--alpha", type=_real, help="Distral alpha, the weight of pi0, in [0, 1] (default 0.7)")
    rep.add_argument("--beta", type=_real, help="Distral beta, the inverse temperature, > 0 (default 0.5)")
    rep.add_argument("--eval-games", type=_count, help="evaluation games per task and point (default 20)")
    rep.add_argument("--contention", choices=("reference", "both_blocked"), help="contention rule")
    rep.add_argument("--restart-q", action="store_true",
                     help="restart MultiDistral's Q tables every iteration, as the original code did")
    rep.add_argument("--no-progress", action="store_true", help="no progress bars")

    opt = commands.add_parser("optimum", help="print the exact joint optimum of every task as a table")
    opt.add_argument("--gamma", type=_real, action="append",
                     help="discount factor (repeatable; default 0.99 and 0.9)")

    bench = commands.add_parser("bench", help="measure the compiled loops on this machine")
    bench.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    return parser


def plan_from_args(args, parser):
    """Build and check every setting before any work; a bad one is a usage error."""
    from .reproduce import Plan

    try:
        plan = Plan.quick() if args.quick else Plan(QLearning(), MultiDistral())
        protocol = plan.q_learning.protocol
        if args.eval_games is not None:
            protocol = replace(protocol, eval_games=args.eval_games)
        if args.contention is not None:
            protocol = replace(protocol, contention=args.contention)
        q_changes = {"protocol": protocol}
        if args.episodes is not None:
            q_changes["episodes"] = args.episodes
        md_changes = {"protocol": protocol, "carry_q": not args.restart_q}
        for name in ("iterations", "e_games", "m_games", "alpha", "beta"):
            if getattr(args, name) is not None:
                md_changes[name] = getattr(args, name)
        plan = replace(plan, q_learning=replace(plan.q_learning, **q_changes),
                       multidistral=replace(plan.multidistral, **md_changes),
                       tasks=args.tasks, workers=args.workers)
        if args.seeds is not None:
            plan = replace(plan, seeds=args.seeds)
        check_output_folder(args.out, "--out")
    except ValueError as error:
        parser.error(str(error))
    return plan


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
        print(f"wrote figures 3-5 (PNG, SVG) and results.json to {args.out}/ "
              f"in {results['elapsed_s']} s, peak memory <= {results['peak_memory_mb']} MB")
        return 0
    if args.command == "optimum":
        from .solver import optimum_table

        try:
            print(optimum_table(gammas=tuple(args.gamma or (0.99, 0.9))))
        except ValueError as error:
            parser.error(str(error))
        return 0
    if args.command == "bench":
        from .bench import format_report, run_benchmark

        report = run_benchmark(progress=lambda m: print(m, file=sys.stderr))
        print(format_report(report))
        if args.json:
            print(json.dumps(report))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
