"""Coding exercises that check themselves.

Each chapter asks the reader to write a function it has just explained, and gives a check for it:
``mdlib.exercises.check_<name>(fn)``. A check calls the reader's ``fn`` on hand-made edge cases
first, then on seeded random cases, and compares every answer with mdlib or an exact solver (the
*oracle*). It stops at the first case that fails and prints it plainly: what the case is about,
the inputs, the expected answer, what came back, and a hint. When every case passes it prints one
line. It returns ``True`` or ``False``.

A check never raises because of what the reader's function does. A stub, a function that raises
``NotImplementedError`` or returns ``None`` or ``...``, makes it print "not implemented yet"; any
other exception is reported as a failure with its message. Only a check called with something
that is not a function raises a ``TypeError``, before any work. Inputs are copied before every
call (and a function that changes its inputs is told so), numpy's floating-point warnings are
silenced during the call, and the random cases are seeded, so a check prints the same on every
run.

Every check, the function the reader writes, and the chapter that explains it:

* :func:`check_corridor_step`: ``corridor_step(walls, positions, done, actions, contention)``, one
  step of the rules (chapter 1);
* :func:`check_observation_index`: ``observation_index(task, positions, previous_actions, done,
  agent, order)``, an agent's table row (chapter 1);
* :func:`check_soft_value`: ``soft_value(q, pi0, alpha, beta)``, eq. 3 (chapter 2);
* :func:`check_distral_policy`: ``distral_policy(q, pi0, alpha, beta)``, eq. 5 (chapter 2);
* :func:`check_distill`: ``distill(counts)``, eq. 6, one pi0 per agent (chapters 2 and 4);
* :func:`check_q_target`: ``q_target(reward, arrived, next_q, gamma)``, the Q-learning target
  (chapter 3);
* :func:`check_soft_q_target`: ``soft_q_target(reward, arrived, next_q, next_pi0, alpha, beta,
  gamma)``, eq. 4 with eq. 3, the E-step's target (chapter 4);
* :func:`check_discounted_occupancy`: ``discounted_occupancy(transitions, policy, start, gamma,
  max_steps)``, the M-step's counts computed exactly (chapter 4);
* :func:`check_pooled_distill`: ``pooled_distill(counts)``, eq. 8 (chapter 5);
* :func:`check_paired_interval`: ``paired_interval(a, b)``, a seed-paired 95% Student-t interval
  (chapters 5 and 6, and the transfer chapter);
* :func:`check_exact_m_step`: ``exact_m_step(tasks, policies, gamma, max_steps, version)``, one
  M-step of the exact alternation :func:`mdlib.solve_distral` (the transfer chapter).
"""

from __future__ import annotations

import copy
import textwrap
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from . import game
from .tasks import Task, load_task, load_task_set

__all__ = [
    "CHECKS",
    "check_corridor_step",
    "check_discounted_occupancy",
    "check_distill",
    "check_distral_policy",
    "check_exact_m_step",
    "check_observation_index",
    "check_paired_interval",
    "check_pooled_distill",
    "check_q_target",
    "check_soft_q_target",
    "check_soft_value",
]


# The machinery every check shares ---------------------------------------------------------------


@dataclass(frozen=True)
class Raises:
    """The expected outcome of a case whose input is wrong: the function raises ``kind``."""

    kind: type[BaseException]


@dataclass
class Case:
    """One call of the reader's function and what it must return.

    ``names`` label ``args`` in the report; ``shown`` replaces the printed form of an argument
    that is too big to print (a map, a table); ``compare(got, expected)`` returns ``None`` when
    ``got`` is right, else one sentence saying what is wrong.
    """

    about: str
    names: tuple[str, ...]
    args: tuple
    expected: object
    hint: str
    compare: Callable[[object, object], str | None]
    shown: dict[str, str] = field(default_factory=dict)


def _require_function(check: str, fn) -> None:
    if not callable(fn):
        raise TypeError(
            f"{check} needs the function you wrote, not its result: got {_short(repr(fn))}. "
            f"Pass the name without brackets, e.g. {check}(my_function)"
        )


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _tasks_in(args) -> list[Task]:
    found = []
    for value in args:
        if isinstance(value, Task):
            found.append(value)
        elif isinstance(value, (tuple, list)):
            found.extend(_tasks_in(value))
    return found


def _same(a, b) -> bool:
    """True when two inputs are equal, for the check that a function left its inputs alone."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a is b or a == b


def _show(value) -> str:
    """A value as the report prints it: short, six significant digits, arrays on a few lines."""
    if isinstance(value, Task):
        return f"<Task {value.name!r}>"
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    if isinstance(value, Raises):
        return f"a {value.kind.__name__}"
    if isinstance(value, (str, bool)) or value is None:
        return repr(value)
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, Task) for v in value):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - whatever came back, print something
        return _short(repr(value))
    if array.dtype == object:
        return _short(repr(value))
    if array.ndim == 0:
        item = array.item()
        if not isinstance(item, float):
            return repr(item)
        text = f"{item:.6g}"
        return text if any(c in text for c in ".enia") else text + ".0"  # 100.0, not 100: a float
    if array.size > 40:
        return f"an array of shape {array.shape} (too big to print; the problem line says where it differs)"
    return np.array2string(array, precision=6, separator=", ", threshold=60, max_line_width=92, floatmode="maxprec")


def _wrap(text: str) -> str:
    """A sentence of the report, wrapped to the width of a notebook cell and indented under its label."""
    return textwrap.fill(text, width=100, initial_indent=" " * 12, subsequent_indent=" " * 12)[12:]


def _indent(text: str, by: int) -> str:
    return text.replace("\n", "\n" + " " * by)


def _report(check: str, number: int, case: Case, got: str, problem: str | None) -> None:
    width = max(len(n) for n in case.names) if case.names else 0
    lines = [f"{check}: FAILED on case {number}: {case.about}", "  inputs:"]
    for name, value in zip(case.names, case.args):
        shown = case.shown.get(name, _show(value))
        lines.append(f"    {name:<{width}} = {_indent(shown, width + 7)}")
    lines.append(f"  expected: {_indent(_show(case.expected), 12)}")
    lines.append(f"  got:      {_indent(got, 12)}")
    if problem:
        lines.append(f"  problem:  {_wrap(problem)}")
    lines.append(f"  hint:     {_wrap(case.hint)}")
    print("\n".join(lines))


def _not_implemented(check: str, name: str, why: str) -> bool:
    print(f"{check}: not implemented yet ({name} {why}). Write it, then run this cell again.")
    return False


def _run(check: str, name: str, fn, cases: Iterator[Case], success: str) -> bool:
    """Call ``fn`` on every case; print the first failure, or one line if all pass."""
    own = getattr(fn, "__name__", "")
    name = own if own.isidentifier() else name  # the reader's own name for it, if it has one
    number = 0
    for case in cases:
        number += 1
        args = copy.deepcopy(case.args, {id(t): t for t in _tasks_in(case.args)})  # a Task is immutable
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = fn(*args)
        except NotImplementedError:
            if number == 1:
                return _not_implemented(check, name, "raises NotImplementedError")
            return _not_implemented(check, name, f"raised NotImplementedError on case {number}: {case.about}")
        except Exception as error:  # noqa: BLE001 - the reader's error is the report, not a crash
            if isinstance(case.expected, Raises) and isinstance(error, case.expected.kind):
                continue
            _report(
                check,
                number,
                case,
                f"{type(error).__name__}: {error}",
                "your function raised an error"
                if not isinstance(case.expected, Raises)
                else f"expected a {case.expected.kind.__name__}, not a {type(error).__name__}",
            )
            return False
        if got is None or got is Ellipsis:
            if number == 1:
                return _not_implemented(check, name, f"returns {got!r}; if you wrote it, is a `return` missing?")
            _report(check, number, case, repr(got), "a value was expected: is a `return` missing on some path?")
            return False
        if isinstance(case.expected, Raises):
            _report(
                check,
                number,
                case,
                _show(got),
                f"this input is wrong, so {name} must raise a {case.expected.kind.__name__} instead of returning",
            )
            return False
        problem = case.compare(got, case.expected)
        if problem is None and not all(_same(a, b) for a, b in zip(args, case.args)):
            changed = [n for n, a, b in zip(case.names, args, case.args) if not _same(a, b)]
            problem = (
                f"the answer is right, but your function changed its input {', '.join(changed)}: "
                "work on a copy (the learners reuse their tables)"
            )
        if problem is not None:
            _report(check, number, case, _show(got), problem)
            return False
    print(f"{check}: all {number} cases pass. {success}")
    return True


# Comparisons -------------------------------------------------------------------------------------


def _as_numbers(got, dtype=float) -> np.ndarray | str:
    try:
        array = np.asarray(got, dtype=dtype)
    except (TypeError, ValueError) as error:
        return f"could not read the answer as numbers ({error})"
    return array


def _first_mismatch(bad: np.ndarray) -> tuple:
    return tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()


def _close(rtol: float = 1e-7, atol: float = 1e-9):
    """Numbers of the expected shape, equal to the expected ones up to rounding."""

    def compare(got, expected) -> str | None:
        got, expected = _as_numbers(got), np.asarray(expected, float)
        if isinstance(got, str):
            return got
        if got.shape != expected.shape:
            return f"expected an answer of shape {expected.shape}, got shape {got.shape}"
        finite = np.isfinite(expected)
        broken = finite & ~np.isfinite(got)
        if broken.any():
            where = _first_mismatch(broken)
            return (
                f"got {got[where]} {'at index ' + str(where) + ' ' if where else ''}where a finite number "
                "was expected: an overflow, or 0 * inf?"
            )
        bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
        if bad.any():
            where = _first_mismatch(bad)
            at = f" at index {where}" if where else ""
            return (
                f"{int(bad.sum())} of {bad.size} numbers differ; the first{at}: expected "
                f"{expected[where]:.10g}, got {got[where]:.10g}"
            )
        return None

    return compare


def _distribution(rtol: float = 1e-7, atol: float = 1e-9):
    """Probabilities over the last axis: shape, sums to one, then the values."""
    close = _close(rtol, atol)

    def compare(got, expected) -> str | None:
        numbers = _as_numbers(got)
        if isinstance(numbers, str):
            return numbers
        expected = np.asarray(expected, float)
        if numbers.shape == expected.shape and np.isfinite(numbers).all():
            sums = numbers.sum(axis=-1)
            off = ~np.isclose(sums, 1.0, rtol=0, atol=1e-9)
            if off.any():
                where = _first_mismatch(off)
                place = f"the row at index {where}" if where else "yours"
                return (
                    f"the probabilities of a state must sum to 1 over the actions (the last axis); "
                    f"{place} sums to {sums[where]:.10g}"
                )
        return close(numbers, expected)

    return compare


def _exact(got, expected) -> str | None:
    """Whole numbers, equal to the expected ones."""
    numbers = _as_numbers(got)
    if isinstance(numbers, str):
        return numbers
    expected = np.asarray(expected)
    if numbers.shape != expected.shape:
        return f"expected an answer of shape {expected.shape}, got shape {numbers.shape}"
    if not np.array_equal(numbers, expected):
        where = _first_mismatch(numbers != expected)
        at = f" at index {where}" if where else ""
        return f"expected {_show(expected[where])}{at}, got {_show(numbers[where])}"
    return None


def _cells(got, expected) -> str | None:
    """Both agents' cells, (2, 2), as the rules put them; says which agent ends in the wrong cell."""
    numbers = _as_numbers(got)
    if isinstance(numbers, str):
        return numbers
    if numbers.shape != (2, 2):
        return f"expected both agents' cells, an array of shape (2, 2), got shape {numbers.shape}"

    def cell(values) -> str:
        return "(" + ", ".join(str(int(x)) if float(x).is_integer() else _show(x) for x in values) + ")"

    wrong = [
        f"agent {j + 1} should end on {cell(expected[j])}, yours ends on {cell(numbers[j])}"
        for j in (0, 1)
        if not np.array_equal(numbers[j], expected[j])
    ]
    return "; ".join(wrong) or None


def _rng(check: str) -> np.random.Generator:
    """The random cases of ``check``: seeded by its name, the same on every run."""
    return np.random.default_rng([ord(c) for c in check])


# Chapter 1: the corridor game -------------------------------------------------------------------

_ACTION = {name: index for index, name in enumerate(game.ACTION_NAMES)}


def _corridor_oracle(walls, goals, positions, done, actions, contention):
    new_pos, _, _ = game.step(
        np.ascontiguousarray(walls, dtype=np.bool_),
        np.asarray(goals, np.int64),
        game.contention_code(contention),
        np.asarray(positions, np.int64),
        np.asarray(done, np.bool_),
        np.asarray(actions, np.int64),
    )
    return new_pos


def _corridor_cases() -> Iterator[Case]:
    task1 = load_task("task1")
    names = ("walls", "positions", "done", "actions", "contention")
    open_walls = np.zeros((3, 3), np.bool_)
    no_goals = np.array([[-1, -1], [-1, -1]], np.int64)

    def case(about, hint, positions, actions, contention="reference", done=(False, False), task=task1):
        walls = task.walls.copy() if task is not None else open_walls.copy()
        goals = np.asarray(task.goals if task is not None else no_goals, np.int64)
        positions = np.array(positions, np.int64)
        done = np.array(done, np.bool_)
        actions = np.array([_ACTION[a] if isinstance(a, str) else a for a in actions], np.int64)
        shown = {
            "walls": (
                "task1's walls, mdlib.load_task('task1').walls"
                if task is task1
                else f"{task.name}'s walls"
                if task is not None
                else "a 3 x 3 map with no walls at all"
            )
        }
        moves = ", ".join(f"agent {j + 1}: {game.ACTION_NAMES[a]}" for j, a in enumerate(actions))
        shown["actions"] = f"{_show(actions)}  ({moves})"
        return Case(
            about,
            names,
            (walls, positions, done, actions, contention),
            _corridor_oracle(walls, goals, positions, done, actions, contention),
            hint,
            _cells,
            shown,
        )

    yield case(
        "no conflict: both agents step down in their own rooms",
        "An agent moves to the cell its action points at (game.MOVES[action] is (d_row, d_col)).",
        [[1, 1], [1, 7]],
        ["down", "down"],
    )
    yield case(
        "a move into a wall fails",
        "A move into a wall (walls[row, col] is True) fails: the agent stays where it is.",
        [[1, 1], [1, 7]],
        ["up", "right"],
    )
    yield case(
        "a move off the map fails",
        "A move off the map fails like a move into a wall. The book's maps have walls all round; "
        "this map has none, so check the row and column against walls.shape.",
        [[0, 0], [2, 2]],
        ["up", "right"],
        task=None,
    )
    for rule, hint in (
        ("reference", "Under 'reference' a contested cell goes to agent 2; agent 1 stays."),
        ("both_blocked", "Under 'both_blocked' a contested cell goes to nobody: both stay."),
    ):
        yield case(
            f"both aim at the middle corridor cell (3, 4), contention {rule!r}",
            hint,
            [[3, 3], [3, 5]],
            ["right", "left"],
            rule,
        )
        yield case(
            f"both aim at the free cell (1, 2) of the left room, contention {rule!r}",
            hint,
            [[1, 1], [2, 2]],
            ["right", "up"],
            rule,
        )
    for rule in game.CONTENTION_RULES:
        yield case(
            f"no swapping: the agents try to exchange cells, contention {rule!r}",
            "A move into the cell the other agent occupies at the start of the step fails, even when "
            "the other agent is leaving it: both moves fail.",
            [[3, 3], [3, 4]],
            ["right", "left"],
            rule,
        )
    yield case(
        "no following: agent 1 steps into the cell agent 2 is leaving",
        "A move into the other agent's current cell fails even if that agent moves away in the same "
        "step: agent 1 stays, agent 2 moves.",
        [[3, 3], [3, 4]],
        ["right", "right"],
    )
    yield case(
        "no following: agent 2 steps into the cell agent 1 is leaving",
        "The no-following rule holds for agent 2 too: agent 1 moves, agent 2 stays.",
        [[3, 4], [3, 5]],
        ["left", "left"],
    )
    yield case(
        "agent 2 aims at the cell of agent 1, who stays",
        "A move into the other agent's cell fails.",
        [[3, 4], [3, 5]],
        ["stay", "left"],
    )
    yield case(
        "a done agent ignores its action and blocks like a wall (agent 1 done on its goal)",
        "A done agent stays where it is whatever its action, and the other cannot step onto its cell.",
        [[5, 7], [4, 7]],
        ["up", "down"],
        done=(True, False),
    )
    yield case(
        "a done agent ignores its action and blocks like a wall (agent 2 done on its goal)",
        "A done agent stays where it is whatever its action, and the other cannot step onto its cell.",
        [[4, 1], [5, 1]],
        ["down", "right"],
        done=(False, True),
    )

    rng = _rng("check_corridor_step")
    tasks = load_task_set("original")
    for k in range(300):
        task = tasks[int(rng.integers(len(tasks)))]
        cells = task.free_cells
        first = cells[rng.integers(len(cells))]
        near = [c for c in cells if 0 < np.abs(c - first).sum() <= 2]
        second = near[rng.integers(len(near))] if rng.random() < 0.7 else first
        while np.array_equal(second, first):
            second = cells[rng.integers(len(cells))]
        positions = np.array([first, second], np.int64)
        if rng.random() < 0.5:
            positions = positions[::-1].copy()
        done = rng.random(2) < 0.15
        actions = rng.integers(game.N_ACTIONS, size=2)
        rule = game.CONTENTION_RULES[int(rng.integers(2))]
        yield case(
            f"random case {k + 1} on {task.name}, contention {rule!r}",
            "Go through the rules in order: a done agent stays; walls and the map's edge stop a move; "
            "no agent enters the cell the other occupies at the start of the step; a contested cell "
            "goes to agent 2 ('reference') or nobody ('both_blocked').",
            positions,
            actions,
            rule,
            done,
            task,
        )


def check_corridor_step(fn) -> bool:
    """Check ``fn(walls, positions, done, actions, contention)``: one step of the corridor rules.

    Write ``corridor_step(walls, positions, done, actions, contention)`` returning both agents'
    cells after one simultaneous step, an array-like of shape (2, 2), ``[agent] = (row, col)``:

    * ``walls``: (rows, cols) bool map, True on walls;
    * ``positions``: (2, 2) ints, both agents' cells before the step;
    * ``done``: (2,) bools, True for an agent already on its goal;
    * ``actions``: (2,) ints, 0 stay, 1 down, 2 up, 3 left, 4 right (``mdlib.game.MOVES``);
    * ``contention``: ``"reference"`` (agent 2 wins a contested cell) or ``"both_blocked"``.

    The rules are chapter 1's (rewards and done flags are not part of this exercise). The oracle
    is the book's one transition kernel, :func:`mdlib.game.transition`.
    """
    _require_function("check_corridor_step", fn)
    return _run(
        "check_corridor_step",
        "corridor_step",
        fn,
        _corridor_cases(),
        "Your step follows the rules of the game under both contention rules.",
    )


def _observation_cases() -> Iterator[Case]:
    names = ("task", "positions", "previous_actions", "done", "agent", "order")
    task1 = load_task("task1")

    def case(about, hint, task, positions, previous, done, agent, order):
        positions = np.array(positions, np.int64)
        previous = np.array(previous, np.int64)
        done = np.array(done, np.bool_)
        expected = int(
            game.agent_observation(
                task.cell_index, task.n_cells, positions, previous, done, agent, order == "egocentric"
            )
        )
        return Case(about, names, (task, positions, previous, done, agent, order), expected, hint, _exact)

    cells = "Number the cells with task.cell_index (free cells in reading order), not row * columns + column."
    yield case(
        "both agents at their starts, no previous actions, agent 1",
        cells,
        task1,
        task1.starts,
        [0, 0],
        [False, False],
        0,
        "egocentric",
    )
    yield case(
        "chapter 1's exercise: agent 2 at (1, 7), agent 1 at (3, 4), egocentric",
        "Egocentric order: the observer's own cell first, then the other's; its own previous action "
        "first, then the other's; last the other agent's done flag.",
        task1,
        [[3, 4], [1, 7]],
        [4, 2],
        [False, False],
        1,
        "egocentric",
    )
    yield case(
        "chapter 1's exercise: agent 2 at (1, 7), agent 1 at (3, 4), absolute",
        "Absolute order puts agent 1's cell first for both observers; the previous actions stay in the "
        "observer's order (own first).",
        task1,
        [[3, 4], [1, 7]],
        [4, 2],
        [False, False],
        1,
        "absolute",
    )
    yield case(
        "the done flag is the other agent's",
        "The last digit is whether the OTHER agent is done.",
        task1,
        [[3, 4], [5, 1]],
        [1, 0],
        [False, True],
        0,
        "egocentric",
    )
    yield case(
        "agent 1 observes in absolute order: the same as egocentric",
        "For agent 1 the two orders agree: its own cell is agent 1's cell.",
        task1,
        [[2, 6], [4, 1]],
        [3, 1],
        [True, False],
        0,
        "absolute",
    )

    rng = _rng("check_observation_index")
    tasks = load_task_set("original")
    for k in range(100):
        task = tasks[int(rng.integers(len(tasks)))]
        cells = task.free_cells
        pick = rng.choice(len(cells), size=2, replace=False)
        order = game.OBSERVATION_ORDERS[int(rng.integers(2))]
        yield case(
            f"random case {k + 1} on {task.name}, {order} order",
            "index = (((c1 * n + c2) * 5 + a) * 5 + b) * 2 + d with n = task.n_cells, c1, c2 the cell "
            "numbers in the order's order, a the observer's previous action, b the other's, d the "
            "other's done flag.",
            task,
            cells[pick],
            rng.integers(game.N_ACTIONS, size=2),
            rng.random(2) < 0.3,
            int(rng.integers(2)),
            order,
        )


def check_observation_index(fn) -> bool:
    """Check ``fn(task, positions, previous_actions, done, agent, order)``: an agent's table row.

    Write ``observation_index(task, positions, previous_actions, done, agent, order)`` returning the
    row (an int) of ``agent``'s table for its observation septuple, as chapter 1 builds it:

    * ``task``: a :class:`mdlib.Task` (``task.cell_index`` numbers its free cells, ``task.n_cells``);
    * ``positions``: (2, 2) ints, ``[agent] = (row, col)``; ``previous_actions``: (2,) ints;
      ``done``: (2,) bools; ``agent``: 0 or 1;
    * ``order``: ``"egocentric"`` (own cell first) or ``"absolute"`` (agent 1's cell first).

    The oracle is :func:`mdlib.game.agent_observation`.
    """
    _require_function("check_observation_index", fn)
    return _run(
        "check_observation_index",
        "observation_index",
        fn,
        _observation_cases(),
        "Your table rows are the book's, in both orders.",
    )


# Chapter 2: Distral's soft value, policy and distillation ----------------------------------------


def _one_step(q, pi0, alpha, beta):
    """Eq. 3 and eq. 5 for rows of Q, exactly: the soft value iteration of :mod:`mdlib.solver` on a
    problem that ends after one step, whose Q is the given table (no floor on pi0, pi0^0 = 1)."""
    from .solver import soft_value_iteration

    q, pi0 = np.asarray(q, float), np.asarray(pi0, float)
    rows, actions = q.reshape(-1, q.shape[-1]), pi0.reshape(-1, pi0.shape[-1])
    n = len(rows)
    _, v, pi = soft_value_iteration(np.zeros((n, q.shape[-1], n)), rows, actions, alpha, beta, gamma=0.5)
    return v.reshape(q.shape[:-1]), pi.reshape(q.shape)


def _random_prior(rng, shape, zeros: bool) -> np.ndarray:
    prior = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    if zeros:
        keep = rng.random(shape) > 0.35
        keep[..., 0] |= ~keep.any(axis=-1)  # every row keeps at least one action
        prior = np.where(keep, prior, 0.0)
        prior /= prior.sum(axis=-1, keepdims=True)
    return prior


def _soft_cases(which: str) -> Iterator[Case]:
    names = ("q", "pi0", "alpha", "beta")
    index = 0 if which == "value" else 1
    compare = _close() if which == "value" else _distribution()
    uniform = np.full(5, 0.2)

    def case(about, hint, q, pi0, alpha, beta):
        q, pi0 = np.array(q, float), np.array(pi0, float)
        return Case(
            about, names, (q, pi0, float(alpha), float(beta)), _one_step(q, pi0, alpha, beta)[index], hint, compare
        )

    if which == "value":
        yield case(
            "equal Q under a uniform prior: V = Q + (1 - alpha)/beta log 5",
            "Eq. 3: V = (1/beta) log sum_a pi0(a)^alpha exp(beta Q(a)), summed over the actions.",
            [1.0] * 5,
            uniform,
            0.7,
            0.5,
        )
        yield case(
            "two actions",
            "Eq. 3 with two actions: (1/beta) log(pi0(0)^alpha e^(beta Q0) + pi0(1)^alpha e^(beta Q1)).",
            [0.0, 1.0],
            [0.25, 0.75],
            0.5,
            2.0,
        )
    else:
        yield case(
            "equal Q under a uniform prior: the uniform policy",
            "Eq. 5: pi(a) = pi0(a)^alpha exp(beta (Q(a) - V)), with V from eq. 3.",
            [1.0] * 5,
            uniform,
            0.7,
            0.5,
        )
        yield case(
            "alpha = 0: the prior drops out and pi is the soft-max of beta Q",
            "With alpha = 0, pi0^alpha = 1: pi(a) = exp(beta Q(a)) / sum_b exp(beta Q(b)).",
            [0.0, 1.0, 2.0, -1.0, 0.5],
            [0.6, 0.1, 0.1, 0.1, 0.1],
            0.0,
            1.0,
        )
        yield case(
            "alpha = 1 and a small beta: pi stays close to pi0",
            "Eq. 5 multiplies the prior's opinion pi0^alpha by the task's exp(beta Q), then normalises.",
            [0.0, 1.0, 2.0, -1.0, 0.5],
            [0.6, 0.1, 0.1, 0.1, 0.1],
            1.0,
            0.05,
        )
    yield case(
        "beta = 100 and Q values up to 50: exp(beta Q) overflows",
        "exp(5000) is inf in floating point. Subtract the largest logit m = max_a (alpha log pi0(a) + "
        "beta Q(a)) before exponentiating: log sum_a e^(x_a) = m + log sum_a e^(x_a - m) (log-sum-exp).",
        [50.0, -20.0, 30.0, 0.0, 49.0],
        uniform,
        0.7,
        100.0,
    )
    yield case(
        "beta = 100 and all Q values near -50: exp(beta Q) underflows to 0",
        "exp(-5000) is 0 in floating point, and log 0 = -inf. Subtracting the largest logit before "
        "exponentiating (log-sum-exp) saves very negative values as well as very positive ones.",
        [-50.0, -50.5, -51.0, -49.8, -60.0],
        uniform,
        0.3,
        100.0,
    )
    yield case(
        "a prior with zeros (alpha > 0): actions with pi0 = 0 get no weight",
        "pi0(a)^alpha = 0 where pi0(a) = 0 and alpha > 0: those actions drop out of the sum. Use pi0 as "
        "given, with no floor (mdlib's learners floor it; this exercise does not).",
        [0.0, 1.0, 10.0, 10.0, 10.0],
        [0.5, 0.5, 0.0, 0.0, 0.0],
        0.7,
        1.0,
    )
    yield case(
        "a prior with zeros and alpha = 0: pi0^0 = 1, the prior drops out",
        "With alpha = 0 every action has weight pi0(a)^0 = 1, also where pi0(a) = 0 (numpy: 0.0 ** 0 == 1). "
        "Computing alpha * log(pi0) gives 0 * (-inf) = nan there: treat alpha = 0 (or pi0 = 0) apart.",
        [0.0, 1.0, 2.0, 3.0, 4.0],
        [0.5, 0.5, 0.0, 0.0, 0.0],
        0.0,
        1.0,
    )
    yield case(
        "a table of 3 states: one answer per state",
        "q and pi0 may be tables of shape (n_states, n_actions): work along the last axis only "
        "(axis=-1, keepdims=True), so that each state gets its own answer.",
        [[0.0, 1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0, 5.0], [-1.0, 0.0, 0.0, 2.0, 1.0]],
        [uniform, [0.1, 0.2, 0.3, 0.2, 0.2], [0.0, 0.5, 0.5, 0.0, 0.0]],
        0.7,
        2.0,
    )
    yield case(
        "a table of shape (2, 2, 5) (agent, state, action)",
        "Any leading axes are states (or agents): work along the last axis only.",
        [[[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]], [[1, 1, 1, 1, 1], [0, 0, 9, 0, 0]]],
        np.full((2, 2, 5), 0.2),
        0.5,
        1.0,
    )

    rng = _rng(f"check_soft_{which}")
    for k in range(40):
        shape = [(5,), (4, 5), (2, 3, 5), (3, 2)][int(rng.integers(4))]
        scale = [1.0, 10.0, 100.0][int(rng.integers(3))]
        alpha = [0.0, 1.0, float(rng.uniform())][int(rng.integers(3))]
        beta = float(10 ** rng.uniform(-2, 2))
        zeros = bool(rng.random() < 0.4)
        q = rng.normal(scale=scale, size=shape)
        yield case(
            f"random case {k + 1}: shape {shape}, Q of scale {scale:g}, alpha = {alpha:.3g}, "
            f"beta = {beta:.3g}{', prior with zeros' if zeros else ''}",
            "Compare with the hand-made cases above: log-sum-exp over the last axis, pi0 used as given, pi0^0 = 1."
            if which == "value"
            else "pi = exp(alpha log pi0 + beta Q - beta V) with V from a stable eq. 3, along the last axis.",
            q,
            _random_prior(rng, shape, zeros),
            alpha,
            beta,
        )


def check_soft_value(fn) -> bool:
    """Check ``fn(q, pi0, alpha, beta)``: the soft value of eq. 3, numerically stable.

    Write ``soft_value(q, pi0, alpha, beta)`` returning
    ``V = (1/beta) log sum_a pi0(a)^alpha exp(beta Q(a))`` (eq. 3) along the last axis:

    * ``q``: Q values, shape (..., n_actions), e.g. one row (5,) or a table (n_states, 5);
    * ``pi0``: the prior, same shape, each row a distribution; use it as given (no floor), with
      ``pi0^0 = 1`` (so alpha = 0 ignores the prior, also where it is 0);
    * ``alpha`` in [0, 1], ``beta`` > 0: Distral's parameters (beta up to 100 is tested);
    * returns shape ``q.shape[:-1]`` (a number for one row).

    The oracle is :func:`mdlib.solver.soft_value_iteration` on a problem that ends after one step.
    """
    _require_function("check_soft_value", fn)
    return _run(
        "check_soft_value",
        "soft_value",
        fn,
        _soft_cases("value"),
        "Your soft value is eq. 3, stable up to beta = 100 and with zeros in the prior.",
    )


def check_distral_policy(fn) -> bool:
    """Check ``fn(q, pi0, alpha, beta)``: the Distral policy of eq. 5, numerically stable.

    Write ``distral_policy(q, pi0, alpha, beta)`` returning
    ``pi(a) = pi0(a)^alpha exp(beta (Q(a) - V))`` (eq. 5, V from eq. 3) along the last axis:
    the same arguments as :func:`check_soft_value`'s ``soft_value``, and an answer of the shape of
    ``q`` whose rows sum to 1. The oracle is :func:`mdlib.solver.soft_value_iteration` on a
    problem that ends after one step.
    """
    _require_function("check_distral_policy", fn)
    return _run(
        "check_distral_policy",
        "distral_policy",
        fn,
        _soft_cases("policy"),
        "Your policy is eq. 5, stable up to beta = 100 and with zeros in the prior.",
    )


def _distill_cases(pooled: bool) -> Iterator[Case]:
    from .learners import distill

    def oracle(counts):
        table = distill(np.asarray(counts, float).sum(axis=0), "v2" if pooled else "v1")
        return table[0] if pooled else table

    def case(about, hint, counts):
        counts = np.array(counts, float)
        return Case(about, ("counts",), (counts,), oracle(counts), hint, _distribution(1e-9, 1e-12))

    def counts_of(n_tasks, n_obs, entries):
        counts = np.zeros((n_tasks, 2, n_obs, 5))
        for (task, agent, obs, action), value in entries.items():
            counts[task, agent, obs, action] = value
        return counts

    if not pooled:
        yield case(
            "one pi0 per agent: agent 2's counts never enter agent 1's pi0",
            "V1 keeps one table per agent (axis 1 of counts stays): do not add the agents' counts.",
            counts_of(1, 1, {(0, 0, 0, 0): 1.0, (0, 1, 0, 4): 1.0}),
        )
        yield case(
            "chapter 2's exercise: task 1 visits a state 3 times and stays, task 2 once and moves down",
            "Eq. 6: pi0 is the visit-weighted average of the task policies. Add the counts of all tasks "
            "(axis 0) first, then normalise each state's row: 3/4 stay, 1/4 down. (The plain average of "
            "each task's normalised policy would give 1/2 and 1/2.)",
            counts_of(2, 1, {(0, 0, 0, 0): 3.0, (1, 0, 0, 1): 1.0, (0, 1, 0, 4): 2.0}),
        )
        yield case(
            "a state nobody visited gets the uniform policy",
            "A row of counts that sums to 0 has no maximum-likelihood fit: the book makes it uniform "
            "(1/n_actions each). Dividing by its sum gives 0/0 = nan.",
            counts_of(1, 2, {(0, 0, 0, 2): 1.5, (0, 1, 0, 2): 1.0}),
        )
    else:
        yield case(
            "both agents visit one observation: agent 1 three times (stay), agent 2 once (down)",
            "Eq. 8 pools the counts: add them over tasks AND agents, then normalise: 3/4 stay, 1/4 down. "
            "Averaging the two agents' own policies would give 1/2 and 1/2, ignoring who visits more.",
            counts_of(1, 1, {(0, 0, 0, 0): 3.0, (0, 1, 0, 1): 1.0}),
        )
        yield case(
            "an observation only agent 2 visits: the pooled row is agent 2's",
            "Where only one agent visits, eq. 8 gives that agent's V1 row.",
            counts_of(2, 2, {(0, 1, 1, 3): 0.5, (1, 1, 1, 4): 1.5, (0, 0, 0, 0): 1.0}),
        )
        yield case(
            "an observation nobody visited gets the uniform policy",
            "A row of pooled counts that sums to 0 becomes uniform (1/n_actions each); 0/0 is nan.",
            counts_of(1, 2, {(0, 0, 0, 2): 1.0}),
        )
    yield case(
        "discounted counts: fractions gamma^t",
        "Counts are discounted visits, sums of gamma^t: any non-negative numbers, not only integers.",
        counts_of(
            3,
            2,
            {(0, 0, 0, 1): 0.99, (1, 0, 0, 1): 0.9801, (2, 0, 0, 3): 0.970299, (0, 1, 1, 0): 1.0, (2, 1, 1, 2): 0.5},
        ),
    )

    rng = _rng("check_pooled_distill" if pooled else "check_distill")
    for k in range(30):
        n_tasks, n_obs = int(rng.integers(1, 6)), int(rng.integers(1, 7))
        counts = rng.exponential(size=(n_tasks, 2, n_obs, 5)) * (rng.random((n_tasks, 2, n_obs, 5)) < 0.6)
        counts *= rng.random((n_tasks, 2, n_obs, 1)) < 0.7  # whole rows unvisited
        yield case(
            f"random case {k + 1}: {n_tasks} tasks, {n_obs} observations",
            (
                "Sum over tasks and agents (axes 0 and 1), normalise each row, uniform where a row is 0."
                if pooled
                else "Sum over tasks (axis 0), keep the agents apart, normalise each row, uniform where a row is 0."
            ),
            counts,
        )


def check_distill(fn) -> bool:
    """Check ``fn(counts)``: distillation, eq. 6, one shared policy per agent (V1).

    Write ``distill(counts)`` returning pi0 of shape (2, n_observations, n_actions):

    * ``counts``: discounted visit counts ``N_i^(j)(o, a)`` of shape
      (n_tasks, 2, n_observations, n_actions), ``[task, agent, observation, action]``;
    * each agent's pi0 is its counts summed over tasks and normalised over the actions (eq. 6);
      a row with no visits is uniform.

    The oracle is :func:`mdlib.learners.distill` with ``version="v1"``.
    """
    _require_function("check_distill", fn)
    return _run(
        "check_distill",
        "distill",
        fn,
        _distill_cases(pooled=False),
        "Your distillation is eq. 6: one pi0 per agent, uniform where unvisited.",
    )


def check_pooled_distill(fn) -> bool:
    """Check ``fn(counts)``: pooled distillation, eq. 8, one shared policy for both agents (V2).

    Write ``pooled_distill(counts)`` returning pi0 of shape (n_observations, n_actions): the
    counts (as for :func:`check_distill`, shape (n_tasks, 2, n_observations, n_actions)) summed
    over tasks and both agents, normalised over the actions; a row with no visits is uniform.
    The oracle is :func:`mdlib.learners.distill` with ``version="v2"``.
    """
    _require_function("check_pooled_distill", fn)
    return _run(
        "check_pooled_distill",
        "pooled_distill",
        fn,
        _distill_cases(pooled=True),
        "Your distillation is eq. 8: both agents pooled, uniform where unvisited.",
    )


# Chapters 3 and 4: the learners' targets ---------------------------------------------------------


def _target_oracle(reward, arrived, next_q, gamma, soft=None):
    """The target the book's compiled loop moves Q(o, a) to: :func:`mdlib.learners.episodes.update`
    with step size 1 on a table whose entry starts at 0, so the entry becomes the target."""
    from .learners import episodes

    next_q = np.asarray(next_q, float)
    q = np.zeros((1, 2, len(next_q)))
    q[0, 1] = next_q
    if soft is None:
        learning_rule = episodes.learning_rule(episodes.EPSILON_GREEDY, learn=True, learning_rate=1.0, gamma=gamma)
        log_pi0 = np.zeros((1, 2, len(next_q)))
    else:
        next_pi0, alpha, beta = soft
        learning_rule = episodes.learning_rule(
            episodes.SOFT, learn=True, learning_rate=1.0, gamma=gamma, alpha=alpha, beta=beta
        )
        log_pi0 = np.zeros((1, 2, len(next_q)))
        log_pi0[0, 1] = np.log(next_pi0)
    episodes.update(learning_rule.mode, learning_rule, q[0], log_pi0[0], 0, 0, float(reward), bool(arrived), 1)
    return float(q[0, 0, 0])


def _q_target_cases() -> Iterator[Case]:
    names = ("reward", "arrived", "next_q", "gamma")

    def case(about, hint, reward, arrived, next_q, gamma):
        next_q = np.array(next_q, float)
        return Case(
            about,
            names,
            (float(reward), bool(arrived), next_q, float(gamma)),
            _target_oracle(reward, arrived, next_q, gamma),
            hint,
            _close(1e-12, 1e-12),
        )

    yield case(
        "an ordinary step: -0.1 plus the discounted best value of the next observation",
        "y = r + gamma max_a' Q(o', a') when the step did not bring the agent onto its goal.",
        game.STEP_REWARD,
        False,
        [1.0, 2.0, 3.0, 0.0, -1.0],
        0.9,
    )
    yield case(
        "the step that brings the agent onto its goal",
        "No bootstrap past arrival: on the step that reaches the goal the target is the reward alone, "
        "y = r. Nothing more happens to a done agent, so Q(o', .) must not count, whatever it holds.",
        game.GOAL_REWARD,
        True,
        [3.0, 5.0, 1.0, 0.0, 2.0],
        0.9,
    )
    yield case(
        "every value of the next observation is negative",
        "max_a' Q(o', a') of a row of negative numbers is negative: do not start the maximum at 0.",
        game.STEP_REWARD,
        False,
        [-3.0, -2.0, -5.0, -4.0, -2.5],
        0.9,
    )
    yield case(
        "arrival, at gamma = 0.99",
        "On arrival y = r whatever gamma is.",
        game.GOAL_REWARD,
        True,
        [90.0, 91.0, 89.0, 90.5, 88.0],
        0.99,
    )
    rng = _rng("check_q_target")
    for k in range(40):
        arrived = bool(rng.random() < 0.3)
        gamma = float(rng.choice([0.9, 0.99, rng.uniform(0.5, 1.0)]))
        yield case(
            f"random case {k + 1}: {'arrival' if arrived else 'an ordinary step'}, gamma = {gamma:.3g}",
            "y = r on arrival, r + gamma max_a' Q(o', a') otherwise.",
            game.GOAL_REWARD if arrived else game.STEP_REWARD,
            arrived,
            rng.normal(scale=[1.0, 50.0][int(rng.integers(2))], size=5),
            gamma,
        )


def check_q_target(fn) -> bool:
    """Check ``fn(reward, arrived, next_q, gamma)``: the Q-learning target of one step.

    Write ``q_target(reward, arrived, next_q, gamma)`` returning the number ``y`` that Q(o, a)
    moves towards after one step of chapter 3's algorithm:

    * ``reward``: the agent's reward of this step (-0.1, or +100 on arriving);
    * ``arrived``: True when this step brought the agent onto its goal;
    * ``next_q``: (n_actions,) the agent's Q values at its next observation, Q(o', .);
    * ``gamma``: the discount.

    ``y = r + gamma max_a' Q(o', a')``, except on arrival: no bootstrap past the agent's own
    arrival, ``y = r``. The oracle is the book's compiled update,
    :func:`mdlib.learners.episodes.update`, with step size 1.
    """
    _require_function("check_q_target", fn)
    return _run(
        "check_q_target",
        "q_target",
        fn,
        _q_target_cases(),
        "Your target is the learners': r + gamma max Q(o'), and r alone on arrival.",
    )


def _soft_target_cases() -> Iterator[Case]:
    names = ("reward", "arrived", "next_q", "next_pi0", "alpha", "beta", "gamma")
    uniform = np.full(5, 0.2)

    def case(about, hint, reward, arrived, next_q, next_pi0, alpha, beta, gamma):
        next_q, next_pi0 = np.array(next_q, float), np.array(next_pi0, float)
        args = (float(reward), bool(arrived), next_q, next_pi0, float(alpha), float(beta), float(gamma))
        expected = _target_oracle(reward, arrived, next_q, gamma, soft=(next_pi0, alpha, beta))
        return Case(about, names, args, expected, hint, _close(1e-9, 1e-9))

    yield case(
        "an ordinary step, equal Q under a uniform prior: V(o') = Q + (1 - alpha)/beta log 5",
        "Eq. 4 with eq. 3: y = r + gamma V(o'), V(o') = (1/beta) log sum_a pi0(a|o')^alpha e^(beta Q(o', a)).",
        game.STEP_REWARD,
        False,
        [2.0] * 5,
        uniform,
        0.7,
        0.5,
        0.99,
    )
    yield case(
        "the step that brings the agent onto its goal",
        "No bootstrap past arrival: y = r alone on the step that reaches the goal (V = 0 once arrived).",
        game.GOAL_REWARD,
        True,
        [3.0, 5.0, 1.0, 0.0, 2.0],
        uniform,
        0.7,
        0.5,
        0.99,
    )
    yield case(
        "a soft value, not a maximum: beta = 0.5 and a non-uniform prior",
        "The soft target uses V(o') of eq. 3 (with the prior and beta), not max_a Q(o', a).",
        game.STEP_REWARD,
        False,
        [1.0, 2.0, 3.0, 0.0, -1.0],
        [0.4, 0.3, 0.1, 0.1, 0.1],
        0.7,
        0.5,
        0.99,
    )
    yield case(
        "beta = 100 and Q values near 90: exp(beta Q) overflows",
        "Use a numerically stable soft value (log-sum-exp), as in chapter 2's exercise.",
        game.STEP_REWARD,
        False,
        [90.0, 91.0, 89.0, 90.5, 88.0],
        uniform,
        0.8,
        100.0,
        0.99,
    )
    rng = _rng("check_soft_q_target")
    for k in range(40):
        arrived = bool(rng.random() < 0.3)
        alpha, beta = float(rng.uniform()), float(10 ** rng.uniform(-1, 2))
        prior = 0.9 * rng.dirichlet(np.ones(5)) + 0.02
        yield case(
            f"random case {k + 1}: {'arrival' if arrived else 'an ordinary step'}, alpha = {alpha:.3g}, "
            f"beta = {beta:.3g}",
            "y = r on arrival, r + gamma V(o') with V from eq. 3 otherwise.",
            game.GOAL_REWARD if arrived else game.STEP_REWARD,
            arrived,
            rng.normal(scale=[1.0, 50.0][int(rng.integers(2))], size=5),
            prior,
            alpha,
            beta,
            float(rng.choice([0.9, 0.99])),
        )


def check_soft_q_target(fn) -> bool:
    """Check ``fn(reward, arrived, next_q, next_pi0, alpha, beta, gamma)``: the soft-Q target (eq. 4).

    Write ``soft_q_target(reward, arrived, next_q, next_pi0, alpha, beta, gamma)`` returning the
    number that MultiDistral's E-step moves Q(o, a) towards: ``y = r + gamma V(o')`` (eq. 4) with
    ``V(o')`` the soft value of eq. 3 of the next observation's row ``next_q`` (n_actions,) under
    its prior row ``next_pi0`` (n_actions,), and ``y = r`` on the step that brings the agent onto
    its goal (no bootstrap past arrival). The oracle is the book's compiled update,
    :func:`mdlib.learners.episodes.update` in soft mode, with step size 1.
    """
    _require_function("check_soft_q_target", fn)
    return _run(
        "check_soft_q_target",
        "soft_q_target",
        fn,
        _soft_target_cases(),
        "Your target is the E-step's: r + gamma V(o') by eq. 3, and r alone on arrival.",
    )


# Chapter 4 and the exact alternation: occupancies and the M-step ---------------------------------


def _propagate(transitions, policy, start, gamma, max_steps):
    """The discounted occupancy, written out: mu_t(s) is the probability of being in s, not yet
    arrived, at step t; the occupancy adds gamma^t mu_t(s) pi(a|s)."""
    transitions, policy = np.asarray(transitions, float), np.asarray(policy, float)
    mu = np.zeros(len(policy))
    mu[start] = 1.0
    occupancy = np.zeros(policy.shape)
    for t in range(max_steps):
        joint = mu[:, None] * policy
        occupancy += gamma**t * joint
        mu = np.einsum("sa,sat->t", joint, transitions)
    return occupancy


def _occupancy_cases() -> Iterator[Case]:
    from .exact_distral import lone_occupancy
    from .solver import lone_mdp, lone_soft_optimum

    names = ("transitions", "policy", "start", "gamma", "max_steps")

    def case(about, hint, transitions, policy, start, gamma, max_steps, expected=None, shown=None):
        transitions, policy = np.array(transitions, float), np.array(policy, float)
        if expected is None:
            expected = _propagate(transitions, policy, start, gamma, max_steps)
        args = (transitions, policy, int(start), float(gamma), int(max_steps))
        return Case(about, names, args, expected, hint, _close(1e-9, 1e-12), shown or {})

    def on_map(about, hint, task, agent, policy, gamma, max_steps, policy_shown):
        mdp = lone_mdp(task, agent)
        expected = lone_occupancy(task, agent, policy, gamma, max_steps)[0]
        shown = {
            "transitions": f"lone_mdp({task!r}, {agent}).transitions, shape {mdp.transitions.shape}",
            "policy": policy_shown,
            "start": f"{mdp.start} (lone_mdp({task!r}, {agent}).start)",
        }
        return case(about, hint, mdp.transitions, policy, mdp.start, gamma, max_steps, expected, shown)

    chain = np.zeros((2, 2, 2))
    chain[0, 0, 1] = 1.0  # state 0, action 0: to state 1
    chain[0, 1, 0] = 1.0  # state 0, action 1: stay
    chain[1, 1, 1] = 1.0  # state 1, action 0 arrives (its row is all zeros); action 1 stays
    yield case(
        "a two-state chain: state 0 moves on to state 1, which arrives on the next step",
        "Count gamma^t P(s_t = s, a_t = a) from t = 0 (gamma^0 = 1 at the start). A transition row that "
        "sums to less than 1 ends the episode with the missing probability: nothing is counted after "
        "arrival.",
        chain,
        [[1.0, 0.0], [1.0, 0.0]],
        0,
        0.9,
        10,
    )
    yield case(
        "max_steps = 1: only the first step counts",
        "max_steps steps are counted, t = 0 .. max_steps - 1.",
        chain,
        [[1.0, 0.0], [1.0, 0.0]],
        0,
        0.9,
        1,
    )
    yield case(
        "the same chain with a policy that hesitates",
        "Weight each state's probability by the policy: d(s, a) = sum_t gamma^t P(s_t = s) pi(a|s).",
        chain,
        [[0.5, 0.5], [0.25, 0.75]],
        0,
        0.9,
        10,
    )
    stay = np.zeros((load_task("task1").n_cells, game.N_ACTIONS))
    stay[:, 0] = 1.0
    yield on_map(
        "an agent that always stays on its start and never arrives (task 1, agent 1, 200 steps)",
        "It sits on its start for all 200 steps: d(start, stay) = sum_{t=0}^{199} gamma^t = "
        "(1 - gamma^200) / (1 - gamma). Count exactly max_steps steps, from gamma^0.",
        "task1",
        0,
        stay,
        0.99,
        200,
        "always 'stay' (column 0 is 1)",
    )
    yield on_map(
        "a uniform random walk alone on task 1 (agent 2, 200 steps)",
        "Propagate the state distribution: mu_{t+1}(s') = sum_{s,a} mu_t(s) pi(a|s) P(s'|s, a).",
        "task1",
        1,
        np.full(stay.shape, 0.2),
        0.99,
        200,
        "uniform (0.2 everywhere)",
    )
    soft = lone_soft_optimum("task4", 0, 0.7, 5.0, 0.99).policy
    yield on_map(
        "the exact Distral policy alone on task 4 (agent 1, alpha 0.7, beta 5): it arrives",
        "After arriving, the agent's probability leaves the distribution (its transition row is 0): "
        "nothing is counted after arrival.",
        "task4",
        0,
        soft,
        0.99,
        200,
        "lone_soft_optimum('task4', 0, 0.7, 5.0).policy",
    )

    rng = _rng("check_discounted_occupancy")
    for k in range(30):
        n_states, n_actions = int(rng.integers(2, 7)), int(rng.integers(2, 6))
        transitions = rng.dirichlet(np.ones(n_states), size=(n_states, n_actions))
        transitions *= np.where(rng.random((n_states, n_actions, 1)) < 0.2, rng.random((n_states, n_actions, 1)), 1.0)
        policy = rng.dirichlet(np.ones(n_actions), size=n_states)
        gamma, max_steps = float(rng.uniform(0.5, 0.999)), int(rng.integers(1, 60))
        yield case(
            f"random case {k + 1}: {n_states} states, {n_actions} actions, gamma = {gamma:.3g}, {max_steps} steps",
            "d(s, a) = sum_{t < max_steps} gamma^t mu_t(s) pi(a|s), mu_0 one-hot on start, "
            "mu_{t+1}(s') = sum_{s,a} mu_t(s) pi(a|s) transitions[s, a, s'].",
            transitions,
            policy,
            int(rng.integers(n_states)),
            gamma,
            max_steps,
        )


def check_discounted_occupancy(fn) -> bool:
    """Check ``fn(transitions, policy, start, gamma, max_steps)``: a policy's discounted occupancy.

    Write ``discounted_occupancy(transitions, policy, start, gamma, max_steps)`` returning
    ``d(s, a) = sum_{t=0}^{max_steps-1} gamma^t P(s_t = s, a_t = a, not yet arrived)``, shape
    (n_states, n_actions): the M-step's discounted visit counts, computed exactly.

    * ``transitions``: (n_states, n_actions, n_states), ``[s, a]`` the distribution of the next
      state; a row summing to less than 1 ends the episode with the rest (the agent arrived);
      :func:`mdlib.solver.lone_mdp` gives one agent's, alone on a map;
    * ``policy``: (n_states, n_actions), each row a distribution; ``start``: the first state;
    * ``gamma``: the discount; ``max_steps``: the episode's cap (200 in the game).

    The oracles are :func:`mdlib.exact_distral.lone_occupancy` on the book's maps and a plain
    propagation of the state distribution on small random problems.
    """
    _require_function("check_discounted_occupancy", fn)
    return _run(
        "check_discounted_occupancy",
        "discounted_occupancy",
        fn,
        _occupancy_cases(),
        "Your occupancy is the exact discounted count of the M-step.",
    )


def _m_step_cases() -> Iterator[Case]:
    from .exact_distral import lone_occupancy, solve_distral
    from .learners import distill

    names = ("tasks", "policies", "gamma", "max_steps", "version")

    def solved(about, hint, task_names, alpha, beta, version, max_steps=200, gamma=0.99):
        solution = solve_distral(task_names, alpha, beta, gamma, iterations=1, version=version, max_steps=max_steps)
        tasks = tuple(load_task(name) for name in task_names)
        shown = {
            "policies": f"the exact E-step policies, solve_distral({task_names!r}, alpha={alpha}, beta={beta}, "
            f"iterations=1, version={version!r}).policies, shape {solution.policies.shape}"
        }
        return Case(
            about,
            names,
            (tasks, solution.policies.copy(), float(gamma), int(max_steps), version),
            solution.pi0,
            hint,
            _distribution(1e-8, 1e-10),
            shown,
        )

    def given(about, hint, task_names, policies, version, max_steps, gamma, policies_shown):
        tasks = tuple(load_task(name) for name in task_names)
        counts = np.array(
            [
                [lone_occupancy(task, j, policies[i, j], gamma, max_steps)[0] for j in (0, 1)]
                for i, task in enumerate(tasks)
            ]
        )
        expected = distill(counts.sum(axis=0), version)
        return Case(
            about,
            names,
            (tasks, policies, float(gamma), int(max_steps), version),
            expected,
            hint,
            _distribution(1e-8, 1e-10),
            {"policies": policies_shown},
        )

    n_cells = load_task("task1").n_cells
    down = np.zeros((1, 2, n_cells, game.N_ACTIONS))
    down[..., 1] = 1.0
    yield given(
        "one task, both agents always step down, 3 steps, V1",
        "For each task i and agent j: the occupancy of policies[i, j] in lone_mdp(tasks[i], j) from its "
        "start; then eq. 6 per agent. Cells never visited get the uniform policy.",
        ("task1",),
        down,
        "v1",
        3,
        0.99,
        "always 'down' (column 1 is 1), shape (1, 2, 23, 5)",
    )
    yield solved(
        "the first M-step of the exact alternation on task 1, V1 (alpha 0.7, beta 5)",
        "Occupancy over the full 200 steps with gamma^t, then eq. 6: agent j's pi0 from agent j's counts.",
        ("task1",),
        0.7,
        5.0,
        "v1",
    )
    yield solved(
        "the same, V2: one pooled pi0 stored for both agents",
        "V2 pools both agents' occupancies (eq. 8) and returns that one table twice, pi0[0] == pi0[1], "
        "as solve_distral does.",
        ("task1",),
        0.7,
        5.0,
        "v2",
    )
    yield solved(
        "two tasks with different goals, V1 (alpha 0.8, beta 5): sum the occupancies over the tasks",
        "Eq. 6 adds each agent's occupancies of all tasks before normalising.",
        ("task1", "task2"),
        0.8,
        5.0,
        "v1",
    )
    yield solved(
        "the five maps at the report's setting (alpha 0.7, beta 0.5), V2",
        "Sum over tasks and both agents, normalise each cell's row, uniform where never visited.",
        ("task1", "task2", "task3", "task4", "task5"),
        0.7,
        0.5,
        "v2",
    )
    rng = _rng("check_exact_m_step")
    for k in range(4):
        chosen = tuple(
            str(t)
            for t in rng.choice(
                ["task1", "task2", "task3", "task4", "task5"], size=int(rng.integers(1, 4)), replace=False
            )
        )
        policies = rng.dirichlet(np.ones(game.N_ACTIONS), size=(len(chosen), 2, n_cells))
        version = ("v1", "v2")[k % 2]
        steps = int(rng.integers(5, 200))
        yield given(
            f"random case {k + 1}: random policies on {', '.join(chosen)}, {version}, {steps} steps",
            "Occupancy of each (task, agent) alone, summed over tasks; V1 per agent, V2 pooled and stored twice.",
            chosen,
            policies,
            version,
            steps,
            0.99,
            f"random distributions, shape {policies.shape}",
        )


def check_exact_m_step(fn) -> bool:
    """Check ``fn(tasks, policies, gamma, max_steps, version)``: one exact M-step of Distral.

    Write ``exact_m_step(tasks, policies, gamma, max_steps, version)`` returning the next prior
    pi0, shape (2, n_cells, n_actions), as :func:`mdlib.solve_distral` (``players="alone"``)
    computes it from the task policies of an E-step:

    * ``tasks``: a tuple of :class:`mdlib.Task`; ``policies``: (n_tasks, 2, n_cells, n_actions),
      ``[i, j]`` agent j's policy alone on ``tasks[i]``, over its free cells;
    * for every task and agent, the exact discounted occupancy of that policy in
      ``mdlib.solver.lone_mdp(tasks[i], j)`` from its start over ``max_steps`` steps (your
      ``discounted_occupancy``), summed over the tasks;
    * ``version="v1"``: eq. 6 per agent; ``"v2"``: eq. 8, the pooled table stored for both agents.

    The oracle is :func:`mdlib.solve_distral` with one iteration (and
    :func:`mdlib.exact_distral.lone_occupancy` with :func:`mdlib.learners.distill` for random
    policies).
    """
    _require_function("check_exact_m_step", fn)
    return _run(
        "check_exact_m_step", "exact_m_step", fn, _m_step_cases(), "Your M-step is the exact alternation's, V1 and V2."
    )


# Chapters 5, 6 and the transfer chapter: comparing two variants seed by seed --------------------


def _paired_oracle(a, b):
    from scipy import stats

    d = np.asarray(a, float) - np.asarray(b, float)
    mean = float(d.mean())
    if np.all(d == d[0]):
        return np.array([mean, mean, mean])
    low, high = stats.t.interval(0.95, len(d) - 1, loc=mean, scale=stats.sem(d))
    return np.array([mean, low, high])


def _paired_mistakes(a, b) -> dict[str, np.ndarray]:
    """What the usual wrong answers give for these seeds, to name the mistake in the report."""
    from scipy import stats

    a, b = np.asarray(a, float), np.asarray(b, float)
    d, n = a - b, len(a)
    mean, s = d.mean(), d.std(ddof=1)
    t = stats.t.ppf(0.975, n - 1)
    var_a, var_b = a.var(ddof=1) / n, b.var(ddof=1) / n
    se = np.sqrt(var_a + var_b)
    dof = se**4 / (var_a**2 / (n - 1) + var_b**2 / (n - 1)) if se > 0 else 1.0
    welch = stats.t.ppf(0.975, dof) * se
    return {
        "the normal interval (1.96 instead of Student's t with n - 1 degrees of freedom)": np.array(
            [mean, mean - 1.96 * s / np.sqrt(n), mean + 1.96 * s / np.sqrt(n)]
        ),
        "the interval with the standard deviation divided by n (ddof=0) instead of n - 1 (ddof=1)": np.array(
            [mean, mean - t * d.std() / np.sqrt(n), mean + t * d.std() / np.sqrt(n)]
        ),
        "an unpaired (Welch) interval of the two means: pair the seeds instead": np.array(
            [mean, mean - welch, mean + welch]
        ),
        "a 90% interval (t.ppf(0.95)) instead of 95% (t.ppf(0.975))": np.array(
            [mean, mean - stats.t.ppf(0.95, n - 1) * s / np.sqrt(n), mean + stats.t.ppf(0.95, n - 1) * s / np.sqrt(n)]
        ),
        "the interval of b - a: the differences are a - b": -np.array(
            [mean, mean + t * s / np.sqrt(n), mean - t * s / np.sqrt(n)]
        ),
    }


def _paired_compare(a, b):
    close = _close(1e-9, 1e-12)

    def compare(got, expected) -> str | None:
        problem = close(got, expected)
        numbers = _as_numbers(got)
        if problem is None or isinstance(numbers, str) or numbers.shape != (3,) or len(a) < 2:
            return problem
        for mistake, value in _paired_mistakes(a, b).items():
            if np.allclose(numbers, value, rtol=1e-7, atol=1e-9):
                return f"{problem}. Your numbers are {mistake}."
        return problem

    return compare


def _paired_cases() -> Iterator[Case]:
    names = ("a", "b")

    def case(about, hint, a, b, expected=None):
        return Case(
            about, names, (a, b), _paired_oracle(a, b) if expected is None else expected, hint, _paired_compare(a, b)
        )

    rng = _rng("check_paired_interval")
    base = rng.normal(60.0, 8.0, size=5)
    yield case(
        "five seeds: Student's t, not the normal 1.96",
        "The 95% interval is mean +- t * s / sqrt(n), with t = scipy.stats.t.ppf(0.975, n - 1) (2.78 for 5 "
        "seeds), s the standard deviation of the differences with ddof=1.",
        base + rng.normal(1.0, 1.0, size=5),
        base,
    )
    shared = rng.normal(50.0, 10.0, size=8)
    yield case(
        "eight seeds whose runs share most of their noise: pair them",
        "Pair the seeds: take the differences a[k] - b[k] seed by seed, then the interval of their mean. "
        "Two separate means (an unpaired or Welch interval) keep the noise the seeds share.",
        shared + 0.5 + rng.normal(0.0, 0.3, size=8),
        shared,
    )
    yield case(
        "two seeds, the fewest that give an interval",
        "With n = 2 there is 1 degree of freedom: t = 12.71.",
        [61.0, 58.5],
        [60.0, 59.0],
    )
    yield case(
        "every seed gives the same difference (V1 and V2 before the first distillation)",
        "When all differences are equal the spread is 0 and the interval is the point (mean, mean, mean). "
        "scipy.stats.t.interval returns nan for a scale of 0: handle that case.",
        [71.0, 65.5, 80.25, 70.0],
        [70.0, 64.5, 79.25, 69.0],
    )
    yield case(
        "plain lists of numbers",
        "Accept any sequence of numbers: convert with np.asarray(a, float).",
        [1.0, 2.0, 4.0, 3.5, 2.5, 3.0],
        [0.5, 2.5, 3.0, 3.0, 1.0, 2.0],
    )
    yield case(
        "seeds that do not match: 4 numbers against 5",
        "a and b hold one number per seed, for the same "
        "seeds in the same order: raise ValueError when their lengths differ.",
        [1.0, 2.0, 3.0, 4.0],
        [1.0, 2.0, 3.0, 4.0, 5.0],
        Raises(ValueError),
    )
    yield case(
        "one seed: no interval",
        "An interval needs at least two seeds: raise ValueError for fewer.",
        [3.0],
        [2.0],
        Raises(ValueError),
    )
    for k in range(30):
        n = int(rng.integers(2, 31))
        b = rng.normal(50.0, 15.0, size=n)
        yield case(
            f"random case {k + 1}: {n} seeds",
            "(mean, mean - t s / sqrt(n), mean + t s / sqrt(n)) of d = a - b, t = t.ppf(0.975, n - 1), "
            "s = d.std(ddof=1).",
            b + rng.normal(rng.normal(0, 3), rng.uniform(0.5, 10), size=n),
            b,
        )


def check_paired_interval(fn) -> bool:
    """Check ``fn(a, b)``: the mean difference of two variants run on the same seeds, with its
    seed-paired Student-t 95% interval.

    Write ``paired_interval(a, b)`` returning ``(mean, low, high)`` for the differences
    ``d = a - b``, seed by seed: ``mean +- t s / sqrt(n)`` with ``t = scipy.stats.t.ppf(0.975, n - 1)``
    and ``s`` the standard deviation of d (``ddof=1``); ``(mean, mean, mean)`` when all
    differences are equal.

    * ``a``, ``b``: one number per seed (sequences of the same length, same seed order);
    * raise ``ValueError`` when their lengths differ or there are fewer than two seeds.

    The oracle is :func:`scipy.stats.t.interval`.
    """
    _require_function("check_paired_interval", fn)
    return _run(
        "check_paired_interval",
        "paired_interval",
        fn,
        _paired_cases(),
        "Your interval is the seed-paired Student-t 95% interval.",
    )


#: Every check, by the name of the function the reader writes.
CHECKS = {
    "corridor_step": check_corridor_step,
    "observation_index": check_observation_index,
    "soft_value": check_soft_value,
    "distral_policy": check_distral_policy,
    "distill": check_distill,
    "pooled_distill": check_pooled_distill,
    "q_target": check_q_target,
    "soft_q_target": check_soft_q_target,
    "discounted_occupancy": check_discounted_occupancy,
    "paired_interval": check_paired_interval,
    "exact_m_step": check_exact_m_step,
}
