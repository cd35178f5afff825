"""``python -m mdlib bench`` (its whole run is tests/test_cli.py's, marked slow): the comparison with
the pure-Python learner, and the report."""

from __future__ import annotations

from mdlib import bench


def test_the_pure_python_comparison_times_both_learners_and_divides():
    result = bench.compare_with_pure_python(rounds=1, runs_per_round=1)
    assert result["pure_python_rounds"] == 1
    assert result["q_learning_run_steps_per_s"] > result["pure_python_q_learning_steps_per_s"] > 0
    ratio = result["q_learning_run_steps_per_s"] / result["pure_python_q_learning_steps_per_s"]
    assert abs(result["compiled_over_pure_python"] - ratio) <= 0.05


def test_the_report_shows_every_figure():
    report = {
        "machine": {"cpus": 2, "python": "3.11.7", "load_average_1min": 3.5},
        "env_steps_per_s": 1,
        "q_learning_steps_per_s": 2,
        "soft_q_steps_per_s": 3,
        "mstep_steps_per_s": 4,
        "q_learning_run_steps_per_s": 12_345_678,
        "pure_python_q_learning_steps_per_s": 300_000,
        "compiled_over_pure_python": 41.2,
        "pure_python_rounds": 5,
        "jit_disabled_q_learning_steps_per_s": 6,
        "compiled_over_jit_disabled": 7.5,
        "jit_disabled_matches_compiled": True,
        "multidistral_run_s": 0.512,
        "multidistral_run_env_steps": 1000,
        "exact_distral_alone_s": 0.25,
        "exact_distral_both_s": None,
        "compile_s": 30.5,
    }
    text = bench.format_report(report)
    for shown in ("12,345,678 steps/s", "300,000 steps/s", "41.2x (best of 5 alternating rounds)", "0.512 s"):
        assert shown in text, shown
    assert "skipped (--quick)" in text and "3.5 (2 cpus)" in text
