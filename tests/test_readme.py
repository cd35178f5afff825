"""The README stays true: its table is the solver's output, its quickstart runs, its claims hold."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mdlib import load_task, solve_joint
from mdlib.solver import lone_return, optimum_table, shortest_path_length

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_the_optimum_table_is_the_current_solver_output():
    table = re.search(r"<!-- optimum-table -->\n(.*?)\n<!-- /optimum-table -->", README, re.S).group(1)
    assert table == optimum_table()


def test_the_quickstart_runs():
    code = re.search(r"## mdlib in five lines\n\n```python\n(.*?)```", README, re.S).group(1)
    assert len(code.strip().splitlines()) == 5
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)


def test_in_tasks_1_to_3_the_waiting_agent_makes_a_16_move_trip():
    for name in ("task1", "task2", "task3"):
        solution = solve_joint(name, 0.99)
        assert solution.returns["agent_2"] == pytest.approx(lone_return(16, 0.99), abs=1e-9)
        assert solution.alternative["agent_1"] == pytest.approx(lone_return(16, 0.99), abs=1e-9)


def test_in_task_4_agent_1_needs_7_moves_and_agent_2_loses_3_steps():
    task = load_task("task4")
    assert shortest_path_length(task, 0) == 7
    assert shortest_path_length(task, 1) == 10
    assert solve_joint(task, 0.99).returns["agent_2"] == pytest.approx(lone_return(13, 0.99), abs=1e-9)


def test_the_readme_names_the_two_commands_ci_runs():
    assert "bash scripts/build-book.sh" in README and "bash scripts/test.sh" in README
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
