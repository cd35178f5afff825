"""``mdlib.solve_distral`` against an independent reference (tests/reference_distral.py).

The reference uses the plain-Python rules of tests/test_game.py, its own state enumeration, soft
policy iteration instead of soft value iteration, and, for two agents, alternating full best
responses instead of sweeps. The first half of this file tests the reference on its own (Bellman
equations, hard optimum, occupancy against sampled episodes); the second compares the library
with it.

The two-agent comparisons (``test_slow_both_*``, about a minute in all) share module-scoped
fixtures so each setting is solved once per side; deselect them with ``-k "not slow"``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference_distral as ref
from test_game import rules_step

import mdlib
from mdlib import game, load_task
from mdlib.solver import lone_soft_optimum

TASKS = ("task1", "task2", "task3", "task4", "task5")
SETTINGS = ((0.7, 0.5), (0.7, 10.0), (0.3, 2.0), (1.0, 5.0))
VERSIONS = ("v1", "v2")
GAMMA = 0.99
ITERATIONS = 10
BOTH_TASKS = ("task5", "task1")  # task 5: the agents keep to their rooms; task 1: they cross the corridor
BOTH_RUNS = ((0.7, 0.5, "v1"), (0.7, 10.0, "v1"), (0.7, 0.5, "v2"))
BOTH_ITERATIONS = 2


# --- the reference on its own ----------------------------------------------------------------------


def lone_games(task_name):
    task = load_task(task_name)
    return [ref.LoneGame.build(task, agent) for agent in (0, 1)]


def random_prior(n, rng, zeros=True):
    """A prior with some zero entries (at most four per row), as distillation can produce."""
    pi0 = rng.random((n, 5)) ** 3
    if zeros:
        pi0[rng.random((n, 5)) < 0.3] = 0.0
        pi0[np.arange(n), rng.integers(0, 5, n)] += 0.1
    return pi0 / pi0.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("alpha, beta", SETTINGS + ((0.0, 3.0),))
def test_reference_soft_values_satisfy_eqs_3_and_4(alpha, beta):
    """Eq. 3 and eq. 4 hold to 1e-9 for every map and agent, under the uniform prior and under a
    random prior with zeros; soft policy iteration agrees with plain soft value iteration."""
    rng = np.random.default_rng(7)
    for task_name in TASKS:
        for game_ in lone_games(task_name):
            mdp = game_.mdp
            for pi0 in (np.full((mdp.n, 5), 0.2), random_prior(mdp.n, rng)):
                logw = ref.log_weights(pi0, alpha)
                q, v, pi, residual, _ = ref.soft_policy_iteration(mdp, logw, beta, GAMMA)
                # eq. 3, written out with the prior itself (not log_weights)
                weight = pi0**alpha if alpha > 0 else np.ones_like(pi0)  # 0^alpha = 0, but pi0^0 = 1
                top = np.where(weight > 0, q, -np.inf).max(axis=1, keepdims=True)
                terms = weight * np.exp(beta * (np.where(weight > 0, q, top) - top))  # 0 where weight = 0
                eq3 = top[:, 0] + np.log(terms.sum(axis=1)) / beta
                eq3[~mdp.active] = 0.0
                assert np.max(np.abs(v - eq3)) <= 1e-9
                # eq. 4: Q(s, a) = r + gamma V(s') unless the move arrives at the goal
                target = mdp.rew[:, :, 0] + GAMMA * mdp.cont[:, :, 0] * v[mdp.nxt[:, :, 0]]
                assert np.max(np.abs(q - target)[mdp.active]) <= 1e-9
                assert residual <= 1e-9
                # eq. 5 and a probability distribution; zero prior -> zero probability (alpha > 0)
                assert np.allclose(pi.sum(axis=1), 1.0, atol=1e-12)
                if alpha > 0:
                    assert np.all(pi[pi0 == 0] == 0)
                active = mdp.active
                eq5 = weight[active] * np.exp(beta * (np.where(weight > 0, q, 0)[active] - v[active, None]))
                assert np.max(np.abs(pi[active] - eq5)) <= 1e-9
                # cross-check: soft value iteration reaches the same Q
                q_vi = ref.soft_value_iteration(mdp, logw, beta, GAMMA, tol=1e-13)
                assert np.max(np.abs(q - q_vi)[mdp.active]) <= 1e-9


@pytest.mark.parametrize("task_name", TASKS)
def test_reference_approaches_the_hard_optimum_at_alpha_0_and_large_beta(task_name):
    """alpha = 0: V(start) decreases to the shortest-path return as beta grows, staying above it by
    at most the entropy bonus log(5) / (beta (1 - gamma)); the return is the shortest path's."""
    for agent, game_ in enumerate(lone_games(task_name)):
        best = ref.shortest_path_return(ref.shortest_moves(game_.task, agent), GAMMA)
        gaps = []
        for beta in (5.0, 50.0, 500.0):
            logw = ref.log_weights(np.full((game_.mdp.n, 5), 0.2), 0.0)
            _, v, pi, _, _ = ref.soft_policy_iteration(game_.mdp, logw, beta, GAMMA)
            gap = v[game_.start] - best
            assert -1e-9 <= gap <= math.log(5) / (beta * (1 - GAMMA)) + 1e-9
            gaps.append(gap)
            measures = ref.lone_measures(game_, pi, np.full_like(pi, 0.2), GAMMA, 200)
            if beta == 500.0:
                assert abs(measures.task_return - best) <= 1e-9
                assert abs(measures.arrival - 1.0) <= 1e-12
        assert gaps[0] >= gaps[1] - 1e-12 >= gaps[2] - 2e-12 and gaps[0] > gaps[2]


def test_reference_occupancy_of_deterministic_policies():
    """Standing still forever: occupancy (1 - gamma^200) / (1 - gamma), return -0.1 times that,
    no arrival. Following a shortest path of L moves: (1 - gamma^L) / (1 - gamma) and the closed form."""
    for task_name in TASKS:
        for agent, game_ in enumerate(lone_games(task_name)):
            n = game_.mdp.n
            stay = np.zeros((n, 5))
            stay[:, 0] = 1.0
            m = ref.lone_measures(game_, stay, np.full((n, 5), 0.2), GAMMA, 200)
            steps = (1 - GAMMA**200) / (1 - GAMMA)
            assert abs(m.occupancy.sum() - steps) <= 1e-9
            assert abs(m.task_return + 0.1 * steps) <= 1e-9
            assert m.arrival == 0.0
            assert abs(m.entropy) <= 1e-12 and abs(m.kl - math.log(5)) <= 1e-12
            greedy = np.zeros((n, 5))  # argmax of the hard-optimal Q: a shortest path
            _, _, pi, _, _ = ref.soft_policy_iteration(game_.mdp, np.zeros((n, 5)), 500.0, GAMMA)
            greedy[np.arange(n), pi.argmax(axis=1)] = 1.0
            moves = ref.shortest_moves(game_.task, agent)
            m = ref.lone_measures(game_, greedy, np.full((n, 5), 0.2), GAMMA, 200)
            assert abs(m.occupancy.sum() - (1 - GAMMA**moves) / (1 - GAMMA)) <= 1e-9
            assert abs(m.task_return - ref.shortest_path_return(moves, GAMMA)) <= 1e-9
            assert m.arrival == 1.0


def sample_lone(task, agent, pi, cells, rng, episodes, max_steps=200):
    """Episodes of one agent alone played with ``rules_step`` (a phantom partner off the map):
    per episode the discounted number of steps taken, the discounted return and arrival."""
    walls, goal, index = task.walls.tolist(), tuple(task.goals[agent]), {c: i for i, c in enumerate(cells)}
    cumulative = np.cumsum(pi, axis=1)
    out = np.zeros((episodes, 3))
    for e in range(episodes):
        cell, discount = tuple(task.starts[agent]), 1.0
        for _ in range(max_steps):
            a = min(int(np.searchsorted(cumulative[index[cell]], rng.random(), side="right")), 4)
            cell, arrived, reward = ref.lone_step(walls, goal, cell, a, agent)
            out[e, 0] += discount
            out[e, 1] += discount * reward
            discount *= GAMMA
            if arrived:
                out[e, 2] = 1.0
                break
    return out


def assert_close_to_samples(samples, exact, label):
    mean = samples.mean(axis=0)
    error = samples.std(axis=0) / np.sqrt(len(samples))
    error[2] = math.sqrt(exact[2] * (1 - exact[2]) / len(samples))  # binomial, from the exact p (no 0 +- 0)
    for name, m, e, x in zip(("discounted steps", "return", "arrival"), mean, error, exact):
        assert abs(m - x) <= 5 * e + 1e-9, f"{label} {name}: sampled {m} +- {e}, exact {x}"


@pytest.mark.parametrize("task_name", ("task1", "task4"))
def test_reference_occupancy_matches_sampled_episodes(task_name):
    """The occupancy sums to the expected discounted number of steps; return and arrival as sampled
    (5 standard errors), for the soft policies of a hot setting (long, varied episodes; at beta = 0.5 the agent arrives
    with probability ~0.997 after ~40 discounted steps)."""
    rng = np.random.default_rng(3)
    task = load_task(task_name)
    for agent, game_ in enumerate(lone_games(task_name)):
        pi0 = np.full((game_.mdp.n, 5), 0.2)
        _, _, pi, _, _ = ref.soft_policy_iteration(game_.mdp, ref.log_weights(pi0, 0.7), 0.5, GAMMA)
        m = ref.lone_measures(game_, pi, pi0, GAMMA, 200)
        samples = sample_lone(task, agent, pi, game_.cells, rng, 1000)
        assert_close_to_samples(samples, (m.occupancy.sum(), m.task_return, m.arrival), f"{task_name} agent {agent}")


def test_reference_alternation_bookkeeping():
    """Iteration 1 starts from the uniform prior; the M-step normalises the summed occupancies
    (V1 per agent, V2 pooled: both rows equal); the objective sums the values."""
    for version in VERSIONS:
        out = ref.reference_alone(("task1", "task4"), 0.7, 2.0, GAMMA, 2, version)
        assert np.allclose(out.objective, out.value.sum(axis=(1, 2)))
        assert np.allclose(out.pi0.sum(axis=2), 1.0)
        assert (out.pi0 >= 0).all()
        assert not np.allclose(out.pi0, out.prior)
        if version == "v2":
            assert np.array_equal(out.pi0[0], out.pi0[1])
        one = ref.reference_alone(("task1", "task4"), 0.7, 2.0, GAMMA, 1, version)
        assert np.array_equal(one.prior, np.full_like(one.prior, 0.2))
        assert np.allclose(one.pi0, out.prior, atol=0)
        assert np.allclose(one.task_return[0], out.task_return[0], atol=0)


# --- the two-agent reference (shared with the slow comparisons) --------------------------------------

_reference_runs: dict = {}
_library_runs: dict = {}


def reference_both_run(alpha, beta, version, first_responder=0):
    key = (alpha, beta, version, first_responder)
    if key not in _reference_runs:
        _reference_runs[key] = ref.reference_both(
            BOTH_TASKS, alpha, beta, GAMMA, BOTH_ITERATIONS, version, tol=1e-10, first_responder=first_responder
        )
    return _reference_runs[key]


def library_both_run(alpha, beta, version, iterations=BOTH_ITERATIONS):
    key = (alpha, beta, version, iterations)
    if key not in _library_runs:
        _library_runs[key] = mdlib.solve_distral(
            list(BOTH_TASKS), alpha, beta, GAMMA, iterations, version, players="both"
        )
    return _library_runs[key]


def sample_both(task, tables, keys, rng, episodes, max_steps=200):
    """Episodes of both agents with ``rules_step``, each acting on its own observation row of
    ``tables`` (2, n_obs, 5); per episode and agent: discounted steps, return, arrival."""
    walls, goals = task.walls.tolist(), (tuple(task.goals[0]), tuple(task.goals[1]))
    row = {key: i for i, key in enumerate(keys)}
    cumulative = np.cumsum(tables, axis=2)
    out = np.zeros((episodes, 2, 3))
    for e in range(episodes):
        positions, done, prev, discount = (tuple(task.starts[0]), tuple(task.starts[1])), (False, False), (0, 0), 1.0
        for _ in range(max_steps):
            if all(done):
                break
            actions = [0, 0]
            for j in (0, 1):
                if not done[j]:
                    c = cumulative[j, row[ref.observation_key(positions, done, prev, j)]]
                    actions[j] = min(int(np.searchsorted(c, rng.random(), side="right")), 4)
            new_positions, new_done, rewards = rules_step(walls, goals, positions, done, actions, "reference")
            for j in (0, 1):
                if not done[j]:
                    out[e, j, 0] += discount
                    out[e, j, 1] += discount * rewards[j]
                    out[e, j, 2] = float(new_done[j])
            positions, done, prev, discount = new_positions, new_done, tuple(actions), discount * GAMMA
    return out


def test_slow_both_reference_is_a_fixed_point_and_matches_samples():
    """Two agents (task 1, hot setting): both Bellman equations hold at the returned fixed point;
    occupancy, return and arrival of each agent match sampled episodes."""
    out = reference_both_run(0.7, 0.5, "v1")
    assert out.residual.max() <= 1e-9
    i = BOTH_TASKS.index("task1")
    game_, tables = out.info["games"][i], out.info["policy_history"][0][i]  # iteration 1's policies
    pis = [tables[j][np.maximum(game_.obs[j], 0)] for j in (0, 1)]
    measures = ref.joint_measures(game_, pis, [np.full_like(pis[0], 0.2)] * 2, GAMMA, 200)
    samples = sample_both(load_task("task1"), tables, out.observations, np.random.default_rng(5), 1200)
    for j in (0, 1):
        m = measures[j]
        assert abs(m.task_return - out.task_return[0, i, j]) <= 1e-12
        assert abs(m.arrival - out.arrival[0, i, j]) <= 1e-12
        assert_close_to_samples(samples[:, j], (m.occupancy.sum(), m.task_return, m.arrival), f"agent {j}")


def test_slow_both_reference_without_encounters_is_the_lone_solution():
    """Task 5, cold setting: the agents stay in their rooms, so each earns its shortest-path
    return (4 moves) within the soft policy's loss, as alone."""
    out = reference_both_run(0.7, 10.0, "v1")
    i = BOTH_TASKS.index("task5")
    lone = ref.reference_alone(["task5"], 0.7, 10.0, GAMMA, 1)
    best = ref.shortest_path_return(4, GAMMA)
    assert np.all(np.abs(out.task_return[0, i] - best) <= 1e-3)
    assert np.all(np.abs(out.task_return[0, i] - lone.task_return[0, 0]) <= 1e-3)


def test_slow_both_reference_fixed_point_depends_on_who_answers_first_only_when_cold():
    """beta = 0.5: agent 1 or agent 2 answering first reaches the same fixed point. beta = 10 on
    task 1: two fixed points, mirror images: whoever answers first crosses the corridor first, the
    other waits about six steps (the contention rule favours agent 2, so they are not exact mirrors).
    Both are fixed points (Bellman residuals <= 1e-9)."""
    i = BOTH_TASKS.index("task1")
    hot = ref.reference_both(["task1"], 0.7, 0.5, GAMMA, 1, "v1", tol=1e-10, first_responder=1)
    assert np.max(np.abs(hot.task_return[0, 0] - reference_both_run(0.7, 0.5, "v1").task_return[0, i])) <= 1e-7
    cold = [reference_both_run(0.7, 10.0, "v1", first_responder=f) for f in (0, 1)]
    for out in cold:
        assert out.residual.max() <= 1e-9
    first_1, first_2 = cold[0].task_return[0, i], cold[1].task_return[0, i]
    assert first_1[0] > first_1[1] + 5 and first_2[1] > first_2[0] + 5
    assert np.max(np.abs(first_1 - first_2[::-1])) <= 1e-3


# --- the library against the reference ---------------------------------------------------------------


def lone_to_library_rows(cells, task):
    """Row of the library's (cell_index) table for each of the reference's cells."""
    return np.array([task.cell_index[cell] for cell in cells])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("alpha, beta", SETTINGS)
def test_alone_matches_the_reference(alpha, beta, version):
    lib = mdlib.solve_distral("original", alpha, beta, GAMMA, ITERATIONS, version, players="alone")
    out = ref.reference_alone("original", alpha, beta, GAMMA, ITERATIONS, version)
    assert lib.task_return.shape == out.task_return.shape == (ITERATIONS, 5, 2)
    assert np.max(np.abs(lib.task_return - out.task_return)) <= 1e-3
    assert np.max(np.abs(lib.arrival - out.arrival)) <= 1e-3
    assert np.max(np.abs(lib.objective - out.objective) / np.abs(out.objective)) <= 1e-3
    # stricter: both sides are exact, so they should agree to solver precision
    assert np.max(np.abs(lib.task_return - out.task_return)) <= 1e-6
    assert np.max(np.abs(lib.value - out.value)) <= 1e-6
    assert np.max(np.abs(lib.entropy - out.entropy)) <= 1e-6
    assert np.max(np.abs(lib.kl - out.kl)) <= 1e-6
    rows = lone_to_library_rows(out.observations, load_task("task1"))
    assert np.max(np.abs(lib.pi0[:, rows] - out.pi0)) <= 1e-6
    assert np.max(np.abs(lib.prior[:, rows] - out.prior)) <= 1e-6
    for i, task_name in enumerate(TASKS):
        for j in (0, 1):
            goal = load_task(task_name).cell_index[load_task(task_name).goals[j]]
            decide = rows != goal
            assert np.max(np.abs(lib.policies[i, j, rows[decide]] - out.policies[i][j][decide])) <= 1e-6


@pytest.mark.parametrize("alpha, beta", SETTINGS)
def test_alone_first_iteration_is_the_lone_soft_optimum_and_near_the_closed_form(alpha, beta):
    """Iteration 1 (uniform prior): the library's solver's lone soft optimum; no policy beats the
    shortest path, and at beta = 10 the return is within 1e-3 of it."""
    lib = mdlib.solve_distral("original", alpha, beta, GAMMA, 1, "v1", players="alone")
    for i, task_name in enumerate(TASKS):
        task = load_task(task_name)
        for j in (0, 1):
            optimum = lone_soft_optimum(task, j, alpha, beta, GAMMA)
            assert abs(lib.task_return[0, i, j] - optimum.task_return) <= 1e-6
            assert abs(lib.arrival[0, i, j] - optimum.arrival) <= 1e-6
            assert abs(lib.value[0, i, j] - optimum.value) <= 1e-6
            best = ref.shortest_path_return(ref.shortest_moves(task, j), GAMMA)
            assert lib.task_return[0, i, j] <= best + 1e-9
            if beta >= 10:
                assert abs(lib.task_return[0, i, j] - best) <= 1e-3


def both_to_library_rows(keys, task):
    """Row of the library's observation table for each of the reference's observation keys."""
    cell = task.cell_index
    return np.array(
        [
            game.observation_index(task.n_cells, int(cell[first]), int(cell[second]), own, other, other_done)
            for first, second, own, other, other_done in keys
        ]
    )


@pytest.mark.parametrize("alpha, beta, version", BOTH_RUNS)
def test_slow_both_matches_the_reference(alpha, beta, version):
    """Start-state numbers at every iteration. At beta = 10 task 1 has two fixed points (see the test
    above): the library must reproduce one of the reference's two, at every iteration."""
    lib = library_both_run(alpha, beta, version)
    candidates = [reference_both_run(alpha, beta, version)]
    if beta >= 10:
        candidates.append(reference_both_run(alpha, beta, version, first_responder=1))
    gaps = []
    for out in candidates:
        assert lib.task_return.shape == out.task_return.shape == (BOTH_ITERATIONS, len(BOTH_TASKS), 2)
        gaps.append(
            max(
                np.max(np.abs(lib.task_return - out.task_return)),
                np.max(np.abs(lib.arrival - out.arrival)),
                np.max(np.abs(lib.value - out.value)),
                np.max(np.abs(lib.objective - out.objective) / np.abs(out.objective)),
            )
        )
    assert min(gaps) <= 1e-3, f"task_return/arrival/value/objective gaps to the reference fixed points: {gaps}"


@pytest.mark.parametrize("alpha, beta, version", [run for run in BOTH_RUNS if run[1] < 10])
def test_slow_both_tables_match_the_reference(alpha, beta, version):
    """Where the fixed point is unique: the same observation rows in use, the same distilled prior on
    them, uniform elsewhere, the same task policies on the rows the agents decide at."""
    lib = library_both_run(alpha, beta, version)
    out = reference_both_run(alpha, beta, version)
    rows = both_to_library_rows(out.observations, load_task(BOTH_TASKS[0]))
    assert len(set(rows.tolist())) == len(rows)
    assert np.max(np.abs(lib.pi0[:, rows] - out.pi0)) <= 1e-6
    assert np.max(np.abs(lib.prior[:, rows] - out.prior)) <= 1e-6
    others = np.setdiff1d(np.arange(lib.pi0.shape[1]), rows)
    assert np.all(lib.pi0[:, others] == 0.2)
    for i, game_ in enumerate(out.info["games"]):
        for j in (0, 1):
            used = game_.obs[j][game_.obs[j] >= 0]
            assert np.max(np.abs(lib.policies[i, j, rows[used]] - out.policies[i][j][used])) <= 1e-6


@pytest.mark.parametrize("alpha, beta, version", BOTH_RUNS)
def test_slow_both_library_iterations_are_fixed_points_and_distillations(alpha, beta, version):
    """Whatever fixed point the library selects, check it with the reference's own machinery, for
    iteration 1 (a one-iteration run) and iteration 2: each agent's library policy is the
    reference's exact soft best response to the other's, under the library's prior; the library's
    value, return, arrival, entropy and kl are those of its policies played exactly by the
    reference; its next prior is the reference's distillation of those policies' occupancies."""
    out = reference_both_run(alpha, beta, version)  # for the joint games and observation numbering
    rows = both_to_library_rows(out.observations, load_task(BOTH_TASKS[0]))
    for iterations in (1, BOTH_ITERATIONS):
        lib = library_both_run(alpha, beta, version, iterations)
        counts = np.zeros((2, len(rows), 5))
        for i, game_ in enumerate(out.info["games"]):
            states = [rows[np.maximum(game_.obs[j], 0)] for j in (0, 1)]  # library row per joint state
            pis = [lib.policies[i, j][states[j]] for j in (0, 1)]
            priors = [lib.prior[j][states[j]] for j in (0, 1)]
            for j in (0, 1):
                mdp = game_.agent_mdp(j, game_.effective(1 - j, pis[1 - j]))
                _, v, pi, residual, _ = ref.soft_policy_iteration(
                    mdp, ref.log_weights(priors[j], alpha), beta, GAMMA, pi=pis[j], tol=1e-11
                )
                active = ~game_.done[:, j]
                assert np.max(np.abs(pi - pis[j])[active]) <= 1e-6, (iterations, i, j)
                assert abs(v[0] - lib.value[-1, i, j]) <= 1e-6
            measures = ref.joint_measures(game_, pis, priors, GAMMA, 200)
            for j, m in enumerate(measures):
                for name in ("task_return", "arrival", "entropy", "kl"):
                    assert abs(getattr(m, name) - getattr(lib, name)[-1, i, j]) <= 1e-8, (name, iterations, i, j)
                active = ~game_.done[:, j]
                np.add.at(counts[j], game_.obs[j][active], m.occupancy[active])
        assert np.max(np.abs(lib.pi0[:, rows] - ref.distil(counts, version))) <= 1e-9
    assert np.max(np.abs(library_both_run(alpha, beta, version, 1).pi0 - lib.prior)) <= 1e-12
