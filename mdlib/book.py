"""What the book's chapters share besides the library itself: numbers for the prose, one style.

A chapter quotes a computed number through myst-nb's ``glue`` and a ``{glue:text}`` role. The
record keeps the value's text, and the last digits of a float depend on the CPU that computed
it (BLAS kernels and numpy's SIMD paths round differently), so a full-precision record would
make the committed notebook reproducible only on the machine that executed it. :func:`glue`
therefore records floats at :data:`SIGNIFICANT_DIGITS` significant digits: more than any page
prints, far fewer than any CPU changes.
"""

from __future__ import annotations

import numbers
from pathlib import Path

#: Where chapters write their GIFs (relative to the notebook; git-ignored, copied into the site).
GENERATED = Path("_generated")

#: Significant digits a glued float keeps. The pages print at most four decimals of numbers
#: below a thousand (7 significant digits); CPUs differ around the 15th.
SIGNIFICANT_DIGITS = 8


def portable(value):
    """``value`` with every float (also inside lists and tuples) rounded to
    :data:`SIGNIFICANT_DIGITS` significant digits, numpy scalars turned into Python numbers;
    anything else unchanged."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(f"{float(value):.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, (list, tuple)):
        return type(value)(portable(v) for v in value)
    return value


def glue(name: str, value, display: bool = False):
    """Record ``value`` under ``name`` for a ``{glue:text}`name`` role, floats at
    :data:`SIGNIFICANT_DIGITS` significant digits (:func:`portable`); not displayed by default."""
    from myst_nb import glue as myst_glue

    return myst_glue(name, portable(value), display=display)


def execute_notebook(path, timeout: int = 1800) -> None:
    """Execute a chapter in place as the book commits it: with :data:`mdlib.widgets.STATIC_BUILD_ENV`
    set (no live controls are saved into the page), from the notebook's folder, and without the
    execution timestamps Jupyter writes into cell metadata (they would change every run). The
    notebook is replaced only if every cell ran."""
    import os
    from pathlib import Path

    import nbformat
    from nbclient import NotebookClient

    from .files import write_text_atomically
    from .widgets import STATIC_BUILD_ENV

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    previous = os.environ.get(STATIC_BUILD_ENV)
    os.environ[STATIC_BUILD_ENV] = "1"
    try:
        NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        if previous is None:
            os.environ.pop(STATIC_BUILD_ENV)
        else:
            os.environ[STATIC_BUILD_ENV] = previous
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    write_text_atomically(path, nbformat.writes(notebook) + "\n", "notebook")


def number(value: float, digits: int = 1, sign: bool = False) -> str:
    """``value`` with ``digits`` decimals, never as "-0.0": a rounded zero has no sign. With
    ``sign`` a positive value gets a "+" (a difference: "+1.2", "0.0", "-1.2")."""
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        return text.lstrip("-")
    return f"+{text}" if sign and value > 0 else text


def interval(mean: float, low: float, high: float, digits: int = 1, sign: bool = False) -> str:
    """ "mean [low, high]": a mean across seeds and its 95% interval, cleanly rounded (with
    ``sign``, positive values signed, as for a difference)."""
    return f"{number(mean, digits, sign)} [{number(low, digits, sign)}, {number(high, digits, sign)}]"


def at(summary, agent: int, point: int = -1, digits: int = 1) -> str:
    """One agent's mean and 95% interval at one point of a curve (a
    :class:`~mdlib.experiments.Summary`), as :func:`interval` writes it."""
    return interval(summary.mean[point, agent], summary.low[point, agent], summary.high[point, agent], digits)


def use_book_style() -> None:
    """The look of every figure in the book: sharp (retina) inline figures without the top and
    right frame lines. Call once at the top of a chapter."""
    import matplotlib.pyplot as plt

    plt.rcParams.update({"axes.spines.top": False, "axes.spines.right": False})
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is part of the book's environment
        return
    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")
        shell.run_line_magic("config", 'InlineBackend.figure_formats = ["retina"]')
