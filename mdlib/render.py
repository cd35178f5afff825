"""Pictures of the corridor game: one frame per state, and animated GIFs of whole episodes.

The colours are the report's (figure 2): agent 1 light green, agent 2 light red, their goals dark
green and dark red, walls dark, free cells light. Colour is never the only cue: agent 1 is a
circle labelled "1", agent 2 a diamond labelled "2", goals are squares labelled "G1"/"G2", and a
finished agent sits on its goal with a check-mark badge. Frames are drawn with Pillow at three
times their size and box-filtered down, which gives smooth edges and keeps flat areas at their
exact colours. The output is deterministic, so a GIF in an executed notebook compares equal
under nbval.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .files import check_output_file, write_atomically
from .game import Trajectory
from .tasks import Task

#: The report's colours, shared with :mod:`mdlib.plots`.
COLOURS = {
    "agent_1": "#a8dfa0",
    "agent_2": "#f5a3a3",
    "goal_1": "#1b7837",
    "goal_2": "#b2182b",
    "wall": "#2e3440",
    "free": "#f4f1ea",
    "grid": "#ddd7ca",
    "strip": "#ffffff",
    "text": "#1f2328",
    "muted": "#5c6370",
}
#: Agent 1's and agent 2's colours.
AGENT_COLOURS = (COLOURS["agent_1"], COLOURS["agent_2"])
#: The colours of agent 1's and agent 2's goals.
GOAL_COLOURS = (COLOURS["goal_1"], COLOURS["goal_2"])
MIN_CELL = 24
_SCALE = 3


def render_frame(
    task: Task,
    positions,
    done,
    step: int | None = None,
    cell: int = 48,
    caption: str | None = None,
    *,
    returns: Sequence[float] | None = None,
) -> np.ndarray:
    """One state of ``task`` as an ``(H, W, 3)`` uint8 image: the map with ``cell`` pixels per
    grid cell, then a status strip.

    The strip's first row shows ``step N`` (the task's name when ``step`` is None) and, when
    ``returns`` is given, each agent's return next to its marker; ``caption``, if any, gets a row
    of its own, so frames with and without a caption never mix in one animation.
    """
    positions, done = _check_state(task, positions, done)
    if int(cell) < MIN_CELL:
        raise ValueError(f"cell must be at least {MIN_CELL} pixels to stay legible, got {cell!r}")
    cell = int(cell)
    strip_rows = 1 + (caption is not None)
    rows, cols = task.shape
    image = _background(task.walls.tobytes(), task.shape, task.goals, cell, strip_rows).copy()
    draw = ImageDraw.Draw(image)
    s = cell * _SCALE
    for agent in (0, 1):
        row, col = positions[agent]
        x, y = col * s, row * s
        on_goal = bool(done[agent]) and (row, col) == task.goals[agent]
        _agent_marker(draw, agent, x + s / 2, y + s / 2, s * (0.31 if on_goal else 0.36))
        if done[agent]:
            _check_badge(draw, x + 0.78 * s, y + 0.22 * s, 0.2 * s, GOAL_COLOURS[agent])
    _status(draw, rows * s, cols * s, cell, step, task.name, caption, returns, done)
    small = image.resize((image.width // _SCALE, image.height // _SCALE), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8)


def trajectory_frames(
    trajectory: Trajectory,
    cell: int = 48,
    caption: str | Callable[[int], str] | None = None,
    gamma: float = 0.99,
) -> list[np.ndarray]:
    """One frame per state of ``trajectory`` (``len(trajectory) + 1`` frames).

    Each frame shows both agents' discounted return so far, ``sum_{k<t} gamma^k r_k``, so the last
    frame shows ``trajectory.returns(gamma)``. ``caption`` is a string for every frame, a function
    of the step, or None for a default naming the task and gamma; pass ``""`` for no caption row.
    """
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must lie in (0, 1], got {gamma!r}")
    rewards = np.asarray(trajectory.rewards, dtype=np.float64).reshape(-1, 2)
    discounted = rewards * (gamma ** np.arange(len(rewards)))[:, None]
    running = np.vstack([np.zeros((1, 2)), np.cumsum(discounted, axis=0)])
    if caption is None:
        caption = f"{trajectory.task.name}, discounted return so far (\u03b3 = {gamma:g})"
    frames = []
    for t in range(len(trajectory.positions)):
        text = caption(t) if callable(caption) else caption
        frames.append(
            render_frame(
                trajectory.task,
                trajectory.positions[t],
                trajectory.done[t],
                step=t,
                cell=cell,
                caption=text if caption != "" else None,
                returns=running[t],
            )
        )
    return frames


def save_gif(
    frames_or_trajectory,
    path: str | os.PathLike,
    fps: float = 4,
    hold_last: float = 2.0,
) -> Path:
    """Write an animated GIF that loops forever; the last frame stays ``hold_last`` seconds.

    Takes a list (or array) of ``(H, W, 3)`` uint8 frames, or a :class:`Trajectory` to render
    with :func:`trajectory_frames`. Input is checked before anything is written, and the file is
    written to a temporary name and renamed, so a failure never leaves a partial GIF behind.
    The GIF encoder merges identical consecutive frames, adding up their durations.
    """
    if isinstance(frames_or_trajectory, Trajectory):
        frames = trajectory_frames(frames_or_trajectory)
    else:
        frames = _check_frames(frames_or_trajectory)
    for name, value in (("fps", fps), ("hold_last", hold_last)):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"path must end in .gif, got {str(path)!r}")

    import imageio.v3 as iio

    durations = [round(1000 / fps)] * (len(frames) - 1) + [round(1000 * hold_last)]
    check_output_file(path, (".gif",), "GIF")
    write_atomically(
        path,
        lambda temporary: iio.imwrite(temporary, np.stack(frames), extension=".gif", duration=durations, loop=0),
        "GIF",
    )
    return path


def _check_state(task: Task, positions, done) -> tuple[list[tuple[int, int]], np.ndarray]:
    positions = np.asarray(positions)
    done = np.asarray(done, dtype=bool)
    if positions.shape != (2, 2) or done.shape != (2,):
        raise ValueError(
            f"expected positions of shape (2, 2) and done of shape (2,), got {positions.shape} and {done.shape}"
        )
    cells = [(int(r), int(c)) for r, c in positions]
    for agent, (row, col) in enumerate(cells):
        if not (0 <= row < task.shape[0] and 0 <= col < task.shape[1]) or task.walls[row, col]:
            raise ValueError(f"agent {agent + 1} at {(row, col)} is not on a free cell of {task.name}")
    return cells, done


def _check_frames(frames) -> list[np.ndarray]:
    if frames is None or len(frames) == 0:
        raise ValueError("no frames to save")
    frames = [np.asarray(frame) for frame in frames]
    first = frames[0].shape
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(
                f"frame {i} must be an (H, W, 3) uint8 image, got shape {frame.shape} and dtype {frame.dtype}"
            )
        if frame.shape != first:
            raise ValueError(f"frame {i} has shape {frame.shape} but frame 0 has {first}: all frames must match")
    return frames


@lru_cache(maxsize=8)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans from matplotlib's own data (installed with mdlib), else Pillow's built-in font."""
    try:
        import matplotlib

        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size=size)


def _strip_height(cell: int) -> int:
    return max(22, round(0.62 * cell))


@lru_cache(maxsize=16)
def _background(walls_bytes: bytes, shape: tuple[int, int], goals, cell: int, strip_rows: int) -> Image.Image:
    """The static part of a frame at drawing scale: cells, walls, goals and the empty strip."""
    walls = np.frombuffer(walls_bytes, dtype=bool).reshape(shape)
    s, rows, cols = cell * _SCALE, *shape
    strip = _strip_height(cell) * _SCALE * strip_rows
    image = Image.new("RGB", (cols * s, rows * s + strip), COLOURS["strip"])
    draw = ImageDraw.Draw(image)
    line = max(1, _SCALE * cell // 48)
    for (row, col), wall in np.ndenumerate(walls):
        x, y = col * s, row * s
        if wall:
            draw.rectangle((x, y, x + s - 1, y + s - 1), fill=COLOURS["wall"])
        else:
            draw.rectangle((x, y, x + s - 1, y + s - 1), fill=COLOURS["grid"])
            draw.rectangle((x + line, y + line, x + s - 1 - line, y + s - 1 - line), fill=COLOURS["free"])
    for agent, (row, col) in enumerate(goals):
        x, y, inset = col * s, row * s, 0.07 * s
        box = (x + inset, y + inset, x + s - inset, y + s - inset)
        draw.rounded_rectangle(box, radius=0.14 * s, fill=GOAL_COLOURS[agent])
        label = _font(round(0.32 * s), bold=True)
        draw.text((x + s / 2, y + s / 2), f"G{agent + 1}", fill="white", font=label, anchor="mm")
    return image


def _agent_marker(draw, agent: int, cx: float, cy: float, r: float, label: bool = True) -> None:
    """Agent 1 a circle, agent 2 a diamond of about the same area, outlined in its goal's colour."""
    width = max(1, round(0.16 * r))
    fill, edge = AGENT_COLOURS[agent], GOAL_COLOURS[agent]
    if agent == 0:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline=edge, width=width)
    else:
        d = 1.2 * r
        points = [(cx, cy - d), (cx + d, cy), (cx, cy + d), (cx - d, cy)]
        draw.polygon(points, fill=edge)
        inner = d - width * math.sqrt(2)
        draw.polygon([(cx, cy - inner), (cx + inner, cy), (cx, cy + inner), (cx - inner, cy)], fill=fill)
    if label:
        draw.text((cx, cy), str(agent + 1), fill=edge, font=_font(round(1.15 * r), bold=True), anchor="mm")


def _check_badge(draw, cx: float, cy: float, r: float, colour: str) -> None:
    """A white disc with a check mark: this agent is done."""
    ring = max(1, round(0.18 * r))
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill="white", outline=colour, width=ring)
    tick = [(cx - 0.48 * r, cy + 0.02 * r), (cx - 0.12 * r, cy + 0.40 * r), (cx + 0.50 * r, cy - 0.38 * r)]
    draw.line(tick, fill=colour, width=max(1, round(0.28 * r)), joint="curve")


def _status(draw, y0, width, cell, step, name, caption, returns, done) -> None:
    """The strip under the map: step (or task name) and returns, then the caption row.

    The first row's font shrinks until both ends fit, so narrow maps still show every number.
    """
    h = _strip_height(cell) * _SCALE
    pad = 0.3 * h
    draw.rectangle((0, y0, width - 1, y0 + _SCALE - 1), fill=COLOURS["wall"])
    left = f"step {step}" if step is not None else name
    texts = [] if returns is None else [f"{float(r):+.2f}".replace("-", "\u2212") for r in returns]
    size = round(0.5 * h)
    while True:
        bold, regular = _font(size, bold=True), _font(size)
        glyph, gap = 0.95 * size, 0.45 * size
        widths = [
            glyph + gap + draw.textlength(text, font=regular) + glyph * bool(done[agent])
            for agent, text in enumerate(texts)
        ]
        right = sum(widths) + 2 * gap * max(0, len(widths) - 1)
        if draw.textlength(left, font=bold) + 2 * gap + right <= width - 2 * pad or size <= 8 * _SCALE:
            break
        size -= _SCALE
    cy = y0 + h / 2
    draw.text((pad, cy), left, fill=COLOURS["text"], font=bold, anchor="lm")
    x = width - pad - right
    for agent, (text, w) in enumerate(zip(texts, widths)):
        _agent_marker(draw, agent, x + glyph / 2, cy, glyph / 2 * (0.95 if agent == 0 else 0.82), label=False)
        draw.text((x + glyph + gap, cy), text, fill=COLOURS["text"], font=regular, anchor="lm")
        if done[agent]:
            _check_badge(draw, x + w - 0.35 * glyph, cy, 0.45 * glyph, GOAL_COLOURS[agent])
        x += w + 2 * gap
    if caption is not None:
        font = _font(round(0.44 * h))
        text = _fit(draw, str(caption), font, width - 2 * pad)
        draw.text((pad, y0 + 1.45 * h), text, fill=COLOURS["muted"], font=font, anchor="lm")


def _fit(draw, text: str, font, width: float) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "\u2026", font=font) > width:
        text = text[:-1]
    return text.rstrip() + "\u2026"


def thinned(frames: list, every: int) -> list:
    """Every ``every``-th frame, always keeping the last one (short GIFs of long games)."""
    kept = list(frames[::every])
    if (len(frames) - 1) % every:
        kept.append(frames[-1])
    return kept


def save_game(trajectory: Trajectory, path, cell: int = 44, fps: float = 8, long_game: int = 60) -> Path:
    """A played game as a GIF for a chapter: every frame, or every other one when the game is
    longer than ``long_game`` steps."""
    frames = trajectory_frames(trajectory, cell=cell)
    return save_gif(thinned(frames, 2 if len(trajectory) > long_game else 1), path, fps=fps)
