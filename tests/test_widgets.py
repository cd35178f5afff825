"""The book's kernel-free widgets: the grid of precomputed figures, the client-side links that
switch them, the deterministic PNGs, and the live mode that only appears with a kernel."""

from __future__ import annotations

import base64
import html
import io
import re

import ipywidgets as widgets
import matplotlib
import pytest
from ipywidgets.widgets.widget_link import DirectionalLink, Link
from PIL import Image

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from mdlib import widgets as mw  # noqa: E402

ALPHAS = (0.0, 0.5, 1.0)
BETAS = (0.1, 1.0, 10.0, 100.0)


def png(colour=(255, 0, 0), size=(4, 3)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def figures():
    """A distinct one-colour PNG per (alpha, beta)."""
    return {(a, b): png((i * 60, j * 50, 7)) for i, a in enumerate(ALPHAS) for j, b in enumerate(BETAS)}


@pytest.fixture(autouse=True)
def no_static_flag(monkeypatch):
    monkeypatch.delenv(mw.STATIC_BUILD_ENV, raising=False)


def shown(figure):
    """The PNG bytes and the alt text of the ``<img>`` a figure widget puts in the page."""
    assert isinstance(figure, widgets.HTML)
    found = re.fullmatch(
        r'<img class="mdlib-figure" src="data:image/png;base64,([A-Za-z0-9+/=]+)" '
        r'alt="([^"<>]*)" style="[^"<>]*">',
        figure.value,
    )
    assert found, figure.value[:200]
    return base64.b64decode(found.group(1)), html.unescape(found.group(2))


def links_of(box):
    return [w for w in box.links if isinstance(w, Link)]


def test_sliders_are_labelled_as_distral_parameters(figures):
    box = mw.alpha_beta_explorer(figures, ALPHAS, BETAS)
    alpha, beta = box.sliders
    assert isinstance(alpha, widgets.SelectionSlider) and isinstance(beta, widgets.SelectionSlider)
    assert "α" in alpha.description and "Distral" in alpha.description and "π0" in alpha.description
    assert "β" in beta.description and "inverse temperature" in beta.description
    for slider in (alpha, beta):
        assert "learning rate" not in slider.description.lower()
    assert [v for _, v in alpha.options] == list(ALPHAS)
    assert [label for label, _ in beta.options] == ["0.1", "1", "10", "100"]


def test_every_image_sits_at_its_slider_indices(figures):
    box = mw.alpha_beta_explorer(figures, ALPHAS, BETAS)
    outer = box.figure
    assert isinstance(outer, widgets.Stack) and len(outer.children) == len(ALPHAS)
    for i, a in enumerate(ALPHAS):
        inner = outer.children[i]
        assert isinstance(inner, widgets.Stack) and len(inner.children) == len(BETAS)
        for j, b in enumerate(BETAS):
            assert shown(inner.children[j])[0] == figures[(a, b)]


def test_sliders_are_linked_client_side_to_the_stacks(figures):
    box = mw.alpha_beta_explorer(figures, ALPHAS, BETAS)
    alpha, beta = box.sliders
    links = links_of(box)
    # One link for the outer stack, one per inner stack; all are browser-side jslinks.
    assert len(links) == 1 + len(ALPHAS)
    assert all(not isinstance(link, DirectionalLink) for link in links)
    sources = {(id(link.source[0]), link.source[1]) for link in links}
    assert sources == {(id(alpha), "index"), (id(beta), "index")}
    targets = [link.target for link in links]
    assert all(name == "selected_index" and isinstance(stack, widgets.Stack) for stack, name in targets)
    inner_stacks = {id(s) for s in box.figure.children}
    assert {id(link.target[0]) for link in links if link.source[0] is beta} == inner_stacks


def test_initial_selection(figures):
    box = mw.alpha_beta_explorer(figures, ALPHAS, BETAS, initial=(0.5, 10.0))
    alpha, beta = box.sliders
    assert (alpha.index, beta.index) == (1, 2) and (alpha.value, beta.value) == (0.5, 10.0)
    assert box.figure.selected_index == 1
    assert all(inner.selected_index == 2 for inner in box.figure.children)


def test_nested_sequence_and_matplotlib_figures():
    def chart(a, b):
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.bar([0, 1], [a, b], label="x")
        return fig

    rows = [[chart(a, b) for b in BETAS[:2]] for a in ALPHAS[:2]]
    box = mw.alpha_beta_explorer(rows, ALPHAS[:2], BETAS[:2])
    assert all(shown(img)[0].startswith(b"\x89PNG") for inner in box.figure.children for img in inner.children)
    assert not plt.get_fignums(), "figures converted for a widget must be closed"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.pop((0.5, 1.0)), "expected 12 figures"),
        (lambda f: f.__setitem__((0.5, 1.0), b"GIF89a..."), "not a PNG"),
        (lambda f: f.__setitem__((0.5, 1.0), "picture"), "expected PNG bytes"),
    ],
)
def test_bad_figures_fail_early(figures, change, message):
    change(figures)
    with pytest.raises((ValueError, TypeError), match=message):
        mw.alpha_beta_explorer(figures, ALPHAS, BETAS)


def test_missing_combination_is_named(figures):
    figures[(0.5, 2.0)] = figures.pop((0.5, 1.0))
    with pytest.raises(ValueError, match="no figure for"):
        mw.alpha_beta_explorer(figures, ALPHAS, BETAS)


def test_bad_grids_fail(figures):
    with pytest.raises(ValueError, match="distinct"):
        mw.alpha_beta_explorer(figures, (0.0, 0.0, 1.0), BETAS)
    with pytest.raises(ValueError, match="not one of"):
        mw.alpha_beta_explorer(figures, ALPHAS, BETAS, initial=(0.7, 1.0))
    with pytest.raises(ValueError, match="3 x 4"):
        mw.alpha_beta_explorer([[png()]], ALPHAS, BETAS)


def test_single_parameter_grid():
    figs = {v: png((v * 80, 0, 0)) for v in range(3)}
    box = mw.slider_grid(figs, [("episodes", range(3))], initial=2)
    (slider,) = box.sliders
    assert slider.index == 2 and box.figure.selected_index == 2
    assert [shown(img)[0] for img in box.figure.children] == [figs[v] for v in range(3)]
    assert shown(box.figure.children[1])[1] == "Figure, at episodes = 1"


def test_every_figure_has_alt_text_naming_its_setting(figures):
    box = mw.alpha_beta_explorer(figures, ALPHAS, BETAS, alt="Bars: π0's probability of each action")
    texts = [shown(img)[1] for inner in box.figure.children for img in inner.children]
    assert (
        texts[0] == "Bars: π0's probability of each action, at α (Distral: weight of π0) = 0, "
        "β (Distral: inverse temperature) = 0.1"
    )
    assert len(set(texts)) == len(ALPHAS) * len(BETAS)
    # By default, the caption's text says what the figures show.
    box = mw.alpha_beta_explorer(figures, ALPHAS, BETAS, caption="<b>V1</b>: returns &amp; seeds")
    assert shown(box.figure.children[2].children[3])[1].startswith("V1: returns & seeds, at α")
    # A function gives each figure its whole alt text, escaped for HTML.
    box = mw.alpha_beta_explorer(figures, ALPHAS, BETAS, alt=lambda a, b: f'"{a}" < {b}')
    assert shown(box.figure.children[1].children[0])[1] == '"0.5" < 0.1'


@pytest.mark.parametrize(
    "alt, message", [("  ", "non-empty string"), (3, "non-empty string"), (lambda a, b: "", "needs alt text")]
)
def test_figures_without_alt_text_are_refused(figures, alt, message):
    with pytest.raises(ValueError, match=message):
        mw.alpha_beta_explorer(figures, ALPHAS, BETAS, alt=alt)


def test_figure_png_is_deterministic_and_carries_no_metadata():
    def chart():
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1, 2], [1, 0, 2], label="line")
        ax.set_xlabel("x")
        ax.legend()
        return fig

    for palette in (True, False):
        first, second = mw.figure_png(chart(), palette=palette), mw.figure_png(chart(), palette=palette)
        assert first == second
        assert first.startswith(b"\x89PNG")
        assert b"Software" not in first and b"matplotlib" not in first.lower()
        image = Image.open(io.BytesIO(first))
        assert image.size == (300, 200)
    assert not plt.get_fignums()


def test_static_without_callback_or_kernel(figures):
    box = mw.alpha_beta_explorer(figures, ALPHAS, BETAS, callback=lambda a, b: None)
    assert not hasattr(box, "button")
    assert not any(isinstance(w, widgets.Output) for w in box.children)


def test_static_build_flag_disables_live_mode(figures, monkeypatch):
    monkeypatch.setattr(mw, "kernel_is_live", lambda: True)
    assert hasattr(mw.alpha_beta_explorer(figures, ALPHAS, BETAS, callback=lambda a, b: None), "button")
    monkeypatch.undo()
    monkeypatch.setenv(mw.STATIC_BUILD_ENV, "1")
    assert mw.kernel_is_live() is False


def test_live_mode_runs_the_callback_at_the_selected_setting(figures):
    calls = []

    def retrain(alpha, beta):
        calls.append((alpha, beta))
        fig, ax = plt.subplots(figsize=(2, 1))
        ax.bar([0], [alpha + beta], label="x")
        return fig

    box = mw.alpha_beta_explorer(figures, ALPHAS, BETAS, callback=retrain, live=True)
    alpha, beta = box.sliders
    alpha.index, beta.index = 2, 1
    box.button.click()
    assert calls == [(1.0, 1.0)]
    assert box.output in box.children
    with pytest.raises(ValueError, match="callback"):
        mw.alpha_beta_explorer(figures, ALPHAS, BETAS, live=True)
