"""Rendering: frames show the right things in the right places, GIFs round-trip, bad input fails early."""

from __future__ import annotations

import imageio.v3 as iio
import matplotlib
import numpy as np
import pytest
from PIL import Image, ImageColor

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import mdlib  # noqa: E402
from mdlib.files import OutputError  # noqa: E402
from mdlib.plots import draw_task, draw_tasks  # noqa: E402
from mdlib.render import (  # noqa: E402
    AGENT_COLOURS,
    COLOURS,
    GOAL_COLOURS,
    MIN_CELL,
    render_frame,
    save_gif,
    trajectory_frames,
)


@pytest.fixture(scope="module")
def task():
    return mdlib.load_task("task1")


@pytest.fixture(scope="module")
def trajectory():
    return mdlib.solve_joint("task1").trajectory


def cell_pixels(frame, row, col, cell):
    return frame[row * cell : (row + 1) * cell, col * cell : (col + 1) * cell]


def share(pixels, colour):
    """Fraction of ``pixels`` exactly of ``colour`` (a hex string)."""
    return float(np.all(pixels == ImageColor.getrgb(colour), axis=-1).mean())


def start_frame(task, **kwargs):
    return render_frame(task, task.starts, [False, False], **kwargs)


@pytest.mark.parametrize("cell", [MIN_CELL, 48, 61])
def test_frame_is_an_rgb_uint8_image_with_the_map_on_top(task, cell):
    frame = start_frame(task, step=0, cell=cell)
    rows, cols = task.shape
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert frame.shape[1] == cols * cell
    assert frame.shape[0] > rows * cell
    for row, col in np.argwhere(task.walls):
        assert share(cell_pixels(frame, row, col, cell), COLOURS["wall"]) == 1.0


def test_cells_are_at_least_24_pixels(task):
    assert MIN_CELL >= 24
    assert start_frame(task).shape[1] // task.shape[1] >= 24
    with pytest.raises(ValueError, match="cell"):
        start_frame(task, cell=MIN_CELL - 1)


def test_agents_show_their_colours_in_their_own_cells(task):
    cell = 48
    positions = [(3, 4), (2, 6)]
    frame = render_frame(task, positions, [False, False], step=5, cell=cell)
    for agent, (row, col) in enumerate(positions):
        own = cell_pixels(frame, row, col, cell)
        assert share(own, AGENT_COLOURS[agent]) > 0.15
        assert share(own, AGENT_COLOURS[1 - agent]) == 0.0
    empty = cell_pixels(frame, *task.starts[0], cell)
    assert share(empty, AGENT_COLOURS[0]) == 0.0 and share(empty, COLOURS["free"]) > 0.8


def test_goals_are_drawn_in_their_colours(task):
    cell = 48
    frame = start_frame(task, cell=cell)
    for agent, (row, col) in enumerate(task.goals):
        assert share(cell_pixels(frame, row, col, cell), GOAL_COLOURS[agent]) > 0.4


def test_a_done_agent_sits_on_its_goal_with_a_done_mark(task):
    cell = 48
    positions = [task.goals[0], (3, 4)]
    done = render_frame(task, positions, [True, False], step=9, cell=cell, returns=(90.5, -0.9))
    arriving = render_frame(task, positions, [False, False], step=9, cell=cell, returns=(90.5, -0.9))
    goal = cell_pixels(done, *task.goals[0], cell)
    assert share(goal, AGENT_COLOURS[0]) > 0.1
    assert share(goal, GOAL_COLOURS[0]) > 0.1
    corner = goal[: cell // 2, cell // 2 :]
    assert share(corner, "#ffffff") > 0.05
    assert share(cell_pixels(arriving, *task.goals[0], cell)[: cell // 2, cell // 2 :], "#ffffff") == 0.0
    rows = task.shape[0]
    assert not np.array_equal(done[rows * cell :], arriving[rows * cell :])


def test_the_step_counter_changes_only_the_status_strip(task):
    cell = 48
    first, second = start_frame(task, step=7, cell=cell), start_frame(task, step=8, cell=cell)
    map_height = task.shape[0] * cell
    assert np.array_equal(first[:map_height], second[:map_height])
    assert not np.array_equal(first[map_height:], second[map_height:])


def test_a_caption_adds_a_row_and_changes_pixels(task):
    plain = start_frame(task, step=1)
    captioned = start_frame(task, step=1, caption="returns so far")
    other = start_frame(task, step=1, caption="something else")
    assert captioned.shape[0] > plain.shape[0]
    assert captioned.shape == other.shape and not np.array_equal(captioned, other)


def test_render_frame_rejects_agents_off_the_free_cells(task):
    with pytest.raises(ValueError, match="agent 1"):
        render_frame(task, [(0, 0), task.starts[1]], [False, False])
    with pytest.raises(ValueError, match="shape"):
        render_frame(task, [1, 2, 3], [False, False])


def test_trajectory_frames_give_one_frame_per_state(trajectory):
    frames = trajectory_frames(trajectory, cell=32)
    assert len(frames) == len(trajectory) + 1
    assert len({frame.shape for frame in frames}) == 1
    assert frames[0].shape[1] == trajectory.task.shape[1] * 32
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:]))


def test_trajectory_frames_caption_options(trajectory):
    default = trajectory_frames(trajectory)[0]
    none = trajectory_frames(trajectory, caption="")[0]
    by_step = trajectory_frames(trajectory, caption=lambda t: f"t = {t}")
    assert none.shape[0] < default.shape[0] == by_step[0].shape[0]


def test_gif_decodes_back_with_every_frame(tmp_path, trajectory):
    frames = trajectory_frames(trajectory, cell=32)
    path = save_gif(frames, tmp_path / "deep" / "er" / "episode.gif", fps=5, hold_last=1.5)
    assert path.is_file()
    decoded = iio.imread(path, index=None)
    assert decoded.shape[0] == len(frames)
    assert decoded.shape[1:3] == frames[0].shape[:2]
    assert np.abs(decoded[-1, ..., :3].astype(int) - frames[-1].astype(int)).mean() < 1
    with Image.open(path) as gif:
        assert gif.info["loop"] == 0
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert durations[:-1] == [200] * (len(frames) - 1)
    assert durations[-1] == 1500
    assert [p.name for p in path.parent.iterdir()] == ["episode.gif"]


def test_save_gif_renders_a_trajectory(tmp_path, trajectory):
    path = save_gif(trajectory, tmp_path / "t.gif")
    assert iio.imread(path, index=None).shape[0] == len(trajectory) + 1


def test_save_gif_output_is_deterministic(tmp_path, trajectory):
    frames = trajectory_frames(trajectory, cell=24)
    a, b = save_gif(frames, tmp_path / "a.gif"), save_gif(frames, tmp_path / "b.gif")
    assert a.read_bytes() == b.read_bytes()


def frame(height=40, width=30, value=0):
    return np.full((height, width, 3), value, dtype=np.uint8)


@pytest.mark.parametrize(
    "frames, options, message",
    [
        ([], {}, "no frames"),
        (np.zeros((0, 4, 4, 3), np.uint8), {}, "no frames"),
        ([frame(), frame(41)], {}, "frame 1 has shape"),
        ([frame(), frame().astype(np.float32)], {}, "uint8"),
        ([np.zeros((4, 4), np.uint8)], {}, r"\(H, W, 3\)"),
        ([frame(), frame(value=9)], {"fps": 0}, "fps"),
        ([frame(), frame(value=9)], {"fps": -2}, "fps"),
        ([frame(), frame(value=9)], {"fps": float("nan")}, "fps"),
        ([frame(), frame(value=9)], {"hold_last": 0}, "hold_last"),
    ],
)
def test_bad_input_raises_before_writing_anything(tmp_path, frames, options, message):
    path = tmp_path / "new" / "bad.gif"
    with pytest.raises(ValueError, match=message):
        save_gif(frames, path, **options)
    assert not path.parent.exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "keep.gif"
    path.write_bytes(b"old")

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(iio, "imwrite", broken)
    with pytest.raises(OutputError, match=f"could not write GIF {path}: disk full"):
        save_gif([frame(), frame(value=9)], path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.gif"]


def test_draw_tasks_draws_the_five_maps_with_a_legend():
    fig = draw_tasks()
    try:
        assert len(fig.axes) == 5
        assert [ax.get_title() for ax in fig.axes] == [f"task {i}" for i in range(1, 6)]
        labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
        expected = {"agent 1 (start)", "agent 2 (start)", "goal of agent 1 (G1)", "goal of agent 2 (G2)"}
        assert expected <= set(labels)
    finally:
        plt.close(fig)


def test_draw_task_uses_the_report_colours(task):
    ax = draw_task(task)
    try:
        faces = {matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches}
        assert {*AGENT_COLOURS, *GOAL_COLOURS, COLOURS["wall"], COLOURS["free"]} <= faces
    finally:
        plt.close(ax.figure)


def test_thinned_keeps_every_kth_frame_and_the_last():
    from mdlib.render import thinned

    assert thinned(list(range(7)), 2) == [0, 2, 4, 6]
    assert thinned(list(range(8)), 3) == [0, 3, 6, 7]
    assert thinned([5], 4) == [5]
