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
"""

from __future__ import annotations

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
            button["buttons"].insert(0, {
                "type": "link",
                "url": pathto(PDF_NAME, 1),
                "text": "whole book (.pdf)",
                "tooltip": "Download the whole book as one PDF",
                "icon": "fas fa-book",
                "label": "download-book-pdf-button",
            })
            button["tooltip"] = "Download this page or the whole book"


def on_page_context(app, pagename, templatename, context, doctree):
    if "body" in context:
        context["body"] = fix_body(context["body"])
    add_pdf_button(context)


def setup(app):
    # After sphinx-book-theme has built its header buttons (it uses priority 501).
    app.connect("html-page-context", on_page_context, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
