"""The book builds strictly and every page works in a real browser, served from 127.0.0.1 only.

One module on purpose: the build is a module-scoped fixture, so with ``pytest -n 2 --dist
loadfile`` it runs once, on one worker, before the browser tests that need it.

The build: ``scripts/build-book.sh -W -n --keep-going`` (vendored assets, then
``jupyter-book build --all -W -n --keep-going .``)
from the repository root; it must succeed without a single Sphinx warning.

In Chromium (Debian's ``chromium`` driven by the pip package ``playwright``), every page:
* raises no page error and logs no console error, except the two known messages of the theme
  listed in ``KNOWN_THEME_NOISE`` (exact strings);
* has no failed request and no HTTP error, and requests nothing from any host but 127.0.0.1
  (such requests are blocked and reported);
* has all its maths typeset by MathJax 3 (an ``mjx-container`` in every ``.math`` element, no
  ``mjx-merror``);
* decodes every image, GIF animations included (``naturalWidth > 0``);
* on pages with widget explorers, switches the displayed figure when a slider moves (keyboard),
  with no kernel behind the page.

Without Chromium or Node.js these tests skip, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"

#: Messages the theme (sphinx-book-theme / pydata-sphinx-theme / sphinx-thebe) always produces.
KNOWN_THEME_NOISE = frozenset({
    "Identifier 'THEBE_JS_URL' has already been declared",
    "Got invalid theme mode: . Resetting to auto.",
})

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def unavailable(reason: str):
    """Skip locally, fail under CI: a CI run must not pass without the browser checks."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(reason)


def toc_pages() -> list[str]:
    """HTML paths of every document in _toc.yml (root first), plus Sphinx's own pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    docs = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                docs.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    pages = [str(Path(doc).with_suffix(".html")) for doc in docs]
    return ["index.html", *pages, "genindex.html", "search.html"]


PAGES = toc_pages()


# --------------------------------------------------------------------------------------------
# The build


@dataclass
class Build:
    returncode: int
    output: str
    seconds: float


@pytest.fixture(scope="module")
def book() -> Build:
    if shutil.which("npm") is None:
        unavailable("npm is needed to vendor MathJax, require.js and the widget manager")
    # Start from an empty output folder, so that no page of an earlier build survives. The
    # execution cache is kept: build-book.sh empties it whenever mdlib changed, and a fresh
    # clone (CI) has none, so every chapter runs against the library under test.
    shutil.rmtree(HTML, ignore_errors=True)
    command = ["bash", "scripts/build-book.sh", "-W", "-n", "--keep-going"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return Build(done.returncode, done.stdout + done.stderr, time.perf_counter() - start)


def test_build_succeeds_without_warnings(book):
    warnings = [line for line in book.output.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL):", line)]
    assert book.returncode == 0, f"jupyter-book build failed:\n{book.output[-6000:]}"
    assert not warnings, "Sphinx warnings:\n" + "\n".join(warnings)
    print(f"built in {book.seconds:.1f} s")


def test_every_page_is_built_and_checked(book):
    built = sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html")
                   if not p.relative_to(HTML).parts[0].startswith("_"))
    assert sorted(PAGES) == built, "the browser tests below must cover exactly the built pages"


def test_executed_figures_reach_the_pages(book):
    """Every image a chapter produced while executing is shown on its page (a kernel with a
    non-inline Matplotlib backend, for one, would silently drop them)."""
    import nbformat

    for executed in (ROOT / "_build" / "jupyter_execute").rglob("*.ipynb"):
        notebook = nbformat.read(executed, as_version=4)
        figures = sum(
            1
            for cell in notebook.cells
            if cell.cell_type == "code" and "remove-cell" not in cell.metadata.get("tags", [])
            and "remove-output" not in cell.metadata.get("tags", [])
            for output in cell.get("outputs", [])
            if any(k in output.get("data", {}) for k in ("image/png", "image/gif", "image/jpeg", "image/svg+xml"))
        )
        page = HTML / executed.relative_to(ROOT / "_build" / "jupyter_execute").with_suffix(".html")
        shown = len(re.findall(r"<img\b[^>]*src=\"[^\"]*_images/", page.read_text()))
        assert shown >= figures, f"{page.relative_to(HTML)}: {figures} figures executed, {shown} shown"


# Attributes through which a page loads something (links to other sites are fine: <a href>).
LOAD_PATTERNS = [
    re.compile(r"<script\b[^>]*\bsrc=[\"']([^\"']+)", re.I),
    re.compile(r"<link\b(?=[^>]*\brel=[\"'](?:stylesheet|preload|modulepreload|icon|shortcut icon|"
               r"apple-touch-icon|manifest|prefetch)[\"'])[^>]*\bhref=[\"']([^\"']+)", re.I),
    re.compile(r"<link\b[^>]*\bhref=[\"']([^\"']+)[^>]*\brel=[\"'](?:stylesheet|preload|modulepreload|"
               r"icon|manifest|prefetch)[\"']", re.I),
    re.compile(r"<(?:img|iframe|source|video|audio|embed)\b[^>]*\bsrc=[\"']([^\"']+)", re.I),
    re.compile(r"<object\b[^>]*\bdata=[\"']([^\"']+)", re.I),
    re.compile(r"@import\s+(?:url\()?[\"']?([^\"')\s]+)", re.I),
    re.compile(r"url\(\s*[\"']?([^\"')]+)", re.I),
]


def remote(url: str) -> bool:
    return bool(re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", url.strip(), re.I)) and not url.startswith("//127.0.0.1")


def test_no_page_or_stylesheet_loads_from_another_host(book):
    offenders = []
    for path in [*HTML.rglob("*.html"), *HTML.rglob("*.css")]:
        text = path.read_text(errors="replace")
        if path.suffix == ".html":
            # Inline JSON (widget state, thebe config) is data, not a load.
            text = re.sub(r"<script type=\"(?:application/vnd\.jupyter[^\"]*|text/x-thebe-config)\">.*?</script>",
                          "", text, flags=re.S)
        for pattern in LOAD_PATTERNS:
            if path.suffix == ".html" and pattern.pattern.startswith(("@import", "url")):
                continue
            for url in pattern.findall(text):
                if remote(url):
                    offenders.append(f"{path.relative_to(HTML)}: {url}")
    assert not offenders, "remote loads:\n" + "\n".join(sorted(set(offenders)))


def test_maths_and_widgets_use_the_local_copies(book):
    page = (HTML / "notebooks" / "02_distral.html").read_text()
    scripts = re.findall(r"<script\b[^>]*\bsrc=\"([^\"]+)\"", page)
    local = [s.split("?")[0] for s in scripts]
    expected = ["../_static/mathjax/tex-mml-chtml.js", "../_static/requirejs/require.js",
                "../_static/widget-shim.js", "../_static/html-manager/embed-amd.js"]
    assert all(e in local for e in expected), local
    order = [local.index(e) for e in expected[1:]]
    assert order == sorted(order), "require.js, then the shim, then the widget manager"
    for asset in ("mathjax/tex-mml-chtml.js", "mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
                  "requirejs/require.js", "html-manager/embed-amd.js", "widget-shim.js"):
        assert (HTML / "_static" / asset).is_file(), asset
    fonts = sorted(p.name for p in (HTML / "_static" / "html-manager").glob("*.woff2"))
    assert fonts, "the widget manager's fonts must sit next to embed-amd.js"


# --------------------------------------------------------------------------------------------
# The browser


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(book):
    if book.returncode != 0:
        pytest.fail("the book did not build; see test_build_succeeds_without_warnings", pytrace=False)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(HTML)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        unavailable("Chromium not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class PageLog:
    errors: list
    failed: list
    foreign: list
    http_errors: list


def open_page(browser, site: str, path: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
    page = context.new_page()
    log = PageLog([], [], [], [])

    def route(request_route):
        url = request_route.request.url
        host = urlparse(url).hostname
        if url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            request_route.continue_()
        else:
            log.foreign.append(url)
            request_route.abort()

    context.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and m.text not in KNOWN_THEME_NOISE
            and log.errors.append(f"console: {m.text} ({m.location.get('url', '')})"))
    page.on("pageerror", lambda e: str(e.message) not in KNOWN_THEME_NOISE
            and log.errors.append(f"page error: {e.message}"))
    page.on("requestfailed", lambda r: log.failed.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and log.http_errors.append(f"{r.status} {r.url}"))
    page.goto(f"{site}/{path}", wait_until="load")
    return context, page, log


TYPESET = """async () => {
    const maths = [...document.querySelectorAll('.math')];
    if (!maths.length) return {maths: 0};
    const start = Date.now();
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
        if (Date.now() - start > 20000) return {maths: maths.length, error: 'MathJax never started'};
        await new Promise(r => setTimeout(r, 50));
    }
    await MathJax.startup.promise;
    return {
        maths: maths.length,
        untypeset: maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80)),
        containers: document.querySelectorAll('mjx-container').length,
        errors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent.slice(0, 80)),
        version: MathJax.version,
    };
}"""

IMAGES = """async () => {
    const images = [...document.images];
    images.forEach(i => { i.loading = 'eager'; });
    await Promise.all(images.map(i => i.decode().catch(() => null)));
    return images.map(i => ({src: (i.currentSrc || i.src).slice(0, 120), width: i.naturalWidth}));
}"""

# The widget manager resolves its fonts next to its AMD module: the shim must map that module
# to _static/html-manager/, so asking for the widgets' icon font fetches it from there.
WIDGET_FONTS = """async () => {
    const module = require.toUrl('@jupyter-widgets/html-manager/dist/libembed-amd');
    const faces = await document.fonts.load('900 16px "Font Awesome 5 Free"');
    return {module: module, loaded: faces.length, hub: typeof (window.MathJax && MathJax.Hub && MathJax.Hub.Queue)};
}"""

VISIBLE_IMAGE = """(explorer) => {
    const shown = [...explorer.querySelectorAll('img')].filter(i => i.checkVisibility());
    return shown.map(i => i.src + ' ' + i.naturalWidth);
}"""


def check_explorers(page) -> tuple[int, int]:
    """Move every slider of every explorer; each move must switch the visible figure."""
    explorers = page.locator(".mdlib-slider-grid")
    page.wait_for_selector(".mdlib-slider-grid img", state="visible", timeout=20000)
    moves = 0
    for e in range(explorers.count()):
        explorer = explorers.nth(e)
        handles = explorer.locator(".noUi-handle")
        assert handles.count() >= 1, "explorer without slider"
        for h in range(handles.count()):
            handle = handles.nth(h)
            before = explorer.evaluate(VISIBLE_IMAGE)
            assert len(before) == 1 and not before[0].endswith(" 0"), f"one decoded figure expected: {before}"
            value_max = handle.get_attribute("aria-valuemax")
            key = "ArrowLeft" if handle.get_attribute("aria-valuenow") == value_max else "ArrowRight"
            handle.focus()
            handle.press(key)
            page.wait_for_function(
                "([el, before]) => { const s = [...el.querySelectorAll('img')].filter(i => i.checkVisibility());"
                " return s.length === 1 && s[0].src + ' ' + s[0].naturalWidth !== before && s[0].naturalWidth > 0; }",
                arg=[explorer.element_handle(), before[0]], timeout=10000,
            )
            moves += 1
    return explorers.count(), moves


@pytest.mark.parametrize("path", PAGES)
def test_page_in_chromium(browser, site, path):
    context, page, log = open_page(browser, site, path)
    try:
        page.wait_for_load_state("networkidle")
        maths = page.evaluate(TYPESET)
        images = page.evaluate(IMAGES)
        has_widgets = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count() > 0
        explorers = moves = 0
        if has_widgets:
            page.wait_for_selector(".jupyter-widgets", timeout=20000)
            widget_fonts = page.evaluate(WIDGET_FONTS)
            if page.locator(".mdlib-slider-grid").count():
                explorers, moves = check_explorers(page)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)  # late console messages
    finally:
        context.close()

    assert not log.errors, "\n".join(log.errors)
    assert not log.foreign, "requests to other hosts:\n" + "\n".join(log.foreign)
    assert not log.failed, "failed requests:\n" + "\n".join(log.failed)
    assert not log.http_errors, "HTTP errors:\n" + "\n".join(log.http_errors)
    if maths["maths"]:
        assert "error" not in maths, maths
        assert maths["version"].startswith("3."), maths
        assert not maths["untypeset"], f"maths not typeset: {maths['untypeset']}"
        assert maths["containers"] > 0 and not maths["errors"], maths
    broken = [i["src"] for i in images if i["width"] == 0]
    assert not broken, f"images that do not decode: {broken}"
    gifs = [i for i in images if ".gif" in i["src"].lower()]
    if has_widgets:
        assert widget_fonts["module"].startswith(f"{site}/_static/html-manager/"), widget_fonts
        assert widget_fonts["loaded"] >= 1, f"the widgets' icon font did not load: {widget_fonts}"
        assert widget_fonts["hub"] == "function", "the MathJax 2 adapter for the widget manager is missing"
        assert explorers == 0 or moves >= 2 * explorers, (explorers, moves)
    print(f"{path}: {maths['maths']} maths, {len(images)} images ({len(gifs)} GIF), "
          f"{explorers} explorers, {moves} slider moves")


def test_distral_chapter_has_an_explorer(browser, site):
    """The Distral chapter must keep its α-β explorer (two sliders, figures switch)."""
    context, page, log = open_page(browser, site, "notebooks/02_distral.html")
    try:
        explorers, moves = check_explorers(page)
        labels = page.locator(".mdlib-slider-grid .widget-label").all_inner_texts()
    finally:
        context.close()
    assert explorers >= 1 and moves >= 2
    assert any("Distral: weight of π0" in t for t in labels), labels
    assert any("Distral: inverse temperature" in t for t in labels), labels
    assert not log.errors and not log.foreign and not log.failed
