"""Distillation, the M-step (report equations 6 and 8).

With the task policies fixed, the pi0 maximising sum_i E_{pi_i}[sum_t gamma^t log pi0(a_t|s_t)]
is the normalised discounted visit count: count[s, a] = sum over played steps t with s_t = s,
a_t = a of gamma^t, then pi0(.|s) = count[s, .] / sum_a count[s, a]. V1 keeps one table per
agent; V2 pools both agents' counts into one (eq. 8), which lines up because observations are
egocentric. A state never visited has no information: pi0 is uniform there.

The expected counts below are written out by hand from the maps of tasks 1 and 5 (task 5:
agent 1 starts at (1, 7) with its goal at (5, 7), agent 2 at (1, 1) with its goal at (5, 1);
task 1 swaps the starts: agent 1 at (1, 1), agent 2 at (1, 7)), in the egocentric septuple
(own cell, other's cell, own previous action, other's previous action, other done).
"""

from __future__ import annotations

import numpy as np
import pytest

from mdlib import game, load_task, solve_joint
from mdlib.learners import (
    MultiDistral,
    QLearning,
    RunResult,
    agent_overlap,
    average_policy,
    distill,
    distral_policy,
    episodes,
    mstep_counts,
    policy_entropy,
    visit_counts,
)

STAY, DOWN, UP, LEFT, RIGHT = range(5)
G = 0.9  # discount of the counts in the hand-written examples


def scripted(actions_1, actions_2):
    return lambda pos, done, prev, t: (actions_1[t], actions_2[t])


@pytest.fixture(scope="module")
def tasks():
    return {name: load_task(name) for name in ("task1", "task4", "task5")}


@pytest.fixture(scope="module")
def trajectories(tasks):
    t5, t1 = tasks["task5"], tasks["task1"]
    return [
        # A: both walk straight down, arriving together after 4 steps.
        game.play(t5, scripted([DOWN] * 4, [DOWN] * 4)),
        # B: agent 1 waits one step, agent 2 arrives first (after 4 steps) and is done at step 4.
        game.play(t5, scripted([STAY] + [DOWN] * 4, [DOWN] * 4 + [STAY])),
        # C: both bump into the outer wall first (the move fails), then walk down.
        game.play(t5, scripted([RIGHT] + [DOWN] * 4, [LEFT] + [DOWN] * 4)),
        # D: task 1, truncated after one step: agent 1 moves right, agent 2 stays.
        game.play(t1, scripted([RIGHT], [STAY]), max_steps=1),
    ]


def observation(task, own, other, own_prev, other_prev, other_done):
    """Table index of an egocentric septuple, from cells given as (row, col)."""
    cell = task.cell_index
    return game.observation_index(task.n_cells, cell[own], cell[other], own_prev, other_prev, other_done)


def hand_counts(task):
    """``{(agent, observation, action): sum of G^t}`` of trajectories A-D, written out step by step."""
    o = lambda *septuple: observation(task, *septuple)  # noqa: E731
    entries = [
        # A -- t: agent 1's observation and action, agent 2's
        (0, o((1, 7), (1, 1), 0, 0, 0), DOWN, 1),
        (1, o((1, 1), (1, 7), 0, 0, 0), DOWN, 1),
        (0, o((2, 7), (2, 1), 1, 1, 0), DOWN, G),
        (1, o((2, 1), (2, 7), 1, 1, 0), DOWN, G),
        (0, o((3, 7), (3, 1), 1, 1, 0), DOWN, G**2),
        (1, o((3, 1), (3, 7), 1, 1, 0), DOWN, G**2),
        (0, o((4, 7), (4, 1), 1, 1, 0), DOWN, G**3),
        (1, o((4, 1), (4, 7), 1, 1, 0), DOWN, G**3),
        # B
        (0, o((1, 7), (1, 1), 0, 0, 0), STAY, 1),
        (1, o((1, 1), (1, 7), 0, 0, 0), DOWN, 1),
        (0, o((1, 7), (2, 1), 0, 1, 0), DOWN, G),
        (1, o((2, 1), (1, 7), 1, 0, 0), DOWN, G),
        (0, o((2, 7), (3, 1), 1, 1, 0), DOWN, G**2),
        (1, o((3, 1), (2, 7), 1, 1, 0), DOWN, G**2),
        (0, o((3, 7), (4, 1), 1, 1, 0), DOWN, G**3),
        (1, o((4, 1), (3, 7), 1, 1, 0), DOWN, G**3),
        (0, o((4, 7), (5, 1), 1, 1, 1), DOWN, G**4),  # agent 2 is done: it is not counted
        # C: the failed moves leave both in place, with their previous actions recorded
        (0, o((1, 7), (1, 1), 0, 0, 0), RIGHT, 1),
        (1, o((1, 1), (1, 7), 0, 0, 0), LEFT, 1),
        (0, o((1, 7), (1, 1), RIGHT, LEFT, 0), DOWN, G),
        (1, o((1, 1), (1, 7), LEFT, RIGHT, 0), DOWN, G),
        (0, o((2, 7), (2, 1), 1, 1, 0), DOWN, G**2),
        (1, o((2, 1), (2, 7), 1, 1, 0), DOWN, G**2),
        (0, o((3, 7), (3, 1), 1, 1, 0), DOWN, G**3),
        (1, o((3, 1), (3, 7), 1, 1, 0), DOWN, G**3),
        (0, o((4, 7), (4, 1), 1, 1, 0), DOWN, G**4),
        (1, o((4, 1), (4, 7), 1, 1, 0), DOWN, G**4),
        # D (task 1): agent 1 at (1, 1) sees what agent 2 of task 5 sees at its start, and vice versa
        (0, o((1, 1), (1, 7), 0, 0, 0), RIGHT, 1),
        (1, o((1, 7), (1, 1), 0, 0, 0), STAY, 1),
    ]
    counts: dict = {}
    for agent, s, a, weight in entries:
        counts[agent, s, a] = counts.get((agent, s, a), 0.0) + weight
    return counts


def test_the_scripted_trajectories_are_what_the_hand_counts_assume(trajectories):
    a, b, c, d = trajectories
    assert (len(a), len(b), len(c), len(d)) == (4, 5, 5, 1)
    assert a.done[-1].all() and b.done[-1].all() and c.done[-1].all() and not d.done[-1].any()
    assert b.done[4].tolist() == [False, True]
    np.testing.assert_array_equal(c.positions[1], c.positions[0])  # both moves into walls failed


def test_visit_counts_are_the_hand_computed_discounted_counts(tasks, trajectories):
    expected = hand_counts(tasks["task5"])
    counts = visit_counts(trajectories, G)
    assert counts.shape == (2, game.observation_count(23), 5)
    assert np.count_nonzero(counts) == len(expected)
    for (agent, s, a), weight in expected.items():
        assert counts[agent, s, a] == pytest.approx(weight, rel=1e-14), (agent, s, a)
    # e.g. agent 1 at (2, 7) beside agent 2 at (2, 1), both having moved down: step 1 of A and
    # step 2 of C, so G + G^2
    s = observation(tasks["task5"], (2, 7), (2, 1), DOWN, DOWN, 0)
    assert counts[0, s, DOWN] == pytest.approx(G + G**2, rel=1e-14)


def test_distill_v1_normalises_each_agents_counts(tasks, trajectories):
    t5 = tasks["task5"]
    pi0 = distill(visit_counts(trajectories, G), "v1")
    np.testing.assert_allclose(pi0.sum(axis=-1), 1.0, atol=1e-14)
    # Agent 1's start of task 5: down in A, stay in B, right in C, each at t = 0.
    start_1 = observation(t5, (1, 7), (1, 1), 0, 0, 0)
    np.testing.assert_allclose(pi0[0, start_1], [1 / 3, 1 / 3, 0, 0, 1 / 3], atol=1e-14)
    # Agent 2's start of task 5: down in A and B, left in C.
    start_2 = observation(t5, (1, 1), (1, 7), 0, 0, 0)
    np.testing.assert_allclose(pi0[1, start_2], [0, 2 / 3, 0, 1 / 3, 0], atol=1e-14)
    # V1 keeps the agents apart: agent 1 saw start_2's septuple only in task 1 (D: right),
    # agent 2 saw start_1's only in task 1 (D: stay).
    np.testing.assert_allclose(pi0[0, start_2], [0, 0, 0, 0, 1], atol=1e-14)
    np.testing.assert_allclose(pi0[1, start_1], [1, 0, 0, 0, 0], atol=1e-14)
    # A row with unequal discounts: (2, 7)/(2, 1) after down/down was taken with "down" only.
    s = observation(t5, (2, 7), (2, 1), DOWN, DOWN, 0)
    np.testing.assert_allclose(pi0[0, s], [0, 1, 0, 0, 0], atol=1e-14)


def test_distill_v2_pools_both_agents_counts(tasks, trajectories):
    t5 = tasks["task5"]
    counts = visit_counts(trajectories, G)
    pi0 = distill(counts, "v2")
    np.testing.assert_array_equal(pi0[0], pi0[1])  # one shared policy
    pooled = counts[0] + counts[1]
    visited = pooled.sum(axis=1) > 0
    np.testing.assert_allclose(
        pi0[0][visited], pooled[visited] / pooled[visited].sum(axis=1, keepdims=True), atol=1e-14
    )
    # The start septuple "me at (1, 7), the other at (1, 1)": agent 1 of task 5 (down, stay, right)
    # and agent 2 of task 1 (stay), all at t = 0.
    start_1 = observation(t5, (1, 7), (1, 1), 0, 0, 0)
    np.testing.assert_allclose(pi0[0, start_1], [2 / 4, 1 / 4, 0, 0, 1 / 4], atol=1e-14)
    # "me at (1, 1), the other at (1, 7)": agent 2 of task 5 (down, down, left), agent 1 of task 1 (right).
    start_2 = observation(t5, (1, 1), (1, 7), 0, 0, 0)
    np.testing.assert_allclose(pi0[0, start_2], [0, 2 / 4, 0, 1 / 4, 1 / 4], atol=1e-14)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_unvisited_states_get_the_uniform_policy(trajectories, version):
    counts = visit_counts(trajectories, G)
    pi0 = distill(counts, version)
    per_agent = counts if version == "v1" else np.stack([counts.sum(axis=0)] * 2)
    unvisited = per_agent.sum(axis=-1) == 0
    assert unvisited.sum() > 0.99 * unvisited.size  # almost every row: a few dozen visited
    assert np.all(pi0[unvisited] == 0.2)
    assert not np.any(pi0[~unvisited] == 0.2)  # no visited row here happens to be uniform


def test_distill_and_visit_counts_refuse_bad_input(trajectories):
    counts = visit_counts(trajectories, G)
    with pytest.raises(ValueError, match="version must be one of"):
        distill(counts, "v3")
    with pytest.raises(ValueError, match="no trajectories"):
        visit_counts([], G)


# --- the compiled M-step inside the episode loop -----------------------------------------------------


def optimal_play(task):
    """The exact joint optimum's actions, replayed through game.play (a done agent's action is 0)."""
    actions = solve_joint(task).trajectory.actions
    return game.play(task, lambda pos, done, prev, t: actions[t])


def deterministic_prior(task, trajectory):
    """log pi0 that is 0 for the action the trajectory takes at each of its observations and -inf
    for the others (uniform elsewhere). With alpha = 1 and Q = 0, eq. 5 is then exactly this
    one-hot prior: the soft policy replays the trajectory with probability one."""
    arrays = game.game_arrays(task)
    log_pi0 = np.zeros((2, game.observation_count(arrays.n_cells), game.N_ACTIONS))
    prev = np.zeros(2, np.int64)
    for t, joint in enumerate(trajectory.actions):
        for agent in (0, 1):
            if not trajectory.done[t][agent]:
                s = game.agent_observation(
                    arrays.cell_index, arrays.n_cells, trajectory.positions[t], prev, trajectory.done[t], agent, True
                )
                row = np.full(game.N_ACTIONS, -np.inf)
                row[joint[agent]] = 0.0
                assert np.all(log_pi0[agent, s] == 0) or np.array_equal(log_pi0[agent, s], row)
                log_pi0[agent, s] = row
        prev = np.asarray(joint, np.int64)
    return log_pi0


def test_the_compiled_m_step_counts_what_visit_counts_counts(tasks):
    """The M-step rollouts accumulate sum_t gamma^t inside the compiled loop (count_visits=True),
    summed over tasks and episodes. Made deterministic by a one-hot prior, the loop plays the
    exact optimum of tasks 1, 4 and 5 (twice on task 5); its counts must equal visit_counts of
    the same episodes, and its returns theirs."""
    gamma = 0.99
    soft = episodes.learning_rule(episodes.SOFT, alpha=1.0, beta=1.0)
    counts = np.zeros((2, game.observation_count(23), game.N_ACTIONS))
    played = []
    for name, repeats in (("task1", 1), ("task4", 1), ("task5", 2)):
        task = tasks[name]
        trajectory = optimal_play(task)
        log_pi0 = deterministic_prior(task, trajectory)
        q = np.zeros_like(log_pi0)
        returns, lengths = np.empty((repeats, 2)), np.empty(repeats, np.int64)
        steps = episodes.play_episodes(
            game.game_spec(task),
            soft,
            q,
            log_pi0=log_pi0,
            n_episodes=repeats,
            counts=counts,
            count_gamma=gamma,
            return_gamma=0.99,
            returns=returns,
            lengths=lengths,
        )
        assert steps == repeats * len(trajectory)
        np.testing.assert_array_equal(lengths, len(trajectory))
        for r in returns:
            np.testing.assert_allclose(r, trajectory.returns(0.99), atol=1e-12)
        assert not q.any()  # learn=False: the M-step rollouts leave Q alone
        played += [trajectory] * repeats
    expected = visit_counts(played, gamma)
    # 26 + 20 + 8 state-actions, of which 18 coincide: from task 4's second step on, both agents
    # see exactly what they see in task 1 four steps later, so those counts add across tasks.
    assert np.count_nonzero(expected) == 36
    assert expected.max() > 1.0  # and some entries collected several discounted visits
    np.testing.assert_allclose(counts, expected, rtol=1e-12, atol=0)
    for version in ("v1", "v2"):
        np.testing.assert_allclose(distill(counts, version), distill(expected, version), rtol=1e-12, atol=0)


# --- reading counts and shared policies -------------------------------------------------------------


def test_mstep_counts_replay_the_final_policies_like_an_m_step(tasks):
    """A hand-made MultiDistral result whose prior is one-hot along the exact optima of tasks 1
    and 5 (Q = 0, alpha = 1, a floor far below any probability): its final task policies replay
    those optima, so ``mstep_counts`` must be ``visit_counts`` of ``games`` copies of each."""
    names, games, gamma = ("task1", "task5"), 3, 0.99
    method = MultiDistral(alpha=1.0, beta=1.0, gamma=gamma, m_games=games, pi0_floor=1e-300)
    played = {name: optimal_play(tasks[name]) for name in names}
    log_pi0 = np.zeros((2, game.observation_count(23), game.N_ACTIONS))
    for name in names:
        log_pi0 = np.minimum(log_pi0, deterministic_prior(tasks[name], played[name]))  # rows agree
    prior = np.exp(log_pi0)
    prior /= prior.sum(axis=-1, keepdims=True)
    result = RunResult(
        learner=method,
        tasks=names,
        seed=0,
        train_x=np.array([1]),
        train_return=np.zeros((2, 1, 2)),
        eval_x=np.array([1]),
        eval_return=np.zeros((2, 1, 2)),
        env_steps=0,
        q=np.zeros((2, *prior.shape)),
        prior=prior,
        pi0=prior,
    )
    counts = mstep_counts(result)
    assert counts.shape == (2, 2, game.observation_count(23), game.N_ACTIONS)
    for i, name in enumerate(names):
        np.testing.assert_allclose(counts[i], visit_counts([played[name]] * games, gamma), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(mstep_counts(result, games=1, seed=5) * games, counts)


def test_mstep_counts_sample_equation_5():
    """On a real (short) run, the actions counted at each agent's first observation of task 1
    follow eq. 5 with the run's final Q and prior; a Q-learning run, or one without tables, is
    refused."""
    method = MultiDistral(iterations=2, e_games=20, m_games=20, beta=2.0)
    result = method.run(("task1",), seed=3, keep_tables=True)
    counts = mstep_counts(result, games=3000, seed=1)
    spec = load_task("task1")
    for agent in (0, 1):
        pos, prev, done = np.array(spec.starts), np.zeros(2, np.int64), np.zeros(2, np.bool_)
        s = game.agent_observation(spec.cell_index, spec.n_cells, pos, prev, done, agent, True)
        seen = counts[0, agent, s] / counts[0, agent, s].sum()
        expected = distral_policy(result.q[0, agent, s], result.prior[agent, s], method.alpha, method.beta)
        np.testing.assert_allclose(seen, expected, atol=0.04)
    with pytest.raises(ValueError, match="keep_tables"):
        mstep_counts(method.run(("task1",), seed=3))
    q_run = QLearning(episodes=5, eval_every=5).run(("task1",), keep_tables=True)
    with pytest.raises(ValueError, match="MultiDistral"):
        mstep_counts(q_run)


def test_agent_overlap_measures_how_much_of_a_pooled_row_each_agent_fills():
    counts = np.zeros((3, 2, 6, game.N_ACTIONS))  # three tasks, six observations
    counts[0, 0, 0, 1] = 3.0  # agent 1 alone in row 0
    counts[1, 0, 1, 2] = 1.0  # row 1: agent 1 once, agent 2 three times
    counts[2, 1, 1, 0] = 3.0
    counts[2, 1, 5, 4] = 4.0  # agent 2 alone in row 5
    shared, other_share = agent_overlap(counts)
    # agent 1: 1 of its 4 visits in a shared row, where agent 2 holds 3/4 of the counts
    # agent 2: 3 of its 7 visits in a shared row, where agent 1 holds 1/4 of the counts
    np.testing.assert_allclose(shared, [1 / 4, 3 / 7])
    np.testing.assert_allclose(other_share, [1 / 4 * 3 / 4, 3 / 7 * 1 / 4])
    same = np.ones((2, 6, game.N_ACTIONS))
    np.testing.assert_allclose(agent_overlap(same), [[1, 1], [0.5, 0.5]])
    apart = np.zeros((2, 6, game.N_ACTIONS))
    apart[0, :3], apart[1, 3:] = 1.0, 1.0
    np.testing.assert_allclose(agent_overlap(apart), 0.0)
    with pytest.raises(ValueError, match="no visits"):
        agent_overlap(np.zeros((2, 6, game.N_ACTIONS)))
    with pytest.raises(ValueError, match="shape"):
        agent_overlap(np.ones((3, 6, game.N_ACTIONS)))


def test_average_policy_merges_rows_by_what_it_keeps():
    """Rows that differ only in the two previous actions are merged, weighted by their visits;
    rows that differ in a cell or the done flag are not, unless ``keep_other=False``, which keeps
    only the first cell; a group never visited is uniform."""
    n = 23
    table = np.full((2, game.observation_count(n), game.N_ACTIONS), 1.0 / game.N_ACTIONS)
    weights = np.zeros(table.shape[:2])
    row = lambda own, other, p1, p2, done: game.observation_index(n, own, other, p1, p2, done)  # noqa: E731
    a, b, c, d = row(4, 9, 1, 0, False), row(4, 9, 3, 2, False), row(4, 9, 3, 2, True), row(4, 11, 0, 0, False)
    table[0, a], weights[0, a] = [0, 1, 0, 0, 0], 3.0
    table[0, b], weights[0, b] = [0, 0, 0, 0, 1], 1.0
    table[0, c], weights[0, c] = [1, 0, 0, 0, 0], 2.0
    table[0, d], weights[0, d] = [0, 0, 1, 0, 0], 2.0
    averaged, mass = average_policy(table, weights)
    assert averaged.shape == table.shape
    np.testing.assert_allclose(averaged.sum(axis=-1), 1.0)
    for p1 in range(5):
        for p2 in range(5):
            np.testing.assert_allclose(averaged[0, row(4, 9, p1, p2, False)], [0, 0.75, 0, 0, 0.25])
            np.testing.assert_allclose(averaged[0, row(4, 9, p1, p2, True)], [1, 0, 0, 0, 0])
            np.testing.assert_allclose(averaged[0, row(4, 11, p1, p2, False)], [0, 0, 1, 0, 0])
            np.testing.assert_allclose(averaged[1, row(4, 9, p1, p2, False)], 0.2)  # agent 2: no visits
            np.testing.assert_allclose(averaged[0, row(9, 4, p1, p2, False)], 0.2)  # cells swapped
    assert mass.shape == (2, n, n, 2)
    assert (mass[0, 4, 9, 0], mass[0, 4, 9, 1], mass[0, 4, 11, 0], mass.sum()) == (4.0, 2.0, 2.0, 8.0)

    own_cell, mass = average_policy(table, weights, keep_other=False)
    everywhere = [2 / 8, 3 / 8, 2 / 8, 0, 1 / 8]  # 2 stay, 3 down, 2 up, 1 right out of 8
    for other in (9, 11, 0):
        for done in (False, True):
            np.testing.assert_allclose(own_cell[0, row(4, other, 2, 3, done)], everywhere)
    np.testing.assert_allclose(own_cell[0, row(5, 9, 0, 0, False)], 0.2)
    assert mass.shape == (2, n, n, 2) and (mass[0, 4] == 8.0).all() and mass[0, 5].sum() == 0
    with pytest.raises(ValueError, match="weights"):
        average_policy(table, weights[:, :10])


def test_policy_entropy_weights_rows_by_visits():
    table = np.full((2, 3, game.N_ACTIONS), 0.2)
    table[0, 1] = [0.5, 0.5, 0, 0, 0]
    weights = np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 2.0]])
    entropy, zeros = policy_entropy(table, weights)
    np.testing.assert_allclose(entropy, [(np.log(5) + 3 * np.log(2)) / 4, np.log(5)])
    np.testing.assert_allclose(zeros, [3 / 4 * 3 / 5, 0.0])
    with pytest.raises(ValueError, match="weight"):
        policy_entropy(table, np.zeros((2, 3)))
