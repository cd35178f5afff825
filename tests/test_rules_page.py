"""The rules appendix (book/rules.md) states what the library does.

The page is prose, so nothing recomputes it; these checks tie its facts to the library: the
symbols, the actions and their moves, the rewards, the episode length, the size of the
observation table and its index formula, and that the docstrings that cite the rules point to
this page rather than to anything outside the repository.
"""

from pathlib import Path

import numpy as np

from mdlib import CorridorEnv, game, load_task_set
from mdlib.tasks import SYMBOLS

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "book" / "rules.md").read_text()


def test_symbols_actions_and_rewards_match_the_library():
    for symbol, meaning in [("1", "wall"), ("0", "free cell")]:
        assert f"| `{symbol}` | {meaning} |" in PAGE and symbol in SYMBOLS
    assert "| name | stay | down | up | left | right |" in PAGE
    assert game.ACTION_NAMES == ("stay", "down", "up", "left", "right")
    moves = "| move | (0, 0) | (+1, 0) | (−1, 0) | (0, −1) | (0, +1) |"
    assert moves in PAGE and game.MOVES.tolist() == [[0, 0], [1, 0], [-1, 0], [0, -1], [0, 1]]
    assert "**+100**" in PAGE and "**−0.1**" in PAGE
    assert (game.GOAL_REWARD, game.STEP_REWARD) == (100.0, -0.1)
    assert "`max_steps`\n   steps, 200 unless stated otherwise" in PAGE
    assert CorridorEnv().max_steps == 200


def test_observation_table_size_and_index_formula():
    tasks = load_task_set("original")
    n_cells = tasks[0].n_cells
    assert f"$C = {n_cells}$" in PAGE and "26{,}450" in PAGE
    assert game.observation_count(n_cells) == 26_450
    rng = np.random.default_rng(0)
    for _ in range(50):
        c1, c2 = rng.integers(n_cells, size=2)
        p, q, d = rng.integers(5), rng.integers(5), rng.integers(2)
        formula = (((c1 * n_cells + c2) * 5 + p) * 5 + q) * 2 + d
        assert game.observation_index(n_cells, c1, c2, p, q, bool(d)) == formula


def test_the_rules_are_cited_from_inside_the_repository():
    outside = ("corridor-rules", "reference-findings", "distral-diagnosis", ".." + "/shared")
    for path in [*sorted((ROOT / "mdlib").rglob("*.py")), *sorted((ROOT / "tests").glob("*.py"))]:
        if path.name == "test_rules_page.py":
            continue  # this test names what it looks for
        text = path.read_text()
        assert not [name for name in outside if name in text], path
    assert "book/rules.md" in (ROOT / "mdlib" / "game.py").read_text()
