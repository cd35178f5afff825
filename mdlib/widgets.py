"""Interactive figures that keep working in the static book, where no Python kernel runs.

A slider in a built page cannot call Python, so these widgets never compute anything when the
reader moves a slider. Every figure is rendered beforehand, while the notebook executes, and
stored as a PNG in an ``<img>`` with alt text (an :class:`ipywidgets.HTML`, since
:class:`ipywidgets.Image` has no alt text for screen readers). The images sit in nested
:class:`ipywidgets.Stack` containers (one nesting level per slider) and each slider's ``index``
is linked to its stacks' ``selected_index`` with :func:`ipywidgets.jslink`. The link runs in the
browser, so the static page switches figures with no kernel at all.

With a running kernel (Jupyter, Binder, Colab), a chapter can also pass a ``callback`` that
recomputes, for instance retrains at the selected setting; a button then runs it and shows the
result below the figure. That "live" part only appears when a kernel can answer it: see
:func:`kernel_is_live`.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets
import numpy as np

#: Set this environment variable to ``1`` while executing notebooks for the static book
#: (``scripts/build-book.sh`` and the book tests do), so that no live control is saved into a
#: page where no kernel could answer it.
STATIC_BUILD_ENV = "MDLIB_STATIC_BOOK"

ALPHA_LABEL = "α (Distral: weight of π0)"
BETA_LABEL = "β (Distral: inverse temperature)"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def figure_png(fig, dpi: int = 100, close: bool = True, palette: bool = True) -> bytes:
    """A Matplotlib figure as PNG bytes, identical from run to run.

    The figure is saved at a fixed ``dpi`` with no software/date metadata; with ``palette`` the
    image is reduced to an adaptive 256-colour palette (a third of the size for flat charts, and
    still deterministic). With ``close`` the figure is closed, so a notebook cell that renders
    many figures for a widget shows none of them by itself.
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    data = buffer.getvalue()
    if not palette:
        return data
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    quantised = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    quantised.save(out, format="PNG", optimize=True)
    return out.getvalue()


def kernel_is_live() -> bool:
    """True when a Python kernel is attached that can answer widget events.

    False outside IPython kernels (plain Python, tests) and while the notebook is being executed
    for the static book (``MDLIB_STATIC_BOOK=1``): the saved page has no kernel behind it.
    """
    if os.environ.get(STATIC_BUILD_ENV, "").strip() not in ("", "0"):
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _as_png(value) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif hasattr(value, "savefig"):
        data = figure_png(value)
    else:
        raise TypeError(f"expected PNG bytes or a Matplotlib figure, got {type(value).__name__}")
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("figure data is not a PNG image (no PNG signature)")
    return data


def figure_html(png: bytes, alt: str, width: str = "100%") -> str:
    """An ``<img>`` showing ``png`` (embedded as a data URL) with ``alt`` as its alt text."""
    alt = " ".join(str(alt).split())
    if not alt:
        raise ValueError("a figure needs alt text that says what it shows")
    source = "data:image/png;base64," + base64.b64encode(_as_png(png)).decode("ascii")
    return (
        f'<img class="mdlib-figure" src="{source}" alt="{html.escape(alt, quote=True)}" '
        f'style="display:block;width:{html.escape(width, quote=True)};max-width:100%;height:auto;margin:0 auto">'
    )


def _settings_text(labels: Sequence[str], combination: tuple, format_value: Callable[[object], str]) -> str:
    return ", ".join(f"{label} = {format_value(value)}" for label, value in zip(labels, combination))


def _check_values(name: str, values: Sequence) -> list:
    values = list(values)
    if not values:
        raise ValueError(f"{name}: no values given")
    if len(set(values)) != len(values):
        raise ValueError(f"{name}: values must be distinct, got {values!r}")
    return values


def slider_grid(
    figures: Mapping,
    parameters: Sequence[tuple[str, Sequence]],
    *,
    initial: Sequence | None = None,
    format_value: Callable[[object], str] = "{:g}".format,
    caption: str | None = None,
    image_width: str = "100%",
    alt: str | Callable[..., str] | None = None,
) -> widgets.VBox:
    """Sliders over a grid of precomputed figures that switch images client-side.

    ``parameters`` is a sequence of ``(label, values)``, one slider each; ``figures`` maps every
    combination (a tuple of values, in the order of ``parameters``; a bare value for a single
    parameter) to PNG bytes or a Matplotlib figure. ``initial`` is the combination shown first
    (by default the first value of every parameter). Returns a ``VBox``: the optional caption,
    the sliders, then the figure.

    ``alt`` is what a screen reader says for each figure: a string saying what the figures show
    (each figure's alt text is that string followed by its setting, "at α = 0.5, β = 2"), or a
    function of one combination's values returning the whole alt text. By default the caption's
    text (or "Figure") followed by the setting.
    """
    parameters = [(str(label), _check_values(str(label), values)) for label, values in parameters]
    if not parameters:
        raise ValueError("no parameters given")
    single = len(parameters) == 1

    def key(combination: tuple):
        return combination[0] if single else combination

    def lookup(combination: tuple) -> bytes:
        k = key(combination)
        if k not in figures:
            raise ValueError(f"no figure for {dict(zip((p[0] for p in parameters), combination))}")
        return _as_png(figures[k])

    expected = int(np.prod([len(values) for _, values in parameters]))
    if len(figures) != expected:
        raise ValueError(f"expected {expected} figures (one per combination), got {len(figures)}")

    if initial is None:
        initial = tuple(values[0] for _, values in parameters)
    elif single and not isinstance(initial, (tuple, list)):
        initial = (initial,)
    initial = tuple(initial)
    if len(initial) != len(parameters):
        raise ValueError(f"initial must give {len(parameters)} values, got {initial!r}")
    start = []
    for (label, values), value in zip(parameters, initial):
        if value not in values:
            raise ValueError(f"{label}: initial value {value!r} is not one of {values!r}")
        start.append(values.index(value))

    # One description width for all sliders, so that their tracks line up.
    label_width = f"{0.6 * max(len(label) for label, _ in parameters) + 1:.1f}em"
    sliders = []
    for (label, values), index in zip(parameters, start):
        slider = widgets.SelectionSlider(
            options=[(format_value(v), v) for v in values],
            index=index,
            description=label,
            continuous_update=True,
            style={"description_width": label_width},
            layout=widgets.Layout(width="100%", max_width="44em"),
        )
        sliders.append(slider)

    labels = [label for label, _ in parameters]
    if alt is None:
        alt = " ".join(html.unescape(re.sub(r"<[^>]+>", "", caption or "")).split()) or "Figure"
    if callable(alt):
        describe = alt
    elif isinstance(alt, str) and alt.strip():

        def describe(*combination):
            return f"{alt.strip().rstrip('.')}, at {_settings_text(labels, combination, format_value)}"
    else:
        raise ValueError(f"alt must be a non-empty string or a function, got {alt!r}")

    def alt_text(combination: tuple) -> str:
        text = describe(*combination)
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"alt returned {text!r} for {combination!r}: a figure needs alt text")
        return text

    stacks_by_depth: list[list[widgets.Stack]] = [[] for _ in parameters]

    def build(depth: int, prefix: tuple):
        values = parameters[depth][1]
        if depth == len(parameters) - 1:
            children = []
            for v in values:
                child = widgets.HTML(
                    value=figure_html(lookup(prefix + (v,)), alt_text(prefix + (v,)), image_width),
                    layout=widgets.Layout(width="100%"),
                )
                child.add_class("mdlib-figure-box")
                children.append(child)
        else:
            children = [build(depth + 1, prefix + (v,)) for v in values]
        stack = widgets.Stack(children=children, selected_index=start[depth])
        stacks_by_depth[depth].append(stack)
        return stack

    figure = build(0, ())
    links = [
        widgets.jslink((slider, "index"), (stack, "selected_index"))
        for slider, stacks in zip(sliders, stacks_by_depth)
        for stack in stacks
    ]
    items = []
    if caption:
        items.append(widgets.HTML(value=caption))
    items += [*sliders, figure]
    box = widgets.VBox(items, layout=widgets.Layout(width="100%"))
    box.add_class("mdlib-slider-grid")
    # Keep the links reachable from the widget (and alive as long as it is).
    box.links = links
    box.sliders = sliders
    box.figure = figure
    return box


def alpha_beta_explorer(
    figures: Mapping | Sequence,
    alphas: Sequence[float],
    betas: Sequence[float],
    *,
    initial: tuple[float, float] | None = None,
    callback: Callable[[float, float], object] | None = None,
    live: bool | None = None,
    caption: str | None = None,
    alpha_label: str = ALPHA_LABEL,
    beta_label: str = BETA_LABEL,
    format_value: Callable[[object], str] = "{:g}".format,
    button_label: str = "Recompute at this α, β",
    alt: str | Callable[[float, float], str] | None = None,
) -> widgets.VBox:
    """Two sliders for Distral's α and β over precomputed figures, one per (α, β).

    α is Distral's exponent on the shared policy π0 and β its inverse temperature (not a learning
    rate). ``figures`` maps ``(alpha, beta)`` to PNG bytes (or a Matplotlib figure), or is a
    nested sequence with ``figures[i][j]`` for ``alphas[i]``, ``betas[j]``. Moving a slider
    switches the figure in the browser, kernel or not.

    ``callback(alpha, beta)``, if given, recomputes for the selected setting when a kernel is
    live (``live=None`` asks :func:`kernel_is_live`): a button runs it and its result (PNG bytes,
    a Matplotlib figure, or anything it displays itself) appears below the sliders.

    ``alt`` says what the figures show, for screen readers (see :func:`slider_grid`); a function
    of ``(alpha, beta)`` may return each figure's whole alt text.
    """
    alphas = _check_values("alphas", alphas)
    betas = _check_values("betas", betas)
    if not isinstance(figures, Mapping):
        rows = list(figures)
        if len(rows) != len(alphas) or any(len(row) != len(betas) for row in rows):
            raise ValueError(f"a nested sequence of figures must be {len(alphas)} x {len(betas)} (alphas x betas)")
        figures = {(a, b): rows[i][j] for i, a in enumerate(alphas) for j, b in enumerate(betas)}
    box = slider_grid(
        figures,
        [(alpha_label, alphas), (beta_label, betas)],
        initial=initial,
        format_value=format_value,
        caption=caption,
        alt=alt,
    )
    if live is None:
        live = callback is not None and kernel_is_live()
    if not live:
        return box
    if callback is None:
        raise ValueError("live mode needs a callback")

    alpha_slider, beta_slider = box.sliders
    button = widgets.Button(description=button_label, icon="refresh", layout=widgets.Layout(width="auto"))
    status = widgets.HTML()
    output = widgets.Output()

    def run(_=None):
        alpha, beta = alpha_slider.value, beta_slider.value
        status.value = f"<em>computing α = {format_value(alpha)}, β = {format_value(beta)} …</em>"
        output.clear_output(wait=True)
        with output:
            result = callback(alpha, beta)
            if result is not None:
                from IPython.display import Image, display

                display(Image(data=_as_png(result), format="png"))
        status.value = f"computed at α = {format_value(alpha)}, β = {format_value(beta)}"

    button.on_click(run)
    box.children = (*box.children, widgets.HBox([button, status]), output)
    box.button, box.output, box.run = button, output, run
    return box
