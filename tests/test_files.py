"""Writing results: a bad output path fails before any work, and a failed write leaves nothing.

Every writer in mdlib (``reproduce``, GIFs, figures) checks its path first with
:mod:`mdlib.files` and writes through a temporary name, so a reader who mistypes a path gets one
line naming it, and a full disk never leaves a truncated file or half a results folder behind.
"""

from __future__ import annotations

import errno

import numpy as np
import pytest

from mdlib import files
from mdlib.files import OutputError, StagedFolder, check_output_file, check_output_folder, write_atomically


def full_disk(_path):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_missing_folder_is_fine_and_nothing_is_created(tmp_path):
    target = tmp_path / "a" / "b"
    assert check_output_folder(target) == target
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", ["is a file", "parent is a file", "not writable"])
def test_bad_folders_are_named_with_the_reason(tmp_path, case):
    (tmp_path / "file").write_text("x")
    path, reason = {
        "is a file": (tmp_path / "file", "exists and is not a folder"),
        "parent is a file": (tmp_path / "file" / "out", "is a file, not a folder"),
        "not writable": ("/proc/nope", "cannot write in /proc"),
    }[case]
    with pytest.raises(OutputError, match=reason) as caught:
        check_output_folder(path, "--out")
    assert str(caught.value).startswith(f"--out {path}:")


def test_output_files_are_checked_for_suffix_and_folder(tmp_path):
    with pytest.raises(OutputError, match="must end in .gif"):
        check_output_file(tmp_path / "x.png", (".gif",))
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path, ())
    with pytest.raises(OutputError, match="cannot write in /proc"):
        check_output_file("/proc/x.gif", (".gif",))


def test_a_full_disk_leaves_no_file(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(OutputError, match=f"could not write file {target}: the disk is full"):
        write_atomically(target, full_disk)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def half_then_fail(path):
        path.write_text("new, half written")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, half_then_fail)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_staged_folder_moves_files_in_only_at_the_end(tmp_path):
    out = tmp_path / "new" / "results"
    with StagedFolder(out) as folder:
        (folder / "a.txt").write_text("a")
        assert not out.exists()
    assert (out / "a.txt").read_text() == "a"
    assert [p.name for p in tmp_path.iterdir()] == ["new"]


def test_staged_folder_leaves_nothing_when_writing_fails(tmp_path):
    out = tmp_path / "new" / "results"
    with pytest.raises(OutputError, match="the disk is full"):
        with StagedFolder(out, "--out") as folder:
            (folder / "a.txt").write_text("a")
            full_disk(folder / "b.txt")
    assert list(tmp_path.iterdir()) == []


def test_reproduce_leaves_nothing_when_the_disk_fills_up(tmp_path, monkeypatch):
    from mdlib import plots
    from mdlib.reproduce import Plan, reproduce

    monkeypatch.setattr(plots, "save_figure", lambda fig, stem: full_disk(stem))
    plan = Plan.quick(seeds=2, workers=1)
    plan = Plan(
        plan.q_learning.__class__(episodes=20, eval_every=10),
        plan.multidistral.__class__(iterations=1, e_games=2, m_games=2),
        tasks=("task5",),
        symmetric_tasks=("task5",),
        seeds=2,
        workers=1,
    )
    with pytest.raises(OutputError, match="the disk is full"):
        reproduce(plan, tmp_path / "out", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_gif_and_figure_writers_check_their_paths_first(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mdlib.plots import save_figure
    from mdlib.render import save_gif

    frames = [np.zeros((4, 4, 3), np.uint8)] * 2
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        save_gif(frames, tmp_path / "file" / "a.gif")
    fig = plt.figure()
    with pytest.raises(OutputError, match="cannot write in /proc"):
        save_figure(fig, "/proc/fig")
    plt.close(fig)
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
    assert files.check_output_file(tmp_path / "ok.gif", (".gif",)) == tmp_path / "ok.gif"
