"""The "different machine" of ``scripts/test-different-machine.sh`` really computes differently.

That stage reruns strict nbval over every chapter with the settings of
``scripts/different-machine.env``. It only proves portability if those settings change the
numerics: here a subprocess with them must (a) have numpy's SIMD dispatch off, OpenBLAS on the
older kernels and numba targeting a generic CPU, and (b) print a different full-precision float
for a computation the chapters quote, while the value the book glues is the same.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parents[1] / "scripts" / "different-machine.env"

PROBE = """
import json
import numba
import numpy as np
from numpy._core import _multiarray_umath as umath
from mdlib.book import portable
from mdlib.solver import lone_soft_optimum
values = [lone_soft_optimum("task1", 0, 0.7, 0.5).task_return, lone_soft_optimum("task4", 0, 0.3, 2.0).task_return]
dispatch = [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]
print(json.dumps({"reprs": [repr(v) for v in values], "glued": [portable(v) for v in values],
                  "numba_cpu": numba.config.CPU_NAME, "numpy_dispatch": dispatch}))
"""


def settings() -> dict[str, str]:
    found = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            found[key] = shlex.split(value)[0]
    return found


def probe(extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in settings()} | extra
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_settings_are_the_ones_the_stage_uses():
    assert set(settings()) == {"OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES", "GLIBC_TUNABLES", "NUMBA_CPU_NAME"}
    script = (ENV_FILE.parent / "test-different-machine.sh").read_text()
    assert "source scripts/different-machine.env" in script and '--nbval "${@:-notebooks}"' in script
    assert "bash scripts/test-different-machine.sh" in (ENV_FILE.parent / "test.sh").read_text()


def test_the_different_machine_changes_last_digits_but_not_glued_values():
    here, there = probe({}), probe(settings())
    assert there["numba_cpu"] == "generic" and there["numpy_dispatch"] == []
    if "X86_V4" in here["numpy_dispatch"]:  # a host with AVX-512, like the one CI runs on
        assert here["reprs"] != there["reprs"], "the settings must change some full-precision result"
    assert here["glued"] == there["glued"]
