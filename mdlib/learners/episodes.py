"""The one compiled episode loop every learner runs.

Independent Q-learning, the soft-Q E-step, the M-step rollouts and the evaluation of learned
policies differ only in how an agent picks its action and whether it updates its table, so they
share this loop; the action choices and values are Q-learning's (:mod:`~mdlib.learners.hardq`)
and soft Q-learning's (:mod:`~mdlib.learners.softq`). It steps the game through
:func:`mdlib.game.transition`, the game's only copy of the rules. Each agent learns from its own
reward of this step; an agent that has reached its goal is done, so its update does not bootstrap
past its own arrival. The same loop plays one agent alone on the map (a :class:`GameSpec` with
``alone`` set): the other agent starts done, off the map, and the one playing observes only its
own cell.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from ..game import N_ACTIONS, GameSpec, observation_from_cells, transition
from .hardq import epsilon_greedy_action, exploration_rate_kernel, greedy_action, max_value
from .softq import distral_greedy_action, sample, soft_policy, soft_state_value

#: How agents choose actions: epsilon-greedy on Q, greedy on Q, by sampling eq. 5, or greedy on
#: eq. 5's logits ``alpha log pi0 + beta Q``.
EPSILON_GREEDY, GREEDY, SOFT, DISTRAL_GREEDY = 0, 1, 2, 3

#: Stands in for a table the episode loop does not read: the prior outside soft mode, the
#: counts when visits are not counted.
NO_TABLE = np.zeros((2, 1, N_ACTIONS))

LearningRule = namedtuple("LearningRule", "mode learn learning_rate gamma alpha beta epsilon_min epsilon_decay")
LearningRule.__doc__ = """How agents act and learn (not the game's contention rule).

``mode`` is EPSILON_GREEDY, GREEDY, SOFT or DISTRAL_GREEDY; with ``learn`` the Q tables are
updated towards ``r + gamma * V(s')``, where V is ``max_a Q`` for Q-learning and eq. 3 for soft
Q-learning. Epsilon follows :func:`~mdlib.learners.hardq.exploration_rate`.
"""


def learning_rule(
    mode, learn=False, learning_rate=0.0, gamma=0.0, alpha=0.0, beta=1.0, epsilon_min=0.0, epsilon_decay=0.0
) -> LearningRule:
    """A :class:`LearningRule` with its fields of the types the compiled loop is compiled for."""
    return LearningRule(
        np.int64(mode),
        bool(learn),
        float(learning_rate),
        float(gamma),
        float(alpha),
        float(beta),
        float(epsilon_min),
        float(epsilon_decay),
    )


@numba.njit(cache=True, inline="always")
def choose_action(mode, rule, q, log_pi0, s, epsilon, probs):
    """The action of the agent whose (states, actions) tables are ``q`` and ``log_pi0``, at ``s``."""
    if mode == SOFT:
        soft_policy(q, log_pi0, s, rule.alpha, rule.beta, probs)
        return sample(probs)
    if mode == DISTRAL_GREEDY:
        return distral_greedy_action(q, log_pi0, s, rule.alpha, rule.beta, probs)
    if mode == EPSILON_GREEDY:
        return epsilon_greedy_action(q, s, epsilon)
    return greedy_action(q, s)


@numba.njit(cache=True, inline="always")
def state_value(mode, rule, q, log_pi0, s):
    """V(s): eq. 3 for soft Q-learning, max_a Q(s, a) for Q-learning."""
    if mode == SOFT:
        return soft_state_value(q, log_pi0, s, rule.alpha, rule.beta)
    return max_value(q, s)


@numba.njit(cache=True, inline="always")
def observe(game, lone, agent, own, other, prev, other_prev, other_done):
    """An agent's observation index (:func:`mdlib.game.observation_from_cells`) from its own and the
    other agent's free-cell numbers; alone on the map (``lone``), its own cell. (An absent agent at
    ``OFF_MAP`` reads the map's last cell, a wall, and its observation is never used.) One select at
    the end rather than an early return: the early return makes the hot loop a fifth slower."""
    index = observation_from_cells(game.n_cells, agent, game.egocentric, own, other, prev, other_prev, other_done)
    return own if lone else index


@numba.njit(cache=True, inline="always")
def update(mode, rule, q, log_pi0, s, a, reward, arrived, s_next):
    """Move Q(s, a) towards ``reward + gamma V(s')``; no bootstrap past the agent's own arrival."""
    v_next = 0.0 if arrived else state_value(mode, rule, q, log_pi0, s_next)
    q[s, a] += rule.learning_rate * (reward + rule.gamma * v_next - q[s, a])


EpisodeBatch = namedtuple(
    "EpisodeBatch", "first_episode n_episodes count_visits counts count_gamma return_gamma returns lengths"
)
EpisodeBatch.__doc__ = """Which episodes the loop plays, what it counts and where it writes: the
arguments of :func:`play_episodes` after the tables, ``count_visits`` saying whether ``counts``
is one."""


@numba.njit(cache=True, inline="always")
def _play(mode, lone, game, rule, q, log_pi0, batch):
    """Play the episodes of ``batch``; return the number of environment steps taken.

    The arguments are :func:`play_episodes`'s, and ``lone``: whether one agent plays alone. The
    state is kept in scalars, agent 1 then agent 2: this loop is the hot path. Each agent reads its
    own (states, actions) view of ``q``, so that a table lookup is two-dimensional; ``log_pi0`` is
    taken apart only in the modes that read it (a view not needed would still be kept alive through
    the loop, which costs the Q-learning loop about a fifth of its speed).
    """
    first_episode, n_episodes, count_visits, counts, count_gamma, return_gamma, returns, lengths = batch
    probs = np.empty(N_ACTIONS)
    q_1, q_2 = q[0], q[1]
    log_pi0_1, log_pi0_2 = (log_pi0[0], log_pi0[1]) if mode == SOFT or mode == DISTRAL_GREEDY else (q_1, q_2)
    steps = 0
    for e in range(n_episodes):
        epsilon = exploration_rate_kernel(rule.epsilon_min, rule.epsilon_decay, first_episode + e)
        row_1, col_1 = game.starts[0, 0], game.starts[0, 1]
        row_2, col_2 = game.starts[1, 0], game.starts[1, 1]
        done_1, done_2 = game.alone == 1, game.alone == 0
        cell_1, cell_2 = game.cell_index[row_1, col_1], game.cell_index[row_2, col_2]
        obs_1 = observe(game, lone, 0, cell_1, cell_2, 0, 0, False)
        obs_2 = observe(game, lone, 1, cell_2, cell_1, 0, 0, False)
        return_1, return_2, discount, weight, t = 0.0, 0.0, 1.0, 1.0, 0
        while t < game.max_steps and not (done_1 and done_2):
            action_1 = 0 if done_1 else choose_action(mode, rule, q_1, log_pi0_1, obs_1, epsilon, probs)
            action_2 = 0 if done_2 else choose_action(mode, rule, q_2, log_pi0_2, obs_2, epsilon, probs)
            if count_visits:
                if not done_1:
                    counts[0, obs_1, action_1] += weight
                if not done_2:
                    counts[1, obs_2, action_2] += weight

            row_1, col_1, row_2, col_2, now_done_1, now_done_2, reward_1, reward_2 = transition(
                game.walls,
                game.goals,
                game.contention,
                row_1,
                col_1,
                row_2,
                col_2,
                done_1,
                done_2,
                action_1,
                action_2,
            )
            cell_1, cell_2 = game.cell_index[row_1, col_1], game.cell_index[row_2, col_2]
            next_1 = observe(game, lone, 0, cell_1, cell_2, action_1, action_2, now_done_2)
            next_2 = observe(game, lone, 1, cell_2, cell_1, action_2, action_1, now_done_1)

            if not done_1:
                return_1 += discount * reward_1
                if rule.learn:
                    update(mode, rule, q_1, log_pi0_1, obs_1, action_1, reward_1, now_done_1, next_1)
            if not done_2:
                return_2 += discount * reward_2
                if rule.learn:
                    update(mode, rule, q_2, log_pi0_2, obs_2, action_2, reward_2, now_done_2, next_2)

            obs_1, obs_2, done_1, done_2 = next_1, next_2, now_done_1, now_done_2
            discount *= return_gamma
            weight *= count_gamma
            t += 1
        returns[e, 0], returns[e, 1], lengths[e] = return_1, return_2, t
        steps += t
    return steps


# One compiled entry point per way of acting: the mode is a constant in each, so the compiler
# drops the branches of the other modes from the hot loop. Whether one agent plays alone is
# worked out here, once: read from ``game`` inside the loop instead, it costs the Q-learning loop
# a fifth of its speed.
@numba.njit(cache=True)
def _play_epsilon_greedy(game, rule, q, log_pi0, batch):
    return _play(EPSILON_GREEDY, game.alone >= 0, game, rule, q, log_pi0, batch)


@numba.njit(cache=True)
def _play_greedy(game, rule, q, log_pi0, batch):
    return _play(GREEDY, game.alone >= 0, game, rule, q, log_pi0, batch)


@numba.njit(cache=True)
def _play_soft(game, rule, q, log_pi0, batch):
    return _play(SOFT, game.alone >= 0, game, rule, q, log_pi0, batch)


@numba.njit(cache=True)
def _play_distral_greedy(game, rule, q, log_pi0, batch):
    return _play(DISTRAL_GREEDY, game.alone >= 0, game, rule, q, log_pi0, batch)


_ENTRY_POINTS = {
    EPSILON_GREEDY: _play_epsilon_greedy,
    GREEDY: _play_greedy,
    SOFT: _play_soft,
    DISTRAL_GREEDY: _play_distral_greedy,
}


def play_episodes(
    game: GameSpec,
    learning_rule: LearningRule,
    q,
    *,
    n_episodes: int,
    returns,
    lengths,
    return_gamma: float,
    log_pi0=NO_TABLE,
    first_episode: int = 0,
    counts=None,
    count_gamma: float = 1.0,
) -> int:
    """Play ``n_episodes`` episodes of ``game`` with the compiled loop for ``learning_rule.mode``; return the
    environment steps taken.

    ``q``, ``log_pi0`` and ``counts`` are (2, rows, 5), one table per agent. Episode ``e`` is
    episode ``first_episode + e`` of the epsilon schedule; its return, discounted with
    ``return_gamma``, goes to ``returns[e]`` (2,) and its length to ``lengths[e]``. With ``counts``
    every state-action an agent takes at step t adds ``count_gamma ** t`` to it (the M-step's
    discounted visits, eqs. 6 and 8). An absent agent (``game.alone``) is done from the start: it
    takes no action, is not counted, and its return is 0.
    """
    batch = EpisodeBatch(
        first_episode,
        n_episodes,
        counts is not None,
        NO_TABLE if counts is None else counts,
        count_gamma,
        return_gamma,
        returns,
        lengths,
    )
    return _ENTRY_POINTS[learning_rule.mode](game, learning_rule, q, log_pi0, batch)
