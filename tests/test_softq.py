"""Soft Q-learning with a Distral prior: the E-step's equations 3-5 of the report.

    V(s)    = (1/beta) log sum_a pi0(a|s)^alpha exp(beta Q(s, a))      (eq. 3)
    Q(s, a) = R(s, a) + gamma sum_s' p(s'|s, a) V(s')                  (eq. 4)
    pi(a|s) = pi0(a|s)^alpha exp(beta (Q(s, a) - V(s)))                (eq. 5)

The sampled learner (the same compiled soft value as the game's E-step) must converge to the
exact fixed point of eqs. 3-4, computed here by ``mdlib.solver.soft_value_iteration`` on a small
stochastic MDP with a non-uniform prior; with alpha = 0 and large beta the soft values must
approach the hard (max) values within log|A| / (beta (1 - gamma)); the formulas must stay finite
for beta = 100, Q ~ 100 and prior entries of 0 or 1e-300; and eq. 5 must be a normalised
distribution equal to pi0^alpha exp(beta (Q - V)). Finally, inside the game's episode loop (the
E-step MultiDistral runs), one scripted update must be exactly eq. 4 with V of eq. 3, and the
sampled actions must follow eq. 5.
"""

from __future__ import annotations

import numpy as np
import pytest

from mdlib import game, load_task
from mdlib.learners import PI0_FLOOR, distral_policy, episodes, rng, soft_value
from mdlib.learners.softq import log_prior, soft_policy, soft_q_learning_mdp, soft_state_value
from mdlib.solver import soft_value_iteration

N_STATES, N_ACTIONS = 5, 3
TERMINAL = N_STATES - 1
GAMMA = 0.8

#: Sampled soft Q-learning: 2e6 uniformly drawn state-action updates (~1.3e5 per pair) with
#: learning rate visits^-0.8. Over 5 seeds and all settings below the largest error seen was
#: 0.011 (|Q| up to 3.1); the tolerance is about three times that. Replacing the prior by the
#: uniform one, the exponent alpha by the learning rate (defect 4) or the rewards by others
#: moves Q by more than four times the tolerance (``test_the_comparison_has_power``).
STEPS, POWER, Q_TOL = 2_000_000, 0.8, 0.03
SETTINGS = [(0.7, 0.5), (0.3, 2.0), (1.0, 5.0)]


def hard_value_iteration(transitions, rewards, gamma, tol=1e-12):
    """Ordinary value iteration: V(s) = max_a [R(s, a) + gamma E V(s')]."""
    v = np.zeros(len(rewards))
    while True:
        q = rewards + gamma * transitions @ v
        new = q.max(axis=1)
        if np.abs(new - v).max() <= tol:
            return rewards + gamma * transitions @ new, new
        v = new


@pytest.fixture(scope="module")
def mdp():
    """5 states, 3 actions, random transitions and rewards; state 4 is absorbing with reward 0.
    The prior is non-uniform in every state (and well above the learners' floor)."""
    rng = np.random.default_rng(7)
    transitions = rng.dirichlet(np.ones(N_STATES), size=(N_STATES, N_ACTIONS))
    transitions[TERMINAL] = 0.0
    transitions[TERMINAL, :, TERMINAL] = 1.0
    rewards = rng.uniform(-1.0, 1.0, (N_STATES, N_ACTIONS))
    rewards[TERMINAL] = 0.0
    pi0 = np.array([rng.permutation([0.75, 0.2, 0.05]) for _ in range(N_STATES)])
    assert pi0.min() > 100 * PI0_FLOOR  # the learner's floor must not change this prior
    return transitions, rewards, pi0


# --- the exact reference ------------------------------------------------------------------------


@pytest.mark.parametrize("alpha, beta", SETTINGS)
def test_soft_value_iteration_is_the_fixed_point_of_eqs_3_to_5(mdp, alpha, beta):
    transitions, rewards, pi0 = mdp
    q, v, pi = soft_value_iteration(transitions, rewards, pi0, alpha, beta, GAMMA)
    # eq. 3, written out directly (the values are small enough not to overflow)
    np.testing.assert_allclose(v, np.log((pi0**alpha * np.exp(beta * q)).sum(axis=1)) / beta, atol=1e-12)
    # eq. 4
    np.testing.assert_allclose(q, rewards + GAMMA * transitions @ v, atol=1e-10)
    # eq. 5
    np.testing.assert_allclose(pi, pi0**alpha * np.exp(beta * (q - v[:, None])), atol=1e-12)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, atol=1e-12)
    # The absorbing state collects only the regularisation: V = log(sum_a pi0^alpha) / (beta (1-gamma)).
    expected = np.log((pi0[TERMINAL] ** alpha).sum()) / (beta * (1 - GAMMA))
    assert v[TERMINAL] == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("alpha, beta", SETTINGS)
def test_the_comparison_has_power(mdp, alpha, beta):
    """The learner's tolerance is far below what a uniform prior instead of pi0, the learning
    rate 0.1 instead of alpha as the exponent on pi0 (defect 4 of the reference code) or other
    rewards (e.g. one step late) would change, so the convergence test below can catch them."""
    transitions, rewards, pi0 = mdp
    q, _, _ = soft_value_iteration(transitions, rewards, pi0, alpha, beta, GAMMA)
    uniform = np.full_like(pi0, 1.0 / N_ACTIONS)
    variants = [
        soft_value_iteration(transitions, rewards, uniform, alpha, beta, GAMMA)[0],
        soft_value_iteration(transitions, rewards, pi0, 0.1, beta, GAMMA)[0],
        soft_value_iteration(transitions, np.roll(rewards, 1, axis=0), pi0, alpha, beta, GAMMA)[0],
    ]
    for other in variants:
        assert np.abs(q - other).max() > 4 * Q_TOL


# --- (a) the sampled learner converges to the exact soft values -----------------------------------


@pytest.mark.parametrize("alpha, beta", SETTINGS)
def test_soft_q_learning_converges_to_the_exact_soft_values(mdp, alpha, beta):
    transitions, rewards, pi0 = mdp
    q, v, pi = soft_value_iteration(transitions, rewards, pi0, alpha, beta, GAMMA)
    learned = soft_q_learning_mdp(transitions, rewards, pi0, alpha, beta, GAMMA, STEPS, seed=1, power=POWER)
    assert np.abs(learned - q).max() < Q_TOL
    # V (eq. 3) is 1-Lipschitz in Q in the max norm, so the learned soft value is as close.
    assert np.abs(soft_value(learned, pi0, alpha, beta) - v).max() < Q_TOL


# --- (b) alpha = 0, large beta: the soft values approach the hard ones ------------------------------


@pytest.mark.parametrize("beta", [5.0, 20.0, 50.0, 100.0])
def test_exact_soft_values_approach_hard_values_like_log_a_over_beta(mdp, beta):
    """With alpha = 0, V is a log-sum-exp: max Q <= V <= max Q + log|A| / beta per state, which
    over the discounted future puts the soft values within log|A| / (beta (1 - gamma)) above the
    hard ones (and Q within gamma times that)."""
    transitions, rewards, pi0 = mdp
    q_hard, v_hard = hard_value_iteration(transitions, rewards, GAMMA)
    q, v, _ = soft_value_iteration(transitions, rewards, pi0, 0.0, beta, GAMMA)
    bound = np.log(N_ACTIONS) / (beta * (1 - GAMMA))
    assert np.all(v >= v_hard - 1e-9) and np.all(v - v_hard <= bound + 1e-9)
    assert np.all(q >= q_hard - 1e-9) and np.all(q - q_hard <= GAMMA * bound + 1e-9)
    # The gap really is of order 1/beta, not smaller: the bound is not met vacuously.
    assert (v - v_hard).max() > 0.05 * bound


def test_soft_q_learning_with_alpha_zero_and_large_beta_learns_hard_values(mdp):
    transitions, rewards, pi0 = mdp
    beta = 50.0
    q_hard, _ = hard_value_iteration(transitions, rewards, GAMMA)
    learned = soft_q_learning_mdp(transitions, rewards, pi0, 0.0, beta, GAMMA, STEPS, seed=2, power=POWER)
    bound = GAMMA * np.log(N_ACTIONS) / (beta * (1 - GAMMA))
    assert np.abs(learned - q_hard).max() < Q_TOL + bound
    # alpha = 0 ignores the prior: the learner gives the same values under any prior.
    uniform = np.full_like(pi0, 1.0 / N_ACTIONS)
    again = soft_q_learning_mdp(transitions, rewards, uniform, 0.0, beta, GAMMA, STEPS, seed=2, power=POWER)
    np.testing.assert_array_equal(learned, again)


# --- (c) numerical stability -------------------------------------------------------------------


HUGE_Q = np.array(
    [[100.0, 99.5, 100.2, -100.0, 100.1], [100.0, 100.0, 100.0, 100.0, 100.0], [-100.0, 100.0, 0.0, 99.99, 42.0]]
)
TINY_PI0 = np.array([[0.0, 1e-300, 1.0, 0.0, 0.0], [1e-300, 1e-300, 1e-300, 1e-300, 1.0], [0.0, 0.0, 0.0, 0.0, 1.0]])


@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_soft_value_and_policy_are_finite_at_beta_100_with_zero_priors(alpha):
    beta = 100.0
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.exp(beta * HUGE_Q)).all()  # the naive formula would overflow
    v = soft_value(HUGE_Q, TINY_PI0, alpha, beta)
    pi = distral_policy(HUGE_Q, TINY_PI0, alpha, beta)
    assert np.isfinite(v).all() and np.isfinite(pi).all()
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, atol=1e-12)
    assert (pi >= 0).all()
    # V lies between the largest logit / beta and that plus log|A| / beta (log-sum-exp bounds),
    # with the prior floored at PI0_FLOOR before its log.
    logits = alpha * np.log(np.maximum(TINY_PI0, PI0_FLOOR)) + beta * HUGE_Q
    top = logits.max(axis=1) / beta
    assert np.all(v >= top - 1e-12) and np.all(v <= top + np.log(5) / beta + 1e-12)

    # The compiled versions the episode loop runs (on one agent's tables) agree with the array versions.
    log_pi0 = log_prior(TINY_PI0)
    q = HUGE_Q
    probs = np.empty(5)
    for s in range(len(HUGE_Q)):
        v_compiled = soft_policy(q, log_pi0, s, alpha, beta, probs)
        assert np.isfinite(v_compiled) and np.isfinite(probs).all()
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)
        np.testing.assert_allclose(probs, pi[s], rtol=1e-9, atol=1e-300)
        assert v_compiled == pytest.approx(v[s], rel=1e-12)
        assert soft_state_value(q, log_pi0, s, alpha, beta) == pytest.approx(v[s], rel=1e-12)


def test_a_zero_prior_is_floored_not_forbidding():
    """A distilled pi0 has exact zeros for actions never taken; with the floor they stay possible."""
    q = np.zeros((1, 5))
    pi0 = np.array([[1.0, 0.0, 0.0, 0.0, 0.0]])
    pi = distral_policy(q, pi0, 1.0, 1.0)
    assert (pi[0, 1:] > 0).all()
    np.testing.assert_allclose(pi, distral_policy(q, np.array([[1.0] + [PI0_FLOOR] * 4]), 1.0, 1.0))


# --- (d) eq. 5 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha, beta", [(0.0, 1.0), (0.7, 0.5), (0.3, 2.0), (1.0, 5.0)])
def test_distral_policy_is_normalised_and_is_eq_5(alpha, beta):
    rng = np.random.default_rng(11)
    q = rng.normal(0.0, 2.0, (50, 5))
    pi0 = rng.dirichlet(2.0 * np.ones(5), size=50)
    assert pi0.min() > PI0_FLOOR  # no flooring happens: the prior is used as given
    v_direct = np.log((pi0**alpha * np.exp(beta * q)).sum(axis=1)) / beta  # eq. 3, directly
    v = soft_value(q, pi0, alpha, beta)
    np.testing.assert_allclose(v, v_direct, rtol=1e-12, atol=1e-12)
    pi = distral_policy(q, pi0, alpha, beta)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(pi, pi0**alpha * np.exp(beta * (q - v_direct[:, None])), rtol=1e-10)
    # and it is proportional to pi0^alpha exp(beta Q), the softmax form
    unnormalised = pi0**alpha * np.exp(beta * q)
    np.testing.assert_allclose(pi, unnormalised / unnormalised.sum(axis=1, keepdims=True), rtol=1e-10)


# --- the E-step's update and sampling inside the game's episode loop ---------------------------------


def _task5_down_path():
    """Task 5 walked straight down by both agents: ``(agent, observation, step)`` of each action."""
    task = load_task("task5")
    arrays = game.game_arrays(task)
    trajectory = game.play(task, lambda pos, done, prev, t: (1, 1))
    taken, prev = [], np.zeros(2, np.int64)
    for t in range(len(trajectory)):
        for agent in (0, 1):
            s = game.agent_observation(
                arrays.cell_index, arrays.n_cells, trajectory.positions[t], prev, trajectory.done[t], agent, True
            )
            taken.append((agent, int(s), t))
        prev = trajectory.actions[t]
    return task, taken


@pytest.mark.parametrize("alpha, beta", [(0.7, 0.5), (0.3, 2.0), (1.0, 5.0)])
def test_the_game_loops_soft_update_is_eq_4_with_eq_3(alpha, beta):
    """One E-step episode on task 5 with learning rate 1 and gamma 0.99. Every Q(s, down) starts at
    1000 and the prior is pi0(down) = 0.5, the other four 0.125, everywhere, so the soft policy
    walks straight down (the other actions have probability ~e^-1000) and every V(s') of eq. 3 is
    1000 + (alpha / beta) log 0.5 (the other terms underflow). Hence, for each agent,
      Q(s_t, down) = -0.1 + 0.99 (1000 + (alpha/beta) log 0.5)   for t = 0, 1, 2
      Q(s_3, down) = 100                                         (this step's reward, no bootstrap)
    which pins the reward (this step's), the exponent on the prior (alpha, not the learning rate:
    defect 4), and the end of the bootstrap at the agent's arrival."""
    task, taken = _task5_down_path()
    spec = game.game_spec(task)
    shape = (2, game.observation_count(task.n_cells), game.N_ACTIONS)
    q = np.zeros(shape)
    q[:, :, 1] = 1000.0
    log_pi0 = np.broadcast_to(np.log([0.125, 0.5, 0.125, 0.125, 0.125]), shape).copy()
    before = q.copy()
    rule = episodes.learning_rule(episodes.SOFT, learn=True, learning_rate=1.0, gamma=0.99, alpha=alpha, beta=beta)
    returns, lengths = np.empty((1, 2)), np.empty(1, np.int64)
    rng.seed(0)
    episodes.play_episodes(
        spec, rule, q, log_pi0=log_pi0, n_episodes=1, return_gamma=0.99, returns=returns, lengths=lengths
    )
    assert lengths[0] == 4
    expected = before.copy()
    for agent, s, t in taken:
        expected[agent, s, 1] = 100.0 if t == 3 else -0.1 + 0.99 * (1000.0 + alpha / beta * np.log(0.5))
    np.testing.assert_allclose(q, expected, rtol=1e-13, atol=0)


def test_the_game_loop_samples_actions_from_eq_5():
    """200,000 one-step episodes from task 1's start, with given Q rows and a non-uniform prior at
    the two start observations: the frequency of each first action matches eq. 5 within 5
    binomial standard errors (at most 0.0055 here)."""
    task = load_task("task1")
    spec = game.game_spec(task, max_steps=1)
    arrays = game.game_arrays(task)
    shape = (2, game.observation_count(task.n_cells), game.N_ACTIONS)
    q, log_pi0 = np.zeros(shape), np.zeros(shape)
    starts = [
        game.agent_observation(
            arrays.cell_index, arrays.n_cells, arrays.starts, np.zeros(2, np.int64), np.zeros(2, np.bool_), agent, True
        )
        for agent in (0, 1)
    ]
    q[0, starts[0]] = [0.0, 1.0, 2.0, 0.5, -1.0]
    q[1, starts[1]] = [1.0, -0.5, 0.0, 1.5, 0.2]
    pi0 = np.array([[0.1, 0.3, 0.05, 0.25, 0.3], [0.4, 0.1, 0.2, 0.1, 0.2]])
    log_pi0[0, starts[0]], log_pi0[1, starts[1]] = np.log(pi0[0]), np.log(pi0[1])
    alpha, beta, n = 0.7, 0.8, 200_000
    counts = np.zeros(shape)
    returns, lengths = np.empty((n, 2)), np.empty(n, np.int64)
    rng.seed(1)
    rule = episodes.learning_rule(episodes.SOFT, alpha=alpha, beta=beta)
    episodes.play_episodes(
        spec, rule, q, log_pi0=log_pi0, n_episodes=n, counts=counts, return_gamma=0.99, returns=returns, lengths=lengths
    )
    for agent in (0, 1):
        s = starts[agent]
        expected = distral_policy(q[agent, s], pi0[agent], alpha, beta)
        observed = counts[agent, s] / n
        assert counts[agent].sum() == n
        assert np.all(np.abs(observed - expected) < 5 * np.sqrt(expected * (1 - expected) / n))
