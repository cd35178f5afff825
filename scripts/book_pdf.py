"""Print the built book to one PDF: every page of the table of contents, in its order, one
bookmark per chapter. ``bash scripts/make-pdf.sh`` runs this after the book is built.

    .venv/bin/python scripts/book_pdf.py [--html _build/html] [--out FILE.pdf] [--chromium PATH]

The built site is served on 127.0.0.1 (nothing may load from another host) and every page is
opened in Debian's Chromium, driven by playwright, in light mode. Before a page is printed:

* its maths is typeset by MathJax (the page fails if any formula is not);
* its widgets are rendered, each showing the figure it opens with (its default setting);
* every animated GIF is replaced by its last frame, where the game has ended and the returns are
  final, with a line under it saying so;
* every folded part is unfolded: code cells folded in the web page, and exercise solutions.
  The PDF shows all of it, since a reader of paper cannot click.

Chromium prints each page (``page.pdf``, A4, with each page's headings as bookmarks); pypdf
merges them under one bookmark per chapter, numbers the pages of the whole book at the foot,
turns links between the book's pages into links inside the PDF and drops links to other files
of the local site (the ``.ipynb`` downloads, the search page). The PDF is written whole or not
at all, by default to ``multidistral-book.pdf`` at the root of the site, which every page's
download menu links to (see ``book/_ext/mdlib_site.py``).

Bad input (no built book, an output path that cannot be written, no Chromium) fails with one
line before any page is printed.
"""

from __future__ import annotations

import argparse
import base64
import functools
import html
import http.server
import io
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

from mdlib.files import OutputError, check_output_file, write_atomically

ROOT = Path(__file__).resolve().parents[1]
PDF_NAME = "multidistral-book.pdf"

#: The flags the browser test launches Debian's Chromium with (see tests/test_book.py).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PAGE_FORMAT = "A4"
MARGINS = {"top": "15mm", "bottom": "18mm", "left": "14mm", "right": "14mm"}
#: Where the page number goes: centred, this many points above the bottom edge.
NUMBER_FROM_BOTTOM = 22


class PdfError(RuntimeError):
    """Something that makes printing impossible; the message says what and where."""


@dataclass
class Chapter:
    document: str  # the document's name in _toc.yml, e.g. notebooks/02_distral
    path: str  # its page in the built site, e.g. notebooks/02_distral.html
    title: str  # its first heading, as the reader sees it


@dataclass
class Printed:
    chapter: Chapter
    pdf: bytes
    sections: list  # (id, title) of the chapter's sections (its h2 headings), in order


# --------------------------------------------------------------------------------------------
# What to print


def toc_documents(root: Path = ROOT) -> list[str]:
    """The documents of _toc.yml in reading order: the root, then every chapter and section."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    documents = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                documents.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return documents


_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.S)


def page_title(page_html: str) -> str:
    """The page's first heading as plain text (no permalink sign, maths as its TeX source)."""
    article = page_html.split('<article class="bd-article"', 1)[-1]
    found = _H1.search(article)
    if found is None:
        return ""
    heading = re.sub(r'<a class="headerlink".*?</a>', "", found.group(1), flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", "", heading))
    text = re.sub(r"\\\(|\\\)", "", text)  # inline maths delimiters
    return " ".join(text.split())


def chapters_of(site: Path, root: Path = ROOT) -> list[Chapter]:
    """Every document of the table of contents, checked to be built in ``site``."""
    if not site.is_dir():
        raise PdfError(f"{site}: no such folder; build the book first (bash scripts/build-book.sh)")
    chapters = []
    for document in toc_documents(root):
        path = f"{document}.html"
        page = site / path
        if not page.is_file():
            raise PdfError(f"{site} holds no built page {path}; build the book first (bash scripts/build-book.sh)")
        title = page_title(page.read_text(encoding="utf-8"))
        if not title:
            raise PdfError(f"{page}: no heading to use as the chapter's title")
        chapters.append(Chapter(document, path, title))
    return chapters


def find_chromium(given: str | None) -> str:
    chromium = given or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or shutil.which(chromium) is None:
        raise PdfError(f"Debian's Chromium not found{f' at {given}' if given else ''} (apt-get install chromium)")
    return shutil.which(chromium)


# --------------------------------------------------------------------------------------------
# Serving and preparing the pages


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class LocalSite:
    """The built site on 127.0.0.1, on a free port, for as long as the ``with`` block lasts."""

    def __init__(self, folder: Path):
        self.folder = folder

    def __enter__(self) -> str:
        handler = functools.partial(_QuietHandler, directory=str(self.folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False


def gif_still(path: Path) -> tuple[str, int]:
    """The last frame of a GIF as a PNG data URL, and the GIF's number of frames."""
    from PIL import Image

    with Image.open(path) as gif:
        frames = getattr(gif, "n_frames", 1)
        gif.seek(frames - 1)
        still = gif.convert("RGB")
    out = io.BytesIO()
    still.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii"), frames


#: Waits for MathJax and for every widget view; returns what did not come out right.
READY = """async () => {
    const problems = [];
    const maths = [...document.querySelectorAll('.math')];
    if (maths.length) {
        const start = Date.now();
        while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
            if (Date.now() - start > 30000) { problems.push('MathJax never started'); break; }
            await new Promise(r => setTimeout(r, 50));
        }
        if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
    }
    const views = [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')];
    const start = Date.now();
    const rendered = s => { const box = s.previousElementSibling;
        return box && box.classList.contains('widget-subarea') && box.children.length > 0; };
    while (views.some(s => !rendered(s))) {
        if (Date.now() - start > 30000) { problems.push('widgets did not render'); break; }
        await new Promise(r => setTimeout(r, 100));
    }
    if (window.MathJax && MathJax.typesetPromise) await MathJax.typesetPromise();
    const untypeset = maths.filter(m => !m.querySelector('mjx-container'));
    if (untypeset.length) problems.push(`${untypeset.length} formulas not typeset`);
    if (document.querySelector('mjx-merror')) problems.push('MathJax reported an error');
    return problems;
}"""

#: Unfolds everything folded and puts the GIF stills in; then waits for every image.
PREPARE = """async (stills) => {
    document.querySelectorAll('details').forEach(d => { d.open = true; });
    document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
    document.querySelectorAll('.toggle-button-hidden').forEach(e => e.classList.remove('toggle-button-hidden'));
    for (const img of document.querySelectorAll('article img')) {
        const file = new URL(img.getAttribute('src'), document.baseURI).pathname;
        const still = stills[file];
        if (!still) continue;
        img.src = still.url;
        const note = document.createElement('span');
        note.className = 'mdlib-still-note';
        note.textContent = `An animation on the web: its last frame (${still.frames} frames).`;
        img.insertAdjacentElement('afterend', note);
    }
    const style = document.createElement('style');
    // Unfolding starts the theme's fade-in animations: paper gets the end state, not a frame
    // of them (text printed mid-fade is invisible and missing from the text layer).
    style.textContent = `
        *, *::before, *::after { animation: none !important; transition: none !important; }
        details.hide > summary, .toggle-button { display: none !important; }
        .mdlib-still-note { display: block; font-size: 0.85em; color: #444; margin: 0.2em 0 0.6em; }
    `;
    document.head.appendChild(style);
    document.getAnimations().forEach(a => { try { a.finish(); } catch (e) { a.cancel(); } });
    const images = [...document.images];
    images.forEach(i => { i.loading = 'eager'; });
    await Promise.all(images.map(i => i.decode().catch(() => null)));
    await document.fonts.ready;
    // The sections, for the bookmarks: maths in a heading reads as its MathML text.
    const sections = [...document.querySelectorAll('article.bd-article section > h2')].map(h => {
        const heading = h.cloneNode(true);
        heading.querySelectorAll('.headerlink, mjx-container > mjx-math').forEach(e => e.remove());
        return [h.parentElement.id, heading.textContent.replace(/\\s+/g, ' ').trim()];
    }).filter(([id, title]) => id && title);
    return {broken: images.filter(i => i.naturalWidth === 0).map(i => (i.currentSrc || i.src).slice(0, 100)),
            sections: sections};
}"""


def print_chapter(browser, base: str, site: Path, chapter: Chapter) -> Printed:
    """One page of the site as PDF bytes, ready for print (see the module's docstring)."""
    context = browser.new_context(
        viewport={"width": 1000, "height": 1400}, color_scheme="light", service_workers="block"
    )
    context.add_init_script("localStorage.setItem('mode', 'light'); localStorage.setItem('theme', 'light');")
    foreign, failed = [], []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname == "127.0.0.1":
            request_route.continue_()
        else:
            foreign.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    try:
        page.goto(base + chapter.path, wait_until="networkidle", timeout=120_000)
        problems = page.evaluate(READY)
        stills = {}
        for src in page.eval_on_selector_all("article img", "imgs => imgs.map(i => i.getAttribute('src'))"):
            file = urlparse(unquote(src)).path
            local = (site / chapter.path).parent / file
            if local.suffix.lower() == ".gif" and local.is_file():
                url, frames = gif_still(local)
                key = "/" + local.resolve().relative_to(site.resolve()).as_posix()
                stills[key] = {"url": url, "frames": frames}
        prepared = page.evaluate(PREPARE, stills)
        if prepared["broken"]:
            problems.append(f"images that do not decode: {prepared['broken']}")
        if foreign:
            problems.append(f"requests to other hosts: {foreign}")
        if failed:
            problems.append(f"HTTP errors: {failed}")
        if problems:
            raise PdfError(f"{chapter.path}: " + "; ".join(problems))
        page.emulate_media(media="print")
        data = page.pdf(format=PAGE_FORMAT, margin=MARGINS, print_background=True)
        return Printed(chapter, data, [tuple(section) for section in prepared["sections"]])
    finally:
        context.close()


# --------------------------------------------------------------------------------------------
# Merging


def _number_pages(writer) -> None:
    """Write each page's number in the whole book at its foot (Helvetica, no font embedded)."""
    from pypdf.generic import ContentStream, DictionaryObject, NameObject

    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for number, page in enumerate(writer.pages, start=1):
        resources = page.setdefault(NameObject("/Resources"), DictionaryObject()).get_object()
        fonts = resources.setdefault(NameObject("/Font"), DictionaryObject()).get_object()
        fonts[NameObject("/MdlibPageNumber")] = font
        text = str(number)
        x = float(page.mediabox.width) / 2 - 2.2 * len(text)  # Helvetica digits are 4.4 pt wide at 8 pt
        # The page's own drawing inside q ... Q, so that no state it leaves can move the number.
        stamp = f"\nQ\nq BT /MdlibPageNumber 8 Tf 0.3 g {x:.1f} {NUMBER_FROM_BOTTOM} Td ({text}) Tj ET Q\n"
        contents = ContentStream(None, None)
        contents.set_data(b"q\n" + page.get_contents().get_data() + stamp.encode("ascii"))
        page.replace_contents(contents)


def _destinations(reader) -> dict:
    """A chapter's named destinations (Chromium names one for every element a link of the page
    points at, by its id): name -> (page index in the chapter, left, top)."""
    found = {}
    for name, destination in reader.named_destinations.items():
        try:
            index = reader.get_destination_page_number(destination)
        except (KeyError, ValueError):
            continue
        found[str(name).lstrip("/")] = (index, destination.left, destination.top)
    return found


def _explicit(writer, start: int, place) -> list:
    from pypdf.generic import ArrayObject, FloatObject, NameObject, NullObject

    index, left, top = place
    number = lambda v: NullObject() if v is None else FloatObject(v)  # noqa: E731
    return ArrayObject(
        [writer.pages[start + index].indirect_reference, NameObject("/XYZ"), number(left), number(top), NullObject()]
    )


def _relink(writer, base: str, parts: list, starts: list[int], destinations: list[dict]) -> tuple[int, int]:
    """Make every link work inside the one PDF: a link within a chapter keeps its target (named
    destinations of different chapters clash, "summary" is in most, so each becomes an explicit
    page and position); a link to another page of the book goes to that page's target, or its
    first page; a link to another file of the local site (the .ipynb downloads, the index) is
    dropped. Returns (links kept, links dropped)."""
    from pypdf.generic import ArrayObject, NameObject

    chapter_of = {printed.chapter.path: c for c, printed in enumerate(parts)}
    kept_count = dropped = 0
    for c, printed in enumerate(parts):
        count = len(writer.pages) - starts[c] if c + 1 == len(parts) else starts[c + 1] - starts[c]
        for page in writer.pages[starts[c] : starts[c] + count]:
            annotations = page.get("/Annots")
            if annotations is None:
                continue
            kept = ArrayObject()
            for reference in annotations.get_object():
                annotation = reference.get_object()
                target = annotation.get("/Dest")
                action = annotation.get("/A")
                uri = action.get_object().get("/URI") if action is not None else None
                if target is not None and not isinstance(target.get_object(), ArrayObject):
                    place = destinations[c].get(str(target).lstrip("/"))
                    if place is None:
                        dropped += 1
                        continue
                    annotation[NameObject("/Dest")] = _explicit(writer, starts[c], place)
                elif uri is not None and str(uri).startswith(base):
                    address = urlparse(str(uri))
                    other = chapter_of.get(unquote(address.path).lstrip("/"))
                    if other is None:
                        dropped += 1
                        continue
                    place = destinations[other].get(unquote(address.fragment), (0, None, None))
                    del annotation[NameObject("/A")]
                    annotation[NameObject("/Dest")] = _explicit(writer, starts[other], place)
                kept.append(reference)
                kept_count += 1
            page[NameObject("/Annots")] = kept
    names = writer.root_object.get("/Names")
    if names is not None and "/Dests" in names.get_object():
        del names.get_object()[NameObject("/Dests")]  # replaced by the explicit targets above
    return kept_count, dropped


def merge(parts: list[Printed], base: str, title: str, author: str):
    """One PdfWriter: the parts in order, a bookmark per chapter over bookmarks of its sections,
    working links, and the pages numbered."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import Fit

    writer = PdfWriter()
    starts, destinations = [], []
    for printed in parts:
        reader = PdfReader(io.BytesIO(printed.pdf))
        starts.append(len(writer.pages))
        destinations.append(_destinations(reader))
        writer.append(reader, import_outline=False)
    for c, printed in enumerate(parts):
        chapter = writer.add_outline_item(printed.chapter.title, starts[c], fit=Fit.fit())
        for section, heading in printed.sections:
            place = destinations[c].get(section)
            if place is not None:
                index, left, top = place
                writer.add_outline_item(heading, starts[c] + index, parent=chapter, fit=Fit.xyz(left, top, None))
    _relink(writer, base, parts, starts, destinations)
    _number_pages(writer)
    writer.add_metadata({"/Title": title, "/Author": author, "/Creator": "scripts/book_pdf.py (Chromium, pypdf)"})
    writer.page_mode = "/UseOutlines"
    return writer


# --------------------------------------------------------------------------------------------
# The command


def make_pdf(site: Path, out: Path, chromium: str | None = None, root: Path = ROOT, log=print) -> dict:
    """Check everything, print every chapter, merge, write ``out``; returns a summary."""
    chapters = chapters_of(site, root)
    check_output_file(out, (".pdf",), "PDF")
    executable = find_chromium(chromium)
    try:
        import pypdf  # noqa: F401
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise PdfError(f"{error.name} is not installed (bash scripts/setup.sh installs it)") from None
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))

    start = time.perf_counter()
    parts = []
    with LocalSite(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for chapter in chapters:
                parts.append(print_chapter(browser, base, site, chapter))
                log(f"make-pdf: printed {chapter.path} ({chapter.title})")
        finally:
            browser.close()
        writer = merge(parts, base, str(config.get("title", "")), str(config.get("author", "")))
    write_atomically(out, lambda temporary: writer.write(str(temporary)), "PDF")
    summary = {
        "path": str(out),
        "pages": len(writer.pages),
        "chapters": len(chapters),
        "bytes": out.stat().st_size,
        "seconds": round(time.perf_counter() - start, 1),
    }
    log(
        f"make-pdf: wrote {out}: {summary['pages']} pages, {summary['chapters']} chapters, "
        f"{summary['bytes'] / 1e6:.1f} MB in {summary['seconds']} s"
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make-pdf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the built site")
    parser.add_argument("--out", type=Path, default=None, help=f"the PDF (default: HTML/{PDF_NAME})")
    parser.add_argument("--chromium", default=None, help="Chromium's executable (default: chromium on PATH)")
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else args.html / PDF_NAME
    try:
        make_pdf(args.html, out, args.chromium)
    except (PdfError, OutputError) as error:
        print(f"make-pdf: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
