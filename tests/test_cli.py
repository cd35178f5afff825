"""The command line: reproduce writes every figure and results.json; bad arguments fail first."""

import json
import subprocess
import sys

import pytest


def mdlib_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mdlib", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.slow
def test_reproduce_quick_writes_figures_3_to_5_and_results(tmp_path):
    out = tmp_path / "out"
    done = mdlib_cli("reproduce", "--quick", "--out", str(out), "--no-progress")
    assert done.returncode == 0, done.stderr
    names = {p.name for p in out.iterdir()}
    for stem in ("fig3_q_learning", "fig4_multidistral_original", "fig5_multidistral_symmetric"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
    results = json.loads((out / "results.json").read_text())
    assert set(results["curves"]) == {
        "q_learning",
        "multidistral_v1_original",
        "multidistral_v2_original",
        "multidistral_v1_symmetric",
        "multidistral_v2_symmetric",
    }
    curve = results["curves"]["multidistral_v2_symmetric"]
    assert curve["x_axis"] == "games per task"
    assert curve["tasks"] == ["task1", "task2", "task3", "task1", "task5"]
    assert curve["settings"]["alpha"] == 0.7 and curve["settings"]["beta"] == 0.5
    for kind in ("training_return", "evaluation_return"):
        for agent in ("agent_1", "agent_2"):
            series = curve[kind][agent]
            assert len(series["mean"]) == len(curve[kind]["x"]) == 3
            assert all(lo <= m <= hi for lo, m, hi in zip(series["ci95_low"], series["mean"], series["ci95_high"]))
    assert results["optimum_per_agent"]["original"] == pytest.approx(89.98, abs=0.01)
    assert not list(tmp_path.glob(".reproduce-*")), "the staging folder is removed"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seeds", "-3"], "--seeds: must be at least 1, got -3"),
        (["--seeds", "two"], "--seeds: expected a whole number, got 'two'"),
        (["--episodes", "0"], "--episodes: must be at least 1, got 0"),
        (["--alpha", "1.5"], "alpha must lie in [0, 1], got 1.5"),
        (["--alpha", "-0.1"], "alpha must lie in [0, 1], got -0.1"),
        (["--beta", "0"], "beta must lie in (0, inf), got 0.0"),
        (["--tasks", "task9"], "unknown task 'task9'"),
        (["--contention", "polite"], "invalid choice: 'polite'"),
    ],
)
def test_bad_arguments_fail_before_any_work_and_write_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    done = mdlib_cli("reproduce", "--quick", "--out", str(out), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.count("error:") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_bench_prints_one_json_object_last(tmp_path):
    """(--quick leaves out the two slowest timings, a minute or more each: compiling every kernel
    into an empty cache, which every fresh checkout's first run does anyway, and the exact two-agent
    alternation, which tests/test_exact_distral.py runs.)"""
    done = mdlib_cli("bench", "--json", "--quick")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for key in (
        "env_steps_per_s",
        "q_learning_steps_per_s",
        "soft_q_steps_per_s",
        "mstep_steps_per_s",
        "multidistral_run_s",
        "q_learning_run_steps_per_s",
        "pure_python_q_learning_steps_per_s",
        "compiled_over_pure_python",
        "jit_disabled_q_learning_steps_per_s",
        "compiled_over_jit_disabled",
    ):
        assert report[key] > 0, key
    assert report["pure_python_rounds"] == 3
    assert report["jit_disabled_matches_compiled"] is True
    assert report["exact_distral_alone_s"] > 0 and report["exact_distral_both_s"] is None
    assert report["compile_s"] is None and report["import_s"] is None


@pytest.mark.parametrize("case", ["not writable", "is a file", "parent is a file"])
def test_a_bad_output_folder_fails_before_any_run_and_writes_nothing(tmp_path, case):
    (tmp_path / "file").write_text("x")
    out, reason = {
        "not writable": ("/proc/nope", "cannot write in /proc"),
        "is a file": (str(tmp_path / "file"), "exists and is not a folder"),
        "parent is a file": (str(tmp_path / "file" / "out"), "is a file, not a folder"),
    }[case]
    done = mdlib_cli("reproduce", "--quick", "--out", out)
    assert done.returncode == 2, done.stderr
    assert f"error: --out {out}: " in done.stderr and reason in done.stderr
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr
    assert "figure 3" not in done.stderr, "no run may start"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]
