"""Maps and task sets (the rules appendix, book/rules.md, "Maps")."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import mdlib
from mdlib import load_task, load_task_set

# The report's five maps, read off the map files: (start 1, start 2), (goal 1, goal 2) as (row, col).
EXPECTED = {
    "task1": (((1, 1), (1, 7)), ((5, 7), (5, 1))),
    "task2": (((5, 1), (5, 7)), ((1, 7), (1, 1))),
    "task3": (((5, 1), (1, 7)), ((5, 7), (1, 1))),
    "task4": (((3, 2), (1, 7)), ((5, 7), (5, 1))),
    "task5": (((1, 7), (1, 1)), ((5, 7), (5, 1))),
}

# Two rooms of 2 x 5 cells joined by a corridor of 3 cells, all inside a 7 x 9 wall frame.
LAYOUT = """\
1 1 1 1 1 1 1 1 1
1 . . 1 1 1 . . 1
1 . . 1 1 1 . . 1
1 . . . . . . . 1
1 . . 1 1 1 . . 1
1 . . 1 1 1 . . 1
1 1 1 1 1 1 1 1 1
"""

VALID_MAP = """\
1 1 1 1 1 1 1 1 1
1 4 0 1 1 1 0 5 1
1 0 0 1 1 1 0 0 1
1 0 0 0 0 0 0 0 1
1 0 0 1 1 1 0 0 1
1 3 0 1 1 1 0 2 1
1 1 1 1 1 1 1 1 1
"""


def edit(text: str, row: int, col: int, symbol: str) -> str:
    """The map ``text`` with the symbol at map position (row, col) replaced."""
    lines = text.splitlines()
    tokens = lines[row].split()
    tokens[col] = symbol
    lines[row] = " ".join(tokens)
    return "\n".join(lines) + "\n"


def write_map(tmp_path: Path, text: str, name: str = "bad.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def where(path: Path, line: int, column: int) -> str:
    """The start of an error message that points at ``line``, ``column`` of ``path``."""
    return re.escape(f"{path}, line {line}, column {column}: ")


# --- loading ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_task_has_the_report_starts_and_goals(name):
    task = load_task(name)
    starts, goals = EXPECTED[name]
    assert task.name == name
    assert task.starts == starts
    assert task.goals == goals


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_task_has_the_two_room_layout(name):
    expected_walls = np.array([[s == "1" for s in line.split()] for line in LAYOUT.splitlines()])
    task = load_task(name)
    assert task.shape == (7, 9)
    np.testing.assert_array_equal(task.walls, expected_walls)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_task_has_23_free_cells(name):
    task = load_task(name)
    assert task.n_cells == 23
    assert len(task.free_cells) == 23


def test_free_cells_are_numbered_in_reading_order_and_walls_get_minus_one():
    task = load_task("task1")
    index = task.cell_index
    assert index[1, 1] == 0 and index[1, 2] == 1 and index[1, 6] == 2
    assert index[5, 7] == 22
    assert (index[task.walls] == -1).all()
    np.testing.assert_array_equal(np.sort(index[~task.walls]), np.arange(23))


def test_task_walls_are_read_only():
    task = load_task("task1")
    with pytest.raises(ValueError, match="read-only"):
        task.walls[3, 4] = True


@pytest.mark.parametrize("as_path", [str, Path], ids=["str", "Path"])
def test_load_task_by_file_path(tmp_path, as_path):
    path = write_map(tmp_path, VALID_MAP, "my_map.txt")
    task = load_task(as_path(path))
    builtin = load_task("task1")
    assert task.name == "my_map"
    assert task.source == str(path)
    assert task.starts == builtin.starts and task.goals == builtin.goals
    assert task.same_layout(builtin)


def test_unknown_task_name_is_an_error():
    with pytest.raises(ValueError, match=r"unknown task 'task9': expected one of task1, .*task5"):
        load_task("task9")


def test_original_task_set_is_the_five_report_tasks_in_order():
    tasks = load_task_set("original")
    assert [t.name for t in tasks] == ["task1", "task2", "task3", "task4", "task5"]
    assert [(t.starts, t.goals) for t in tasks] == [EXPECTED[t.name] for t in tasks]


def test_symmetric_task_set_replaces_task_4_by_task_1():
    tasks = load_task_set("symmetric")
    assert [t.name for t in tasks] == ["task1", "task2", "task3", "task1", "task5"]
    assert (tasks[3].starts, tasks[3].goals) == EXPECTED["task1"]


def test_task_sets_share_one_layout():
    for tasks in (load_task_set("original"), load_task_set("symmetric")):
        assert all(t.same_layout(tasks[0]) for t in tasks)


def test_unknown_task_set_is_an_error():
    with pytest.raises(ValueError, match="unknown task set 'mirrored': expected one of original, symmetric"):
        load_task_set("mirrored")


# --- bad maps: one ValueError naming file, line and column -----------------------------------------
# Map position (row, col) is at text line row + 1, column 2 * col + 1 (symbols are space-separated).


def test_valid_map_loads(tmp_path):
    assert load_task(write_map(tmp_path, VALID_MAP)).n_cells == 23


def test_ragged_row_is_an_error(tmp_path):
    lines = VALID_MAP.splitlines()
    lines[2] = "1 0 0 1 1 1 0 0"  # 8 symbols where line 1 has 9
    path = write_map(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=where(path, 3, 16) + "ragged row: 8 symbols where line 1 has 9"):
        load_task(path)


def test_too_long_row_is_an_error_at_the_first_extra_symbol(tmp_path):
    lines = VALID_MAP.splitlines()
    lines[4] = lines[4] + " 1"
    path = write_map(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=where(path, 5, 19) + "ragged row: 10 symbols where line 1 has 9"):
        load_task(path)


def test_unknown_symbol_is_an_error(tmp_path):
    path = write_map(tmp_path, edit(VALID_MAP, 2, 5, "7"))
    with pytest.raises(ValueError, match=where(path, 3, 11) + "unknown symbol '7'"):
        load_task(path)


def test_missing_start_is_an_error_at_the_end_of_the_map(tmp_path):
    path = write_map(tmp_path, edit(VALID_MAP, 1, 1, "0"))
    with pytest.raises(ValueError, match=where(path, 7, 18) + r"missing start of agent 1 \(4\)"):
        load_task(path)


def test_missing_goal_is_an_error_at_the_end_of_the_map(tmp_path):
    path = write_map(tmp_path, edit(VALID_MAP, 5, 1, "0"))
    with pytest.raises(ValueError, match=where(path, 7, 18) + r"missing goal of agent 2 \(3\)"):
        load_task(path)


def test_duplicate_start_is_an_error_at_the_second_one_in_reading_order(tmp_path):
    path = write_map(tmp_path, edit(VALID_MAP, 2, 6, "5"))
    with pytest.raises(
        ValueError,
        match=where(path, 3, 13) + r"duplicate start of agent 2 \(5\); the first is at line 2, column 15",
    ):
        load_task(path)


def test_duplicate_goal_is_an_error_at_the_second_one_in_reading_order(tmp_path):
    path = write_map(tmp_path, edit(VALID_MAP, 4, 7, "2"))  # an extra goal 1 just above the real one
    with pytest.raises(
        ValueError,
        match=where(path, 6, 15) + r"duplicate goal of agent 1 \(2\); the first is at line 5, column 15",
    ):
        load_task(path)


def test_open_border_is_an_error(tmp_path):
    path = write_map(tmp_path, edit(VALID_MAP, 3, 0, "0"))
    with pytest.raises(ValueError, match=where(path, 4, 1) + "open border"):
        load_task(path)


def test_unreachable_goal_is_an_error_at_the_goal(tmp_path):
    walled_in = edit(edit(VALID_MAP, 4, 7, "1"), 5, 6, "1")  # wall off agent 1's goal at (5, 7)
    path = write_map(tmp_path, walled_in)
    with pytest.raises(
        ValueError,
        match=where(path, 6, 15) + "unreachable goal: agent 1 cannot reach its goal from its start at line 2, column 3",
    ):
        load_task(path)


def test_empty_map_is_an_error(tmp_path):
    path = write_map(tmp_path, "\n\n")
    with pytest.raises(ValueError, match=where(path, 1, 1) + "the map is empty"):
        load_task(path)


def test_a_bad_map_raises_exactly_one_value_error_naming_the_file(tmp_path):
    """Several defects at once still give a single, ordinary ValueError (the first found)."""
    text = edit(edit(VALID_MAP, 1, 1, "0"), 3, 0, "0")  # missing start and open border
    path = write_map(tmp_path, text)
    with pytest.raises(ValueError) as caught:
        load_task(path)
    assert type(caught.value) is ValueError
    assert str(path) in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_package_exports_the_task_api():
    assert mdlib.load_task is load_task and mdlib.load_task_set is load_task_set
    assert set(mdlib.TASK_SETS) == {"original", "symmetric"}
