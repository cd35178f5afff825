"""The PettingZoo environment: API conformance, episode bookkeeping, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

from mdlib import CorridorEnv, load_task, solve_joint
from mdlib.game import observation_count

TASKS = ("task1", "task2", "task3", "task4", "task5")
OBSERVATIONS = ("septuple", "index")
ORDERS = ("egocentric", "absolute")
STAY, DOWN, UP, LEFT, RIGHT = range(5)


def started(*args, **kwargs) -> CorridorEnv:
    env = CorridorEnv(*args, **kwargs)
    env.reset(seed=0)
    return env


def finish_agent_1_in_task5(env: CorridorEnv):
    """Task 5: agent 1 walks straight down from (1, 7) to its goal (5, 7); agent 2 stays."""
    for _ in range(4):
        result = env.step({agent: (DOWN if agent == "agent_1" else STAY) for agent in env.agents})
    return result


# --- PettingZoo's own checks ------------------------------------------------------------------------


@pytest.mark.filterwarnings("error")  # PettingZoo reports API slips as warnings: make them failures
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("observation", OBSERVATIONS)
@pytest.mark.parametrize("task", TASKS)
def test_passes_pettingzoo_parallel_api_test(task, observation, order):
    env = CorridorEnv(task, observation=observation, order=order)
    parallel_api_test(env, num_cycles=250)  # > max_steps: episodes run to their end


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("observation", OBSERVATIONS)
@pytest.mark.parametrize("task", TASKS)
def test_passes_pettingzoo_parallel_seed_test(task, observation, order):
    parallel_seed_test(lambda: CorridorEnv(task, observation=observation, order=order), num_cycles=100)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("observation", OBSERVATIONS)
def test_observations_lie_in_their_observation_space(observation, order):
    env = CorridorEnv("task1", max_steps=60, observation=observation, order=order)
    observations, _ = env.reset(seed=3)
    while True:
        for agent, obs in observations.items():
            assert env.observation_space(agent).contains(obs), (agent, obs)
        if not env.agents:
            break
        observations, *_ = env.step({a: env.action_space(a).sample() for a in env.agents})


def test_spaces():
    env = CorridorEnv("task1", observation="index")
    assert env.action_space("agent_1").n == 5
    assert env.observation_space("agent_2").n == observation_count(23) == 26_450
    septuple = CorridorEnv("task1").observation_space("agent_1")
    np.testing.assert_array_equal(septuple.nvec, [7, 9, 7, 9, 5, 5, 2])


# --- observations and infos ---------------------------------------------------------------------------


def test_reset_puts_both_agents_on_their_starts():
    env = CorridorEnv("task3")
    _, infos = env.reset()
    assert env.agents == ["agent_1", "agent_2"]
    assert infos["agent_1"]["position"] == (5, 1)
    assert infos["agent_2"]["position"] == (1, 7)


def test_info_position_is_a_row_col_tuple_of_ints():
    env = started("task1")
    _, _, _, _, infos = env.step({"agent_1": DOWN, "agent_2": LEFT})
    assert infos["agent_1"]["position"] == (2, 1)
    assert infos["agent_2"]["position"] == (1, 6)
    assert all(type(v) is int for v in infos["agent_1"]["position"])


def test_egocentric_septuple_puts_the_observers_position_first():
    env = started("task1", order="egocentric")
    observations, *_ = env.step({"agent_1": DOWN, "agent_2": LEFT})
    assert observations["agent_1"].tolist() == [2, 1, 1, 6, DOWN, LEFT, 0]
    assert observations["agent_2"].tolist() == [1, 6, 2, 1, LEFT, DOWN, 0]


def test_absolute_septuple_puts_agent_1_first():
    env = started("task1", order="absolute")
    observations, *_ = env.step({"agent_1": DOWN, "agent_2": LEFT})
    assert observations["agent_1"].tolist() == [2, 1, 1, 6, DOWN, LEFT, 0]
    assert observations["agent_2"].tolist() == [2, 1, 1, 6, LEFT, DOWN, 0]


def test_previous_actions_are_zero_at_the_start():
    observations, _ = CorridorEnv("task2").reset()
    assert observations["agent_1"].tolist()[4:] == [0, 0, 0]


def test_septuple_reports_whether_the_other_agent_is_done():
    env = started("task5")
    finish_agent_1_in_task5(env)
    observations, *_ = env.step({"agent_2": STAY})
    assert observations["agent_2"].tolist()[-1] == 1


@pytest.mark.parametrize("order", ORDERS)
def test_index_observation_matches_the_info_index(order):
    env = CorridorEnv("task1", observation="index", order=order)
    observations, infos = env.reset()
    for _ in range(5):
        for agent, obs in observations.items():
            assert isinstance(obs, int)
            assert obs == infos[agent]["index"]
        observations, _, _, _, infos = env.step({"agent_1": RIGHT, "agent_2": DOWN})


# --- episode bookkeeping --------------------------------------------------------------------------------


def test_agent_that_reaches_its_goal_is_terminated_and_removed():
    env = started("task5")
    _, rewards, terminations, truncations, _ = finish_agent_1_in_task5(env)
    assert rewards == {"agent_1": 100.0, "agent_2": -0.1}
    assert terminations == {"agent_1": True, "agent_2": False}
    assert truncations == {"agent_1": False, "agent_2": False}
    assert env.agents == ["agent_2"]


def test_after_an_agent_finishes_only_the_live_agent_appears_in_the_step_results():
    env = started("task5")
    finish_agent_1_in_task5(env)
    results = env.step({"agent_2": DOWN})
    assert all(set(d) == {"agent_2"} for d in results)
    assert env.positions["agent_1"] == (5, 7)


def test_episode_ends_when_both_agents_are_done():
    env = started("task5")
    finish_agent_1_in_task5(env)
    for _ in range(4):
        _, rewards, terminations, _, _ = env.step({"agent_2": DOWN})
    assert rewards == {"agent_2": 100.0}
    assert terminations == {"agent_2": True}
    assert env.agents == []


def test_episode_is_truncated_after_max_steps():
    env = started("task1", max_steps=3)
    for _ in range(2):
        _, _, terminations, truncations, _ = env.step({"agent_1": STAY, "agent_2": STAY})
        assert truncations == {"agent_1": False, "agent_2": False}
    _, _, terminations, truncations, _ = env.step({"agent_1": STAY, "agent_2": STAY})
    assert truncations == {"agent_1": True, "agent_2": True}
    assert terminations == {"agent_1": False, "agent_2": False}
    assert env.agents == []


def test_truncation_only_concerns_agents_still_live():
    env = started("task5", max_steps=4)
    _, _, terminations, truncations, _ = finish_agent_1_in_task5(env)  # agent 1 arrives on step 4
    assert terminations == {"agent_1": True, "agent_2": False}
    assert truncations == {"agent_1": False, "agent_2": True}
    assert env.agents == []


def test_default_max_steps_is_200():
    env = started("task1")
    steps = 0
    while env.agents:
        env.step({a: STAY for a in env.agents})
        steps += 1
    assert env.max_steps == steps == 200


def test_reset_starts_a_fresh_episode():
    env = started("task5", max_steps=4)
    finish_agent_1_in_task5(env)
    observations, infos = env.reset()
    assert env.agents == ["agent_1", "agent_2"]
    assert infos["agent_1"]["position"] == (1, 7) and infos["agent_1"]["step"] == 0
    assert observations["agent_1"].tolist() == [1, 7, 1, 1, 0, 0, 0]


@pytest.mark.parametrize("contention", ("reference", "both_blocked"))
@pytest.mark.parametrize("task", TASKS)
def test_optimal_trajectory_replays_identically_in_the_env(task, contention):
    trajectory = solve_joint(task, contention=contention).trajectory
    env = started(task, contention=contention)
    agents = ("agent_1", "agent_2")
    for t, joint in enumerate(trajectory.actions.tolist()):
        live = list(env.agents)
        _, rewards, _, _, infos = env.step({a: joint[agents.index(a)] for a in live})
        for i, agent in enumerate(agents):
            assert env.positions[agent] == tuple(trajectory.positions[t + 1, i])
            if agent in live:
                assert infos[agent]["position"] == tuple(trajectory.positions[t + 1, i])
                assert rewards[agent] == trajectory.rewards[t, i]
            else:
                assert trajectory.rewards[t, i] == 0.0
    assert env.agents == []


def test_contention_rule_reaches_the_env():
    """Agent 1 at (3, 3) and agent 2 at (3, 5) both aim at (3, 4): agent 2 gets it under
    "reference", nobody moves under "both_blocked"."""
    to_the_corridor = [(DOWN, DOWN), (DOWN, DOWN), (RIGHT, LEFT), (RIGHT, STAY)]
    results = {}
    for contention in ("reference", "both_blocked"):
        env = started("task1", contention=contention)
        for a1, a2 in to_the_corridor:
            env.step({"agent_1": a1, "agent_2": a2})
        assert env.positions == {"agent_1": (3, 3), "agent_2": (3, 6)}
        env.step({"agent_1": STAY, "agent_2": LEFT})
        assert env.positions == {"agent_1": (3, 3), "agent_2": (3, 5)}
        env.step({"agent_1": RIGHT, "agent_2": LEFT})
        results[contention] = env.positions
    assert results["reference"] == {"agent_1": (3, 3), "agent_2": (3, 4)}
    assert results["both_blocked"] == {"agent_1": (3, 3), "agent_2": (3, 5)}


def test_task_can_be_given_as_a_task_object():
    task = load_task("task4")
    env = CorridorEnv(task)
    assert env.task is task


# --- rendering --------------------------------------------------------------------------------------------


def test_rgb_array_render_returns_an_rgb_image():
    env = started("task1", render_mode="rgb_array")
    frame = env.render()
    assert isinstance(frame, np.ndarray)
    assert frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[0] > 0 and frame.shape[1] > 0
    assert frame.dtype == np.uint8


def test_render_without_a_render_mode_returns_none():
    assert started("task1").render() is None


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", (5, -1, 99))
def test_out_of_range_action_is_an_error(action):
    env = started("task1")
    with pytest.raises(
        ValueError, match=rf"action {action} for 'agent_1' is out of range: expected 0\.\.4 \(0 stay, 1 down"
    ):
        env.step({"agent_1": action, "agent_2": STAY})


@pytest.mark.parametrize("action", (1.0, "1", None, True, np.array([1])), ids=("float", "str", "None", "bool", "array"))
def test_non_integer_action_is_an_error(action):
    env = started("task1")
    with pytest.raises(ValueError, match=r"action for 'agent_2' must be an integer 0\.\.4, got"):
        env.step({"agent_1": STAY, "agent_2": action})


@pytest.mark.parametrize(
    "action", (np.int64(DOWN), np.int32(DOWN), np.array(DOWN)), ids=("int64", "int32", "0-d array")
)
def test_numpy_integer_actions_are_accepted(action):
    env = started("task1")
    _, _, _, _, infos = env.step({"agent_1": action, "agent_2": STAY})
    assert infos["agent_1"]["position"] == (2, 1)


def test_missing_action_for_a_live_agent_is_an_error():
    env = started("task1")
    with pytest.raises(KeyError, match="no action given for live agent 'agent_2'"):
        env.step({"agent_1": STAY})


def test_action_for_an_unknown_agent_is_an_error():
    env = started("task1")
    with pytest.raises(KeyError, match="action given for 'agent_3', which is not an agent of this game"):
        env.step({"agent_1": STAY, "agent_2": STAY, "agent_3": STAY})


def test_action_for_a_finished_agent_is_an_error():
    env = started("task5")
    finish_agent_1_in_task5(env)
    with pytest.raises(
        KeyError, match="action given for 'agent_1', which has already finished; live agents: \\['agent_2'\\]"
    ):
        env.step({"agent_1": STAY, "agent_2": STAY})


def test_a_rejected_step_changes_nothing():
    env = started("task1")
    env.step({"agent_1": DOWN, "agent_2": DOWN})
    before = env.positions
    with pytest.raises(ValueError):
        env.step({"agent_1": DOWN, "agent_2": 7})
    _, _, _, _, infos = env.step({"agent_1": STAY, "agent_2": STAY})
    assert env.positions == before
    assert infos["agent_1"]["step"] == 2


def test_stepping_after_the_episode_is_over_is_an_error():
    env = started("task1", max_steps=1)
    env.step({"agent_1": STAY, "agent_2": STAY})
    with pytest.raises(RuntimeError, match=r"the episode is over: call reset\(\) before step\(\)"):
        env.step({})


def test_stepping_before_reset_is_an_error():
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        CorridorEnv("task1").step({"agent_1": STAY, "agent_2": STAY})


@pytest.mark.parametrize("max_steps", (0, -5, 2.5, True, "200"))
def test_max_steps_must_be_a_positive_integer(max_steps):
    with pytest.raises(ValueError, match="max_steps must be a positive integer, got"):
        CorridorEnv("task1", max_steps=max_steps)


def test_unknown_contention_rule_is_an_error():
    with pytest.raises(
        ValueError, match="unknown contention rule 'first_come': expected one of reference, both_blocked"
    ):
        CorridorEnv("task1", contention="first_come")


def test_unknown_observation_type_is_an_error():
    with pytest.raises(ValueError, match="unknown observation type 'pixels': expected one of septuple, index"):
        CorridorEnv("task1", observation="pixels")


def test_unknown_observation_order_is_an_error():
    with pytest.raises(ValueError, match="unknown observation order 'random': expected one of egocentric, absolute"):
        CorridorEnv("task1", order="random")


def test_unknown_render_mode_is_an_error():
    with pytest.raises(ValueError, match="unknown render_mode 'human'"):
        CorridorEnv("task1", render_mode="human")


def test_unknown_task_is_an_error():
    with pytest.raises(ValueError, match="unknown task 'task0'"):
        CorridorEnv("task0")


def test_spaces_of_an_unknown_agent_are_an_error():
    env = CorridorEnv("task1")
    with pytest.raises(KeyError, match="unknown agent 'agent_3'"):
        env.action_space("agent_3")
