"""An independent reference for the exact Distral alternation (``mdlib.solve_distral``).

Written from the equations of the report and of book/rules.md, without looking at the library's solver, and on
purpose by other methods wherever that is possible:

* rules: ``rules_step`` of tests/test_game.py, the plain-Python statement of the game (not the
  compiled kernel ``mdlib.game.transition``); a lone agent is played against a phantom partner
  that is done and stands off the map, so it never blocks anything;
* states: enumerated here ("alone": the free cells; "both": the joint states (cells, done flags,
  previous actions) reachable from the start, found breadth first);
* E-step: soft *policy* iteration (exact evaluation of the regularised reward by a linear solve,
  then the soft-greedy policy of eq. 5, repeated until eq. 3 holds to ``tol``) instead of soft
  value iteration; "both" finds the two-agent fixed point by alternating *full* best responses
  (agent 1's soft MDP solved exactly given agent 2's policy, then agent 2's given agent 1's, until
  neither policy changes) instead of sweep-by-sweep iteration;
* occupancy, returns and arrival: forward propagation of the state distribution for
  ``max_steps`` steps;
* M-step: normalised summed occupancies (eq. 6, V1) or pooled over both agents (eq. 8, V2),
  uniform where never visited.

Equations (the report's numbering): eq. 3 ``V(s) = (1/beta) log sum_a pi0(a|s)^alpha exp(beta Q(s,a))``,
eq. 4 ``Q(s,a) = r + gamma V(s')`` (no successor once the agent has arrived at its own goal), eq. 5
``pi(a|s) = pi0(a|s)^alpha exp(beta (Q(s,a) - V(s)))``. The soft value is the value of the policy
of eq. 5 for the regularised reward ``r + (alpha/beta) log pi0(a|s) - (1/beta) log pi(a|s)``, which
is what the policy evaluation step computes.

Only ``mdlib.tasks.load_task`` (reading map files) is taken from the library.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from mdlib.tasks import TASK_SETS, load_task

try:  # pytest puts tests/ on sys.path (rootdir conftest, no tests/__init__.py)
    from test_game import rules_step
except ModuleNotFoundError:  # imported as tests.reference_distral from the repository root
    from tests.test_game import rules_step

N_ACTIONS = 5
PHANTOM = (-100, -100)  # where the absent partner of a lone agent "stands": off the map


# --- tasks ----------------------------------------------------------------------------------------


def as_tasks(tasks):
    """A task-set name, one name, a Task or a list of names/Tasks -> a list of Task objects."""
    if isinstance(tasks, str):
        names = TASK_SETS.get(tasks, (tasks,))
        return [load_task(name) for name in names]
    if hasattr(tasks, "walls"):
        return [tasks]
    return [t if hasattr(t, "walls") else load_task(t) for t in tasks]


def free_cells(walls) -> list[tuple[int, int]]:
    """The free cells in reading order (row by row, left to right)."""
    return [(r, c) for r in range(len(walls)) for c in range(len(walls[0])) if not walls[r][c]]


# --- soft-optimal control of one agent (generic) --------------------------------------------------


def log_weights(pi0: np.ndarray, alpha: float) -> np.ndarray:
    """``log pi0^alpha``: ``alpha log pi0``, ``-inf`` where pi0 = 0 < alpha, and 0 for alpha = 0."""
    if alpha == 0:
        return np.zeros_like(pi0, dtype=float)
    with np.errstate(divide="ignore"):
        return alpha * np.log(pi0)


def soft_greedy(q: np.ndarray, logw: np.ndarray, beta: float):
    """Eq. 5 and eq. 3: the policy ``pi0^alpha exp(beta Q) / Z`` and ``V = (1/beta) log Z``."""
    z = logw + beta * q
    top = z.max(axis=1, keepdims=True)
    e = np.exp(z - top)
    total = e.sum(axis=1, keepdims=True)
    return e / total, (top[:, 0] + np.log(total[:, 0])) / beta


@dataclass
class SoftMDP:
    """One agent's decision problem: from state s, own action a, an outcome b drawn with
    probability ``q[s, b]`` (the other agent's action; a single outcome for a lone agent) leads to
    ``nxt[s, a, b]`` with reward ``rew[s, a, b]``; ``cont[s, a, b]`` is 0 when the agent arrives at
    its goal (no successor). ``active[s]`` is False where the agent is done (V = 0, no decision)."""

    nxt: np.ndarray  # (n, 5, B) int
    rew: np.ndarray  # (n, 5, B)
    cont: np.ndarray  # (n, 5, B) float 0/1
    active: np.ndarray  # (n,) bool
    q: np.ndarray  # (n, B)

    @property
    def n(self) -> int:
        return len(self.active)

    def expected_reward(self) -> np.ndarray:
        return np.einsum("sab,sb->sa", self.rew, self.q)

    def backup(self, v: np.ndarray) -> np.ndarray:
        """Eq. 4 averaged over the outcome: ``Q(s,a) = sum_b q(b|s) [r + gamma cont V(s')]`` (gamma outside)."""
        return np.einsum("sab,sb->sa", self.cont * v[self.nxt], self.q)

    def transition_matrix(self, pi: np.ndarray) -> sp.csr_matrix:
        """``P_pi(s, s') = sum_{a,b} pi(a|s) q(b|s) cont [nxt = s']`` on active rows (sparse)."""
        n = self.n
        weights = pi[:, :, None] * self.q[:, None, :] * self.cont
        weights[~self.active] = 0.0
        rows = np.broadcast_to(np.arange(n)[:, None, None], self.nxt.shape)
        return sp.csr_matrix((weights.ravel(), (rows.ravel(), self.nxt.ravel())), shape=(n, n))


def regularised_reward(mdp: SoftMDP, pi: np.ndarray, logw: np.ndarray, beta: float) -> np.ndarray:
    """``sum_a pi(a|s) [rbar(s,a) + (alpha log pi0(a|s) - log pi(a|s)) / beta]``, 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        bonus = np.where(pi > 0, (logw - np.log(np.where(pi > 0, pi, 1.0))) / beta, 0.0)
        terms = np.where(pi > 0, pi * (mdp.expected_reward() + bonus), 0.0)
    out = terms.sum(axis=1)
    out[~mdp.active] = 0.0
    return out


def evaluate(mdp: SoftMDP, pi: np.ndarray, logw: np.ndarray, beta: float, gamma: float, v0=None) -> np.ndarray:
    """Exact value of ``pi`` for the regularised reward: solve ``(I - gamma P_pi) V = r_pi``.

    Small (lone) problems: dense LU. Joint problems: BiCGSTAB from ``v0``, accepted only if the
    linear residual is below 1e-11 in max norm, else a sparse LU (both are exact linear solves).
    """
    rhs = regularised_reward(mdp, pi, logw, beta)
    if mdp.n <= 500:
        return np.linalg.solve(np.eye(mdp.n) - gamma * mdp.transition_matrix(pi).toarray(), rhs)
    matrix = sp.identity(mdp.n, format="csr") - gamma * mdp.transition_matrix(pi)
    v, info = spla.bicgstab(matrix, rhs, x0=v0, rtol=1e-15, atol=1e-13, maxiter=10_000)
    if info == 0 and np.max(np.abs(matrix @ v - rhs)) <= 1e-11:
        return v
    return spla.spsolve(matrix.tocsc(), rhs)


def soft_policy_iteration(
    mdp: SoftMDP,
    logw: np.ndarray,
    beta: float,
    gamma: float,
    pi=None,
    v0=None,
    tol: float = 1e-12,
    max_iterations: int = 1000,
):
    """Soft policy iteration: evaluate pi exactly, replace it by its soft-greedy policy (eq. 5),
    until the soft Bellman equation (eq. 3 with eq. 4) holds to ``tol`` in max norm.

    Returns ``(Q, V, pi, residual, iterations)``; Q is eq. 4 of the returned V, pi and V are eq. 5
    and eq. 3 of that Q (so pi is the soft-optimal policy and V its soft value).
    """
    if pi is None:
        pi, _ = soft_greedy(np.zeros_like(logw), logw, beta)  # pi0^alpha, normalised
    # v0: a guess of V for the iterative linear solver (speed only)
    rbar = mdp.expected_reward()
    v = evaluate(mdp, pi, logw, beta, gamma, v0=v0)
    for iteration in range(1, max_iterations + 1):
        q = rbar + gamma * mdp.backup(v)
        pi, v_soft = soft_greedy(q, logw, beta)
        v_soft[~mdp.active] = 0.0
        residual = float(np.max(np.abs(v_soft - v)))
        if residual <= tol:
            break
        v = evaluate(mdp, pi, logw, beta, gamma, v0=v_soft)
    q = rbar + gamma * mdp.backup(v_soft)
    pi, v = soft_greedy(q, logw, beta)
    v[~mdp.active] = 0.0
    return q, v, pi, bellman_residual(mdp, q, logw, beta, gamma), iteration


def bellman_residual(mdp: SoftMDP, q: np.ndarray, logw: np.ndarray, beta: float, gamma: float) -> float:
    """Max-norm residual of ``Q = rbar + gamma E[cont V(s')]`` with V from eq. 3, on active rows."""
    _, v = soft_greedy(q, logw, beta)
    v[~mdp.active] = 0.0
    target = mdp.expected_reward() + gamma * mdp.backup(v)
    return float(np.max(np.abs(q - target)[mdp.active]))


def soft_value_iteration(
    mdp: SoftMDP, logw: np.ndarray, beta: float, gamma: float, tol: float = 1e-12, max_sweeps: int = 1_000_000
):
    """Plain soft value iteration (eq. 3 and eq. 4 applied until they hold), for cross-checks."""
    rbar = mdp.expected_reward()
    q = np.zeros_like(rbar)
    for _ in range(max_sweeps):
        _, v = soft_greedy(q, logw, beta)
        v[~mdp.active] = 0.0
        new = rbar + gamma * mdp.backup(v)
        if np.max(np.abs(new - q)) <= tol:
            return new
        q = new
    raise RuntimeError("soft value iteration did not converge")


# --- a lone agent ---------------------------------------------------------------------------------


def lone_step(walls, goal, cell, action, agent):
    """``rules_step`` for one agent whose partner is absent: the partner is done and stands off the
    map (PHANTOM), so it blocks no cell. Returns (new cell, arrived, reward)."""
    positions, done, goals, actions = [PHANTOM, PHANTOM], [True, True], [PHANTOM, PHANTOM], [0, 0]
    positions[agent], done[agent], goals[agent], actions[agent] = cell, False, goal, action
    new_positions, new_done, rewards = rules_step(walls, goals, positions, done, actions, "reference")
    return new_positions[agent], new_done[agent], rewards[agent]


@dataclass
class LoneGame:
    """Agent ``agent`` alone on ``task``: states are the free cells (``cells``, reading order)."""

    task: object
    agent: int
    cells: list
    mdp: SoftMDP
    start: int

    @classmethod
    def build(cls, task, agent):
        walls = task.walls.tolist()
        cells = free_cells(walls)
        index = {cell: i for i, cell in enumerate(cells)}
        goal = tuple(task.goals[agent])
        n = len(cells)
        nxt = np.zeros((n, N_ACTIONS, 1), np.int64)
        rew = np.zeros((n, N_ACTIONS, 1))
        cont = np.zeros((n, N_ACTIONS, 1))
        for s, cell in enumerate(cells):
            for a in range(N_ACTIONS):
                new_cell, arrived, reward = lone_step(walls, goal, cell, a, agent)
                nxt[s, a, 0], rew[s, a, 0], cont[s, a, 0] = index[new_cell], reward, 0.0 if arrived else 1.0
        active = np.array([cell != goal for cell in cells])
        mdp = SoftMDP(nxt=nxt, rew=rew, cont=cont, active=active, q=np.ones((n, 1)))
        return cls(task=task, agent=agent, cells=cells, mdp=mdp, start=index[tuple(task.starts[agent])])


@dataclass
class Measures:
    """A policy played exactly for ``max_steps`` steps from the start."""

    occupancy: np.ndarray  # d(s, a) = sum_t gamma^t P(s_t = s, a_t = a, not yet arrived)
    task_return: float
    arrival: float
    entropy: float
    kl: float


def entropy_and_kl(occupancy, pi, pi0):
    """Occupancy-weighted mean entropy of pi and KL(pi || pi0), nats per step."""
    weight = occupancy.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pi = np.log(np.where(pi > 0, pi, 1.0))
        log_pi0 = np.log(np.where(pi > 0, pi0, 1.0))
        h = -np.where(pi > 0, pi * log_pi, 0.0).sum(axis=1)
        kl = np.where(pi > 0, pi * (log_pi - log_pi0), 0.0).sum(axis=1)
    total = weight.sum()
    return float(weight @ h / total), float(weight @ kl / total)


def lone_measures(game: LoneGame, pi, pi0, gamma, max_steps) -> Measures:
    mdp = game.mdp
    mu = np.zeros(mdp.n)
    mu[game.start] = 1.0
    occupancy = np.zeros((mdp.n, N_ACTIONS))
    ret = arrival = 0.0
    for t in range(max_steps):
        w = mu[:, None] * pi
        w[~mdp.active] = 0.0
        occupancy += gamma**t * w
        ret += gamma**t * float((w * mdp.rew[:, :, 0]).sum())
        arrival += float((w * (1.0 - mdp.cont[:, :, 0])).sum())
        mu = np.bincount(mdp.nxt[:, :, 0].ravel(), weights=(w * mdp.cont[:, :, 0]).ravel(), minlength=mdp.n)
    entropy, kl = entropy_and_kl(occupancy, pi, pi0)
    return Measures(occupancy, ret, arrival, entropy, kl)


# --- the alternation ------------------------------------------------------------------------------


@dataclass
class Reference:
    """Per iteration, task and agent (arrays (iterations, tasks, 2)) and the objective (iterations,).

    ``pi0`` is (2, n_obs, 5) in this module's observation numbering ``observations`` (a list of
    keys: the cell (row, col) for "alone"; the egocentric/absolute observation tuple for "both");
    ``prior`` the prior of the last E-step; ``policies[i]`` a (2, n_obs, 5) table of task i's last
    policies (rows no state uses hold the prior's row).
    """

    task_return: np.ndarray
    arrival: np.ndarray
    value: np.ndarray
    entropy: np.ndarray
    kl: np.ndarray
    objective: np.ndarray
    observations: list
    pi0: np.ndarray
    prior: np.ndarray
    policies: list
    residual: np.ndarray  # (iterations, tasks): the E-step's final Bellman residual (max over agents)
    rounds: np.ndarray  # (iterations, tasks): best-response rounds ("both") / policy-iteration steps
    info: dict = field(default_factory=dict)


def distil(counts: np.ndarray, version: str) -> np.ndarray:
    """M-step: eq. 6 (V1, per agent) or eq. 8 (V2, pooled); uniform rows where nothing was counted."""
    if version == "v2":
        counts = np.broadcast_to(counts.sum(axis=0), counts.shape)
    out = np.full(counts.shape, 1.0 / N_ACTIONS)
    totals = counts.sum(axis=2)
    seen = totals > 0
    out[seen] = counts[seen] / totals[seen][:, None]
    return out


def reference_alone(tasks, alpha, beta, gamma=0.99, iterations=10, version="v1", max_steps=200, tol=1e-12):
    """The alternation with each agent alone on each map (observation = own cell)."""
    tasks = as_tasks(tasks)
    cells = free_cells(tasks[0].walls.tolist())
    games = [[LoneGame.build(task, agent) for agent in (0, 1)] for task in tasks]
    assert all(g.cells == cells for pair in games for g in pair), "the maps must share walls"
    n_tasks, n = len(tasks), len(cells)
    shape = (iterations, n_tasks, 2)
    out = {name: np.zeros(shape) for name in ("task_return", "arrival", "value", "entropy", "kl")}
    residual, rounds = np.zeros((iterations, n_tasks)), np.zeros((iterations, n_tasks), np.int64)
    pi0 = np.full((2, n, N_ACTIONS), 1.0 / N_ACTIONS)
    for k in range(iterations):
        counts = np.zeros((2, n, N_ACTIONS))
        policies = []
        for i, pair in enumerate(games):
            table = pi0.copy()
            for j, game in enumerate(pair):
                logw = log_weights(pi0[j], alpha)
                _, v, pi, res, steps = soft_policy_iteration(game.mdp, logw, beta, gamma, tol=tol)
                m = lone_measures(game, pi, pi0[j], gamma, max_steps)
                counts[j] += m.occupancy
                table[j][game.mdp.active] = pi[game.mdp.active]
                for name in ("task_return", "arrival", "entropy", "kl"):
                    out[name][k, i, j] = getattr(m, name)
                out["value"][k, i, j] = v[game.start]
                residual[k, i] = max(residual[k, i], res)
                rounds[k, i] = max(rounds[k, i], steps)
            policies.append(table)
        prior, pi0 = pi0, distil(counts, version)
    return Reference(
        **out,
        objective=out["value"].sum(axis=(1, 2)),
        observations=cells,
        pi0=pi0,
        prior=prior,
        policies=policies,
        residual=residual,
        rounds=rounds,
    )


# --- two agents -------------------------------------------------------------------------------------


@dataclass
class JointGame:
    """The reachable joint states x = (cell 1, cell 2, done 1, done 2, prev 1, prev 2) of one map.

    ``nxt[x, a1, a2]``, ``rew[x, a1, a2, j]``; a done agent's action is replaced by stay (and
    recorded as 0); ``obs[j][x]`` is agent j's observation row (-1 where j is done).
    """

    task: object
    states: list
    nxt: np.ndarray
    rew: np.ndarray
    done: np.ndarray  # (n, 2) bool
    obs: np.ndarray  # (2, n) int

    @classmethod
    def build(cls, task, contention, order, observation_index):
        """``observation_index``: a dict key -> row shared by all maps of a run (grown here)."""
        walls, goals = task.walls.tolist(), (tuple(task.goals[0]), tuple(task.goals[1]))
        start = ((tuple(task.starts[0]), tuple(task.starts[1])), (False, False), (0, 0))
        step_cache = {}

        def successor(state, a1, a2):
            positions, done, _ = state
            a1, a2 = (0 if done[0] else a1), (0 if done[1] else a2)
            key = (positions, done, a1, a2)
            if key not in step_cache:
                step_cache[key] = rules_step(walls, goals, positions, done, (a1, a2), contention)
            new_positions, new_done, rewards = step_cache[key]
            return (new_positions, new_done, (a1, a2)), rewards

        index, states, frontier = {start: 0}, [start], deque([start])
        while frontier:
            state = frontier.popleft()
            for a1 in range(N_ACTIONS):
                for a2 in range(N_ACTIONS):
                    new, _ = successor(state, a1, a2)
                    if new not in index:
                        index[new] = len(states)
                        states.append(new)
                        frontier.append(new)
        n = len(states)
        nxt = np.zeros((n, N_ACTIONS, N_ACTIONS), np.int64)
        rew = np.zeros((n, N_ACTIONS, N_ACTIONS, 2))
        for x, state in enumerate(states):
            for a1 in range(N_ACTIONS):
                for a2 in range(N_ACTIONS):
                    new, rewards = successor(state, a1, a2)
                    nxt[x, a1, a2] = index[new]
                    rew[x, a1, a2] = rewards
        done = np.array([state[1] for state in states], dtype=bool)
        obs = np.full((2, n), -1, np.int64)
        for x, (positions, flags, prev) in enumerate(states):
            for j in (0, 1):
                if not flags[j]:
                    key = observation_key(positions, flags, prev, j, order)
                    obs[j, x] = observation_index.setdefault(key, len(observation_index))
        return cls(task=task, states=states, nxt=nxt, rew=rew, done=done, obs=obs)

    @property
    def n(self) -> int:
        return len(self.states)

    def agent_mdp(self, j, other_policy):
        """Agent j's soft MDP given the other agent's effective policy (n, 5) (stay where done)."""
        if j == 0:
            nxt, rew = self.nxt, self.rew[..., 0]
        else:  # own action first
            nxt, rew = self.nxt.transpose(0, 2, 1), self.rew[..., 1].transpose(0, 2, 1)
        cont = (~self.done[nxt, j]).astype(float)
        return SoftMDP(
            nxt=np.ascontiguousarray(nxt),
            rew=np.ascontiguousarray(rew),
            cont=cont,
            active=~self.done[:, j],
            q=other_policy,
        )

    def effective(self, j, pi):
        """Agent j's action distribution per joint state: pi where j decides, stay where j is done."""
        out = pi.copy()
        out[self.done[:, j]] = np.eye(N_ACTIONS)[0]
        return out


def observation_key(positions, done, prev, j, order="egocentric"):
    """Agent j's observation: own cell and the other's (egocentric) or agent 1's then agent 2's
    (absolute), own previous action, the other's previous action, the other's done flag."""
    k = 1 - j
    first, second = (positions[j], positions[k]) if order == "egocentric" else positions
    return (first, second, prev[j], prev[k], bool(done[k]))


def joint_measures(game: JointGame, pis, pi0_rows, gamma, max_steps):
    """Play pi_1 x pi_2 exactly: per agent occupancy (n, 5), task return, arrival, entropy, kl.

    The joint state distribution mu_t is propagated by the sparse joint transition matrix; per
    state, the expected reward of agent j and its probability of arriving in this step are fixed,
    so only ``sum_t gamma^t mu_t`` (returns, occupancy) and ``sum_t mu_t`` (arrival) are needed.
    """
    eff = [game.effective(j, pis[j]) for j in (0, 1)]
    joint = eff[0][:, :, None] * eff[1][:, None, :]  # (n, a1, a2)
    rows = np.broadcast_to(np.arange(game.n)[:, None, None], game.nxt.shape)
    step = sp.csr_matrix((joint.ravel(), (rows.ravel(), game.nxt.ravel())), shape=(game.n, game.n))
    step_t = step.T.tocsr()
    mu = np.zeros(game.n)
    mu[0] = 1.0
    discounted, total = np.zeros(game.n), np.zeros(game.n)
    for t in range(max_steps):
        discounted += gamma**t * mu
        total += mu
        mu = step_t @ mu
    measures = []
    for j in (0, 1):
        active = ~game.done[:, j]
        reward = (joint * game.rew[..., j]).sum(axis=(1, 2))  # 0 where j is done (rules: reward 0)
        arrives = (joint * (active[:, None, None] & game.done[game.nxt, j])).sum(axis=(1, 2))
        occupancy = (discounted * active)[:, None] * pis[j]
        entropy, kl = entropy_and_kl(occupancy[active], pis[j][active], pi0_rows[j][active])
        measures.append(Measures(occupancy, float(discounted @ reward), float(total @ arrives), entropy, kl))
    return measures


def best_response_equilibrium(
    game: JointGame, logw, beta, gamma, q_start, tol=1e-9, inner_tol=1e-10, max_rounds=10_000, first=0
):
    """Alternate full soft best responses (agent 1 to pi_2, then agent 2 to the new pi_1) until
    neither policy moves by more than ``tol`` (max norm over decision states) in a round.
    ``first = 1`` lets agent 2 respond first (to probe other fixed points; not the spec's order).

    ``q_start`` (2, n, 5) gives the starting policies by eq. 5 (Q = 0: pi0^alpha normalised); only
    agent 2's starting policy matters, as agent 1 responds to it first. Returns ``(Q, V, pi,
    rounds, change, residual)`` with the residual of both agents' Bellman equations at the end
    (agent 2's is the inner solver's; agent 1's is measured against the final pi_2).
    """
    pis = [soft_greedy(q_start[j], logw[j], beta)[0] for j in (0, 1)]
    qs, vs = [None, None], [None, None]
    history = []
    for rounds in range(1, max_rounds + 1):
        old = [p.copy() for p in pis]
        for j in (first, 1 - first):
            mdp = game.agent_mdp(j, game.effective(1 - j, pis[1 - j]))
            qs[j], vs[j], pis[j], _, _ = soft_policy_iteration(
                mdp, logw[j], beta, gamma, pi=pis[j], v0=vs[j], tol=inner_tol
            )
        change = max(float(np.max(np.abs(pis[j] - old[j])[~game.done[:, j]])) for j in (0, 1))
        history.append(change)
        if change <= tol:
            break
    residual = max(
        bellman_residual(game.agent_mdp(j, game.effective(1 - j, pis[1 - j])), qs[j], logw[j], beta, gamma)
        for j in (0, 1)
    )
    return qs, vs, pis, rounds, history, residual


_GAMES: dict = {}


def joint_games(tasks, contention, order):
    """The JointGame of each task and the shared observation numbering (cached: they are not mutated)."""
    key = (tuple((task.name, task.source) for task in tasks), contention, order)
    if key not in _GAMES:
        observation_index = {}
        games = [JointGame.build(task, contention, order, observation_index) for task in tasks]
        _GAMES[key] = games, observation_index
    return _GAMES[key]


def reference_both(
    tasks,
    alpha,
    beta,
    gamma=0.99,
    iterations=1,
    version="v1",
    contention="reference",
    order="egocentric",
    max_steps=200,
    tol=1e-9,
    inner_tol=1e-10,
    first_responder=0,
):
    """The alternation with both agents on the map, E-step by alternating full best responses.

    Iteration 1 starts from Q = 0 (the first responder answers pi0^alpha normalised, i.e. pi0);
    iteration k + 1 starts from iteration k's final Q of the same task under the new prior.
    ``first_responder`` 0 (agent 1 answers first, the spec's order) or 1 (agent 2 first).

    The fixed point need not be unique: on task 1 at beta = 10 agent 1 responding first finds the
    equilibrium in which agent 1 crosses the corridor first and agent 2 waits (returns about 90.49
    and 84.61), agent 2 responding first the mirror image (84.60, 90.49). At beta = 0.5 both orders
    find the same point. ``tol`` bounds the last round's policy change (max norm).
    """
    tasks = as_tasks(tasks)
    games, observation_index = joint_games(tasks, contention, order)
    n_tasks, n_obs = len(tasks), len(observation_index)
    shape = (iterations, n_tasks, 2)
    out = {name: np.zeros(shape) for name in ("task_return", "arrival", "value", "entropy", "kl")}
    residual, rounds = np.zeros((iterations, n_tasks)), np.zeros((iterations, n_tasks), np.int64)
    pi0 = np.full((2, n_obs, N_ACTIONS), 1.0 / N_ACTIONS)
    q_prev = [np.zeros((2, g.n, N_ACTIONS)) for g in games]
    histories, policy_history = [], []
    for k in range(iterations):
        counts = np.zeros((2, n_obs, N_ACTIONS))
        policies, iteration_history = [], []
        for i, game in enumerate(games):
            # pi0 rows per joint state (rows where the agent is done are unused: any row will do)
            rows = [pi0[j][np.maximum(game.obs[j], 0)] for j in (0, 1)]
            logw = [log_weights(rows[j], alpha) for j in (0, 1)]
            qs, vs, pis, n_rounds, history, res = best_response_equilibrium(
                game, logw, beta, gamma, q_prev[i], tol=tol, inner_tol=inner_tol, first=first_responder
            )
            q_prev[i] = np.stack(qs)
            measures = joint_measures(game, pis, rows, gamma, max_steps)
            table = pi0.copy()
            for j in (0, 1):
                active = ~game.done[:, j]
                np.add.at(counts[j], game.obs[j][active], measures[j].occupancy[active])
                table[j][game.obs[j][active]] = pis[j][active]
                for name in ("task_return", "arrival", "entropy", "kl"):
                    out[name][k, i, j] = getattr(measures[j], name)
                out["value"][k, i, j] = vs[j][0]
            residual[k, i], rounds[k, i] = res, n_rounds
            policies.append(table)
            iteration_history.append(np.array(history))
        histories.append(iteration_history)
        policy_history.append(policies)
        prior, pi0 = pi0, distil(counts, version)
    keys = sorted(observation_index, key=observation_index.get)
    return Reference(
        **out,
        objective=out["value"].sum(axis=(1, 2)),
        observations=keys,
        pi0=pi0,
        prior=prior,
        policies=policies,
        residual=residual,
        rounds=rounds,
        info={"games": games, "change_history": histories, "policy_history": policy_history, "q": q_prev},
    )


# --- closed forms ---------------------------------------------------------------------------------


def shortest_moves(task, agent) -> int:
    """Moves a lone agent needs from its start to its goal (breadth first over lone_step)."""
    walls, goal = task.walls.tolist(), tuple(task.goals[agent])
    start = tuple(task.starts[agent])
    distance, frontier = {start: 0}, deque([start])
    while frontier:
        cell = frontier.popleft()
        for a in range(1, N_ACTIONS):
            new_cell, arrived, _ = lone_step(walls, goal, cell, a, agent)
            if arrived:
                return distance[cell] + 1
            if new_cell not in distance:
                distance[new_cell] = distance[cell] + 1
                frontier.append(new_cell)
    raise ValueError("unreachable goal")


def shortest_path_return(moves: int, gamma: float) -> float:
    """``-0.1 sum_{k < L-1} gamma^k + 100 gamma^(L-1)`` for an agent arriving on move L."""
    return -0.1 * sum(gamma**k for k in range(moves - 1)) + 100.0 * gamma ** (moves - 1)
