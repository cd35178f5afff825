"""The book builds strictly and every page works in a real browser, served from 127.0.0.1 only.

One module on purpose: the build is a module-scoped fixture, so with ``pytest -n 2 --dist
loadfile`` it runs once, on one worker, before the browser tests that need it.

The build: ``scripts/build-book.sh -W -n --keep-going`` (vendored assets, then
``jupyter-book build --all -W -n --keep-going .``)
from the repository root; it must succeed without a single Sphinx warning.

The API page (``book/api.md``, autodoc): it documents every mdlib name the chapters import, every
name of the ``__all__`` of a module it documents (and no other member of that module), and every
command of ``python -m mdlib``; every reference in its docstrings links to an entry, except names
of the other packages that ``nitpick_ignore_regex`` in ``_config.yml`` lets through.

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

For every reader (issue 12), on every page, in light mode and in dark mode (the reader's system
set to dark, which the theme follows):
* axe-core (npm, pinned in package.json, read from node_modules and never served to readers)
  finds no critical or serious violation in the article, nor a wrong heading order; what it finds
  in the theme's chrome around the article must be one of ``THEME_CHROME``, each with the
  upstream reason, and every entry of that list must still be needed (so it can only shrink);
* every image of the article has alt text that is not a file name;
* every figure, GIF and widget figure is legible: an image with transparent parts sits on a light
  backdrop (computed from the pixels and the CSS), and a screenshot of each image keeps a contrast
  of at least 4.5:1 between its ink and its paper; every table cell's text has 4.5:1 against its
  background.
At 390 px on a touch screen (a phone): no prose runs past the screen's edge, anything wider (code,
tables, maths) scrolls inside its own box, and every slider of every explorer moves by a tap and
by a drag of its handle, switching the figure.

The whole book as one PDF (``scripts/make-pdf.sh``): a bookmark per chapter in table-of-contents
order, each chapter's title in the text layer, no blank page, a page count that fits the text,
folded code shown, GIFs as stills, no link to the local server left; every page links to it.

Without Chromium or Node.js these tests skip, except under CI (``CI`` set), where they fail.

To iterate on these tests without building the book each time, build it once into a folder of
your own and point the tests at it; the build tests then skip (and fail under CI):

    MDLIB_STATIC_BOOK=1 .venv/bin/jupyter-book build --all --path-output /tmp/build-a11y .
    MDLIB_BUILT_HTML=/tmp/build-a11y/_build/html .venv/bin/python -m pytest tests/test_book.py
"""

from __future__ import annotations

import functools
import html as htmllib
import http.server
import io
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
#: A book built elsewhere (its html folder) for the browser and PDF tests; see the docstring.
BUILT_ENV = "MDLIB_BUILT_HTML"
PREBUILT = bool(os.environ.get(BUILT_ENV))
HTML = Path(os.environ[BUILT_ENV]).resolve() if PREBUILT else ROOT / "_build" / "html"
EXECUTED = HTML.parent / "jupyter_execute"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PDF_NAME = "multidistral-book.pdf"

#: Messages the theme (sphinx-book-theme / pydata-sphinx-theme / sphinx-thebe) always produces.
KNOWN_THEME_NOISE = frozenset(
    {
        "Identifier 'THEBE_JS_URL' has already been declared",
        "Got invalid theme mode: . Resetting to auto.",
    }
)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
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
    prebuilt: bool = False


@pytest.fixture(scope="module")
def book() -> Build:
    if PREBUILT:
        if not (HTML / "index.html").is_file():
            pytest.fail(f"{BUILT_ENV}={HTML}: no built book there", pytrace=False)
        return Build(0, "", 0.0, prebuilt=True)
    if shutil.which("npm") is None:
        unavailable("npm is needed to vendor MathJax, require.js and the widget manager")
    # Start from an empty output folder, so that no page of an earlier build survives. The
    # chapters are shown as committed; nbval (the same suite) checks that they reproduce.
    shutil.rmtree(HTML, ignore_errors=True)
    command = ["bash", "scripts/build-book.sh", "-W", "-n", "--keep-going"]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    return Build(done.returncode, done.stdout + done.stderr, time.perf_counter() - start)


def test_build_succeeds_without_warnings(book):
    if book.prebuilt:
        unavailable(f"{BUILT_ENV} is set: the tests use {HTML} and do not build the book")
    warnings = [line for line in book.output.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL):", line)]
    assert book.returncode == 0, f"jupyter-book build failed:\n{book.output[-6000:]}"
    assert not warnings, "Sphinx warnings:\n" + "\n".join(warnings)
    print(f"built in {book.seconds:.1f} s")


def test_every_page_is_built_and_checked(book):
    built = sorted(
        str(p.relative_to(HTML)) for p in HTML.rglob("*.html") if not p.relative_to(HTML).parts[0].startswith("_")
    )
    assert sorted(PAGES) == built, "the browser tests below must cover exactly the built pages"


def test_executed_figures_reach_the_pages(book):
    """Every image a chapter produced while executing is shown on its page (a kernel with a
    non-inline Matplotlib backend, for one, would silently drop them)."""
    import nbformat

    for executed in EXECUTED.rglob("*.ipynb"):
        notebook = nbformat.read(executed, as_version=4)
        figures = sum(
            1
            for cell in notebook.cells
            if cell.cell_type == "code"
            and "remove-cell" not in cell.metadata.get("tags", [])
            and "remove-output" not in cell.metadata.get("tags", [])
            for output in cell.get("outputs", [])
            if any(k in output.get("data", {}) for k in ("image/png", "image/gif", "image/jpeg", "image/svg+xml"))
        )
        page = HTML / executed.relative_to(EXECUTED).with_suffix(".html")
        shown = len(re.findall(r"<img\b[^>]*src=\"[^\"]*_images/", page.read_text()))
        assert shown >= figures, f"{page.relative_to(HTML)}: {figures} figures executed, {shown} shown"


# --------------------------------------------------------------------------------------------
# The API page

API_PAGE = "book/api.html"


def chapter_imports() -> set[tuple[str, str]]:
    """(module, name) of every mdlib name a chapter imports or reads from an imported mdlib
    module (``from mdlib import game`` then ``game.play``; dotted for a method)."""
    import ast

    import nbformat

    found = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            tree = ast.parse(source)
            modules = {}  # local name -> mdlib module it stands for
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mdlib":
                    for alias in node.names:
                        found.add((node.module, alias.name))
                        modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.split(".")[0] != "mdlib":
                            continue
                        if alias.asname:  # import mdlib.game as game
                            modules[alias.asname] = alias.name
                        else:  # import mdlib.game binds mdlib
                            modules["mdlib"] = "mdlib"
            for node in ast.walk(tree):
                chain = []
                while isinstance(node, ast.Attribute):
                    chain.insert(0, node.attr)
                    node = node.value
                if chain and isinstance(node, ast.Name) and node.id in modules:
                    found.add((modules[node.id], ".".join(chain)))
    return found


def api_ids() -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', (HTML / API_PAGE).read_text()))


def documented_at(module: str, name: str, ids: set[str]) -> str | None:
    """The page's entry for ``module.name``: where its object is defined (re-exports link there),
    or, for a constant, an entry of the same object under another module."""
    import importlib

    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    candidates = [f"{module}.{name}", f"module-{module}.{name}"]
    if callable(obj) and isinstance(getattr(obj, "__module__", None), str):
        candidates.append(f"{obj.__module__}.{obj.__qualname__}")
    for candidate in candidates:
        if candidate in ids:
            return candidate
    for entry in ids:  # a constant re-exported by a package: the same object in another module
        owner, _, short = entry.rpartition(".")
        if short == name and f"module-{owner}" in ids and getattr(importlib.import_module(owner), short, None) is obj:
            return entry
    return None


def test_the_api_page_documents_every_name_the_chapters_import(book):
    ids = api_ids()
    names = chapter_imports()
    assert len(names) > 50, names  # the parsing found the chapters' imports
    missing = sorted(f"{module}.{name}" for module, name in names if documented_at(module, name, ids) is None)
    assert not missing, "names the chapters use that the API page does not document:\n  " + "\n  ".join(missing)


def test_the_api_page_follows_each_modules_all(book):
    import importlib

    ids = api_ids()
    modules = sorted(entry.removeprefix("module-") for entry in ids if entry.startswith("module-mdlib"))
    assert {"mdlib", "mdlib.tasks", "mdlib.game", "mdlib.learners", "mdlib.cli"} <= set(modules), modules
    for name in modules:
        module = importlib.import_module(name)
        members = {entry[len(name) + 1 :] for entry in ids if entry.startswith(name + ".")}
        direct = {member for member in members if "." not in member and f"module-{name}.{member}" not in ids}
        exported = getattr(module, "__all__", None)
        if exported is None:
            continue
        if direct:  # documented with its members: exactly __all__
            assert direct == set(exported), (name, sorted(direct ^ set(exported)))
        else:  # a package: its table of __all__ links every name to where it is defined
            page = (HTML / API_PAGE).read_text()
            for export in exported:
                assert documented_at(name, export, ids) is not None, f"{name}.{export}"
                assert f'<span class="pre">{export}</span>' in page, f"{name}.{export} is not in its table"


def test_the_api_page_lists_every_command(book):
    from mdlib.cli import build_parser

    page = htmllib.unescape(re.sub(r"<[^>]+>", "", (HTML / API_PAGE).read_text()))
    parser = build_parser()
    commands = next(action for action in parser._actions if action.dest == "command").choices
    assert len(commands) >= 5
    for name, command in commands.items():
        assert f"python -m mdlib {name}" in page, name
        for option in (o for action in command._actions for o in action.option_strings):
            assert option in page, f"{name} {option}"


def test_every_reference_on_the_api_page_links_to_an_entry(book):
    """A role that Sphinx cannot resolve renders as its code without a link (the strict build
    reports it, unless nitpick_ignore_regex lets it through: then it must name another package)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    ignored = [re.compile(target) for _, target in config["nitpick_ignore_regex"]]
    page = (HTML / API_PAGE).read_text()
    article = page.split('<article class="bd-article"', 1)[1].split("</article>", 1)[0]
    references = re.findall(r'(<a\b[^>]*>)?<code class="xref py[^"]*">(.*?)</code>', article, re.S)
    assert len(references) > 100, "the page's docstrings hold references"
    unlinked = {
        htmllib.unescape(re.sub(r"<[^>]+>", "", code)).removesuffix("()") for link, code in references if not link
    }
    unexpected = sorted(name for name in unlinked if not any(pattern.fullmatch(name) for pattern in ignored))
    assert not unexpected, f"references that link nowhere: {unexpected}"


# Attributes through which a page loads something (links to other sites are fine: <a href>).
LOAD_PATTERNS = [
    re.compile(r"<script\b[^>]*\bsrc=[\"']([^\"']+)", re.I),
    re.compile(
        r"<link\b(?=[^>]*\brel=[\"'](?:stylesheet|preload|modulepreload|icon|shortcut icon|"
        r"apple-touch-icon|manifest|prefetch)[\"'])[^>]*\bhref=[\"']([^\"']+)",
        re.I,
    ),
    re.compile(
        r"<link\b[^>]*\bhref=[\"']([^\"']+)[^>]*\brel=[\"'](?:stylesheet|preload|modulepreload|"
        r"icon|manifest|prefetch)[\"']",
        re.I,
    ),
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
            text = re.sub(
                r"<script type=\"(?:application/vnd\.jupyter[^\"]*|text/x-thebe-config)\">.*?</script>",
                "",
                text,
                flags=re.S,
            )
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
    expected = [
        "../_static/mathjax/tex-mml-chtml.js",
        "../_static/requirejs/require.js",
        "../_static/widget-shim.js",
        "../_static/html-manager/embed-amd.js",
    ]
    assert all(e in local for e in expected), local
    order = [local.index(e) for e in expected[1:]]
    assert order == sorted(order), "require.js, then the shim, then the widget manager"
    for asset in (
        "mathjax/tex-mml-chtml.js",
        "mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
        "requirejs/require.js",
        "html-manager/embed-amd.js",
        "widget-shim.js",
    ):
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


#: Browser contexts: the desktop reader (light or dark system theme) and a phone.
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def open_page(browser, site: str, path: str, mode: str = "light", device: dict = DESKTOP):
    context = browser.new_context(**device, color_scheme=mode, service_workers="block")
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
    page.on(
        "console",
        lambda m: (
            m.type == "error"
            and m.text not in KNOWN_THEME_NOISE
            and log.errors.append(f"console: {m.text} ({m.location.get('url', '')})")
        ),
    )
    page.on(
        "pageerror", lambda e: str(e.message) not in KNOWN_THEME_NOISE and log.errors.append(f"page error: {e.message}")
    )
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

#: The figure an explorer shows, named by its source's length and end (sources are data URLs).
VISIBLE_IMAGE = """(explorer) => {
    const shown = [...explorer.querySelectorAll('img')].filter(i => i.checkVisibility());
    return shown.map(i => i.src.length + ':' + i.src.slice(-48) + ' ' + i.naturalWidth);
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
            wait_for_new_figure(page, explorer, before[0])
            moves += 1
    return explorers.count(), moves


# --------------------------------------------------------------------------------------------
# Accessibility (axe-core), alt text, legibility in both modes


#: The book's content on a page: its article (the search page has none: its search form and
#: results, without the theme's buttons above them).
ARTICLE_JS = "(document.querySelector('article.bd-article') || document.querySelector('.bd-search-container'))"


def with_article(script: str) -> str:
    return script.replace("ARTICLE", ARTICLE_JS)


#: axe-core rules that fail in the article whatever impact axe gives them.
CONTENT_RULES = frozenset({"heading-order", "empty-heading", "image-alt", "image-redundant-alt"})
SERIOUS = frozenset({"critical", "serious"})

#: Critical or serious violations axe finds outside the article, in the theme's chrome
#: (pydata-sphinx-theme 0.17 under sphinx-book-theme 1.3), by rule, with the upstream reason. A
#: violation not listed here fails; an entry no page needs any more fails too: the list only
#: shrinks.
THEME_CHROME = {
    "label-content-name-mismatch": (
        "pydata-sphinx-theme's search button (templates/components/search-button-field.html) "
        'is labelled aria-label="Search" while it shows "Search" and the keyboard shortcut '
        '"Ctrl+K", and its colour-mode button (theme-switcher.html) is labelled "Color mode" '
        "while it shows an icon with the hidden text of the current mode; WCAG 2.5.3 wants the "
        "visible text inside the accessible name. The markup is the theme's own templates."
    ),
}

AXE_RUN = with_article("""async () => {
    const result = await axe.run(document, {resultTypes: ['violations']});
    const article = ARTICLE;
    const inArticle = (target) => {
        if (target.length !== 1) return false;  // inside a shadow root or a frame: not the article
        let element = null;
        try { element = document.querySelector(target[0]); } catch (e) { return false; }
        return !!(element && article && article.contains(element));
    };
    return result.violations.map(v => ({
        id: v.id, help: v.help,
        nodes: v.nodes.map(n => ({impact: n.impact || v.impact, target: n.target.join(' '),
            html: n.html.slice(0, 160), inArticle: inArticle(n.target),
            why: (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 240)})),
    }));
}""")

ALT_TEXTS = with_article("""() => [...(ARTICLE).querySelectorAll('img')].map(i => ({
    src: (i.getAttribute('src') || '').slice(0, 90), alt: i.getAttribute('alt')}))""")

#: Colour helpers shared by the measures below: sRGB luminance, CSS colours, the colour behind
#: an element (its own background or the nearest ancestor's that is at least half opaque).
COLOURS = """
    const lin = c => { c /= 255; return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    const lum = c => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
    const colour = text => {
        const m = text.match(/rgba?\\(([^)]+)\\)/);
        if (!m) return null;
        const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
        return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
    };
    const backdrop = el => {
        for (let e = el; e; e = e.parentElement) {
            const c = colour(getComputedStyle(e).backgroundColor);
            if (c && c.a >= 0.5) return c;
        }
        return {r: 255, g: 255, b: 255, a: 1};
    };
"""

#: Marks every visible image of the article (data-mdlib-picture = its index) and measures what a
#: screenshot cannot: how much of it is transparent, its darkest ink (2nd percentile of the
#: luminance of its opaque pixels) and the colour behind it (its own background or the nearest
#: ancestor's).
PICTURES = with_article(
    """async () => {"""
    + COLOURS
    + """
    const images = [...(ARTICLE).querySelectorAll('img')];
    images.forEach(i => { i.loading = 'eager'; });
    await Promise.all(images.map(i => i.decode().catch(() => null)));
    const out = [];
    const shown = images.filter(i => i.checkVisibility() && i.naturalWidth > 0 && i.getBoundingClientRect().width > 8);
    shown.forEach((img, k) => {
        img.setAttribute('data-mdlib-picture', String(k));
        const w = Math.min(img.naturalWidth, 480);
        const h = Math.max(1, Math.round(img.naturalHeight * w / img.naturalWidth));
        const canvas = document.createElement('canvas'); canvas.width = w; canvas.height = h;
        const g = canvas.getContext('2d'); g.drawImage(img, 0, 0, w, h);
        const d = g.getImageData(0, 0, w, h).data;
        let clear = 0; const histogram = new Array(101).fill(0); let opaque = 0;
        for (let p = 0; p < d.length; p += 4) {
            if (d[p + 3] < 250) { clear++; continue; }
            histogram[Math.round(100 * lum({r: d[p], g: d[p + 1], b: d[p + 2]}))]++;
            opaque++;
        }
        let seen = 0, ink = 1;
        for (let b = 0; b <= 100; b++) {
            seen += histogram[b];
            if (seen >= 0.02 * opaque) { ink = b / 100; break; }
        }
        const behind = backdrop(img);
        out.push({index: k, src: (img.getAttribute('src') || '').slice(0, 90),
                  transparent: clear / (w * h), ink: ink, backdrop: lum(behind)});
    });
    return out;
}"""
)

#: Every table cell with text whose colour has less than 4.5:1 against the colour behind it.
TABLE_CONTRAST = with_article(
    """() => {"""
    + COLOURS
    + """
    const cells = [...(ARTICLE).querySelectorAll('td, th')];
    const poor = [];
    for (const cell of cells) {
        if (!cell.textContent.trim() || !cell.checkVisibility()) continue;
        const fg = colour(getComputedStyle(cell).color), bg = backdrop(cell);
        const mix = (f, b) => f * fg.a + b * (1 - fg.a);
        const text = {r: mix(fg.r, bg.r), g: mix(fg.g, bg.g), b: mix(fg.b, bg.b)};
        const [hi, lo] = [lum(text), lum(bg)].sort((x, y) => y - x);
        const ratio = (hi + 0.05) / (lo + 0.05);
        if (ratio < 4.5) poor.push(`${cell.textContent.trim().slice(0, 30)}: ${ratio.toFixed(2)}:1`);
    }
    return {cells: cells.length, poor: poor};
}"""
)


def luminance(rgb):
    import numpy as np

    c = np.asarray(rgb, dtype=float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return c @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


def screenshot_contrast(png: bytes) -> float:
    """Contrast between the ink and the paper of a screenshot: its darkest and its lightest
    luminance, leaving out the 0.2 % most extreme pixels on each side."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    values = luminance(pixels)
    return contrast(float(np.quantile(values, 0.998)), float(np.quantile(values, 0.002)))


@dataclass
class Visit:
    """What one page showed in one colour mode (see ``visit``)."""

    path: str
    mode: str
    log: PageLog
    theme: str = ""
    maths: dict = field(default_factory=dict)
    images: list = field(default_factory=list)
    has_widgets: bool = False
    widget_fonts: dict = field(default_factory=dict)
    violations: list = field(default_factory=list)
    alts: list = field(default_factory=list)
    pictures: list = field(default_factory=list)
    tables: dict = field(default_factory=dict)
    labels: list = field(default_factory=list)
    explorers: int = 0
    moves: int = 0


def wait_for_widgets(page) -> None:
    page.wait_for_selector(".jupyter-widgets", timeout=20000)
    if page.locator(".mdlib-slider-grid").count():
        page.wait_for_selector(".mdlib-slider-grid img", state="visible", timeout=20000)


def visit(browser, site: str, path: str, mode: str) -> Visit:
    """Open ``path`` with the reader's system in ``mode``: typesetting, images and widgets, then
    axe-core, alt texts, the legibility measures; in light mode, last, the keyboard slider moves."""
    context, page, log = open_page(browser, site, path, mode)
    result = Visit(path, mode, log)
    try:
        page.wait_for_load_state("networkidle")
        result.theme = page.evaluate("document.documentElement.dataset.theme || ''")
        result.maths = page.evaluate(TYPESET)
        result.images = page.evaluate(IMAGES)
        result.has_widgets = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count() > 0
        if result.has_widgets:
            wait_for_widgets(page)
            result.widget_fonts = page.evaluate(WIDGET_FONTS)
            result.labels = page.locator(".mdlib-slider-grid .widget-label").all_inner_texts()
            page.evaluate("MathJax.startup.promise")
        page.wait_for_load_state("networkidle")
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        result.violations = page.evaluate(AXE_RUN)
        result.alts = page.evaluate(ALT_TEXTS)
        result.pictures = page.evaluate(PICTURES)
        for picture in result.pictures:
            shot = page.locator(f'[data-mdlib-picture="{picture["index"]}"]').screenshot(animations="disabled")
            picture["contrast"] = screenshot_contrast(shot)
        result.tables = page.evaluate(TABLE_CONTRAST)
        if mode == "light" and page.locator(".mdlib-slider-grid").count():
            result.explorers, result.moves = check_explorers(page)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)  # late console messages
    finally:
        context.close()
    return result


@pytest.fixture(scope="module")
def visits(browser, site):
    """Each page is opened once per colour mode; the tests below read what it showed."""
    done: dict[tuple[str, str], Visit] = {}

    def get(path: str, mode: str) -> Visit:
        if (path, mode) not in done:
            done[(path, mode)] = visit(browser, site, path, mode)
        return done[(path, mode)]

    return get


MODES = ["light", "dark"]


@pytest.mark.parametrize("path", PAGES)
def test_page_in_chromium(visits, site, path):
    seen = visits(path, "light")
    log, maths, images = seen.log, seen.maths, seen.images
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
    if seen.has_widgets:
        assert seen.widget_fonts["module"].startswith(f"{site}/_static/html-manager/"), seen.widget_fonts
        assert seen.widget_fonts["loaded"] >= 1, f"the widgets' icon font did not load: {seen.widget_fonts}"
        assert seen.widget_fonts["hub"] == "function", "the MathJax 2 adapter for the widget manager is missing"
        assert seen.explorers == 0 or seen.moves >= 2 * seen.explorers, (seen.explorers, seen.moves)
    print(
        f"{path}: {maths['maths']} maths, {len(images)} images ({len(gifs)} GIF), "
        f"{seen.explorers} explorers, {seen.moves} slider moves"
    )


def test_distral_chapter_has_an_explorer(visits):
    """The Distral chapter must keep its α-β explorer (two sliders, figures switch)."""
    seen = visits("notebooks/02_distral.html", "light")
    assert seen.explorers >= 1 and seen.moves >= 2
    assert any("Distral: weight of π0" in t for t in seen.labels), seen.labels
    assert any("Distral: inverse temperature" in t for t in seen.labels), seen.labels
    assert not seen.log.errors and not seen.log.foreign and not seen.log.failed


def describe(findings) -> str:
    return "\n".join(
        f"  {rule} [{node['impact']}] {node['target'][:90]}\n      {node['html'][:120]}\n      {node['why']}"
        for rule, node in findings
    )


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_nothing_serious_in_the_article(visits, path, mode):
    seen = visits(path, mode)
    assert seen.theme == mode, f"the theme did not follow the reader's {mode} system setting: {seen.theme!r}"
    found = [
        (v["id"], n)
        for v in seen.violations
        for n in v["nodes"]
        if n["inArticle"] and (n["impact"] in SERIOUS or v["id"] in CONTENT_RULES)
    ]
    assert not found, f"axe-core in the article ({mode} mode):\n{describe(found)}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_only_the_known_theme_violations_outside_the_article(visits, path, mode):
    seen = visits(path, mode)
    found = [
        (v["id"], n)
        for v in seen.violations
        for n in v["nodes"]
        if not n["inArticle"] and n["impact"] in SERIOUS and v["id"] not in THEME_CHROME
    ]
    assert not found, f"axe-core outside the article ({mode} mode), not in THEME_CHROME:\n{describe(found)}"


def test_every_known_theme_violation_is_still_needed(visits):
    seen = {
        v["id"]
        for path in PAGES
        for mode in MODES
        for v in visits(path, mode).violations
        if any(not n["inArticle"] and n["impact"] in SERIOUS for n in v["nodes"])
    }
    unused = sorted(set(THEME_CHROME) - seen)
    assert not unused, f"no page shows these any more; remove them from THEME_CHROME: {unused}"


FILE_NAME = re.compile(r"^\S*\.(?:png|gif|jpe?g|svg|webp)$|^\S*/\S*$", re.I)


@pytest.mark.parametrize("path", PAGES)
def test_every_image_has_alt_text_that_is_not_a_file_name(visits, path):
    missing = [
        f"{i['src']}: alt={i['alt']!r}"
        for i in visits(path, "light").alts
        if not (i["alt"] or "").strip() or FILE_NAME.match(i["alt"].strip())
    ]
    assert not missing, "images without alt text that says what they show:\n  " + "\n  ".join(missing)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("path", PAGES)
def test_figures_and_tables_are_legible(visits, path, mode):
    seen = visits(path, mode)
    poor = []
    for picture in seen.pictures:
        if picture["transparent"] > 0.005 and contrast(picture["backdrop"], picture["ink"]) < 4.5:
            poor.append(
                f"{picture['src']}: {picture['transparent']:.0%} transparent, its ink has "
                f"{contrast(picture['backdrop'], picture['ink']):.1f}:1 against the colour behind it"
            )
        if picture["contrast"] < 4.5:
            poor.append(f"{picture['src']}: the screenshot's ink and paper have {picture['contrast']:.1f}:1")
    poor += [f"table cell {cell}" for cell in seen.tables["poor"]]
    assert not poor, f"illegible in {mode} mode:\n  " + "\n  ".join(poor)
    lowest = min((p["contrast"] for p in seen.pictures), default=float("nan"))
    print(
        f"{path} ({mode}): {len(seen.pictures)} images, lowest screenshot contrast {lowest:.1f}:1, "
        f"{seen.tables['cells']} table cells"
    )


# --------------------------------------------------------------------------------------------
# Phones

#: Elements of the article that go past either edge of the screen, unless they sit in a box of
#: their own that scrolls sideways and fits the screen; prose must fit whatever its box.
PHONE_OVERFLOW = with_article("""() => {
    const width = document.documentElement.clientWidth;
    const article = ARTICLE;
    const prose = 'p, li, dt, dd, h1, h2, h3, h4, h5, h6, blockquote, figcaption, .admonition-title';
    const inBox = 'pre, table, .highlight, .cell_output, .output, mjx-container, .math, .widget-subarea';
    const outside = r => r.width > 0 && (r.right > width + 1 || r.left < -1);
    const scrollBox = el => {
        for (let b = el.parentElement; b && b !== article; b = b.parentElement) {
            const x = getComputedStyle(b).overflowX;
            const own = b.tagName !== 'SECTION' && !outside(b.getBoundingClientRect());
            if ((x === 'auto' || x === 'scroll') && own) return b;
        }
        return null;
    };
    const name = el => {
        const classes = typeof el.className === 'string' ? el.className.trim().split(/\\s+/) : [];
        return [el.tagName.toLowerCase(), ...classes.filter(Boolean)].join('.');
    };
    const overflowing = [], scrolling = new Set();
    for (const el of article.querySelectorAll('*')) {
        if (!outside(el.getBoundingClientRect())) continue;
        const isProse = el.matches(prose) && !el.closest(inBox);
        const box = scrollBox(el);
        if (isProse || !box) overflowing.push(`${name(el).slice(0, 60)}: ${el.textContent.trim().slice(0, 50)}`);
        else scrolling.add(name(box).slice(0, 40));
    }
    return {width: width, pageWidth: document.scrollingElement.scrollWidth,
            overflowing: overflowing.slice(0, 15), count: overflowing.length, scrolling: [...scrolling]};
}""")


def visible_figure(explorer) -> str:
    shown = explorer.evaluate(VISIBLE_IMAGE)
    assert len(shown) == 1 and not shown[0].endswith(" 0"), f"one decoded figure expected: {shown}"
    return shown[0]


def wait_for_new_figure(page, explorer, before: str) -> None:
    page.wait_for_function(
        "([el, before]) => { const s = [...el.querySelectorAll('img')].filter(i => i.checkVisibility());"
        " return s.length === 1 && s[0].naturalWidth > 0 && (s[0].src.length + ':' + s[0].src.slice(-48) + ' '"
        " + s[0].naturalWidth) !== before; }",
        arg=[explorer.element_handle(), before],
        timeout=10000,
    )


def touch_sliders(page, context) -> tuple[int, int]:
    """Every slider of every explorer: a tap on its track at the far end, then a drag of its
    handle back to the start, each by touch; each must switch the figure. Returns the number of
    sliders and of moves."""
    cdp = context.new_cdp_session(page)
    moves = sliders = 0
    explorers = page.locator(".mdlib-slider-grid")
    for e in range(explorers.count()):
        explorer = explorers.nth(e)
        tracks = explorer.locator(".noUi-target")
        for t in range(tracks.count()):
            track, handle = tracks.nth(t), tracks.nth(t).locator(".noUi-handle")
            sliders += 1
            track.evaluate("e => e.scrollIntoView({block: 'center'})")  # clear of the sticky header
            box = track.bounding_box()
            assert box and box["width"] >= 100, f"slider track {box} too narrow for a thumb at 390 px"
            y = box["y"] + box["height"] / 2
            at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            before = visible_figure(explorer)
            page.touchscreen.tap(box["x"] + (3 if at_end else box["width"] - 3), y)
            wait_for_new_figure(page, explorer, before)
            moves += 1
            # noUiSlider ignores a new touch while its tap state lasts (300 ms), as a finger would.
            page.wait_for_function("t => !t.classList.contains('noUi-state-tap')", arg=track.element_handle())
            before = visible_figure(explorer)
            grip = handle.bounding_box()
            x0, x1 = grip["x"] + grip["width"] / 2, box["x"] + (box["width"] - 2 if at_end else 2)
            cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}]})
            for k in range(1, 11):
                cdp.send(
                    "Input.dispatchTouchEvent",
                    {"type": "touchMove", "touchPoints": [{"x": x0 + (x1 - x0) * k / 10, "y": y}]},
                )
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
            wait_for_new_figure(page, explorer, before)
            moves += 1
    return sliders, moves


@pytest.mark.parametrize("path", PAGES)
def test_page_on_a_phone(browser, site, path):
    context, page, log = open_page(browser, site, path, "light", PHONE)
    moves = sliders = explorers = 0
    try:
        page.wait_for_load_state("networkidle")
        page.evaluate(TYPESET)
        page.evaluate(IMAGES)
        if page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count():
            wait_for_widgets(page)
        layout = page.evaluate(PHONE_OVERFLOW)
        explorers = page.locator(".mdlib-slider-grid").count()
        if explorers:
            sliders, moves = touch_sliders(page, context)
    finally:
        context.close()
    assert layout["width"] == 390, layout
    assert layout["pageWidth"] <= layout["width"] + 1, f"the page scrolls sideways at 390 px: {layout}"
    assert not layout["count"], f"{layout['count']} elements run past the edge of a 390 px screen:\n  " + "\n  ".join(
        layout["overflowing"]
    )
    assert sliders >= explorers and moves == 2 * sliders, (explorers, sliders, moves)
    assert not log.errors, "\n".join(log.errors)
    print(
        f"{path} at 390 px: boxes that scroll sideways: {layout['scrolling']}; {sliders} sliders, {moves} touch moves"
    )


# --------------------------------------------------------------------------------------------
# The whole book as one PDF


@dataclass
class PdfRun:
    returncode: int
    output: str
    seconds: float
    path: Path


@pytest.fixture(scope="module")
def book_pdf(book) -> PdfRun:
    """``scripts/make-pdf.sh`` on the built site, as the README says, into the site's root."""
    if book.returncode != 0:
        pytest.fail("the book did not build; see test_build_succeeds_without_warnings", pytrace=False)
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        unavailable("Chromium not found (apt-get install chromium)")
    out = HTML / PDF_NAME
    out.unlink(missing_ok=True)
    start = time.perf_counter()
    done = subprocess.run(
        ["bash", "scripts/make-pdf.sh", "--html", str(HTML)], cwd=ROOT, capture_output=True, text=True
    )
    return PdfRun(done.returncode, done.stdout + done.stderr, time.perf_counter() - start, out)


@pytest.fixture(scope="module")
def pdf(book_pdf):
    from pypdf import PdfReader

    if book_pdf.returncode != 0 or not book_pdf.path.is_file():
        pytest.fail(f"make-pdf failed:\n{book_pdf.output[-4000:]}", pytrace=False)
    reader = PdfReader(book_pdf.path)
    return reader, [" ".join(page.extract_text().split()) for page in reader.pages]


def chapter_titles() -> list[tuple[str, str]]:
    """(page, first heading) of every document of the table of contents, from the built HTML."""
    titles = []
    for path in PAGES[1:-2]:  # index.html only redirects; genindex and search are not chapters
        article = (HTML / path).read_text().split('<article class="bd-article"', 1)[1]
        heading = re.search(r"<h1\b[^>]*>(.*?)</h1>", article, re.S).group(1)
        heading = re.sub(r'<a class="headerlink".*?</a>', "", heading, flags=re.S)
        titles.append((path, " ".join(htmllib.unescape(re.sub(r"<[^>]+>", "", heading)).split())))
    return titles


def chapter_ranges(reader) -> list[tuple[str, int, int]]:
    """(title, first page, last page + 1) of each top-level bookmark, in order."""
    tops = [item for item in reader.outline if not isinstance(item, list)]
    starts = [reader.get_destination_page_number(item) for item in tops]
    ends = starts[1:] + [len(reader.pages)]
    return [(item.title, start, end) for item, start, end in zip(tops, starts, ends)]


def test_the_book_prints_to_one_pdf(book_pdf, pdf):
    reader, _ = pdf
    size = book_pdf.path.stat().st_size
    assert reader.metadata.title.startswith("MultiDistral"), reader.metadata
    print(f"{book_pdf.path.name}: {len(reader.pages)} pages, {size / 1e6:.1f} MB, made in {book_pdf.seconds:.0f} s")


def test_the_pdf_has_a_bookmark_per_chapter_in_toc_order(pdf):
    reader, _ = pdf
    ranges = chapter_ranges(reader)
    assert [title for title, _, _ in ranges] == [title for _, title in chapter_titles()]
    assert ranges[0][1] == 0 and all(start < end for _, start, end in ranges), ranges
    sections = [item for item in reader.outline if isinstance(item, list)]
    assert len(sections) >= len(ranges) - 2, "the chapters' sections are bookmarked under them"


def test_every_chapter_title_is_in_the_text_layer_of_its_first_page(pdf):
    reader, texts = pdf
    for title, start, _ in chapter_ranges(reader):
        assert title in texts[start], f"{title!r} not on its first page: {texts[start][:200]!r}"


def test_no_page_is_blank_and_every_page_is_numbered(pdf):
    reader, texts = pdf
    blank, unnumbered = [], []
    for number, (page, text) in enumerate(zip(reader.pages, texts), start=1):
        if not text.endswith(str(number)):
            unnumbered.append(number)
        body = text[: -len(str(number))].strip() if text.endswith(str(number)) else text
        resources = page.get("/Resources", {})
        draws_image = "/XObject" in resources and any(
            x.get_object().get("/Subtype") == "/Image" for x in resources["/XObject"].get_object().values()
        )
        if len(body) < 20 and not draws_image:
            blank.append(number)
    assert not blank, f"blank pages: {blank}"
    assert not unnumbered, f"pages without their number at the foot: {unnumbered[:20]}"


def article_text(path: str) -> str:
    """The words of a page's article in the built HTML (without scripts, styles and maths)."""
    article = (HTML / path).read_text().split('<article class="bd-article"', 1)[1].split("</article>", 1)[0]
    article = re.sub(r"<(script|style)\b.*?</\1>", " ", article, flags=re.S)
    article = re.sub(r'<(span|div) class="math[^"]*">.*?</\1>', " ", article, flags=re.S)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", article)).split())


def test_the_page_count_fits_the_text(pdf):
    """Each chapter's pages hold its text: at most 5000 characters a page (nothing cut off or
    shrunk), and at least 500 a page once each figure has had a page of its own (no runaway
    layout)."""
    reader, texts = pdf
    for (path, _), (title, start, end) in zip(chapter_titles(), chapter_ranges(reader)):
        characters = len(article_text(path))
        figures = len(re.findall(r"<img\b", (HTML / path).read_text()))
        pages = end - start
        assert characters / pages <= 5000, f"{title}: {characters} characters on only {pages} pages"
        assert pages <= characters / 500 + figures + 1, f"{title}: {pages} pages for {characters} characters"
        printed = sum(len(t) for t in texts[start:end])
        assert printed >= 0.8 * characters, f"{title}: {printed} characters printed of {characters}"


def test_folded_code_is_shown_and_gifs_are_stills(pdf):
    reader, texts = pdf
    everything = " ".join(texts)
    assert "Show code cell source" not in everything and "Hide code cell source" not in everything
    for (path, _), (title, start, end) in zip(chapter_titles(), chapter_ranges(reader)):
        page = (HTML / path).read_text()
        chapter = " ".join(texts[start:end])
        for folded in re.findall(r'<details class="[^"]*hide above-input">.*?<pre>(.*?)</pre>', page, re.S):
            code = htmllib.unescape(re.sub(r"<[^>]+>", "", folded))
            line = next(s for s in (" ".join(t.split()) for t in code.splitlines()) if len(s) > 12)
            assert line[:40] in chapter, f"{title}: folded code {line[:40]!r} is not in the PDF"
        gifs = len(re.findall(r'<img\b[^>]*src="[^"]*\.gif"', page))
        stills = chapter.count("An animation on the web: its last frame")
        assert stills == gifs, f"{title}: {gifs} GIFs, {stills} printed as stills"


def test_no_link_in_the_pdf_leads_to_the_local_server(pdf):
    reader, _ = pdf
    pages = {page.indirect_reference.idnum for page in reader.pages}
    local, dangling = [], []
    for number, page in enumerate(reader.pages, start=1):
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            action = annotation.get("/A")
            uri = str(action.get_object().get("/URI", "")) if action is not None else ""
            if "127.0.0.1" in uri or "localhost" in uri:
                local.append(f"page {number}: {uri}")
            target = annotation.get("/Dest")
            if target is not None and target.get_object()[0].idnum not in pages:
                dangling.append(f"page {number}")
    assert not local, local[:10]
    assert not dangling, f"links to no page of the PDF: {dangling[:10]}"


def test_every_page_links_the_pdf(book_pdf, pdf):
    assert book_pdf.path == HTML / PDF_NAME and book_pdf.path.is_file()
    for path, _ in chapter_titles():
        links = re.findall(r'href="([^"]*' + re.escape(PDF_NAME) + ')"', (HTML / path).read_text())
        assert links, f"{path} does not link the whole-book PDF"
        assert all((HTML / path).parent.joinpath(link).resolve() == book_pdf.path.resolve() for link in links), links
