"""The corridor game as a PettingZoo ``ParallelEnv`` (both agents act at once)."""

from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from . import game
from .game import AGENTS
from .tasks import Task, load_task

OBSERVATION_TYPES = ("septuple", "index")


class CorridorEnv(ParallelEnv):
    """Two agents, two rooms, one corridor: the rules of :mod:`mdlib.game` (the book's appendix
    *The rules of the corridor game*) as a PettingZoo parallel environment.

    :param task: a :class:`~mdlib.tasks.Task`, a built-in name such as ``"task1"``, or a map path.
    :param max_steps: the episode is truncated after this many steps.
    :param contention: ``"reference"`` (agent 2 wins a contested cell) or ``"both_blocked"``.
    :param observation: ``"septuple"`` (7 integers, see :func:`mdlib.game.observation_tuple`) or
        ``"index"`` (the compact table index). ``infos[agent]`` always carries both, and the
        agent's ``position``.
    :param order: ``"egocentric"`` (own position first) or ``"absolute"`` (agent 1 first).
    :param render_mode: ``None`` or ``"rgb_array"``.
    """

    metadata = {"name": "corridor_v0", "render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        task: Task | str = "task1",
        max_steps: int = 200,
        contention: str = "reference",
        observation: str = "septuple",
        order: str = "egocentric",
        render_mode: str | None = None,
    ):
        self.task = task if isinstance(task, Task) else load_task(task)
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}")
        if observation not in OBSERVATION_TYPES:
            raise ValueError(
                f"unknown observation type {observation!r}: expected one of {', '.join(OBSERVATION_TYPES)}"
            )
        if order not in game.OBSERVATION_ORDERS:
            raise ValueError(
                f"unknown observation order {order!r}: expected one of {', '.join(game.OBSERVATION_ORDERS)}"
            )
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}: expected None or 'rgb_array'")
        self.max_steps = int(max_steps)
        self.contention = contention
        self._contention = game.contention_code(contention)
        self.observation_type = observation
        self.order = order
        self.render_mode = render_mode
        self._arrays = game.game_spec(self.task, contention, order, self.max_steps)
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        self._pos = self._arrays.starts.copy()
        self._done = np.zeros(2, dtype=np.bool_)
        self._prev = np.zeros(2, dtype=np.int64)
        self._steps = 0

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent: str) -> spaces.Space:
        self._check_agent(agent)
        if self.observation_type == "index":
            return spaces.Discrete(self._arrays.n_observations)
        rows, cols = self.task.shape
        return spaces.MultiDiscrete([rows, cols, rows, cols, game.N_ACTIONS, game.N_ACTIONS, 2], dtype=np.int64)

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent: str) -> spaces.Space:
        self._check_agent(agent)
        return spaces.Discrete(game.N_ACTIONS)

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Put both agents on their starts. The game itself is deterministic; ``seed`` seeds the
        action spaces so that ``action_space(agent).sample()`` repeats."""
        if seed is not None:
            for i, agent in enumerate(self.possible_agents):
                self.action_space(agent).seed(seed + i)
        self.agents = list(self.possible_agents)
        self._pos = self._arrays.starts.copy()
        self._done[:] = False
        self._prev[:] = 0
        self._steps = 0
        return self._observe(self.agents)

    def step(self, actions: dict[str, int]):
        """Advance one step; ``actions`` must give exactly one action in 0..4 to every live agent."""
        if not self.agents:
            raise RuntimeError("the episode is over: call reset() before step()")
        joint = np.zeros(2, dtype=np.int64)
        unknown = [key for key in actions if key not in self.agents]
        if unknown:
            key = unknown[0]
            why = "has already finished" if key in self.possible_agents else "is not an agent of this game"
            raise KeyError(f"action given for {key!r}, which {why}; live agents: {self.agents}")
        for agent in self.agents:
            if agent not in actions:
                raise KeyError(f"no action given for live agent {agent!r}")
            joint[AGENTS.index(agent)] = self._checked_action(agent, actions[agent])

        live = list(self.agents)
        self._pos, self._done, rewards = game.step(
            self._arrays.walls, self._arrays.goals, self._contention, self._pos, self._done, joint
        )
        self._prev = joint
        self._steps += 1

        truncate = self._steps >= self.max_steps
        terminations = {a: bool(self._done[AGENTS.index(a)]) for a in live}
        truncations = {a: truncate and not terminations[a] for a in live}
        reward_dict = {a: float(rewards[AGENTS.index(a)]) for a in live}
        observations, infos = self._observe(live)
        self.agents = [a for a in live if not (terminations[a] or truncations[a])]
        return observations, reward_dict, terminations, truncations, infos

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        from .render import render_frame

        return render_frame(self.task, self._pos, self._done, step=self._steps)

    def close(self):
        pass

    @property
    def positions(self) -> dict[str, tuple[int, int]]:
        return {a: (int(self._pos[i, 0]), int(self._pos[i, 1])) for i, a in enumerate(AGENTS)}

    def _check_agent(self, agent: str) -> None:
        if agent not in AGENTS:
            raise KeyError(f"unknown agent {agent!r}: expected one of {list(AGENTS)}")

    def _checked_action(self, agent: str, action) -> int:
        if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
            if isinstance(action, np.ndarray) and action.shape == () and np.issubdtype(action.dtype, np.integer):
                action = int(action)
            else:
                raise ValueError(f"action for {agent!r} must be an integer 0..4, got {action!r}")
        if not 0 <= action < game.N_ACTIONS:
            raise ValueError(
                f"action {action} for {agent!r} is out of range: expected 0..4 "
                f"({', '.join(f'{i} {n}' for i, n in enumerate(game.ACTION_NAMES))})"
            )
        return int(action)

    def _observe(self, agents):
        """Observations and infos of ``agents``, each agent's septuple and index computed once."""
        egocentric, a = self.order == "egocentric", self._arrays
        observations, infos = {}, {}
        for agent in agents:
            i = AGENTS.index(agent)
            septuple = game.observation_tuple(self._pos, self._prev, self._done, i, egocentric)
            index = int(
                game.agent_observation(a.cell_index, a.n_cells, self._pos, self._prev, self._done, i, egocentric)
            )
            observations[agent] = index if self.observation_type == "index" else np.array(septuple, np.int64)
            infos[agent] = {
                "position": (int(self._pos[i, 0]), int(self._pos[i, 1])),
                "septuple": septuple,
                "index": index,
                "done": bool(self._done[i]),
                "step": self._steps,
            }
        return observations, infos
