"""Exact solutions: the joint optimum of the corridor game by value iteration.

The joint MDP's state is both agents' cells and done flags; its 25 joint actions are stepped by
the game's one transition kernel. The objective is the sum of both agents' discounted returns,
the best any pair of learners could reach: the ceiling drawn on every learning curve.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from . import game
from .tasks import Task, path_length, resolve_tasks

#: The agents' names (:data:`mdlib.game.AGENTS`), as the keys of every split of returns.
AGENT_NAMES = game.AGENTS


def lone_return(moves: int, gamma: float) -> float:
    """Return of a lone agent that reaches its goal on its ``moves``-th step:
    ``-0.1 * sum_{k < moves-1} gamma^k + 100 * gamma^(moves-1)``."""
    steps = np.arange(moves - 1)
    return float(game.STEP_REWARD * np.sum(gamma**steps) + game.GOAL_REWARD * gamma ** (moves - 1))


def shortest_path_length(task: Task, agent: int) -> int:
    """Moves a lone agent needs from its start to its goal (:func:`mdlib.tasks.path_length`)."""
    moves = path_length(task.walls, task.starts[agent], task.goals[agent])
    if moves is None:
        raise ValueError(f"{task.name}: goal of agent {agent + 1} is unreachable")
    return moves


@dataclass(frozen=True)
class JointMDP:
    """The reachable joint states of a task and, for each, the next state and rewards of all
    25 joint actions (``joint action = 5 * a1 + a2``)."""

    task: Task
    positions: np.ndarray  # (S, 2, 2)
    done: np.ndarray  # (S, 2)
    next_state: np.ndarray  # (S, 25)
    rewards: np.ndarray  # (S, 25, 2)

    @property
    def n_states(self) -> int:
        return len(self.done)


def joint_mdp(task: Task, contention: str = "reference") -> JointMDP:
    """Enumerate every joint state reachable from the starts, breadth first."""
    arrays, code = game.game_spec(task, contention), game.contention_code(contention)
    key = lambda pos, done: (tuple(pos.ravel()), tuple(done))  # noqa: E731
    start = (arrays.starts.copy(), np.zeros(2, np.bool_))
    index = {key(*start): 0}
    states, frontier = [start], deque([0])
    transitions: dict[int, list[tuple[int, np.ndarray]]] = {}
    while frontier:
        s = frontier.popleft()
        pos, done = states[s]
        row = []
        for a1 in range(game.N_ACTIONS):
            for a2 in range(game.N_ACTIONS):
                actions = np.array([a1, a2], dtype=np.int64)
                new_pos, new_done, reward = game.step(arrays.walls, arrays.goals, code, pos, done, actions)
                k = key(new_pos, new_done)
                if k not in index:
                    index[k] = len(states)
                    states.append((new_pos, new_done))
                    frontier.append(index[k])
                row.append((index[k], reward))
        transitions[s] = row
    n = len(states)
    next_state = np.array([[t for t, _ in transitions[s]] for s in range(n)], dtype=np.int64)
    rewards = np.array([[r for _, r in transitions[s]] for s in range(n)], dtype=np.float64)
    return JointMDP(
        task=task,
        positions=np.array([p for p, _ in states]),
        done=np.array([d for _, d in states]),
        next_state=next_state,
        rewards=rewards,
    )


@dataclass(frozen=True)
class JointSolution:
    """The joint optimum of one task.

    ``value`` is the best sum of both agents' discounted returns from the start. Several joint
    policies reach it when the corridor forces one agent to wait; ``returns`` is the split of the
    one that favours ``favoured`` (the other agent waits), ``alternative`` the split favouring
    the other agent, and ``lone_returns`` what each agent would earn alone on the map.
    """

    task: Task
    gamma: float
    value: float
    returns: dict[str, float]
    alternative: dict[str, float]
    favoured: str
    lone_returns: dict[str, float]
    trajectory: game.Trajectory
    state_values: np.ndarray

    @property
    def waits(self) -> bool:
        """True when the joint optimum cannot give both agents their lone optimum."""
        return self.value < sum(self.lone_returns.values()) - 1e-9

    def __repr__(self) -> str:
        split = ", ".join(f"{a} {r:.4f}" for a, r in self.returns.items())
        return f"JointSolution({self.task.name}, gamma={self.gamma}, value={self.value:.4f}, {split})"


def solve_joint(
    task, gamma: float = 0.99, contention: str = "reference", favour: str = "agent_1", tol: float = 1e-12
) -> JointSolution:
    """Value iteration on the joint MDP, maximising the sum of both agents' discounted returns."""
    (task,) = resolve_tasks(task)
    if not 0 < gamma < 1:
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")
    if favour not in AGENT_NAMES:
        raise ValueError(f"favour must be one of {AGENT_NAMES}, got {favour!r}")
    mdp = joint_mdp(task, contention)
    total = mdp.rewards.sum(axis=2)
    value = _iterate(lambda v: (total + gamma * v[mdp.next_state]).max(axis=1), mdp.n_states, tol)
    q_total = total + gamma * value[mdp.next_state]
    optimal = q_total >= value[:, None] - 1e-9 * max(1.0, np.abs(value).max())

    def favoured_split(agent: int) -> tuple[np.ndarray, np.ndarray]:
        own = mdp.rewards[:, :, agent]
        v = _iterate(
            lambda w: np.where(optimal, own + gamma * w[mdp.next_state], -np.inf).max(axis=1),
            mdp.n_states,
            tol,
        )
        q_own = np.where(optimal, own + gamma * v[mdp.next_state], -np.inf)
        choice = np.argmax(q_own >= v[:, None] - 1e-9 * max(1.0, np.abs(v).max()), axis=1)
        return v, choice

    agent = AGENT_NAMES.index(favour)
    v_fav, policy = favoured_split(agent)
    v_other_fav, _ = favoured_split(1 - agent)
    split = {favour: float(v_fav[0]), AGENT_NAMES[1 - agent]: float(value[0] - v_fav[0])}
    alternative = {AGENT_NAMES[1 - agent]: float(v_other_fav[0]), favour: float(value[0] - v_other_fav[0])}
    return JointSolution(
        task=task,
        gamma=float(gamma),
        value=float(value[0]),
        returns={a: split[a] for a in AGENT_NAMES},
        alternative={a: alternative[a] for a in AGENT_NAMES},
        favoured=favour,
        lone_returns={a: lone_return(shortest_path_length(task, i), gamma) for i, a in enumerate(AGENT_NAMES)},
        trajectory=_follow(mdp, policy),
        state_values=value,
    )


def soft_value_iteration(
    transitions, rewards, pi0, alpha: float, beta: float, gamma: float, tol: float = 1e-12
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact regularised (soft) values of a small tabular MDP with a Distral prior.

    Iterates the report's equations 3-4 to their fixed point (a gamma-contraction)::

        V(s) = (1/beta) log sum_a pi0(a|s)^alpha exp(beta Q(s, a))        (eq. 3)
        Q(s, a) = R(s, a) + gamma sum_s' p(s'|s, a) V(s')                 (eq. 4)

    and returns ``(Q, V, pi)`` with ``pi(a|s) = pi0(a|s)^alpha exp(beta (Q(s, a) - V(s)))`` (eq. 5).
    ``transitions[s, a]`` is the distribution of s' (shape (S, A, S)), ``rewards`` and ``pi0`` are
    (S, A). The prior is used exactly as given (no floor), with ``pi0^0 = 1``; it is the reference
    the sampled soft Q-learning of :mod:`mdlib.learners.softq` is tested against.
    """
    p = np.asarray(transitions, float)
    r = np.asarray(rewards, float)
    prior = np.asarray(pi0, float)
    n_states, n_actions = r.shape
    if p.shape != (n_states, n_actions, n_states) or prior.shape != (n_states, n_actions):
        raise ValueError(f"shapes do not fit: transitions {p.shape}, rewards {r.shape}, pi0 {prior.shape}")
    if not (0 <= alpha <= 1 and beta > 0 and 0 < gamma < 1):
        raise ValueError(f"need alpha in [0, 1], beta > 0, gamma in (0, 1); got {alpha}, {beta}, {gamma}")
    if alpha == 0:
        log_weight = np.zeros_like(prior)
    else:
        with np.errstate(divide="ignore"):
            log_weight = alpha * np.log(prior)

    def soft_max(q: np.ndarray) -> np.ndarray:  # eq. 3, by log-sum-exp
        logits = log_weight + beta * q
        top = logits.max(axis=1)
        return (top + np.log(np.exp(logits - top[:, None]).sum(axis=1))) / beta

    v = _iterate(lambda v: soft_max(r + gamma * p @ v), n_states, tol)
    q = r + gamma * p @ v
    v = soft_max(q)
    return q, v, np.exp(log_weight + beta * (q - v[:, None]))


def _iterate(update, n_states: int, tol: float, max_iterations: int = 100_000) -> np.ndarray:
    value = np.zeros(n_states)
    for _ in range(max_iterations):
        new = update(value)
        if np.max(np.abs(new - value)) <= tol:
            return new
        value = new
    raise RuntimeError("value iteration did not converge")


def _follow(mdp: JointMDP, policy: np.ndarray, max_steps: int = 200) -> game.Trajectory:
    s, states, actions, rewards = 0, [0], [], []
    while not mdp.done[s].all() and len(actions) < max_steps:
        a = int(policy[s])
        actions.append(divmod(a, game.N_ACTIONS))
        rewards.append(mdp.rewards[s, a])
        s = int(mdp.next_state[s, a])
        states.append(s)
    return game.Trajectory(
        task=mdp.task,
        positions=mdp.positions[states],
        done=mdp.done[states],
        actions=np.array(actions, dtype=np.int64).reshape(-1, 2),
        rewards=np.array(rewards, dtype=np.float64).reshape(-1, 2),
    )


def optimum_table(tasks="original", gammas=(0.99, 0.9)) -> str:
    """A Markdown table of the joint optimum of each task: total, both splits and lone optima."""
    tasks = resolve_tasks(tasks)
    lines = [
        "| task | γ | joint optimum (sum) | split favouring agent 1 | split favouring agent 2 "
        "| lone agent 1, lone agent 2 |",
        "|---|---|---|---|---|---|",
    ]
    for gamma in gammas:
        for task in tasks:
            s = solve_joint(task, gamma)
            first1 = ", ".join(f"{s.returns[a]:.2f}" for a in AGENT_NAMES)
            first2 = ", ".join(f"{s.alternative[a]:.2f}" for a in AGENT_NAMES)
            lone = ", ".join(f"{s.lone_returns[a]:.2f}" for a in AGENT_NAMES)
            lines.append(f"| {task.name} | {gamma} | {s.value:.2f} | {first1} | {first2} | {lone} |")
    return "\n".join(lines)


# One agent alone on a map: the exact soft (Distral) optimum ------------------------------------


@dataclass(frozen=True)
class LoneMDP:
    """One agent alone on a map, as a tabular MDP over the map's free cells (``task.cell_index``).

    ``transitions[s, a]`` is the distribution of the next cell (one-hot: the game is
    deterministic), ``rewards[s, a]`` the game's reward. A move onto the agent's goal pays the
    goal reward and ends the episode: its row of ``transitions`` is all zeros, so nothing is
    bootstrapped past the arrival, exactly as in the learners.
    """

    task: Task
    agent: int
    transitions: np.ndarray  # (S, A, S)
    rewards: np.ndarray  # (S, A)
    start: int


def lone_mdp(task, agent: int) -> LoneMDP:
    """The MDP of ``agent`` (0 or 1) alone on ``task``, stepped by the game's kernel
    (:func:`mdlib.game.transition`) with the other agent absent: done, at :data:`mdlib.game.OFF_MAP`."""
    (task,) = resolve_tasks(task)
    if agent not in (0, 1):
        raise ValueError(f"agent must be 0 or 1, got {agent!r}")
    spec = game.game_spec(task, alone=agent)
    cells, index = task.free_cells, task.cell_index
    n = len(cells)
    transitions = np.zeros((n, game.N_ACTIONS, n))
    rewards = np.empty((n, game.N_ACTIONS))
    for s, (row, col) in enumerate(cells):
        for a in range(game.N_ACTIONS):
            to_row, to_col, arrived, rewards[s, a] = _lone_step(spec, agent, row, col, a)
            if not arrived:
                transitions[s, a, index[to_row, to_col]] = 1.0
    return LoneMDP(task, agent, transitions, rewards, int(index[tuple(task.starts[agent])]))


def _lone_step(spec: game.GameSpec, agent: int, row: int, col: int, action: int) -> tuple[int, int, bool, float]:
    """One step of ``agent`` alone: its next cell, whether it arrived, and its reward."""
    absent_row, absent_col = game.OFF_MAP
    if agent == 0:
        out = game.transition(
            spec.walls, spec.goals, spec.contention, row, col, absent_row, absent_col, False, True, action, 0
        )
        return out[0], out[1], out[4], out[6]
    out = game.transition(
        spec.walls, spec.goals, spec.contention, absent_row, absent_col, row, col, True, False, 0, action
    )
    return out[2], out[3], out[5], out[7]


def policy_return(mdp: LoneMDP, policy, gamma: float, horizon: int = 200) -> tuple[float, float]:
    """Expected discounted return of ``policy`` (S, A) from the start within ``horizon`` steps,
    and the probability that the agent has reached its goal by then (exact, no sampling)."""
    policy = np.asarray(policy, float)
    step = np.einsum("sa,sat->st", policy, mdp.transitions)
    reward = (policy * mdp.rewards).sum(axis=1)
    alive = np.zeros(len(reward))
    alive[mdp.start] = 1.0
    total = 0.0
    for t in range(horizon):
        total += gamma**t * (alive @ reward)
        alive = alive @ step
    return float(total), float(1.0 - alive.sum())


@dataclass(frozen=True)
class LoneSoftOptimum:
    """The exact Distral task policy of a lone agent for a fixed prior (eqs. 3-5), and what it
    earns in the game: ``value`` is V(start) of eq. 3 (game reward plus the regularisation terms),
    ``task_return`` the expected discounted game reward alone within ``horizon`` steps,
    ``arrival`` the probability of reaching the goal within ``horizon`` steps."""

    mdp: LoneMDP
    q: np.ndarray
    v: np.ndarray
    policy: np.ndarray
    value: float
    task_return: float
    arrival: float


def lone_soft_optimum(
    task, agent: int, alpha: float, beta: float, gamma: float = 0.99, pi0=None, horizon: int = 200
) -> LoneSoftOptimum:
    """Solve eqs. 3-5 exactly for ``agent`` alone on ``task`` with prior ``pi0`` ((S, A) over the
    free cells; default uniform) by :func:`soft_value_iteration`, then measure the policy."""
    mdp = lone_mdp(task, agent)
    prior = np.full(mdp.rewards.shape, 1.0 / game.N_ACTIONS) if pi0 is None else np.asarray(pi0, float)
    q, v, policy = soft_value_iteration(mdp.transitions, mdp.rewards, prior, alpha, beta, gamma)
    task_return, arrival = policy_return(mdp, policy, gamma, horizon)
    return LoneSoftOptimum(mdp, q, v, policy, float(v[mdp.start]), task_return, arrival)
