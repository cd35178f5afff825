"""The house style, enforced: ruff's lint rules and its formatter (configured in pyproject.toml)
over the library, the tests, the scripts and the chapters (ruff reads their code cells). Fix with
``ruff check --fix`` and ``ruff format``; a chapter whose code changes is re-executed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ["mdlib", "tests", "notebooks", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "scripts").glob("*.py"))]


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args, *TARGETS], cwd=ROOT, capture_output=True, text=True)


def test_ruff_finds_nothing_to_lint():
    done = ruff("check", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr


def test_everything_is_formatted_as_ruff_format_writes_it():
    done = ruff("format", "--check", "--no-cache")
    assert done.returncode == 0, "run `ruff format`:\n" + done.stdout + done.stderr
