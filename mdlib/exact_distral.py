"""Exact Distral: the alternation of Teh et al. (2017) computed exactly, with no sampling.

The learners of :mod:`mdlib.learners` run Distral from played games: soft Q-learning estimates
the E-step, rollouts estimate the M-step's visit counts, and both carry sampling noise. This
module runs the same alternation with every expectation computed exactly, so that what the
learners reach can be told apart from what Distral itself converges to:

* E-step: with the prior pi0 fixed, the task policies are the exact solution of the regularised
  problem, found by iterating the soft Bellman equations to their fixed point, ::

      V(s) = (1/beta) log sum_a pi0(a|s)^alpha exp(beta Q(s, a))        (eq. 3)
      Q(s, a) = r(s, a) + gamma E[V(s')]                               (eq. 4)
      pi(a|s) = pi0(a|s)^alpha exp(beta (Q(s, a) - V(s)))              (eq. 5)

* M-step: the new pi0 is the normalised discounted state-action occupancy of the task policies
  over the episode's ``max_steps`` steps, propagated exactly from the start: one table per agent
  (V1, eq. 6) or one pooled table for both (V2, eq. 8).

Two games are solved. ``players="alone"``: each agent alone on each map (the MDP of
:func:`mdlib.solver.lone_mdp`), observing its own cell; the E-step is a single-agent soft value
iteration. ``players="both"``: both agents on the map, observing what the learners observe
(:func:`mdlib.game.agent_observation`); the E-step is the pair of soft best responses to each
other, iterated to a fixed point over the reachable joint states, which are enumerated with the
game's one transition kernel :func:`mdlib.game.transition`. The prior's tables are used exactly,
with no floor: a zero in pi0 (with alpha > 0) forbids the action.

The hot loops (the sweeps, the enumeration and the propagation of state distributions) are numba
kernels compiled once and cached on disk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numba
import numpy as np

from . import game
from .learners.base import check_count, check_real, require
from .learners.distill import normalise
from .learners.multidistral import check_prior
from .solver import lone_mdp
from .tasks import Task, load_task, resolve_tasks

VERSIONS = ("v1", "v2")
PLAYERS = ("alone", "both")
#: The longest residual history kept per E-step; longer ones are thinned (see ``solve_distral``).
HISTORY_LENGTH = 4096
#: Sweeps without a new smallest residual after which the two-agent E-step stops: a contraction
#: lowers its residual by about 1% a sweep, so this many sweeps without progress means a cycle.
PATIENCE = 1000

N_ACTIONS = game.N_ACTIONS


# Shared compiled pieces --------------------------------------------------------------------------


@numba.njit(cache=True, inline="always")
def _soft_row(log_weight, q, beta, pi):
    """eq. 3 and eq. 5 for one row: write pi(.|s) into ``pi`` and return V(s), by log-sum-exp.

    ``log_weight`` is ``alpha log pi0(.|s)`` (``-inf`` where pi0 = 0 and alpha > 0; 0 for alpha = 0).
    """
    top = -np.inf
    for a in range(q.shape[0]):
        pi[a] = log_weight[a] + beta * q[a]
        if pi[a] > top:
            top = pi[a]
    total = 0.0
    for a in range(q.shape[0]):
        pi[a] = math.exp(pi[a] - top)
        total += pi[a]
    for a in range(q.shape[0]):
        pi[a] /= total
    return (top + math.log(total)) / beta


@numba.njit(cache=True, inline="always")
def _record(history, state, residual):
    """Append one sweep's residual to a bounded history: ``state`` is (length, block, in_block)
    and ``history[-1]`` the running block maximum. When the history is full, neighbouring pairs
    are merged (their maximum) and the block doubles, so each entry is the largest residual of
    ``block`` consecutive sweeps."""
    capacity = history.shape[0] - 1
    acc = max(history[capacity], residual)
    state[2] += 1
    if state[2] == state[1]:
        history[state[0]] = acc
        state[0] += 1
        acc = 0.0
        state[2] = 0
        if state[0] == capacity:
            for i in range(capacity // 2):
                history[i] = max(history[2 * i], history[2 * i + 1])
            state[0] = capacity // 2
            state[1] *= 2
    history[capacity] = acc


def _history(buffer: np.ndarray, state: np.ndarray) -> np.ndarray:
    n = int(state[0])
    out = list(buffer[:n])
    if state[2] > 0:
        out.append(buffer[-1])
    return np.array(out)


def _log_weight(prior: np.ndarray, alpha: float) -> np.ndarray:
    """``alpha log pi0`` exactly: ``-inf`` where pi0 = 0 (if alpha > 0), and ``pi0^0 = 1``."""
    if alpha == 0:
        return np.zeros_like(prior)
    with np.errstate(divide="ignore"):
        return alpha * np.log(prior)


def _row_measures(counts: np.ndarray, policy: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per agent, the occupancy-weighted mean entropy of ``policy`` and mean KL(policy || prior),
    in nats per step: ``sum_o d(o) H(pi(.|o)) / sum_o d(o)`` with ``d(o) = sum_a counts(o, a)``."""
    weight = counts.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pi = np.log(policy)
        entropy = -np.where(policy > 0, policy * log_pi, 0.0).sum(axis=-1)
        kl = np.where(policy > 0, policy * (log_pi - np.log(prior)), 0.0).sum(axis=-1)
    visited = weight > 0
    with np.errstate(invalid="ignore"):  # 0 * inf in rows no state visits (where picks 0 there)
        return (
            (np.where(visited, weight * entropy, 0.0).sum(axis=-1) / weight.sum(axis=-1)),
            (np.where(visited, weight * kl, 0.0).sum(axis=-1) / weight.sum(axis=-1)),
        )


def _distil(counts: np.ndarray, version: str) -> np.ndarray:
    """The M-step from the summed occupancies ``N_j`` (2, n_obs, 5): eq. 6 (V1) or eq. 8 (V2);
    unvisited rows become uniform (:func:`mdlib.learners.distill.normalise`)."""
    if version == "v1":
        return normalise(counts)  # eq. 6: pi0_j = N_j / sum_a N_j
    shared = normalise(counts.sum(axis=0))  # eq. 8: pi0 = (N_1 + N_2) / sum_a (N_1 + N_2)
    return np.stack([shared, shared])


# players="alone": each agent alone on each map ------------------------------------------------


@numba.njit(cache=True)
def _lone_sweeps(next_cell, reward, log_weight, q, beta, gamma, tol, max_sweeps, history, history_state):
    """Soft value iteration (eqs. 3-4) of every (task, agent) lone MDP, in place on ``q``.

    All arrays are (tasks, 2, cells, 5); ``next_cell`` is -1 where the move arrives (no successor).
    Both agents of a task are swept together until the larger of their max-norm Bellman
    residuals ``max |T(Q) - Q|`` is <= ``tol``. Returns the residuals and sweeps per task.
    """
    n_tasks, n_agents, n_cells, n_actions = reward.shape
    residual = np.zeros(n_tasks)
    sweeps = np.zeros(n_tasks, np.int64)
    v = np.zeros(n_cells)
    pi = np.empty(n_actions)
    for i in range(n_tasks):
        for n in range(max_sweeps):
            res = 0.0
            for j in range(n_agents):
                for s in range(n_cells):
                    v[s] = _soft_row(log_weight[i, j, s], q[i, j, s], beta, pi)  # eq. 3
                for s in range(n_cells):
                    for a in range(n_actions):
                        target = reward[i, j, s, a]  # eq. 4
                        if next_cell[i, j, s, a] >= 0:
                            target += gamma * v[next_cell[i, j, s, a]]
                        res = max(res, abs(target - q[i, j, s, a]))
                        q[i, j, s, a] = target
            sweeps[i] = n + 1
            _record(history[i], history_state[i], res)
            if res <= tol:
                break
        residual[i] = res
    return residual, sweeps


@numba.njit(cache=True)
def _lone_policies(log_weight, q, beta, pi, v):
    """eq. 3 and eq. 5 on every row of (tasks, 2, cells, 5) tables."""
    n_tasks, n_agents, n_cells, _ = q.shape
    for i in range(n_tasks):
        for j in range(n_agents):
            for s in range(n_cells):
                v[i, j, s] = _soft_row(log_weight[i, j, s], q[i, j, s], beta, pi[i, j, s])


@numba.njit(cache=True)
def _lone_propagate(next_cell, reward, pi, start, gamma, max_steps, counts, task_return, arrival):
    """Play every lone policy exactly for ``max_steps`` steps from its start: discounted
    occupancy ``counts[i, j, s, a] = sum_t gamma^t P(s_t = s, a_t = a, not arrived)``, expected
    discounted game return and probability of arrival."""
    n_tasks, n_agents, n_cells, n_actions = reward.shape
    mu = np.zeros(n_cells)
    new = np.zeros(n_cells)
    for i in range(n_tasks):
        for j in range(n_agents):
            mu[:] = 0.0
            mu[start[i, j]] = 1.0
            discount, total, arrived = 1.0, 0.0, 0.0
            for t in range(max_steps):
                new[:] = 0.0
                for s in range(n_cells):
                    if mu[s] == 0.0:
                        continue
                    for a in range(n_actions):
                        w = mu[s] * pi[i, j, s, a]
                        counts[i, j, s, a] += discount * w
                        total += discount * w * reward[i, j, s, a]
                        if next_cell[i, j, s, a] >= 0:
                            new[next_cell[i, j, s, a]] += w
                        else:
                            arrived += w
                mu[:] = new
                discount *= gamma
            task_return[i, j] = total
            arrival[i, j] = arrived


def _lone_arrays(tasks: tuple[Task, ...]):
    """Next cells (-1 on arrival), rewards and starts of every (task, agent) lone MDP."""
    n_cells = tasks[0].n_cells
    next_cell = np.full((len(tasks), 2, n_cells, N_ACTIONS), -1, np.int64)
    reward = np.zeros((len(tasks), 2, n_cells, N_ACTIONS))
    start = np.zeros((len(tasks), 2), np.int64)
    for i, task in enumerate(tasks):
        for j in (0, 1):
            mdp = lone_mdp(task, j)
            moves = mdp.transitions.sum(axis=2) > 0
            next_cell[i, j] = np.where(moves, mdp.transitions.argmax(axis=2), -1)
            reward[i, j] = mdp.rewards
            start[i, j] = mdp.start
    return next_cell, reward, start


def lone_occupancy(task, agent: int, policy, gamma: float = 0.99, max_steps: int = 200):
    """The exact discounted occupancy (n_cells, 5) of ``policy`` (n_cells, 5) for ``agent`` alone
    on ``task`` over ``max_steps`` steps, its expected discounted game return and its probability
    of arriving: the M-step's input and the measures of ``players="alone"``."""
    (task,) = resolve_tasks(task)
    next_cell, reward, start = _lone_arrays((task,))
    pi = np.zeros(reward.shape)
    pi[0, agent] = np.asarray(policy, float)
    counts = np.zeros(reward.shape)
    task_return, arrival = np.zeros((1, 2)), np.zeros((1, 2))
    _lone_propagate(next_cell, reward, pi, start, float(gamma), int(max_steps), counts, task_return, arrival)
    return counts[0, agent], float(task_return[0, agent]), float(arrival[0, agent])


def _solve_alone(tasks, alpha, beta, gamma, iterations, version, max_steps, tol, max_sweeps, out, initial_pi0=None):
    next_cell, reward, start = _lone_arrays(tasks)
    n_tasks, _, n_cells, _ = reward.shape
    if initial_pi0 is None:
        prior = np.full((2, n_cells, N_ACTIONS), 1.0 / N_ACTIONS)
    else:
        prior = initial_pi0  # checked (and copied) by solve_distral
    q = np.zeros(reward.shape)  # iteration 1 starts from Q = 0, later ones from the previous Q
    pi, v = np.zeros(reward.shape), np.zeros(reward.shape[:3])
    for k in range(iterations):
        log_weight = np.ascontiguousarray(np.broadcast_to(_log_weight(prior, alpha), reward.shape))
        buffer = np.zeros((n_tasks, HISTORY_LENGTH + 1))
        state = np.tile(np.array([0, 1, 0], np.int64), (n_tasks, 1))
        residual, sweeps = _lone_sweeps(
            next_cell, reward, log_weight, q, float(beta), float(gamma), float(tol), int(max_sweeps), buffer, state
        )
        _lone_policies(log_weight, q, float(beta), pi, v)
        counts = np.zeros(reward.shape)
        task_return, arrival = np.zeros((n_tasks, 2)), np.zeros((n_tasks, 2))
        _lone_propagate(next_cell, reward, pi, start, float(gamma), int(max_steps), counts, task_return, arrival)
        out.record(
            k,
            task_return,
            arrival,
            v[np.arange(n_tasks)[:, None], np.arange(2), start],
            [_row_measures(counts[i], pi[i], prior) for i in range(n_tasks)],
            residual,
            sweeps,
            [_history(buffer[i], state[i]) for i in range(n_tasks)],
        )
        out.prior = prior
        prior = _distil(counts.sum(axis=0), version)
    out.policies, out.pi0 = pi.copy(), prior


# players="both": the two-agent game -------------------------------------------------------------


@numba.njit(cache=True)
def _state_key(n_cells, cell_1, cell_2, done_1, done_2, prev_1, prev_2):
    key = (cell_1 * n_cells + cell_2) * 4 + (2 if done_1 else 0) + (1 if done_2 else 0)
    return (key * N_ACTIONS + prev_1) * N_ACTIONS + prev_2


@numba.njit(cache=True)
def _enumerate_joint(walls, goals, contention, cell_index, free_cells, start_cells, start_done, egocentric):
    """Breadth-first enumeration of the joint states reachable from the start under all 25 joint
    actions (a done agent's action forced to 0), stepped by :func:`mdlib.game.transition`."""
    n_cells = free_cells.shape[0]
    capacity = n_cells * n_cells * 4 * N_ACTIONS * N_ACTIONS
    index = np.full(capacity, -1, np.int64)
    cells = np.empty((capacity, 2), np.int64)
    done = np.empty((capacity, 2), np.bool_)
    prev = np.empty((capacity, 2), np.int64)
    next_state = np.empty((capacity, N_ACTIONS, N_ACTIONS), np.int64)
    rewards = np.empty((capacity, N_ACTIONS, N_ACTIONS, 2))
    cells[0, 0], cells[0, 1] = start_cells[0], start_cells[1]
    done[0, 0], done[0, 1] = start_done[0], start_done[1]
    prev[0, 0], prev[0, 1] = 0, 0
    index[_state_key(n_cells, start_cells[0], start_cells[1], start_done[0], start_done[1], 0, 0)] = 0
    count, head = 1, 0
    while head < count:
        x = head
        head += 1
        row_1, col_1 = free_cells[cells[x, 0], 0], free_cells[cells[x, 0], 1]
        row_2, col_2 = free_cells[cells[x, 1], 0], free_cells[cells[x, 1], 1]
        done_1, done_2 = done[x, 0], done[x, 1]
        for a_1 in range(N_ACTIONS):
            for a_2 in range(N_ACTIONS):
                b_1 = 0 if done_1 else a_1
                b_2 = 0 if done_2 else a_2
                r1, c1, r2, c2, d1, d2, reward_1, reward_2 = game.transition(
                    walls, goals, contention, row_1, col_1, row_2, col_2, done_1, done_2, b_1, b_2
                )
                cell_1, cell_2 = cell_index[r1, c1], cell_index[r2, c2]
                key = _state_key(n_cells, cell_1, cell_2, d1, d2, b_1, b_2)
                y = index[key]
                if y < 0:
                    y = count
                    index[key] = y
                    cells[y, 0], cells[y, 1] = cell_1, cell_2
                    done[y, 0], done[y, 1] = d1, d2
                    prev[y, 0], prev[y, 1] = b_1, b_2
                    count += 1
                next_state[x, a_1, a_2] = y
                rewards[x, a_1, a_2, 0] = reward_1
                rewards[x, a_1, a_2, 1] = reward_2
    observation = np.full((count, 2), -1, np.int64)
    pos = np.empty((2, 2), np.int64)
    for x in range(count):
        for j in range(2):
            pos[j, 0], pos[j, 1] = free_cells[cells[x, j], 0], free_cells[cells[x, j], 1]
        for j in range(2):
            if not done[x, j]:
                observation[x, j] = game.agent_observation(cell_index, n_cells, pos, prev[x], done[x], j, egocentric)
    return (
        cells[:count].copy(),
        done[:count].copy(),
        prev[:count].copy(),
        next_state[:count].copy(),
        rewards[:count].copy(),
        observation,
    )


@dataclass(frozen=True, eq=False)
class JointGame:
    """The two-agent game of one task as a finite table over its reachable joint states.

    A joint state x is (free cell of agent 1, of agent 2, done_1, done_2, previous action 1,
    previous action 2); state 0 is the start. ``next_state[x, a1, a2]`` and
    ``rewards[x, a1, a2]`` (both agents' rewards) come from :func:`mdlib.game.transition`; a done
    agent's action is forced to 0, so its axis is constant. ``observation[x, j]`` is agent j's
    table row (:func:`mdlib.game.agent_observation`), -1 where j is done (it decides nothing).
    """

    task: Task
    contention: str
    order: str
    max_steps: int
    home: tuple[bool, bool]
    cells: np.ndarray  # (S, 2)
    done: np.ndarray  # (S, 2) bool
    prev: np.ndarray  # (S, 2)
    next_state: np.ndarray  # (S, 5, 5)
    rewards: np.ndarray  # (S, 5, 5, 2)
    observation: np.ndarray  # (S, 2)
    n_observations: int

    @property
    def n_states(self) -> int:
        return len(self.done)


def joint_game(
    task,
    contention: str = "reference",
    order: str = "egocentric",
    max_steps: int = 200,
    home: tuple[bool, bool] = (False, False),
) -> JointGame:
    """Enumerate the reachable joint states of ``task`` for the learners' observation ``order``.

    With ``home[j]`` agent j is already home at the start: done, standing on its goal (which it
    keeps blocking, like any arrived agent), its previous action 0. ``solve_distral`` uses
    ``home=(False, False)``; the other settings make a lone agent on a map whose other goal is
    walled up, a check of the two-agent computation against the lone one.
    """
    (task,) = resolve_tasks(task)
    require(
        contention in game.CONTENTION_RULES,
        f"contention must be one of {', '.join(game.CONTENTION_RULES)}, got {contention!r}",
    )
    require(
        order in game.OBSERVATION_ORDERS, f"order must be one of {', '.join(game.OBSERVATION_ORDERS)}, got {order!r}"
    )
    check_count("max_steps", max_steps)
    require(
        isinstance(home, (tuple, list)) and len(home) == 2 and all(isinstance(h, (bool, np.bool_)) for h in home),
        f"home must be a pair of booleans, got {home!r}",
    )
    home = (bool(home[0]), bool(home[1]))
    arrays = game.game_spec(task)
    places = [tuple(task.goals[j]) if home[j] else tuple(task.starts[j]) for j in (0, 1)]
    require(places[0] != places[1], f"home={home!r} puts both agents on one cell {places[0]}")
    start_cells = np.array([arrays.cell_index[p] for p in places], np.int64)
    cells, done, prev, next_state, rewards, observation = _enumerate_joint(
        arrays.walls,
        arrays.goals,
        np.int64(game.contention_code(contention)),
        arrays.cell_index,
        np.ascontiguousarray(task.free_cells, dtype=np.int64),
        start_cells,
        np.array(home, np.bool_),
        order == "egocentric",
    )
    return JointGame(
        task,
        contention,
        order,
        int(max_steps),
        home,
        cells,
        done,
        prev,
        next_state,
        rewards,
        observation,
        arrays.n_observations,
    )


@numba.njit(cache=True)
def _joint_sweeps(
    next_state,
    rewards,
    done,
    log_weight,
    q,
    beta,
    gamma,
    tol,
    max_sweeps,
    patience,
    damping,
    history,
    history_state,
    state_residual,
):
    """Both agents' soft best responses to each other, iterated in place on ``q`` (2, S, 5).

    A sweep replaces Q_1 by T_1(Q_1) given the current pi_2, then Q_2 by T_2(Q_2) given the
    updated pi_1, where (eq. 4, with the other agent's action b drawn from its policy)

        T_j(Q_j)(x, a) = sum_b pi_k(b|x) [r_j(x, a, b) + gamma [j not done in x'] V_j(x')],

    V_j from eq. 3 and pi_j from eq. 5 (``log_weight`` = alpha log pi0_j at o_j(x)); a done
    agent k "plays" stay with probability 1. Damping: Q <- (1 - damping) T(Q) + damping Q.
    Stops when the max-norm residual ``max |T(Q) - Q|`` of both agents is <= ``tol``, after
    ``max_sweeps`` sweeps, or when ``patience`` sweeps in a row have not lowered the smallest
    residual seen so far (the sweeps then cycle instead of contracting). ``state_residual[j, x]``
    receives the last sweep's residual of agent j in state x. Returns (residual, sweeps, V, pi).
    """
    n_states = next_state.shape[0]
    v = np.zeros((2, n_states))
    pi = np.zeros((2, n_states, N_ACTIONS))
    for j in range(2):
        for x in range(n_states):
            if done[x, j]:
                pi[j, x, 0] = 1.0  # a done agent stays; its V is 0 (nothing after arrival)
            else:
                v[j, x] = _soft_row(log_weight[j, x], q[j, x], beta, pi[j, x])
    res, sweeps, best, since = np.inf, 0, np.inf, 0
    for n in range(max_sweeps):
        res = 0.0
        for j in range(2):
            k = 1 - j
            for x in range(n_states):
                if done[x, j]:
                    continue
                n_other = 1 if done[x, k] else N_ACTIONS
                for a in range(N_ACTIONS):
                    target = 0.0
                    for b in range(n_other):
                        if j == 0:
                            y = next_state[x, a, b]
                            r = rewards[x, a, b, 0]
                        else:
                            y = next_state[x, b, a]
                            r = rewards[x, b, a, 1]
                        target += pi[k, x, b] * (r + gamma * v[j, y])  # eq. 4, V_j(y) = 0 if j done in y
                    change = abs(target - q[j, x, a])
                    res = max(res, change)
                    state_residual[j, x] = change if a == 0 else max(state_residual[j, x], change)
                    q[j, x, a] = (1.0 - damping) * target + damping * q[j, x, a]
            for x in range(n_states):
                if not done[x, j]:
                    v[j, x] = _soft_row(log_weight[j, x], q[j, x], beta, pi[j, x])  # eqs. 3 and 5
        sweeps = n + 1
        _record(history, history_state, res)
        if res <= tol:
            break
        if res < best:
            best, since = res, 0
        else:
            since += 1
            if since >= patience:
                break
    return res, sweeps, v, pi


@dataclass(frozen=True, eq=False)
class JointEStep:
    """The E-step of one task in the two-agent game: Q, V (eq. 3) and pi (eq. 5) of both agents
    over the joint states (rows where an agent is done hold V = 0 and pi = stay), the final
    max-norm Bellman residual, the sweeps taken and the residual history (thinned if long)."""

    q: np.ndarray  # (2, S, 5)
    v: np.ndarray  # (2, S)
    policy: np.ndarray  # (2, S, 5)
    residual: float
    sweeps: int
    history: np.ndarray
    converged: bool
    state_residual: np.ndarray  # (2, S): the last sweep's residual per agent and state


def joint_e_step(
    jg: JointGame,
    prior,
    alpha: float,
    beta: float,
    gamma: float = 0.99,
    tol: float = 1e-10,
    max_sweeps: int = 100_000,
    damping: float = 0.0,
    q=None,
    patience: int = PATIENCE,
) -> JointEStep:
    """Both agents' exact soft best responses to each other under ``prior`` (2, n_obs, 5),
    starting from ``q`` ((2, S, 5); default zeros). See :func:`_joint_sweeps` for the sweep and
    the stopping rules."""
    prior = np.asarray(prior, float)
    require(
        prior.shape == (2, jg.n_observations, N_ACTIONS),
        f"prior must have shape {(2, jg.n_observations, N_ACTIONS)}, got {prior.shape}",
    )
    log_weight = np.zeros((2, jg.n_states, N_ACTIONS))
    for j in (0, 1):
        alive = jg.observation[:, j] >= 0
        log_weight[j, alive] = _log_weight(prior[j, jg.observation[alive, j]], alpha)
    q = np.zeros((2, jg.n_states, N_ACTIONS)) if q is None else np.array(q, float)
    buffer, state = np.zeros(HISTORY_LENGTH + 1), np.array([0, 1, 0], np.int64)
    state_residual = np.zeros((2, jg.n_states))
    residual, sweeps, v, pi = _joint_sweeps(
        jg.next_state,
        jg.rewards,
        jg.done,
        log_weight,
        q,
        float(beta),
        float(gamma),
        float(tol),
        int(max_sweeps),
        int(patience),
        float(damping),
        buffer,
        state,
        state_residual,
    )
    return JointEStep(
        q, v, pi, float(residual), int(sweeps), _history(buffer, state), bool(residual <= tol), state_residual
    )


#: State masses below this are dropped while propagating (their effect on any measure is below
#: 1e-190): it keeps the arithmetic out of subnormal numbers, which are slow on x86.
TINY = 1e-200


@numba.njit(cache=True)
def _joint_propagate(next_state, rewards, done, observation, pi, gamma, max_steps, counts):
    """Play both policies exactly for ``max_steps`` steps from state 0: per agent the discounted
    occupancy ``counts[j, o_j(x), a] += gamma^t mu_t(x) pi_j(a|x)`` over states where j is not
    done, the expected discounted game return and the probability of arrival.

    The discounted state occupancy ``D(x) = sum_{t < max_steps} gamma^t mu_t(x)`` is accumulated
    first; then ``counts = D(x) pi_j(a|x)`` and ``return_j = sum_x D(x) E[r_j | x]``.
    """
    n_states = next_state.shape[0]
    prob = np.zeros((n_states, N_ACTIONS, N_ACTIONS))
    expected = np.zeros((n_states, 2))
    for x in range(n_states):
        n_1 = 1 if done[x, 0] else N_ACTIONS
        n_2 = 1 if done[x, 1] else N_ACTIONS
        for a_1 in range(n_1):
            for a_2 in range(n_2):
                p = (1.0 if done[x, 0] else pi[0, x, a_1]) * (1.0 if done[x, 1] else pi[1, x, a_2])  # done: stay
                prob[x, a_1, a_2] = p
                expected[x, 0] += p * rewards[x, a_1, a_2, 0]
                expected[x, 1] += p * rewards[x, a_1, a_2, 1]
    mu = np.zeros(n_states)
    new = np.zeros(n_states)
    occupancy = np.zeros(n_states)
    mu[0] = 1.0
    discount = 1.0
    for t in range(max_steps):
        new[:] = 0.0
        for x in range(n_states):
            m = mu[x]
            if m < TINY:
                continue
            occupancy[x] += discount * m
            if done[x, 0] and done[x, 1]:
                new[x] += m
                continue
            n_1 = 1 if done[x, 0] else N_ACTIONS
            n_2 = 1 if done[x, 1] else N_ACTIONS
            for a_1 in range(n_1):
                for a_2 in range(n_2):
                    w = m * prob[x, a_1, a_2]
                    if w >= TINY:
                        new[next_state[x, a_1, a_2]] += w
        mu[:] = new
        discount *= gamma
    task_return = np.zeros(2)
    arrival = np.zeros(2)
    for x in range(n_states):
        for j in range(2):
            task_return[j] += occupancy[x] * expected[x, j]
            if done[x, j]:
                arrival[j] += mu[x]
            else:
                for a in range(N_ACTIONS):
                    counts[j, observation[x, j], a] += occupancy[x] * pi[j, x, a]
    return task_return, arrival


def joint_occupancy(jg: JointGame, policy, gamma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact discounted occupancy (2, n_obs, 5) of the joint-state policies ``policy``
    (2, S, 5) over ``jg.max_steps`` steps, each agent's expected discounted game return and its
    probability of arriving within the episode."""
    counts = np.zeros((2, jg.n_observations, N_ACTIONS))
    task_return, arrival = _joint_propagate(
        jg.next_state,
        jg.rewards,
        jg.done,
        jg.observation,
        np.ascontiguousarray(policy, dtype=float),
        float(gamma),
        int(jg.max_steps),
        counts,
    )
    return counts, task_return, arrival


def observation_policy(jg: JointGame, policy, prior) -> np.ndarray:
    """Joint-state policies (2, S, 5) as observation tables (2, n_obs, 5): row o_j(x) holds
    pi_j(.|x); rows no reachable state uses hold the prior's row."""
    table = np.array(prior, float, copy=True)
    for j in (0, 1):
        alive = jg.observation[:, j] >= 0
        table[j, jg.observation[alive, j]] = policy[j, alive]
    return table


def _weighted_residual(jg: JointGame, counts: np.ndarray, state_residual: np.ndarray) -> float:
    """The E-step's last residual averaged over where the agents go (discounted state
    occupancy), the larger of the two agents': how far from a fixed point the play itself is."""
    worst = 0.0
    for j in (0, 1):
        alive = jg.observation[:, j] >= 0
        occupancy = counts[j, jg.observation[alive, j]].sum(axis=1)
        if occupancy.sum() > 0:
            worst = max(worst, float(occupancy @ state_residual[j, alive] / occupancy.sum()))
    return worst


def _solve_both(
    tasks,
    alpha,
    beta,
    gamma,
    iterations,
    version,
    contention,
    order,
    max_steps,
    tol,
    max_sweeps,
    damping,
    patience,
    out,
    initial_pi0=None,
):
    games = [joint_game(t, contention, order, max_steps) for t in tasks]
    if initial_pi0 is None:
        prior = np.full((2, games[0].n_observations, N_ACTIONS), 1.0 / N_ACTIONS)
    else:
        prior = initial_pi0  # checked (and copied) by solve_distral
    q = [None] * len(tasks)  # iteration 1 starts from Q = 0, later ones from the previous Q
    for k in range(iterations):
        counts_total = np.zeros_like(prior)
        returns, arrivals, values, measures, residuals, sweeps, histories = [], [], [], [], [], [], []
        tables, weighted = [], []
        for i, jg in enumerate(games):
            e = joint_e_step(jg, prior, alpha, beta, gamma, tol, max_sweeps, damping, q[i], patience)
            q[i] = e.q
            counts, task_return, arrival = joint_occupancy(jg, e.policy, gamma)
            weighted.append(_weighted_residual(jg, counts, e.state_residual))
            table = observation_policy(jg, e.policy, prior)
            counts_total += counts
            returns.append(task_return)
            arrivals.append(arrival)
            values.append(e.v[:, 0])
            measures.append(_row_measures(counts, table, prior))
            residuals.append(e.residual)
            sweeps.append(e.sweeps)
            histories.append(e.history)
            tables.append(table)
        out.record(
            k,
            np.array(returns),
            np.array(arrivals),
            np.array(values),
            measures,
            np.array(residuals),
            np.array(sweeps),
            histories,
        )
        out.weighted_residual[k] = weighted
        out.prior = prior
        out.policies = np.array(tables)
        prior = _distil(counts_total, version)
    out.pi0 = prior


# The alternation --------------------------------------------------------------------------------


class _Record:
    """The per-iteration measures, filled in by the solvers."""

    def __init__(self, iterations: int, n_tasks: int):
        shape = (iterations, n_tasks, 2)
        self.task_return, self.arrival, self.value = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.entropy, self.kl = np.zeros(shape), np.zeros(shape)
        self.residual = np.zeros((iterations, n_tasks))
        self.weighted_residual = np.zeros((iterations, n_tasks))
        self.sweeps = np.zeros((iterations, n_tasks), np.int64)
        self.history: list = []
        self.policies = self.prior = self.pi0 = None

    def record(self, k, task_return, arrival, value, measures, residual, sweeps, history):
        self.task_return[k], self.arrival[k], self.value[k] = task_return, arrival, value
        self.entropy[k] = [m[0] for m in measures]
        self.kl[k] = [m[1] for m in measures]
        self.residual[k], self.sweeps[k] = residual, sweeps
        self.history.append(tuple(history))


@dataclass(frozen=True, eq=False)
class DistralSolution:
    """The exact Distral alternation on a task set: see :func:`solve_distral`.

    Measures are ``(iterations, tasks, 2)`` arrays (iteration, task, agent), all of the E-step's
    exact task policies played exactly. ``objective[k]`` is J under iteration k's prior, the sum
    of the soft values ``value[k]`` over tasks and agents.
    """

    settings: dict
    tasks: tuple[str, ...]
    task_return: np.ndarray
    arrival: np.ndarray
    value: np.ndarray
    entropy: np.ndarray
    kl: np.ndarray
    objective: np.ndarray
    residual: np.ndarray
    sweeps: np.ndarray
    converged: np.ndarray
    residual_history: tuple
    weighted_residual: np.ndarray
    policies: np.ndarray
    prior: np.ndarray
    pi0: np.ndarray
    task_objects: tuple = field(default=(), repr=False)

    @property
    def final_return(self) -> np.ndarray:
        """Each agent's task return at the last iteration, averaged over tasks: (2,)."""
        return self.task_return[-1].mean(axis=0)

    @property
    def mean_return(self) -> np.ndarray:
        """Task return averaged over tasks: (iterations, 2)."""
        return self.task_return.mean(axis=1)

    def play(self, task_index: int = 0, seed: int = 0, task: Task | None = None) -> game.Trajectory:
        """One game of the last E-step's exact policies, both agents on the map, actions drawn with
        ``numpy.random.default_rng(seed)``. With ``players="alone"`` each agent looks at its own
        cell only and ignores the other (who is still there and still blocks)."""
        if task is None:
            task = self.task_objects[task_index] if self.task_objects else load_task(self.tasks[task_index])
        arrays = game.game_spec(task)
        table = self.policies[task_index]
        alone = self.settings["players"] == "alone"
        egocentric = self.settings["order"] == "egocentric"
        rng = np.random.default_rng(seed)

        def policy(pos, done, prev, t):
            actions = []
            for agent in (0, 1):
                if alone:
                    row = arrays.cell_index[pos[agent, 0], pos[agent, 1]]
                else:
                    row = game.agent_observation(arrays.cell_index, arrays.n_cells, pos, prev, done, agent, egocentric)
                p = table[agent, row]
                actions.append(int(rng.choice(N_ACTIONS, p=p / p.sum())))
            return actions

        return game.play(task, policy, self.settings["max_steps"], self.settings["contention"])


def solve_distral(
    tasks,
    alpha: float,
    beta: float,
    gamma: float = 0.99,
    iterations: int = 10,
    version: str = "v1",
    players: str = "alone",
    *,
    contention: str = "reference",
    order: str = "egocentric",
    max_steps: int = 200,
    tol: float = 1e-10,
    max_sweeps: int = 100_000,
    damping: float = 0.0,
    patience: int = PATIENCE,
    initial_pi0=None,
) -> DistralSolution:
    """Run Distral's alternation exactly: ``iterations`` E-steps and M-steps, starting from a
    uniform pi0, or from ``initial_pi0``.

    Iteration k solves the E-step under the current prior (eqs. 3-5, exactly, to the max-norm
    Bellman residual ``tol`` or ``max_sweeps`` sweeps), measures the task policies by playing them
    exactly for ``max_steps`` steps, then distils the next prior from their exact discounted
    occupancy (eq. 6 for ``version="v1"``, one pi0 per agent; eq. 8 for ``"v2"``, one pooled pi0
    stored twice). Unvisited rows of the new pi0 are uniform; no floor is applied.

    ``players="alone"``: each agent alone on each map (the other absent), observing its own cell;
    tables are (2, n_cells, 5). ``players="both"``: the two-agent game with the learners'
    observations (``order``) and ``contention`` rule; tables are (2, n_observations, 5) and the
    E-step is the fixed point of both agents' soft best responses to each other.

    Iteration 1 starts the sweeps from Q = 0; later iterations warm-start from the previous
    iteration's Q (the fixed point does not depend on the start when the sweeps converge).
    ``residual_history[k][i]`` holds one residual per sweep of task i's E-step at iteration k (for
    "alone" the larger of the two agents'); beyond ``HISTORY_LENGTH`` sweeps, neighbouring entries
    are merged, so each is the largest residual of a block of 2^m consecutive sweeps.
    In the two-agent game the sweeps need not converge: at large beta they can fall into a cycle
    (in states the agents almost never reach). They stop after ``patience`` sweeps without a new
    smallest residual; ``converged[k, i]`` is False then, and ``weighted_residual[k, i]`` (the last
    residual averaged over the agents' discounted occupancy) says how much the cycle touches the
    play itself (for "alone", which always converges, it equals ``residual``).
    ``policies`` are the last E-step's task policies as observation tables (rows no reachable
    state uses hold the prior's row), ``prior`` the prior that E-step used, ``pi0`` the next prior.

    ``initial_pi0`` (default None: uniform) is the first E-step's prior, a table of the prior's
    shape ((2, n_cells, 5) for "alone", (2, n_observations, 5) for "both"), finite, non-negative,
    each row summing to 1 within 1e-9; like every prior here it is used exactly, with no floor.
    With ``iterations=1`` the solution is the exact E-step under that prior (for example a pi0
    distilled on other maps, :mod:`mdlib.transfer`); ``settings["initial_pi0"]`` is then
    ``"given"`` (the key is absent for the uniform start).
    """
    check_real("alpha", alpha, 0.0, 1.0)
    check_real("beta", beta, 0.0, math.inf, low_open=True, high_open=True)
    check_real("gamma", gamma, 0.0, 1.0, low_open=True, high_open=True)
    check_count("iterations", iterations)
    require(
        isinstance(version, str) and version in VERSIONS,
        f"version must be one of {', '.join(VERSIONS)}, got {version!r}",
    )
    require(
        isinstance(players, str) and players in PLAYERS, f"players must be one of {', '.join(PLAYERS)}, got {players!r}"
    )
    require(
        isinstance(contention, str) and contention in game.CONTENTION_RULES,
        f"contention must be one of {', '.join(game.CONTENTION_RULES)}, got {contention!r}",
    )
    require(
        isinstance(order, str) and order in game.OBSERVATION_ORDERS,
        f"order must be one of {', '.join(game.OBSERVATION_ORDERS)}, got {order!r}",
    )
    check_count("max_steps", max_steps)
    check_real("tol", tol, 0.0, math.inf, low_open=True, high_open=True)
    check_count("max_sweeps", max_sweeps)
    check_real("damping", damping, 0.0, 1.0, high_open=True)
    check_count("patience", patience)
    try:
        resolved = resolve_tasks(tasks)
    except (ValueError, TypeError) as error:
        raise ValueError(f"tasks: {error} (got {tasks!r})") from error

    if initial_pi0 is not None:  # checked (into a fresh array) before any work
        n_cells = resolved[0].n_cells
        initial_pi0 = check_prior(
            initial_pi0, (2, n_cells if players == "alone" else game.observation_count(n_cells), N_ACTIONS)
        )

    out = _Record(iterations, len(resolved))
    if players == "alone":
        _solve_alone(resolved, alpha, beta, gamma, iterations, version, max_steps, tol, max_sweeps, out, initial_pi0)
    else:
        _solve_both(
            resolved,
            alpha,
            beta,
            gamma,
            iterations,
            version,
            contention,
            order,
            max_steps,
            tol,
            max_sweeps,
            damping,
            patience,
            out,
            initial_pi0,
        )
    settings = dict(
        tasks=tuple(t.name for t in resolved),
        alpha=alpha,
        beta=beta,
        gamma=gamma,
        iterations=iterations,
        version=version,
        players=players,
        contention=contention,
        order=order,
        max_steps=max_steps,
        tol=tol,
        max_sweeps=max_sweeps,
        damping=damping,
        patience=patience,
    )
    if initial_pi0 is not None:
        settings["initial_pi0"] = "given"
    return DistralSolution(
        settings=settings,
        tasks=settings["tasks"],
        task_return=out.task_return,
        arrival=out.arrival,
        value=out.value,
        entropy=out.entropy,
        kl=out.kl,
        objective=out.value.sum(axis=(1, 2)),
        residual=out.residual,
        sweeps=out.sweeps,
        converged=out.residual <= tol,
        residual_history=tuple(out.history),
        weighted_residual=out.weighted_residual if players == "both" else out.residual.copy(),
        policies=out.policies,
        prior=out.prior,
        pi0=out.pi0,
        task_objects=resolved,
    )
