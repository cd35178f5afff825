"""The coding exercises' checks (mdlib.exercises), as specifications.

For every check this file keeps a reference solution, written plainly with numpy as a reader
would write it, and the stub a student notebook hands out. The tests say: every reference passes
its check with one line; every stub is "not implemented yet" and never an error; typical wrong
solutions fail on the case that exposes them, with the inputs, the expected answer, what came
back and a hint that names the mistake. The oracles behind the checks are tested against mdlib
too.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mdlib import exercises, game, load_task
from mdlib.exact_distral import lone_occupancy
from mdlib.learners import distill as mdlib_distill
from mdlib.learners import soft_value as mdlib_soft_value
from mdlib.solver import lone_mdp

# Reference solutions ----------------------------------------------------------------------------

MOVES = [(0, 0), (1, 0), (-1, 0), (0, -1), (0, 1)]  # stay, down, up, left, right


def corridor_step(walls, positions, done, actions, contention="reference"):
    """Chapter 1's rules for one step of both agents' cells."""
    here = [tuple(int(x) for x in p) for p in positions]
    aims = []
    for agent in (0, 1):
        row, col = here[agent]
        if not done[agent]:
            d_row, d_col = MOVES[actions[agent]]
            row, col = row + d_row, col + d_col
        on_map = 0 <= row < walls.shape[0] and 0 <= col < walls.shape[1]
        aims.append((row, col) if on_map and not walls[row, col] else here[agent])
    contested = aims[0] == aims[1]
    new = list(aims)
    if contested or aims[0] == here[1]:  # agent 1 never wins a contested cell, never follows
        new[0] = here[0]
    if aims[1] == here[0] or (contested and contention == "both_blocked"):
        new[1] = here[1]
    return np.array(new)


def observation_index(task, positions, previous_actions, done, agent, order="egocentric"):
    """Chapter 1's table row: (((c1 n + c2) 5 + a) 5 + b) 2 + d."""
    other = 1 - agent
    first, second = (agent, other) if order == "egocentric" else (0, 1)
    cells = [task.cell_index[positions[j][0], positions[j][1]] for j in (first, second)]
    index = cells[0] * task.n_cells + cells[1]
    index = index * 5 + previous_actions[agent]
    index = index * 5 + previous_actions[other]
    return int(index * 2 + int(done[other]))


def _log_weight(pi0, alpha):
    """alpha log pi0, exactly: -inf where pi0 = 0 (alpha > 0), and pi0^0 = 1."""
    if alpha == 0:
        return np.zeros_like(pi0)
    with np.errstate(divide="ignore"):
        return alpha * np.log(pi0)


def soft_value(q, pi0, alpha, beta):
    """Eq. 3 by log-sum-exp along the last axis."""
    q, pi0 = np.asarray(q, float), np.asarray(pi0, float)
    logits = _log_weight(pi0, alpha) + beta * q
    top = logits.max(axis=-1, keepdims=True)
    return (top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))) / beta


def distral_policy(q, pi0, alpha, beta):
    """Eq. 5, pi0^alpha exp(beta (Q - V)), with V from a stable eq. 3."""
    q, pi0 = np.asarray(q, float), np.asarray(pi0, float)
    v = soft_value(q, pi0, alpha, beta)
    return np.exp(_log_weight(pi0, alpha) + beta * (q - v[..., None]))


def _normalise(counts):
    totals = counts.sum(axis=-1, keepdims=True)
    safe = np.where(totals > 0, totals, 1.0)
    return np.where(totals > 0, counts / safe, 1.0 / counts.shape[-1])


def distill(counts):
    """Eq. 6: each agent's counts summed over tasks, normalised; uniform where unvisited."""
    return _normalise(np.asarray(counts, float).sum(axis=0))


def pooled_distill(counts):
    """Eq. 8: counts summed over tasks and both agents, normalised; uniform where unvisited."""
    return _normalise(np.asarray(counts, float).sum(axis=(0, 1)))


def q_target(reward, arrived, next_q, gamma):
    """Chapter 3: r + gamma max Q(o'), and r alone on arrival."""
    return reward if arrived else reward + gamma * np.max(next_q)


def soft_q_target(reward, arrived, next_q, next_pi0, alpha, beta, gamma):
    """Eq. 4 with eq. 3, and r alone on arrival."""
    return reward if arrived else reward + gamma * soft_value(next_q, next_pi0, alpha, beta)


def discounted_occupancy(transitions, policy, start, gamma, max_steps):
    """sum_t gamma^t P(s_t = s, a_t = a, not arrived), propagated exactly."""
    mu = np.zeros(len(policy))
    mu[start] = 1.0
    occupancy = np.zeros_like(policy, dtype=float)
    for t in range(max_steps):
        visits = mu[:, None] * policy
        occupancy += gamma**t * visits
        mu = np.einsum("sa,sat->t", visits, transitions)
    return occupancy


def paired_interval(a, b):
    """Mean of a - b, seed by seed, with its Student-t 95% interval."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) != len(b):
        raise ValueError(f"a has {len(a)} seeds and b {len(b)}: pair them seed by seed")
    if len(a) < 2:
        raise ValueError("an interval needs at least two seeds")
    d = a - b
    mean = d.mean()
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return mean, mean - half, mean + half


def exact_m_step(tasks, policies, gamma=0.99, max_steps=200, version="v1"):
    """The exact alternation's M-step: lone occupancies, summed over tasks, then eq. 6 or eq. 8."""
    counts = np.zeros(policies.shape)
    for i, task in enumerate(tasks):
        for j in (0, 1):
            mdp = lone_mdp(task, j)
            counts[i, j] = discounted_occupancy(mdp.transitions, policies[i, j], mdp.start, gamma, max_steps)
    if version == "v1":
        return distill(counts)
    shared = pooled_distill(counts)
    return np.stack([shared, shared])


REFERENCES = {
    "corridor_step": corridor_step,
    "observation_index": observation_index,
    "soft_value": soft_value,
    "distral_policy": distral_policy,
    "distill": distill,
    "pooled_distill": pooled_distill,
    "q_target": q_target,
    "soft_q_target": soft_q_target,
    "discounted_occupancy": discounted_occupancy,
    "paired_interval": paired_interval,
    "exact_m_step": exact_m_step,
}


# Stubs, as the student notebooks hand them out ---------------------------------------------------


def stub_raising(*args):
    """The stub of every coding exercise: the reader replaces the body."""
    raise NotImplementedError("write this function")


def stub_ellipsis(*args): ...


def stub_returning_ellipsis(*args):
    return ...


STUBS = (stub_raising, stub_ellipsis, stub_returning_ellipsis)


def run(check, fn, capsys):
    """Run a check; return its result and what it printed."""
    result = check(fn)
    return result, capsys.readouterr().out


# Every reference passes, every stub is "not implemented yet" --------------------------------------


def test_every_check_has_a_reference_solution_here():
    assert set(REFERENCES) == set(exercises.CHECKS)
    assert {f"check_{name}" for name in exercises.CHECKS} <= set(exercises.__all__)


@pytest.mark.parametrize("name", sorted(exercises.CHECKS))
def test_the_reference_solution_passes_with_one_line(name, capsys):
    passed, out = run(exercises.CHECKS[name], REFERENCES[name], capsys)
    assert passed is True, out
    assert out.count("\n") == 1 and out.startswith(f"check_{name}: all ") and " cases pass." in out


def named(function, name):
    """``function`` under the name a notebook gives it."""
    function.__name__ = name
    return function


@pytest.mark.parametrize("stub", STUBS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("name", sorted(exercises.CHECKS))
def test_a_stub_is_not_implemented_yet_and_never_an_error(name, stub, capsys):
    passed, out = run(exercises.CHECKS[name], named(lambda *args: stub(*args), name), capsys)
    assert passed is False
    assert out.startswith(f"check_{name}: not implemented yet ({name} ") and out.count("\n") == 1, out


@pytest.mark.parametrize("name", sorted(exercises.CHECKS))
def test_every_check_says_what_to_write(name):
    doc = exercises.CHECKS[name].__doc__
    assert f"Write ``{name}(" in doc and "oracle" in doc


# Typical wrong solutions fail where they go wrong, and say why -----------------------------------


def corridor_ignoring_the_rule(walls, positions, done, actions, contention="reference"):
    return corridor_step(walls, positions, done, actions, "reference")


def corridor_allowing_swaps(walls, positions, done, actions, contention="reference"):
    """Only a contested cell blocks: agents may swap places and follow each other."""
    here = [tuple(int(x) for x in p) for p in positions]
    aims = []
    for agent in (0, 1):
        row, col = here[agent]
        if not done[agent]:
            row, col = row + MOVES[actions[agent]][0], col + MOVES[actions[agent]][1]
        on_map = 0 <= row < walls.shape[0] and 0 <= col < walls.shape[1]
        aims.append((row, col) if on_map and not walls[row, col] else here[agent])
    if aims[0] == aims[1]:
        aims = [here[0], here[1] if contention == "both_blocked" else aims[1]]
    return np.array(aims)


def observation_index_by_grid(task, positions, previous_actions, done, agent, order="egocentric"):
    """Numbers cells row * columns + column instead of the free-cell numbering."""
    other = 1 - agent
    first, second = (agent, other) if order == "egocentric" else (0, 1)
    cols = task.walls.shape[1]
    cells = [positions[j][0] * cols + positions[j][1] for j in (first, second)]
    index = (cells[0] * task.n_cells + cells[1]) * 5 + previous_actions[agent]
    return int((index * 5 + previous_actions[other]) * 2 + int(done[other]))


def observation_index_swapping_actions(task, positions, previous_actions, done, agent, order="egocentric"):
    """In absolute order also puts agent 1's previous action first."""
    if order == "egocentric":
        return observation_index(task, positions, previous_actions, done, agent, order)
    cells = [task.cell_index[positions[j][0], positions[j][1]] for j in (0, 1)]
    index = (cells[0] * task.n_cells + cells[1]) * 5 + previous_actions[0]
    return int((index * 5 + previous_actions[1]) * 2 + int(done[1 - agent]))


def soft_value_naive(q, pi0, alpha, beta):
    """Eq. 3 typed as written: overflows at beta = 100."""
    return np.log((np.asarray(pi0) ** alpha * np.exp(beta * np.asarray(q))).sum(axis=-1)) / beta


def soft_value_with_log(q, pi0, alpha, beta):
    """Stable, but alpha * log(pi0) is nan where alpha = 0 and pi0 = 0."""
    logits = alpha * np.log(np.asarray(pi0)) + beta * np.asarray(q)
    top = logits.max(axis=-1, keepdims=True)
    return (top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))) / beta


def soft_value_floored(q, pi0, alpha, beta):
    """mdlib's learners floor pi0 at 1e-4; the exercise asks for eq. 3 exactly."""
    return mdlib_soft_value(q, pi0, alpha, beta)


def soft_value_whole_table(q, pi0, alpha, beta):
    """Sums over every axis: one number for a whole table."""
    logits = _log_weight(np.asarray(pi0, float), alpha) + beta * np.asarray(q, float)
    top = logits.max()
    return (top + np.log(np.exp(logits - top).sum())) / beta


def distral_policy_without_prior(q, pi0, alpha, beta):
    """Forgets pi0^alpha: the soft-max of beta Q."""
    return distral_policy(q, np.ones_like(np.asarray(pi0, float)) / np.shape(pi0)[-1], 0.0, beta)


def distral_policy_normalised_over_states(q, pi0, alpha, beta):
    """Stable, but normalises over the first axis instead of the actions."""
    logits = _log_weight(np.asarray(pi0, float), alpha) + beta * np.asarray(q, float)
    weights = np.exp(logits - logits.max())
    return weights / weights.sum(axis=0, keepdims=True)


def distral_policy_naive(q, pi0, alpha, beta):
    weights = np.asarray(pi0) ** alpha * np.exp(beta * np.asarray(q))
    return weights / weights.sum(axis=-1, keepdims=True)


def distill_dividing_by_zero(counts):
    totals = counts.sum(axis=0)
    return totals / totals.sum(axis=-1, keepdims=True)


def distill_averaging_task_policies(counts):
    """The plain average of each task's normalised policy: not visit-weighted."""
    return np.mean([_normalise(task_counts) for task_counts in counts], axis=0)


def distill_pooling_agents(counts):
    shared = pooled_distill(counts)
    return np.stack([shared, shared])


def pooled_distill_averaging_agents(counts):
    """The average of the two agents' V1 policies: ignores who visits more."""
    return distill(counts).mean(axis=0)


def distill_in_place(counts):
    """Right numbers, but normalises the caller's table in place."""
    counts += 0.0
    counts[...] = np.broadcast_to(distill(counts), counts.shape)
    return counts[0]


def q_target_bootstrapping_past_arrival(reward, arrived, next_q, gamma):
    return reward + gamma * np.max(next_q)


def q_target_max_from_zero(reward, arrived, next_q, gamma):
    return reward if arrived else reward + gamma * max(0.0, *next_q)


def soft_q_target_with_max(reward, arrived, next_q, next_pi0, alpha, beta, gamma):
    return q_target(reward, arrived, next_q, gamma)


def soft_q_target_bootstrapping_past_arrival(reward, arrived, next_q, next_pi0, alpha, beta, gamma):
    return reward + gamma * soft_value(next_q, next_pi0, alpha, beta)


def occupancy_discounting_from_gamma(transitions, policy, start, gamma, max_steps):
    return gamma * discounted_occupancy(transitions, policy, start, gamma, max_steps)


def occupancy_one_step_too_many(transitions, policy, start, gamma, max_steps):
    return discounted_occupancy(transitions, policy, start, gamma, max_steps + 1)


def occupancy_of_the_likeliest_action(transitions, policy, start, gamma, max_steps):
    """Follows each state's most likely action as if the policy were greedy."""
    greedy = np.eye(policy.shape[1])[np.argmax(policy, axis=1)]
    return discounted_occupancy(transitions, greedy, start, gamma, max_steps)


def paired_interval_normal(a, b):
    d = np.asarray(a, float) - np.asarray(b, float)
    if len(a) != len(b) or len(d) < 2:
        raise ValueError("bad seeds")
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half


def paired_interval_unpaired(a, b):
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("bad seeds")
    result = stats.ttest_ind(np.asarray(a, float), np.asarray(b, float), equal_var=False)
    low, high = result.confidence_interval(0.95)
    return np.mean(a) - np.mean(b), low, high


def paired_interval_with_scipy_only(a, b):
    """scipy's interval: nan when every difference is the same."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("bad seeds")
    d = np.asarray(a, float) - np.asarray(b, float)
    low, high = stats.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    return d.mean(), low, high


def paired_interval_unchecked(a, b):
    d = np.asarray(a, float)[: len(b)] - np.asarray(b, float)[: len(a)]
    if np.all(d == d[0]):
        return d.mean(), d.mean(), d.mean()
    half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    return d.mean(), d.mean() - half, d.mean() + half


def m_step_last_task_only(tasks, policies, gamma=0.99, max_steps=200, version="v1"):
    return exact_m_step(tasks[-1:], policies[-1:], gamma, max_steps, version)


def m_step_v2_once(tasks, policies, gamma=0.99, max_steps=200, version="v1"):
    table = exact_m_step(tasks, policies, gamma, max_steps, version)
    return table if version == "v1" else table[0]


WRONG = [
    (
        "corridor_step",
        corridor_ignoring_the_rule,
        "contention 'both_blocked'",
        ["agent 2 should end on (3, 5), yours ends on (3, 4)", "goes to nobody"],
    ),
    ("corridor_step", corridor_allowing_swaps, "no swapping", ["even when the other agent is leaving it"]),
    ("observation_index", observation_index_by_grid, "case 1:", ["task.cell_index"]),
    ("observation_index", observation_index_swapping_actions, "absolute", ["previous actions stay"]),
    ("soft_value", soft_value_naive, "beta = 100", ["got inf where a finite number", "log-sum-exp"]),
    ("soft_value", soft_value_with_log, "alpha = 0", ["got nan", "0 * (-inf) = nan"]),
    ("soft_value", soft_value_floored, "prior with zeros", ["no floor"]),
    ("soft_value", soft_value_whole_table, "a table of 3 states", ["expected an answer of shape (3,)", "last axis"]),
    ("distral_policy", distral_policy_without_prior, "alpha = 1", ["pi0^alpha"]),
    (
        "distral_policy",
        distral_policy_normalised_over_states,
        "a table of 3 states",
        ["sum to 1 over the actions", "the row at index (0,)"],
    ),
    ("distral_policy", distral_policy_naive, "beta = 100", ["log-sum-exp"]),
    ("distill", distill_dividing_by_zero, "nobody visited", ["got nan", "uniform"]),
    ("distill", distill_averaging_task_policies, "case 2:", ["visit-weighted", "3/4 stay"]),
    ("distill", distill_pooling_agents, "one pi0 per agent", ["do not add the agents' counts"]),
    ("distill", distill_in_place, "case 2:", ["the answer is right, but your function changed its input counts"]),
    ("pooled_distill", pooled_distill_averaging_agents, "case 1:", ["pools the counts", "who visits more"]),
    ("q_target", q_target_bootstrapping_past_arrival, "onto its goal", ["No bootstrap past arrival", "expected: 100"]),
    ("q_target", q_target_max_from_zero, "negative", ["do not start the maximum at 0"]),
    ("soft_q_target", soft_q_target_with_max, "case 1:", ["Eq. 4 with eq. 3"]),
    ("soft_q_target", soft_q_target_bootstrapping_past_arrival, "onto its goal", ["No bootstrap past arrival"]),
    ("discounted_occupancy", occupancy_discounting_from_gamma, "case 1:", ["from t = 0"]),
    ("discounted_occupancy", occupancy_one_step_too_many, "max_steps = 1", ["t = 0 .. max_steps - 1"]),
    ("discounted_occupancy", occupancy_of_the_likeliest_action, "hesitates", ["Weight each state's probability"]),
    ("paired_interval", paired_interval_normal, "five seeds", ["Your numbers are the normal interval"]),
    ("paired_interval", paired_interval_unpaired, "five seeds", ["Your numbers are an unpaired (Welch)"]),
    ("paired_interval", paired_interval_with_scipy_only, "same difference", ["got nan", "scale of 0"]),
    ("paired_interval", paired_interval_unchecked, "do not match", ["must raise a ValueError"]),
    ("exact_m_step", m_step_last_task_only, "two tasks", ["sum the occupancies over the tasks"]),
    ("exact_m_step", m_step_v2_once, "V2", ["expected an answer of shape (2, 23, 5), got shape (23, 5)"]),
]


@pytest.mark.parametrize("name, wrong, case, phrases", WRONG, ids=[w[1].__name__ for w in WRONG])
def test_a_typical_wrong_solution_fails_with_a_helpful_message(name, wrong, case, phrases, capsys):
    passed, out = run(exercises.CHECKS[name], wrong, capsys)
    assert passed is False
    first, *_ = out.splitlines()
    assert first.startswith(f"check_{name}: FAILED on case ") and case in first, out
    for label in ("  inputs:", "  expected: ", "  got:      ", "  hint:     "):
        assert label in out, out
    flat = " ".join(out.split())
    for phrase in phrases:
        assert phrase in flat, out


def test_the_report_shows_the_inputs_the_answer_and_what_came_back(capsys):
    passed, out = run(exercises.check_soft_value, soft_value_naive, capsys)
    assert not passed
    assert "q     = [ 50., -20.,  30.,   0.,  49.]" in out and "beta  = 100.0" in out
    assert "expected: 49.9887" in out and "got:      inf" in out


# What a check does with whatever the reader's function does --------------------------------------


def test_any_other_error_is_a_failure_with_its_message(capsys):
    def broken(q, pi0, alpha, beta):
        return {}["missing"]

    passed, out = run(exercises.check_soft_value, broken, capsys)
    assert passed is False
    assert "FAILED on case 1" in out and "KeyError: 'missing'" in out and "raised an error" in out


def test_a_part_left_unwritten_is_not_implemented_yet_and_names_the_case(capsys):
    def half_done(walls, positions, done, actions, contention="reference"):
        if contention == "both_blocked":
            raise NotImplementedError
        return corridor_step(walls, positions, done, actions, contention)

    passed, out = run(exercises.check_corridor_step, half_done, capsys)
    assert passed is False
    assert "not implemented yet (half_done raised NotImplementedError on case 6: both aim" in out


def test_the_messages_use_the_readers_own_name_for_the_function(capsys):
    def my_soft_value(q, pi0, alpha, beta):
        raise NotImplementedError

    assert "(my_soft_value raises NotImplementedError)" in run(exercises.check_soft_value, my_soft_value, capsys)[1]
    assert (
        "(soft_value raises NotImplementedError)"
        in run(exercises.check_soft_value, lambda *a: my_soft_value(*a), capsys)[1]
    )


def test_none_after_the_first_case_is_a_missing_return_not_a_stub(capsys):
    def forgets(reward, arrived, next_q, gamma):
        if not arrived:
            return reward + gamma * np.max(next_q)

    passed, out = run(exercises.check_q_target, forgets, capsys)
    assert passed is False
    assert "FAILED on case 2" in out and "is a `return` missing" in out


def test_a_check_needs_the_function_itself():
    with pytest.raises(TypeError, match=r"not its result: got 1\.5\. Pass the name without brackets"):
        exercises.check_soft_value(1.5)


def test_a_check_prints_the_same_on_every_run(capsys):
    outputs = [run(exercises.check_paired_interval, paired_interval_unpaired, capsys)[1] for _ in range(2)]
    assert outputs[0] == outputs[1]


def test_the_readers_warnings_are_silenced_during_the_call(recwarn, capsys):
    run(exercises.check_soft_value, soft_value_naive, capsys)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# The oracles are mdlib's --------------------------------------------------------------------------


def test_the_one_step_oracle_is_mdlibs_soft_value_and_policy():
    rng = np.random.default_rng(0)
    q = rng.normal(scale=20, size=(50, 5))
    pi0 = rng.dirichlet(np.ones(5), size=50) * 0.9 + 0.02  # above the learners' floor
    for alpha, beta in ((0.7, 0.5), (0.0, 3.0), (1.0, 100.0)):
        v, pi = exercises._one_step(q, pi0, alpha, beta)
        np.testing.assert_allclose(v, mdlib_soft_value(q, pi0, alpha, beta), rtol=1e-12)
        np.testing.assert_allclose(pi, np.exp(_log_weight(pi0, alpha) + beta * (q - v[:, None])), rtol=1e-10)


def test_the_propagation_oracle_is_lone_occupancy_on_the_maps():
    rng = np.random.default_rng(1)
    for name in ("task1", "task4"):
        for agent in (0, 1):
            mdp = lone_mdp(name, agent)
            policy = rng.dirichlet(np.ones(5), size=mdp.rewards.shape[0])
            np.testing.assert_allclose(
                exercises._propagate(mdp.transitions, policy, mdp.start, 0.99, 200),
                lone_occupancy(name, agent, policy, 0.99, 200)[0],
                rtol=1e-10,
                atol=1e-14,
            )


def test_the_target_oracle_is_the_textbook_target():
    assert exercises._target_oracle(-0.1, False, [1.0, 4.0, -2.0], 0.9) == pytest.approx(-0.1 + 0.9 * 4.0)
    assert exercises._target_oracle(100.0, True, [1.0, 4.0, -2.0], 0.9) == 100.0
    prior = np.array([0.5, 0.25, 0.25])
    expected = -0.1 + 0.99 * soft_value([1.0, 4.0, -2.0], prior, 0.7, 2.0)
    assert exercises._target_oracle(-0.1, False, [1.0, 4.0, -2.0], 0.99, (prior, 0.7, 2.0)) == pytest.approx(expected)


def test_the_corridor_oracle_is_the_transition_kernel():
    task = load_task("task1")
    moved = exercises._corridor_oracle(task.walls, task.goals, [[3, 3], [3, 5]], [False, False], [4, 3], "reference")
    assert moved.tolist() == [[3, 3], [3, 4]]
    out = game.transition(task.walls, np.array(task.goals), 1, 3, 3, 3, 5, False, False, 4, 3)
    assert out[:4] == (3, 3, 3, 5)


def test_the_distillation_oracle_is_mdlibs():
    counts = np.random.default_rng(2).exponential(size=(3, 2, 4, 5))
    counts[:, :, 1] = 0.0
    np.testing.assert_allclose(distill(counts), mdlib_distill(counts.sum(axis=0), "v1"))
    np.testing.assert_allclose(pooled_distill(counts), mdlib_distill(counts.sum(axis=0), "v2")[0])
