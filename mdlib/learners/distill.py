"""Distillation, the M-step (report equations 6 and 8).

With the task policies fixed, the shared policy that maximises
``(alpha/beta) sum_i E_{pi_i}[sum_t gamma^t log pi0(a_t|s_t)]`` is the normalised discounted
state-action visit count of rollouts of the pi_i, summed over tasks (eq. 6). V1 keeps one pi0
per agent (counts of that agent only); V2 keeps one pi0 for both, so it pools both agents'
counts (eq. 8), which is meaningful because observations are egocentric.
"""

from __future__ import annotations

import numpy as np

from ..game import N_ACTIONS, Trajectory, agent_observation, game_spec, observation_count

VERSIONS = ("v1", "v2")


def normalise(counts: np.ndarray) -> np.ndarray:
    """Rows of counts to probabilities; a state never visited gets the uniform policy."""
    totals = counts.sum(axis=-1, keepdims=True)
    uniform = np.full_like(counts, 1.0 / counts.shape[-1])
    return np.divide(counts, totals, out=uniform, where=totals > 0)


def distill(counts: np.ndarray, version: str) -> np.ndarray:
    """pi0 from per-agent discounted counts ``(2, n_observations, 5)``, one table per agent.

    For V2 both rows are the same pooled table, so the learners can index pi0 by agent either way.
    """
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, got {version!r}")
    if version == "v1":
        return normalise(counts)
    shared = normalise(counts.sum(axis=0))
    return np.stack([shared, shared])


def visit_counts(trajectories: list[Trajectory], gamma: float, egocentric: bool = True) -> np.ndarray:
    """Discounted state-action counts ``sum_t gamma^t [s_t = s, a_t = a]`` of played episodes,
    per agent, computed plainly in Python (the compiled M-step does the same inside its loop)."""
    if not trajectories:
        raise ValueError("no trajectories given")
    arrays = game_spec(trajectories[0].task)
    counts = np.zeros((2, observation_count(arrays.n_cells), N_ACTIONS))
    for trajectory in trajectories:
        prev = np.zeros(2, np.int64)
        for t, joint in enumerate(trajectory.actions):
            pos, done = trajectory.positions[t], trajectory.done[t]
            for agent in (0, 1):
                if not done[agent]:
                    s = agent_observation(arrays.cell_index, arrays.n_cells, pos, prev, done, agent, egocentric)
                    counts[agent, s, joint[agent]] += gamma**t
            prev = np.asarray(joint, np.int64)
    return counts


# Reading counts and shared policies -------------------------------------------------------------


def _per_agent_rows(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, float)
    if counts.ndim < 3 or counts.shape[-3] != 2 or counts.shape[-1] != N_ACTIONS:
        raise ValueError(f"expected counts of shape (..., 2, n_observations, {N_ACTIONS}), got {counts.shape}")
    if (counts < 0).any():
        raise ValueError("counts must not be negative")
    return counts.reshape(-1, *counts.shape[-3:]).sum(axis=0).sum(axis=-1)  # (2, n_observations)


def agent_overlap(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How much the two agents' experience meets in the rows of a pooled (V2) shared policy.

    ``counts`` are discounted visits ``(..., 2, n_observations, 5)``, summed over any leading axes
    (tasks). Returns two arrays of shape (2,), one number per agent j, both weighted by where
    agent j goes (its discounted visits):

    * ``shared``: the fraction of agent j's visits that fall in observations the other agent
      visits too;
    * ``other_share``: the other agent's share of the pooled counts in the observations agent j
      visits, i.e. how much of the V2 pi0 that agent j meets is made of the other agent's actions.

    Both are 0 when the agents never meet in a row; ``other_share`` is 0.5 for identical visits.
    """
    rows = _per_agent_rows(counts)
    shared, other_share = np.zeros(2), np.zeros(2)
    for agent in (0, 1):
        own, other = rows[agent], rows[1 - agent]
        if own.sum() == 0:
            raise ValueError(f"agent {agent + 1} has no visits")
        shared[agent] = own[other > 0].sum() / own.sum()
        pooled = own + other
        share = np.divide(other, pooled, out=np.zeros_like(pooled), where=pooled > 0)
        other_share[agent] = (own * share).sum() / own.sum()
    return shared, other_share


def average_policy(table: np.ndarray, weights: np.ndarray, keep_other: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A policy table averaged over what a picture on the map cannot show.

    ``table`` is (2, n_observations, 5) and ``weights`` (2, n_observations) are how often each
    observation is visited (for instance the row sums of :func:`~mdlib.learners.mstep_counts`).
    Rows that differ only in the two previous actions are replaced by their ``weights``-weighted
    average; with ``keep_other=False`` also rows that differ in the second cell of the
    observation (the other agent's, in egocentric order) and the done flag, so that what is left
    depends on the first cell only. A group with no weight at all becomes uniform. Returns the
    table (same shape) and the weight behind each row, ``(2, n_cells, n_cells, 2)``:
    ``[agent, first cell, second cell, other done]``.
    """
    table, weights = np.asarray(table, float), np.asarray(weights, float)
    if table.ndim != 3 or table.shape[0] != 2 or table.shape[2] != N_ACTIONS:
        raise ValueError(f"expected a table of shape (2, n_observations, {N_ACTIONS}), got {table.shape}")
    if weights.shape != table.shape[:2] or (weights < 0).any():
        raise ValueError(f"expected non-negative weights of shape {table.shape[:2]}, got {weights.shape}")
    n_cells = int(round(np.sqrt(table.shape[1] / (2 * N_ACTIONS * N_ACTIONS))))
    if observation_count(n_cells) != table.shape[1]:
        raise ValueError(f"{table.shape[1]} rows is not an observation table")
    shape = (2, n_cells, n_cells, N_ACTIONS, N_ACTIONS, 2)
    grouped, w = table.reshape(*shape, N_ACTIONS), weights.reshape(shape)
    axes = (3, 4) if keep_other else (2, 3, 4, 5)
    mass = w.sum(axis=axes, keepdims=True)
    total = (grouped * w[..., None]).sum(axis=axes, keepdims=True)
    average = normalise(np.where(mass[..., None] > 0, total, 0.0))
    out = np.broadcast_to(average, grouped.shape).reshape(table.shape).copy()
    return out, np.broadcast_to(mass, shape)[:, :, :, 0, 0, :].copy()


def policy_entropy(table: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per agent, the ``weights``-weighted mean entropy (nats) of a policy table's rows, and the
    weighted mean share of actions with probability exactly 0 (actions a distilled pi0 never saw
    taken, which the learners floor at ``PI0_FLOOR``). A uniform row has entropy log 5."""
    table, weights = np.asarray(table, float), np.asarray(weights, float)
    if table.ndim != 3 or weights.shape != table.shape[:2]:
        raise ValueError(f"table {table.shape} and weights {weights.shape} do not fit")
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(table > 0, table * np.log(table), 0.0).sum(axis=-1)
    zeros = (table == 0).mean(axis=-1)
    totals = weights.sum(axis=1)
    if (totals == 0).any():
        raise ValueError("every agent needs some weight")
    return (weights * entropy).sum(axis=1) / totals, (weights * zeros).sum(axis=1) / totals
