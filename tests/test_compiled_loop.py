"""The compiled episode loop is the same program as its Python source.

Every learner runs one loop compiled by numba. Run with ``NUMBA_DISABLE_JIT=1``, the very same
source executes in CPython, drawing from NumPy's legacy global generator, which implements the
same Mersenne Twister and the same ``random``/``randint`` algorithms as numba's. So a seeded run
must give the same results bit for bit both ways: any difference would mean the compiled code
does something its source does not say (or that a learner keeps state outside the loop).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mdlib.learners import MultiDistral, QLearning
from mdlib.learners.base import Setup

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from mdlib.learners import MultiDistral, QLearning, episodes
    from mdlib.learners.base import Setup

    # numba really is off: the entry points are plain Python functions
    assert type(episodes._play_epsilon_greedy).__name__ == "function"
    assert type(episodes._play_soft).__name__ == "function"
    q = QLearning(episodes=300, eval_every=100, setup=Setup(eval_games=5)).run("task1", seed=3, keep_tables=True)
    md = MultiDistral(version="v2", iterations=3, e_games=10, m_games=10,
                      setup=Setup(eval_games=3)).run(["task1", "task5"], seed=3, keep_tables=True)
    lone = MultiDistral(players="alone", q_init="wander", iterations=3, e_games=10, m_games=10,
                        setup=Setup(eval_games=3)).run(["task1", "task5"], seed=3, keep_tables=True)
    np.savez(sys.argv[1], q_train=q.train_return, q_eval=q.eval_return, q_q=q.q,
             md_train=md.train_return, md_eval=md.eval_return, md_greedy=md.eval_returns["greedy"],
             md_q=md.q, md_pi0=md.pi0, lone_train=lone.train_return,
             lone_eval=lone.eval_return, lone_greedy=lone.eval_returns["greedy"], lone_pi0=lone.pi0,
             steps=[q.env_steps, md.env_steps, lone.env_steps])
""")


@pytest.fixture(scope="module")
def interpreted(tmp_path_factory):
    out = tmp_path_factory.mktemp("nojit") / "runs.npz"
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return np.load(out)


def test_q_learning_compiled_equals_interpreted_bit_for_bit(interpreted):
    """300 episodes of task 1 (about 60,000 steps, most of them epsilon-greedy draws and updates)."""
    q = QLearning(episodes=300, eval_every=100, setup=Setup(eval_games=5)).run("task1", seed=3, keep_tables=True)
    np.testing.assert_array_equal(q.train_return, interpreted["q_train"])
    np.testing.assert_array_equal(q.eval_return, interpreted["q_eval"])
    np.testing.assert_array_equal(q.q, interpreted["q_q"])
    assert q.env_steps == interpreted["steps"][0] > 10_000


def test_multidistral_compiled_equals_interpreted(interpreted):
    """The soft path (eqs. 3-5, sampling, M-step counts, greedy play on eq. 5's logits): the same
    games are played, so returns and the distilled pi0 are bit-identical; the Q tables may differ
    in the last bit, since the compiled exp and log need not round exactly like NumPy's."""
    md = MultiDistral(version="v2", iterations=3, e_games=10, m_games=10, setup=Setup(eval_games=3)).run(
        ["task1", "task5"], seed=3, keep_tables=True
    )
    np.testing.assert_array_equal(md.train_return, interpreted["md_train"])
    np.testing.assert_array_equal(md.eval_return, interpreted["md_eval"])
    np.testing.assert_array_equal(md.eval_returns["greedy"], interpreted["md_greedy"])
    np.testing.assert_array_equal(md.pi0, interpreted["md_pi0"])
    np.testing.assert_allclose(md.q, interpreted["md_q"], rtol=1e-12, atol=1e-12)
    assert md.env_steps == interpreted["steps"][1]


def test_agents_alone_compiled_equal_interpreted(interpreted):
    """Each agent alone on the map (the other off it, observations of the own cell only), tables
    started at the wander value: the same games both ways."""
    lone = MultiDistral(
        players="alone", q_init="wander", iterations=3, e_games=10, m_games=10, setup=Setup(eval_games=3)
    ).run(["task1", "task5"], seed=3, keep_tables=True)
    np.testing.assert_array_equal(lone.train_return, interpreted["lone_train"])
    np.testing.assert_array_equal(lone.eval_return, interpreted["lone_eval"])
    np.testing.assert_array_equal(lone.eval_returns["greedy"], interpreted["lone_greedy"])
    np.testing.assert_array_equal(lone.pi0, interpreted["lone_pi0"])
    assert lone.env_steps == interpreted["steps"][2]
