"""Distillation, the M-step (report equations 6 and 8).

With the task policies fixed, the shared policy that maximises
``(alpha/beta) sum_i E_{pi_i}[sum_t gamma^t log pi0(a_t|s_t)]`` is the normalised discounted
state-action visit count of rollouts of the pi_i, summed over tasks (eq. 6). V1 keeps one pi0
per agent (counts of that agent only); V2 keeps one pi0 for both, so it pools both agents'
counts (eq. 8), which is meaningful because observations are egocentric.
"""

from __future__ import annotations

import numpy as np

from ..game import N_ACTIONS, Trajectory, agent_observation, game_arrays, observation_count

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
    arrays = game_arrays(trajectories[0].task)
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
