"""``python -m mdlib bench``: how fast the compiled loops run on this machine.

Every rate is environment steps per second (transitions of the joint game), timed after the loops
are compiled. The loop rates time the one compiled episode loop alone (best of a few repeats).
Q-learning is also timed the way a user runs it, ``QLearning().run("task1")`` with the report's
settings (evaluation games included), against the straightforward pure-Python learner of
:mod:`mdlib.plainpython` (same game, algorithm and settings, dicts and lists): the two alternate in
rounds and each keeps its best round, so that on a machine shared with other work both see the
same load. A second yardstick runs the very same loop source with numba switched off
(``NUMBA_DISABLE_JIT=1``) in a subprocess, and checks it returns the same results. Compile time is
measured in a subprocess with an empty numba cache, and reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from . import plainpython
from .exact_distral import solve_distral
from .game import game_spec
from .learners import MultiDistral, QLearning, episodes, rng
from .learners.base import empty_tables
from .learners.episodes import NO_TABLE
from .learners.softq import log_prior
from .tasks import load_task

BENCH_TASK = "task1"
JIT_DISABLED_EPISODES = 300
#: Alternating rounds of mdlib's Q-learning and the pure-Python learner, and mdlib runs per round
#: (about as long as one pure-Python run, so that both are timed over similar stretches).
PURE_PYTHON_ROUNDS, QUICK_PURE_PYTHON_ROUNDS, COMPILED_RUNS_PER_ROUND = 7, 3, 40


def _loop_rate(
    rule, episodes_count: int, prior=None, count_visits=False, repeats: int = 3, seed: int = 0
) -> tuple[float, int]:
    """Best steps/s of ``episodes_count`` episodes on the bench task, each repeat from a fresh table."""
    spec = game_spec(load_task(BENCH_TASK))
    best, steps = 0.0, 0
    for _ in range(repeats):
        q = empty_tables(int(spec.n_cells))
        returns, lengths = np.empty((episodes_count, 2)), np.empty(episodes_count, np.int64)
        rng.seed(seed)
        start = time.perf_counter()
        steps = episodes.play_episodes(
            spec,
            rule,
            q,
            log_pi0=NO_TABLE if prior is None else prior,
            n_episodes=episodes_count,
            counts=np.zeros_like(q) if count_visits else None,
            count_gamma=0.99,
            return_gamma=0.99,
            returns=returns,
            lengths=lengths,
        )
        best = max(best, steps / (time.perf_counter() - start))
    return best, steps


def q_learning_rule() -> episodes.LearningRule:
    return QLearning().learning_rule()


def q_learning_returns(n_episodes: int, seed: int = 0) -> tuple[np.ndarray, int, float]:
    """Q-learning with the report's settings on the bench task: returns, steps and seconds."""
    spec = game_spec(load_task(BENCH_TASK))
    q = empty_tables(int(spec.n_cells))
    returns, lengths = np.empty((n_episodes, 2)), np.empty(n_episodes, np.int64)
    rng.seed(seed)
    start = time.perf_counter()
    steps = episodes.play_episodes(
        spec, q_learning_rule(), q, n_episodes=n_episodes, return_gamma=0.99, returns=returns, lengths=lengths
    )
    return returns, steps, time.perf_counter() - start


def compare_with_pure_python(rounds: int = PURE_PYTHON_ROUNDS, runs_per_round: int = COMPILED_RUNS_PER_ROUND) -> dict:
    """Q-learning with the report's settings on the bench task through mdlib's public API
    (``QLearning().run``, seeds 0 to ``runs_per_round - 1``) and as the pure-Python learner
    (:func:`mdlib.plainpython.q_learning`, seed 0), in ``rounds`` alternating rounds: each one's
    best round in environment steps per second, and their ratio."""
    learner = QLearning()
    learner.run(BENCH_TASK, seed=0)  # compiled and loaded before the clock runs
    compiled, pure = 0.0, 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        steps = sum(learner.run(BENCH_TASK, seed=seed).env_steps for seed in range(runs_per_round))
        compiled = max(compiled, steps / (time.perf_counter() - start))
        start = time.perf_counter()
        steps = plainpython.q_learning(BENCH_TASK, seed=0, learner=learner).env_steps
        pure = max(pure, steps / (time.perf_counter() - start))
    return {
        "q_learning_run_steps_per_s": round(compiled),
        "pure_python_q_learning_steps_per_s": round(pure),
        "compiled_over_pure_python": round(compiled / pure, 1),
        "pure_python_rounds": rounds,
    }


def _jit_disabled_main() -> None:
    """Entry point of the subprocess that runs the loop with numba disabled."""
    returns, steps, seconds = q_learning_returns(JIT_DISABLED_EPISODES)
    print(json.dumps({"steps": steps, "seconds": seconds, "returns": returns.tolist()}))


def _subprocess(code: str, env_extra: dict) -> dict:
    env = dict(os.environ, **env_extra)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_compile() -> dict:
    """Seconds to compile every kernel from scratch, in a fresh process with an empty numba cache."""
    code = (
        "import json, time\n"
        "t0 = time.perf_counter()\n"
        "import mdlib.learners as L\n"
        "t1 = time.perf_counter()\n"
        "L.QLearning(episodes=1, eval_every=1).run('task1')\n"
        "L.MultiDistral(iterations=1, e_games=1, m_games=1).run('task1')\n"
        "t2 = time.perf_counter()\n"
        "print(json.dumps({'import_s': t1 - t0, 'compile_s': t2 - t1}))\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        return _subprocess(code, {"NUMBA_CACHE_DIR": cache})


def run_benchmark(progress=print, quick: bool = False) -> dict:
    """Measure the compiled loops, Q-learning against the pure-Python learner, one MultiDistral run
    and the exact alternation; ``quick`` leaves out the two slowest measures (compiling every kernel
    into an empty cache and the exact two-agent alternation, each about a minute or more on 2 cores)
    and plays 3 rounds against pure Python rather than 7."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    compile_info = None
    if not quick:
        progress("compiling every kernel from scratch (fresh process, empty cache) ...")
        compile_info = measure_compile()
    MultiDistral(iterations=1, e_games=1, m_games=1).run(BENCH_TASK)  # load kernels here
    QLearning(episodes=1, eval_every=1).run(BENCH_TASK)

    progress("timing the compiled loops ...")
    env_rate, _ = _loop_rate(episodes.learning_rule(episodes.GREEDY), 2000)  # a zero table: random actions
    q_rate, _ = _loop_rate(q_learning_rule(), 2000)
    md = MultiDistral()
    uniform = log_prior(np.full((2, empty_tables(23).shape[1], 5), 0.2))
    soft = episodes.learning_rule(
        episodes.SOFT, learn=True, learning_rate=md.learning_rate, gamma=md.gamma, alpha=md.alpha, beta=md.beta
    )
    soft_rate, _ = _loop_rate(soft, 500, prior=uniform)
    play = episodes.learning_rule(episodes.SOFT, alpha=md.alpha, beta=md.beta)
    mstep_rate, _ = _loop_rate(play, 500, prior=uniform, count_visits=True)

    rounds = QUICK_PURE_PYTHON_ROUNDS if quick else PURE_PYTHON_ROUNDS
    progress(f"timing QLearning().run against the pure-Python learner ({rounds} alternating rounds) ...")
    pure_python = compare_with_pure_python(rounds)

    run_times = []
    for seed in range(3):
        start = time.perf_counter()
        result = md.run("original", seed=seed)
        run_times.append(time.perf_counter() - start)

    progress("timing the exact Distral alternation (10 iterations, five maps) ...")
    if not quick:
        solve_distral(BENCH_TASK, 0.7, 0.5, iterations=1, players="both")  # load the kernels
    alone_times, both_times = [], []
    for _ in range(3):
        start = time.perf_counter()
        solve_distral("original", 0.7, 0.5, iterations=10, players="alone")
        alone_times.append(time.perf_counter() - start)
    if not quick:
        start = time.perf_counter()
        solve_distral("original", 0.7, 0.5, iterations=10, players="both")
        both_times.append(time.perf_counter() - start)

    progress(f"running the same Q-learning loop with numba disabled ({JIT_DISABLED_EPISODES} episodes) ...")
    jit_disabled = _subprocess(
        "from mdlib.bench import _jit_disabled_main; _jit_disabled_main()", {"NUMBA_DISABLE_JIT": "1"}
    )
    compiled_returns, _, _ = q_learning_returns(JIT_DISABLED_EPISODES)
    jit_disabled_rate = jit_disabled["steps"] / jit_disabled["seconds"]
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "load_average_1min": None if load is None else round(load, 2),
        },
        "task": BENCH_TASK,
        "env_steps_per_s": round(env_rate),
        "q_learning_steps_per_s": round(q_rate),
        "soft_q_steps_per_s": round(soft_rate),
        "mstep_steps_per_s": round(mstep_rate),
        "multidistral_run_s": round(min(run_times), 3),
        "multidistral_run_env_steps": result.env_steps,
        **pure_python,
        "jit_disabled_q_learning_steps_per_s": round(jit_disabled_rate),
        "compiled_over_jit_disabled": round(q_rate / jit_disabled_rate, 1),
        "jit_disabled_matches_compiled": bool(np.array_equal(np.array(jit_disabled["returns"]), compiled_returns)),
        "exact_distral_alone_s": round(min(alone_times), 3),
        "exact_distral_both_s": round(min(both_times), 1) if both_times else None,
        "compile_s": round(compile_info["compile_s"], 2) if compile_info else None,
        "import_s": round(compile_info["import_s"], 2) if compile_info else None,
    }


def _seconds(value) -> str:
    return f"{value:>14} s" if value is not None else f"{'skipped (--quick)':>16}"


def format_report(r: dict) -> str:
    machine = r["machine"]
    rows = [
        ("environment, random actions", f"{r['env_steps_per_s']:>14,} steps/s"),
        ("independent Q-learning, the loop alone", f"{r['q_learning_steps_per_s']:>14,} steps/s"),
        ("soft-Q E-step", f"{r['soft_q_steps_per_s']:>14,} steps/s"),
        ("M-step rollouts", f"{r['mstep_steps_per_s']:>14,} steps/s"),
        ("Q-learning, QLearning().run", f"{r['q_learning_run_steps_per_s']:>14,} steps/s"),
        ("Q-learning, pure Python (mdlib.plainpython)", f"{r['pure_python_q_learning_steps_per_s']:>14,} steps/s"),
        (
            "QLearning().run / pure Python",
            f"{r['compiled_over_pure_python']:>14}x (best of {r['pure_python_rounds']} alternating rounds)",
        ),
        ("Q-learning, same loop with numba disabled", f"{r['jit_disabled_q_learning_steps_per_s']:>14,} steps/s"),
        (
            "compiled loop / numba disabled",
            f"{r['compiled_over_jit_disabled']:>14}x (same results: {r['jit_disabled_matches_compiled']})",
        ),
        (
            "one MultiDistral run, report defaults",
            f"{r['multidistral_run_s']:>14} s ({r['multidistral_run_env_steps']:,} steps)",
        ),
        ("exact Distral, alone, 10 iterations", f"{r['exact_distral_alone_s']:>14} s"),
        ("exact Distral, both, 10 iterations", _seconds(r["exact_distral_both_s"])),
        ("compiling every kernel (empty cache)", _seconds(r["compile_s"])),
        ("load average (1 min) at the start", f"{machine['load_average_1min']!s:>14} ({machine['cpus']} cpus)"),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
