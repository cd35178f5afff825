"""Sphinx glue for the published book: two markup fixes for screen readers and the PDF link.

Loaded through ``sphinx: local_extensions`` in ``_config.yml``. It changes only what Sphinx
renders into each page's body (the article), before the theme wraps it:

* myst-nb renders a folded code cell as ``<summary aria-label="Toggle hidden content">`` whose
  visible text is "Show code cell source". A control's accessible name must contain its visible
  text (WCAG 2.5.3, axe rule ``label-content-name-mismatch``), so the label is dropped and the
  visible text becomes the name.
* docutils renders a bibliography as ``role="list"`` holding ``role="doc-biblioentry"`` entries.
  That role is deprecated in DPUB-ARIA 1.1 and not a list item, so screen readers announce a list
  without items (axe: ``aria-required-children``, ``aria-deprecated-role``). The entries become
  ``role="listitem"``.

It also adds "the whole book (.pdf)" to every page's download menu, pointing at
:data:`PDF_NAME` at the root of the site, where ``scripts/make-pdf.sh`` writes it.

And it sends readers to the *reader copies* of the chapters (``reader/``, written by ``python -m
mdlib reader-notebooks reader``: the numbers written into the text, bookkeeping folded): the
Binder and Colab launch buttons open ``reader/NAME.ipynb`` in the repository instead of
``notebooks/NAME.ipynb``, and the download menu's ``.ipynb`` is the reader copy, copied into the
site's ``reader/`` folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

#: The whole book as one PDF, at the root of the built site (see scripts/book_pdf.py).
PDF_NAME = "multidistral-book.pdf"

#: Exact strings of the upstream markup, and what replaces them.
BODY_FIXES = (
    ('<summary aria-label="Toggle hidden content">', "<summary>"),
    ('role="doc-biblioentry"', 'role="listitem"'),
)


def fix_body(body: str) -> str:
    for old, new in BODY_FIXES:
        body = body.replace(old, new)
    return body


def add_pdf_button(context: dict) -> None:
    """Put the whole-book PDF first in the theme's download menu (if the page has one)."""
    pathto = context.get("pathto")
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons" and pathto is not None:
            button["buttons"].insert(
                0,
                {
                    "type": "link",
                    "url": pathto(PDF_NAME, 1),
                    "text": "whole book (.pdf)",
                    "tooltip": "Download the whole book as one PDF",
                    "icon": "fas fa-book",
                    "label": "download-book-pdf-button",
                },
            )
            button["tooltip"] = "Download this page or the whole book"


#: The chapters' folder in the repository, and the reader copies' folder (in the repository and
#: in the built site).
CHAPTERS, READER = "notebooks", "reader"


def reader_copy(app, pagename: str) -> Path | None:
    """The reader copy of a chapter page, if the page is a chapter and the copy exists."""
    folder, _, name = pagename.partition("/")
    path = Path(app.srcdir) / READER / f"{name}.ipynb"
    return path if folder == CHAPTERS and path.exists() else None


def point_at_reader_copy(context: dict, pagename: str) -> None:
    """Launch buttons open the reader copy; the download menu's .ipynb is the reader copy."""
    name = pagename.partition("/")[2]
    source, target = f"/{CHAPTERS}/{name}.ipynb", f"/{READER}/{name}.ipynb"
    pathto = context.get("pathto")
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            url = button.get("url", "")
            if group.get("label") == "launch-buttons" and source in url:
                button["url"] = url.replace(source, target)
            elif button.get("text") == ".ipynb" and pathto is not None:
                button["url"] = pathto(f"{READER}/{name}.ipynb", 1)
                button["tooltip"] = "Download the chapter as a notebook, numbers written in"


def on_page_context(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = fix_body(context["body"])
    add_pdf_button(context)
    if reader_copy(app, pagename) is not None:
        point_at_reader_copy(context, pagename)


def copy_reader_copies(app, exception):
    """Put the reader copies into the built site, beside the chapters' own sources."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir) / READER
    out.mkdir(exist_ok=True)
    for path in sorted((Path(app.srcdir) / READER).glob("*.ipynb")):
        shutil.copyfile(path, out / path.name)


def setup(app):
    # After sphinx-book-theme has built its header buttons (it uses priority 501).
    app.connect("html-page-context", on_page_context, priority=900)
    app.connect("build-finished", copy_reader_copies)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
