"""The exact Distral alternation (``mdlib.solve_distral``) against the reference formulas.

References: ``mdlib.solver.soft_value_iteration`` / ``lone_soft_optimum`` / ``policy_return``
(the lone agent's eqs. 3-5 and its exact return), ``solver.lone_return`` of the shortest path
(the hard optimum), and plain numpy propagations written here. The two-agent E-step is checked
on a small map, where agent 1's MDP given agent 2's policy fits in a dense array, and on the real
maps against the lone computation when the other agent is already home.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from mdlib import DistralSolution, solve_distral
from mdlib.exact_distral import (
    joint_e_step,
    joint_game,
    joint_occupancy,
    lone_occupancy,
    observation_policy,
)
from mdlib.learners.distill import normalise
from mdlib.solver import (
    joint_mdp,
    lone_mdp,
    lone_return,
    lone_soft_optimum,
    policy_return,
    shortest_path_length,
    soft_value_iteration,
)
from mdlib.tasks import load_task_set, parse_task

GAMMA = 0.99
TASKS = load_task_set("original")

# A 2 x 3 room: agent 1 starts top left and goes to the bottom right, agent 2 the other way
# round, so they meet in the middle column. Small enough (344 joint states) for dense matrices.
SMALL_A = parse_task("1 1 1 1 1\n1 4 0 5 1\n1 3 0 2 1\n1 1 1 1 1\n", "small_a", "small_a")
SMALL_B = parse_task("1 1 1 1 1\n1 2 4 3 1\n1 0 5 0 1\n1 1 1 1 1\n", "small_b", "small_b")


def numpy_occupancy(mdp, policy, gamma=GAMMA, horizon=200):
    """sum_t gamma^t P(s_t = s, a_t = a, not arrived), by plain numpy propagation."""
    step = np.einsum("sa,sat->st", policy, mdp.transitions)
    alive = np.zeros(len(policy))
    alive[mdp.start] = 1.0
    d = np.zeros_like(policy)
    for t in range(horizon):
        d += gamma**t * alive[:, None] * policy
        alive = alive @ step
    return d


@pytest.fixture(scope="module")
def alone():
    return solve_distral("original", 0.7, 0.5, iterations=6)


@pytest.fixture(scope="module")
def both_small():
    return solve_distral([SMALL_A, SMALL_B], 0.7, 0.5, iterations=3, version="v2", players="both")


# --- players="alone" ------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha, beta", [(0.7, 0.5), (0.3, 2.0), (1.0, 10.0)])
def test_iteration_one_is_the_lone_soft_optimum(alpha, beta):
    tight = solve_distral("original", alpha, beta, iterations=1, tol=1e-12)
    default = solve_distral("original", alpha, beta, iterations=1)
    for i, task in enumerate(TASKS):
        for j in (0, 1):
            ref = lone_soft_optimum(task, j, alpha, beta, GAMMA)
            assert tight.value[0, i, j] == pytest.approx(ref.value, abs=1e-9)
            assert tight.task_return[0, i, j] == pytest.approx(ref.task_return, abs=1e-9)
            assert tight.arrival[0, i, j] == pytest.approx(ref.arrival, abs=1e-9)
            np.testing.assert_allclose(tight.policies[i, j], ref.policy, atol=1e-10)
            # At tol = 1e-10 the error of a value is at most residual / (1 - gamma) = 1e-8.
            assert default.value[0, i, j] == pytest.approx(ref.value, abs=1e-8)


def test_later_e_steps_are_the_soft_optimum_under_the_distilled_prior(alone):
    """Warm-started sweeps reach the same fixed point as soft_value_iteration from scratch."""
    for i, task in enumerate(TASKS):
        for j in (0, 1):
            ref = lone_soft_optimum(task, j, 0.7, 0.5, GAMMA, pi0=alone.prior[j])
            assert alone.value[-1, i, j] == pytest.approx(ref.value, abs=1e-8)
            assert alone.task_return[-1, i, j] == pytest.approx(ref.task_return, abs=1e-7)
            np.testing.assert_allclose(alone.policies[i, j], ref.policy, atol=1e-8)


def truncation_slack(runs, alpha, beta, max_steps=200):
    """How far J may fall from iteration k to k+1 because the M-step distils the ``max_steps``-step
    occupancy N while J counts the infinite-horizon occupancy N + T.

    J(pi0', pi_k) - J(pi0, pi_k) = (alpha/beta) sum_{s,a} (N + T)(s, a) [log pi0' - log pi0](a|s),
    whose N part is >= 0 (pi0' = N / sum_a N maximises it, Gibbs' inequality), and the E-step
    only raises J further: J_{k+1} - J_k >= -(alpha/beta) sum T max|log pi0' - log pi0|. The tail
    mass of each task and agent is at most P(not arrived by max_steps) gamma^max_steps / (1 - gamma).
    """
    final = runs[-1]
    slack = []
    for k in range(len(runs) - 1):
        change = np.abs(np.log(runs[k + 1].prior) - np.log(runs[k].prior)).max()
        tail = (1 - final.arrival[k]).sum() * GAMMA**max_steps / (1 - GAMMA)
        slack.append(alpha / beta * tail * change)
    return np.array(slack)


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("alpha, beta", [(0.3, 0.5), (0.7, 0.5), (1.0, 0.5), (0.7, 2.0), (0.3, 10.0), (1.0, 10.0)])
def test_objective_never_decreases_but_for_the_truncated_occupancy(alpha, beta, version):
    """J is exactly monotone where the agents arrive within 200 steps; where they do not (small
    beta: the entropy bonus makes lingering worth more than the goal) it can dip, by no more than
    the truncation bound, plus 1e-8 for the solver's tolerance (10 values, each within
    1e-12 / (1 - gamma) of its fixed point)."""
    runs = [solve_distral("original", alpha, beta, iterations=k, version=version, tol=1e-12) for k in range(1, 9)]
    assert all((r.prior > 0).all() for r in runs)  # the bound needs finite log pi0
    rise = np.diff(runs[-1].objective)
    assert (rise >= -truncation_slack(runs, alpha, beta) - 1e-8).all()


def test_objective_dips_only_because_the_m_step_truncates_the_occupancy():
    """At alpha 0.3, beta 0.5 J falls (by ~1e-4) with the 200-step occupancy of the spec; with
    3000 steps (gamma^3000 ~ 1e-13) the same alternation is monotone."""
    short = solve_distral("original", 0.3, 0.5, iterations=12, tol=1e-12)
    assert np.diff(short.objective).min() < -1e-5
    long = solve_distral("original", 0.3, 0.5, iterations=12, max_steps=3000, tol=1e-12)
    assert np.diff(long.objective).min() > -1e-9


def test_alpha_zero_ignores_the_prior():
    """pi0^0 = 1: the E-step does not depend on the prior, so every iteration is iteration 1."""
    s = solve_distral("original", 0.0, 0.5, iterations=4)
    np.testing.assert_allclose(s.value, np.broadcast_to(s.value[0], s.value.shape), atol=1e-8)
    np.testing.assert_allclose(s.task_return, np.broadcast_to(s.task_return[0], s.value.shape), atol=1e-7)


def test_large_beta_approaches_the_hard_lone_optimum():
    hard = np.array([[lone_return(shortest_path_length(t, j), GAMMA) for j in (0, 1)] for t in TASKS])
    errors, excess = [], []
    for beta in (2.0, 10.0, 100.0, 1000.0):
        s = solve_distral("original", 0.7, beta, iterations=1)
        errors.append(np.abs(s.task_return[0] - hard).max())
        excess.append(beta * (s.value[0] - hard))
        assert s.arrival[0] == pytest.approx(1.0, abs=1e-12)
    assert errors[0] > errors[1] > 1e-6 and errors[2] < 1e-9 and errors[3] < 1e-9
    # The soft value differs from the hard one by c / beta, c the discounted sum along the path of
    # alpha log pi0 (here log 0.2) and the log of the number of tied best actions: c does not
    # depend on beta once beta is large, so the value converges too, as 1 / beta.
    assert np.abs(excess[-1]).min() > 1.0
    np.testing.assert_allclose(excess[2], excess[3], atol=1e-6)


def test_occupancy_sums_to_the_expected_discounted_number_of_steps(alone):
    for i, task in enumerate(TASKS):
        for j in (0, 1):
            policy = alone.policies[i, j]
            counts, task_return, arrival = lone_occupancy(task, j, policy, GAMMA)
            steps = dataclasses.replace(lone_mdp(task, j), rewards=np.ones_like(policy))  # a reward of 1 per step
            assert counts.sum() == pytest.approx(policy_return(steps, policy, GAMMA)[0], abs=1e-10)
            np.testing.assert_allclose(counts, numpy_occupancy(lone_mdp(task, j), policy), atol=1e-12)
            assert (task_return, arrival) == pytest.approx(policy_return(lone_mdp(task, j), policy, GAMMA), abs=1e-10)
            assert alone.task_return[-1, i, j] == pytest.approx(task_return, abs=1e-12)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_distillation_is_the_normalised_summed_occupancy(version):
    s = solve_distral("original", 0.7, 0.5, iterations=2, version=version)
    counts = np.array(
        [[numpy_occupancy(lone_mdp(t, j), s.policies[i, j]) for j in (0, 1)] for i, t in enumerate(TASKS)]
    )
    per_agent = counts.sum(axis=0)
    if version == "v1":
        np.testing.assert_allclose(s.pi0, normalise(per_agent), atol=1e-12)
        assert not np.allclose(s.pi0[0], s.pi0[1])
    else:
        assert np.array_equal(s.pi0[0], s.pi0[1])
        np.testing.assert_allclose(s.pi0[0], normalise(per_agent.sum(axis=0)), atol=1e-12)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_prior_is_uniform_where_nobody_was(version):
    """Alone, an agent is never on its own goal before arriving: its V1 row there is uniform; the
    pooled V2 row is not, because the other agent walks over that cell."""
    s = solve_distral("task1", 0.7, 0.5, iterations=1, version=version)
    task = TASKS[0]
    for j in (0, 1):
        goal = task.cell_index[task.goals[j]]
        others = np.delete(s.pi0[j], goal, axis=0)
        assert not np.isclose(others, 0.2).all(axis=1).any()
        if version == "v1":
            np.testing.assert_array_equal(s.pi0[j, goal], np.full(5, 0.2))
        else:
            assert not np.allclose(s.pi0[j, goal], 0.2)


def test_entropy_and_kl_under_the_uniform_first_prior(alone):
    """KL(pi || uniform) = log 5 - H(pi) row by row, hence also on average."""
    np.testing.assert_allclose(alone.kl[0], math.log(5) - alone.entropy[0], atol=1e-12)
    assert (alone.entropy > 0).all() and (alone.entropy < math.log(5)).all()
    assert (alone.kl[1:] > 0).all()


def test_objective_is_the_sum_of_values(alone):
    np.testing.assert_allclose(alone.objective, alone.value.sum(axis=(1, 2)), rtol=0, atol=1e-12)
    assert alone.mean_return.shape == (6, 2) and alone.final_return.shape == (2,)
    np.testing.assert_allclose(alone.final_return, alone.task_return[-1].mean(axis=0))


def test_result_shapes_and_convergence_record(alone):
    assert isinstance(alone, DistralSolution)
    assert alone.tasks == ("task1", "task2", "task3", "task4", "task5")
    assert alone.settings["tasks"] == alone.tasks and alone.settings["players"] == "alone"
    for name in ("task_return", "arrival", "value", "entropy", "kl"):
        assert getattr(alone, name).shape == (6, 5, 2)
    assert alone.policies.shape == (5, 2, 23, 5) and alone.prior.shape == alone.pi0.shape == (2, 23, 5)
    assert alone.converged.all() and (alone.residual <= 1e-10).all()
    assert alone.sweeps[1:].max() < alone.sweeps[0].min()  # warm starts
    for k in range(6):
        for i in range(5):
            history = alone.residual_history[k][i]
            assert len(history) == alone.sweeps[k, i] and history[-1] == alone.residual[k, i]


def test_determinism():
    a = solve_distral("original", 0.7, 0.5, iterations=3, version="v2")
    b = solve_distral("original", 0.7, 0.5, iterations=3, version="v2")
    for field in ("task_return", "value", "objective", "policies", "prior", "pi0", "sweeps"):
        assert np.array_equal(getattr(a, field), getattr(b, field))


def test_determinism_both():
    a = solve_distral(SMALL_A, 0.7, 0.5, iterations=2, players="both")
    b = solve_distral(SMALL_A, 0.7, 0.5, iterations=2, players="both")
    for field in ("task_return", "value", "objective", "policies", "prior", "pi0", "sweeps"):
        assert np.array_equal(getattr(a, field), getattr(b, field))


BAD = [
    ("alpha", dict(alpha=1.5)),
    ("alpha", dict(alpha=-0.1)),
    ("alpha", dict(alpha=float("nan"))),
    ("beta", dict(beta=0.0)),
    ("beta", dict(beta=float("inf"))),
    ("beta", dict(beta="1")),
    ("gamma", dict(gamma=1.0)),
    ("gamma", dict(gamma=0.0)),
    ("iterations", dict(iterations=0)),
    ("iterations", dict(iterations=2.0)),
    ("iterations", dict(iterations=True)),
    ("version", dict(version="v3")),
    ("players", dict(players="three")),
    ("contention", dict(contention="nobody")),
    ("order", dict(order="sideways")),
    ("max_steps", dict(max_steps=0)),
    ("tol", dict(tol=0.0)),
    ("tol", dict(tol=-1e-3)),
    ("max_sweeps", dict(max_sweeps=0)),
    ("damping", dict(damping=1.0)),
    ("damping", dict(damping=-0.5)),
    ("patience", dict(patience=0)),
    ("tasks", dict(tasks="task9")),
    ("tasks", dict(tasks=[])),
    ("tasks", dict(tasks=["task1", SMALL_A])),
    ("tasks", dict(tasks=5)),
]


@pytest.mark.parametrize("name, bad", BAD, ids=[f"{n}={list(b.values())[0]!r}" for n, b in BAD])
def test_bad_arguments_raise_value_error_naming_them(name, bad):
    arguments = dict(tasks="original", alpha=0.7, beta=0.5) | bad
    tasks, alpha, beta = arguments.pop("tasks"), arguments.pop("alpha"), arguments.pop("beta")
    with pytest.raises(ValueError, match=name):
        solve_distral(tasks, alpha, beta, **arguments)


def test_play_alone_policies():
    s = solve_distral("original", 0.7, 100.0, iterations=1)
    trajectory = s.play(task_index=4, seed=3)
    assert trajectory.task is s.task_objects[4]
    # Task 5's agents do not meet; at beta = 100 each walks a shortest path.
    assert trajectory.done[-1].all()
    np.testing.assert_allclose(trajectory.returns(GAMMA), s.task_return[0, 4], atol=1e-6)
    again = s.play(task_index=4, seed=3)
    assert np.array_equal(trajectory.actions, again.actions)


# --- players="both" -------------------------------------------------------------------------------


@pytest.mark.parametrize("order", ["egocentric", "absolute"])
def test_joint_game_is_the_solvers_joint_mdp_with_previous_actions(order):
    """The same 506 position/done states as ``solver.joint_mdp`` (enumerated there in plain
    Python with ``game.step``), the same successors and rewards, previous actions as the learners
    record them, and one observation row per state for each agent that is not done."""
    task = TASKS[3]
    jg, mdp = joint_game(task, order=order), joint_mdp(task)
    cells = task.free_cells
    key = lambda pos, done: (tuple(int(v) for v in np.ravel(pos)), tuple(bool(v) for v in done))  # noqa: E731
    index = {key(mdp.positions[s], mdp.done[s]): s for s in range(mdp.n_states)}
    solver_state = np.array([index[key(cells[jg.cells[x]], jg.done[x])] for x in range(jg.n_states)])
    assert set(solver_state) == set(range(mdp.n_states)) and jg.n_states > 10 * mdp.n_states
    assert solver_state[0] == 0 and (jg.prev[0] == 0).all() and not jg.done[0].any()
    n = jg.n_states
    np.testing.assert_array_equal(solver_state[jg.next_state], mdp.next_state[solver_state].reshape(n, 5, 5))
    np.testing.assert_array_equal(jg.rewards, mdp.rewards[solver_state].reshape(n, 5, 5, 2))
    actions = np.stack(np.meshgrid(np.arange(5), np.arange(5), indexing="ij"), axis=-1)  # [a1, a2] -> (a1, a2)
    recorded = np.where(jg.done[:, None, None, :], 0, actions[None])  # a done agent's action is 0
    np.testing.assert_array_equal(jg.prev[jg.next_state], recorded)
    for j in (0, 1):
        rows = jg.observation[~jg.done[:, j], j]
        assert (rows >= 0).all() and len(np.unique(rows)) == len(rows)
        assert (jg.observation[jg.done[:, j], j] == -1).all()


def walled(task, cell):
    walls = np.array(task.walls)
    walls[cell] = True
    return dataclasses.replace(task, name=f"{task.name}_walled", walls=walls)


@pytest.mark.parametrize("task_name, home", [("task1", 1), ("task4", 0), ("task5", 1)])
def test_other_agent_home_is_the_lone_agent_on_a_map_with_its_goal_walled(task_name, home):
    """The home agent is done from the start and stands on its goal, which it blocks for ever:
    for the other agent that cell is a wall. Uniform prior (iteration 1)."""
    task = next(t for t in TASKS if t.name == task_name)
    agent = 1 - home
    jg = joint_game(task, home=(home == 0, home == 1))
    prior = np.full((2, jg.n_observations, 5), 0.2)
    e = joint_e_step(jg, prior, 0.7, 0.5, GAMMA, tol=1e-12)
    assert e.converged
    wall_task = walled(task, task.goals[home])
    ref = lone_soft_optimum(wall_task, agent, 0.7, 0.5, GAMMA)
    assert e.v[agent, 0] == pytest.approx(ref.value, abs=1e-9)
    assert e.v[home, 0] == 0.0
    alive = ~jg.done[:, agent]
    rows = wall_task.cell_index[tuple(task.free_cells[jg.cells[alive, agent]].T)]
    assert (rows >= 0).all()
    np.testing.assert_allclose(e.q[agent, alive], ref.q[rows], atol=1e-9)
    counts, task_return, arrival = joint_occupancy(jg, e.policy, GAMMA)
    assert task_return[agent] == pytest.approx(ref.task_return, abs=1e-9)
    assert arrival[agent] == pytest.approx(ref.arrival, abs=1e-9)
    assert task_return[home] == 0.0 and counts[home].sum() == 0.0
    # The occupancy, added up over the rows of each cell, is the lone occupancy.
    lone_counts = numpy_occupancy(lone_mdp(wall_task, agent), ref.policy)
    by_cell = np.zeros_like(lone_counts)
    observed = jg.observation[alive, agent]
    assert len(np.unique(observed)) == len(observed)  # one row per joint state where the agent plays
    np.add.at(by_cell, rows, counts[agent, observed])
    np.testing.assert_allclose(by_cell, lone_counts, atol=1e-9)


def induced_mdp(jg, policy, prior, agent):
    """Dense transitions, rewards and prior of ``agent``'s MDP over joint states given the other's
    policy; states where the agent is done have no successor."""
    n, other = jg.n_states, 1 - agent
    transitions, rewards = np.zeros((n, 5, n)), np.zeros((n, 5))
    p0 = np.full((n, 5), 0.2)
    for x in range(n):
        if jg.done[x, agent]:
            continue
        p0[x] = prior[agent, jg.observation[x, agent]]
        for a in range(5):
            for b in range(5):
                w = (b == 0) if jg.done[x, other] else policy[other, x, b]
                joint = (a, b) if agent == 0 else (b, a)
                y = jg.next_state[x, joint[0], joint[1]]
                rewards[x, a] += w * jg.rewards[x, joint[0], joint[1], agent]
                if not jg.done[y, agent]:
                    transitions[x, a, y] += w
    return transitions, rewards, p0


@pytest.mark.parametrize("order", ["egocentric", "absolute"])
def test_joint_fixed_point_is_a_pair_of_soft_best_responses(order):
    """At the E-step's fixed point each agent's Q is the soft-optimal Q of its own MDP given the
    other's policy (soft_value_iteration on the induced MDP, dense), under a random prior that
    depends on the previous actions."""
    jg = joint_game(SMALL_A, order=order)
    prior = np.random.default_rng(1).dirichlet(np.ones(5), size=(2, jg.n_observations))
    e = joint_e_step(jg, prior, 0.7, 1.0, GAMMA, tol=1e-12)
    assert e.converged
    for agent in (0, 1):
        transitions, rewards, p0 = induced_mdp(jg, e.policy, prior, agent)
        q, v, pi = soft_value_iteration(transitions, rewards, p0, 0.7, 1.0, GAMMA)
        alive = ~jg.done[:, agent]
        np.testing.assert_allclose(e.q[agent, alive], q[alive], atol=1e-8)
        np.testing.assert_allclose(e.policy[agent, alive], pi[alive], atol=1e-9)


def test_joint_prior_zeros_are_exact():
    """No floor: with alpha > 0 an action the prior gives probability 0 gets probability 0."""
    jg = joint_game(SMALL_A)
    prior = np.full((2, jg.n_observations, 5), 0.25)
    prior[:, :, 2] = 0.0  # never "up"
    e = joint_e_step(jg, prior, 0.5, 1.0, GAMMA)
    alive = ~jg.done
    assert (e.policy[0, alive[:, 0], 2] == 0).all() and (e.policy[1, alive[:, 1], 2] == 0).all()
    assert np.isfinite(e.q).all()


def test_v2_pools_both_agents_counts(both_small):
    counts = np.zeros_like(both_small.pi0)
    games = [joint_game(t) for t in (SMALL_A, SMALL_B)]
    for i, jg in enumerate(games):
        policy = np.zeros((2, jg.n_states, 5))
        for j in (0, 1):
            alive = jg.observation[:, j] >= 0
            policy[j, alive] = both_small.policies[i, j, jg.observation[alive, j]]
            policy[j, ~alive, 0] = 1.0
        counts += joint_occupancy(jg, policy, GAMMA)[0]
    assert np.array_equal(both_small.pi0[0], both_small.pi0[1])
    np.testing.assert_allclose(both_small.pi0[0], normalise(counts.sum(axis=0)), atol=1e-12)
    # Both agents' counts really are in the pooled table.
    assert (counts[0].sum(axis=1) > 0).sum() > 100 and (counts[1].sum(axis=1) > 0).sum() > 100


def test_distillation_puts_uniform_rows_where_unvisited(both_small):
    policies = both_small.policies
    games = [joint_game(t) for t in (SMALL_A, SMALL_B)]
    used = np.zeros(both_small.pi0.shape[1], bool)
    for jg in games:
        for j in (0, 1):
            used[jg.observation[jg.observation[:, j] >= 0, j]] = True
    assert 0 < used.sum() < len(used)
    assert (both_small.pi0[:, ~used] == 0.2).all()
    # Rows no reachable state uses hold the prior's row in the task-policy tables.
    for i in range(2):
        assert np.array_equal(policies[i][:, ~used], both_small.prior[:, ~used])


def test_joint_occupancy_and_return_against_sampled_games(both_small):
    """Sum of the occupancy = expected discounted number of steps before arriving; the exact return
    and this sum are within 5 standard errors of 400 games played with ``play``."""
    jg = joint_game(SMALL_A)
    table = both_small.policies[0]
    policy = np.zeros((2, jg.n_states, 5))
    for j in (0, 1):
        alive = jg.observation[:, j] >= 0
        policy[j, alive] = table[j, jg.observation[alive, j]]
    counts, task_return, arrival = joint_occupancy(jg, policy, GAMMA)
    np.testing.assert_allclose(task_return, both_small.task_return[-1, 0], atol=1e-12)
    returns, steps = [], []
    for seed in range(400):
        trajectory = both_small.play(0, seed=seed)
        returns.append(trajectory.returns(GAMMA))
        alive = ~trajectory.done[:-1]
        steps.append((GAMMA ** np.arange(len(alive)))[:, None] * alive)
    returns = np.array(returns)
    steps = np.array([s.sum(axis=0) for s in steps])
    for sample, exact in ((returns, task_return), (steps, counts.sum(axis=(1, 2)))):
        error = sample.std(axis=0) / math.sqrt(len(sample))
        assert (np.abs(sample.mean(axis=0) - exact) < 5 * error + 1e-9).all()
    assert observation_policy(jg, policy, both_small.prior).shape == table.shape


def test_both_records_measures_and_convergence(both_small):
    s = both_small
    assert s.policies.shape == (2, 2, 6 * 6 * 5 * 5 * 2, 5)
    assert s.converged.all() and (s.residual <= 1e-10).all()
    assert s.sweeps[1:].max() < s.sweeps[0].min()
    np.testing.assert_allclose(s.kl[0], math.log(5) - s.entropy[0], atol=1e-12)
    np.testing.assert_allclose(s.objective, s.value.sum(axis=(1, 2)))
    assert ((s.arrival > 0.9) & (s.arrival <= 1 + 1e-12)).all()
    for k in range(3):
        for i in range(2):
            assert len(s.residual_history[k][i]) == s.sweeps[k, i]


@pytest.fixture(scope="module")
def high_beta_prior():
    return solve_distral("original", 0.7, 10.0, iterations=1, players="both").pi0


def test_best_response_iteration_can_cycle_and_damping_settles_it(high_beta_prior):
    """At beta = 10, under the prior distilled from iteration 1, the undamped sweeps on task 3 fall
    into a cycle of period 2 (a constant residual that never shrinks); damping 0.3 converges."""
    jg = joint_game(TASKS[2])
    cycling = joint_e_step(jg, high_beta_prior, 0.7, 10.0, GAMMA, max_sweeps=300)
    assert not cycling.converged and cycling.sweeps == 300
    tail = cycling.history[-50:]
    assert tail.min() > 0.1 and np.ptp(tail) < 1e-9 * tail.max()
    more = joint_e_step(jg, high_beta_prior, 0.7, 10.0, GAMMA, max_sweeps=302)
    np.testing.assert_allclose(more.q, cycling.q, atol=1e-9)  # period 2
    damped = joint_e_step(jg, high_beta_prior, 0.7, 10.0, GAMMA, damping=0.3)
    assert damped.converged and damped.residual <= 1e-10
    assert damped.v[:, 0] == pytest.approx([84.9245, 90.5321], abs=1e-3)


def test_joint_game_rejects_bad_home():
    with pytest.raises(ValueError, match="home"):
        joint_game("task1", home=(1, 0))
    with pytest.raises(ValueError, match="order"):
        joint_game("task1", order="sideways")


def test_cycling_sweeps_stop_by_patience_and_the_cycle_misses_the_play(high_beta_prior):
    """Without progress for ``patience`` sweeps the E-step stops (not converged); the cycle lives in
    states the agents essentially never reach: averaged over their occupancy the residual is tiny."""
    jg = joint_game(TASKS[2])
    stopped = joint_e_step(jg, high_beta_prior, 0.7, 10.0, GAMMA, patience=100)
    assert not stopped.converged and stopped.sweeps < 1000 and stopped.residual > 0.1
    counts, _, _ = joint_occupancy(jg, stopped.policy, GAMMA)
    for j in (0, 1):
        alive = jg.observation[:, j] >= 0
        occupancy = counts[j, jg.observation[alive, j]].sum(axis=1)
        assert occupancy @ stopped.state_residual[j, alive] / occupancy.sum() < 1e-6
        assert stopped.state_residual[j].max() == pytest.approx(stopped.residual) or j != np.argmax(
            stopped.state_residual.max(axis=1)
        )
    alone = solve_distral([TASKS[2]], 0.7, 0.5, iterations=2)
    np.testing.assert_array_equal(alone.weighted_residual, alone.residual)
