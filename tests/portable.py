"""Comparing recomputed results with committed ones across CPUs.

The last binary digits of a float depend on the CPU that computed it (numpy's SIMD paths for
``log`` and sums, BLAS kernels, FMA): a table committed from one machine and recomputed on another
agrees to about 15 significant digits, not bit for bit. So a recomputed number must equal the
committed one to :data:`RELATIVE` (far tighter than any real change in a learner, a seed or an
equation would allow), and everything else (integers, names, settings, empty cells) exactly.
"""

from __future__ import annotations

import math

#: How close a recomputed float must be to the committed one, relatively.
RELATIVE = 1e-9
#: The same, absolutely, for numbers near 0: a solver's residual at convergence (about 1e-8) is
#: a difference of nearly equal numbers, and keeps only its first few digits from CPU to CPU.
ABSOLUTE = 1e-9


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def differences(fresh: dict, stored: dict) -> dict:
    """The fields of ``fresh`` that ``stored`` does not match: ``{field: (fresh, stored)}``."""
    found = {}
    for key, value in fresh.items():
        other = stored.get(key)
        if value == other:
            continue
        a, b = _number(value), _number(other)
        is_float = isinstance(value, str) and any(c in value for c in ".eE")
        if a is None or b is None or not is_float or not math.isclose(a, b, rel_tol=RELATIVE, abs_tol=ABSOLUTE):
            found[key] = (value, other)
    return found
