"""Reader notebooks: each chapter as a student opens it in JupyterLab or Colab.

The book's chapters quote their numbers through myst-nb ``{glue:text}`` roles, which only the book
build renders: in JupyterLab, in Colab and in a downloaded ``.ipynb`` a reader would see
"{glue:text}`n_tasks`" instead of 5. ``python -m mdlib reader-notebooks DIR`` therefore writes a
*reader copy* of every chapter ``notebooks/0*.ipynb``:

* every glue role in the prose is replaced by the text the book shows, formatted as myst-nb
  formats it (``{glue:text}`gap:.1f``` becomes ``12.2``), taken from the chapter's committed
  outputs; the other inline roles become what they stand for: ``{doc}`` a Markdown link to the
  chapter (or page), ``{cite}`` the authors and year from ``book/references.bib``, ``{ref}`` the
  exercise's title;
* the bookkeeping cells (tagged ``remove-cell``: the Colab install cell, and the cells that only
  record numbers for the prose and assert what the prose concludes) stay, since later cells may use
  their variables, but are folded: collapsed in JupyterLab (``jupyter.source_hidden``) and shown as a
  titled form in Colab (``cellView: form`` with a ``# @title`` line);
* outputs and execution counts are cleared: a reader runs the chapter, and the run reproduces what
  the book shows (the test suite checks that on two kinds of machine);
* a short note after the title says what the copy is.

The committed copies live in ``reader/``; the book's launch buttons (Binder, Colab) and its
download menu open them (``book/_ext/mdlib_site.py``), and ``tests/test_reader.py`` fails when one
is out of date. The student notebooks (:mod:`mdlib.student`) get the same numbers written in.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from .files import OutputError, StagedFolder, check_output_folder

#: The chapters: every notebook of the source folder whose name starts with a digit 0.
CHAPTER_PATTERN = "0*.ipynb"
#: Where the committed reader copies live, relative to the repository root.
READER_FOLDER = "reader"
#: The note a reader copy carries after its title.
READER_NOTE = (
    "```{note}\n"
    "**Reader copy.** The numbers in the text are written in from the book's own run (made with\n"
    "`python -m mdlib reader-notebooks`); running the chapter reproduces them. Folded cells are\n"
    "bookkeeping: they record those numbers for the book and check the claims the text makes.\n"
    "```"
)
#: The Colab form title of a folded bookkeeping cell that does not start with a comment of its own.
BOOKKEEPING_TITLE = "Bookkeeping: the numbers the text quotes, and checks of its claims"
#: How a Colab form title starts.
FORM_TITLE = "# @title "

#: myst-nb's inline glue roles: ``{glue}`key``` and ``{glue:text}`key:format```.
GLUE_ROLE = re.compile(r"\{glue(?::(?P<kind>\w+))?\}`(?P<content>[^`]+)`")
#: The other inline roles the chapters use.
DOC_ROLE = re.compile(r"\{doc\}`(?:(?P<label>[^`<]+?)\s*<(?P<target>[^`>]+)>|(?P<bare>[^`<]+))`")
CITE_ROLE = re.compile(r"\{cite(?::\w+)?\}`(?P<keys>[^`]+)`")
REF_ROLE = re.compile(r"\{ref\}`(?P<label>[^`]+)`")
_EXERCISE = re.compile(r"^`{3,}\{exercise\}\s*(?P<title>.*)\n:label:\s*(?P<label>\S+)", re.MULTILINE)
_TITLE = re.compile(r"^#\s+(?P<title>.+)$", re.MULTILINE)
_RECORD_PREFIX = "application/papermill.record/"


class ReaderError(ValueError):
    """A chapter whose reader copy cannot be made; the message names the notebook and the role."""


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _lines(text: str) -> list[str]:
    parts = text.split("\n")
    return [line + "\n" for line in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def glued_values(notebook: dict) -> dict[str, str]:
    """The ``text/plain`` of every value the executed ``notebook`` glued, by name (the last
    record wins, as in the book)."""
    values = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if output.get("output_type") == "display_data" and record:
                text = output.get("data", {}).get(_RECORD_PREFIX + "text/plain")
                if text is not None:
                    values[record["name"]] = "".join(text) if isinstance(text, list) else text
    return values


def role_text(kind: str | None, content: str, values: dict[str, str], where: str) -> str:
    """What the book renders for one glue role, from the glued ``values``."""
    from myst_nb.core.variables import format_plain_text  # the book's own formatting

    key, fmt = content, ""
    if kind == "text" and ":" in content:
        key, fmt = content.rsplit(":", 1)
    if key not in values:
        raise ReaderError(f"{where}: the text quotes {key!r}, which no cell glues (execute the chapter)")
    if kind not in (None, "text"):
        raise ReaderError(f"{where}: the role {{glue:{kind}}} is not supported in reader copies")
    try:
        return format_plain_text(values[key], fmt)
    except (TypeError, ValueError) as error:
        raise ReaderError(f"{where}: cannot format {key!r} with {fmt!r} ({error})") from None


def _bibliography() -> dict[str, str]:
    """'Authors (year)' of every entry of the book's bibliography, by key."""
    from pybtex.database import parse_file  # sphinxcontrib-bibtex's own parser

    path = Path(__file__).resolve().parent.parent / "book" / "references.bib"
    if not path.exists():
        return {}
    cited = {}
    for key, entry in parse_file(str(path)).entries.items():
        names = [" ".join(person.last_names) for person in entry.persons.get("author", [])]
        authors = names[0] if len(names) == 1 else " and ".join(names) if len(names) == 2 else f"{names[0]} et al."
        cited[key] = f"{authors}, {entry.fields.get('year', 'n.d.')}"
    return cited


def _doc_link(match: re.Match, titles: dict[str, str]) -> str:
    target = (match["target"] or match["bare"]).strip()
    label = match["label"] or titles.get(target, target)
    suffix = ".md" if target.startswith("../book/") else ".ipynb"
    return f"[{label.strip()}]({target}{suffix})"


def _citation(match: re.Match, bibliography: dict[str, str], where: str) -> str:
    keys = [key.strip() for key in match["keys"].split(",")]
    missing = [key for key in keys if key not in bibliography]
    if missing:
        raise ReaderError(f"{where}: cites {', '.join(missing)}, not in book/references.bib")
    return "(" + "; ".join(bibliography[key] for key in keys) + ")"


def substitute_roles(notebook: dict, values: dict[str, str], name: str = "notebook", titles=None) -> dict:
    """A copy of ``notebook`` whose markdown cells carry the glued text instead of glue roles, and
    links, citations and exercise titles instead of ``{doc}``, ``{cite}`` and ``{ref}`` roles
    (``titles``: the chapters' titles by file stem, for a ``{doc}`` without a label)."""
    result = copy.deepcopy(notebook)
    markdown = [cell for cell in result.get("cells", []) if cell.get("cell_type") == "markdown"]
    exercises = {m["label"]: m["title"].strip() for cell in markdown for m in _EXERCISE.finditer(_source(cell))}
    bibliography = _bibliography() if any(CITE_ROLE.search(_source(c)) for c in markdown) else {}
    for index, cell in enumerate(result.get("cells", [])):
        if cell.get("cell_type") != "markdown":
            continue
        where = f"{name}, cell {index}"
        text = GLUE_ROLE.sub(lambda m: role_text(m["kind"], m["content"], values, where), _source(cell))
        text = DOC_ROLE.sub(lambda m: _doc_link(m, titles or {}), text)
        text = CITE_ROLE.sub(lambda m: _citation(m, bibliography, where), text)
        text = REF_ROLE.sub(lambda m: f"*{exercises.get(m['label'], m['label'])}*", text)
        cell["source"] = _lines(text)
    return result


def chapter_title(notebook: dict) -> str | None:
    """The text of the chapter's ``#`` heading."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            found = _TITLE.search(_source(cell))
            if found:
                return found["title"].strip()
    return None


def _fold(cell: dict) -> None:
    """Fold a bookkeeping cell for JupyterLab and Colab: a Colab form title (the cell's first
    comment, if it starts with one) goes on a line of its own above the unchanged code."""
    source = _source(cell)
    first = source.partition("\n")[0].strip()
    title = first.lstrip("#").strip() if first.startswith("#") else BOOKKEEPING_TITLE
    cell["source"] = _lines(f"{FORM_TITLE}{title}\n{source}")
    metadata = cell.setdefault("metadata", {})
    metadata.setdefault("jupyter", {})["source_hidden"] = True
    metadata["cellView"] = "form"


def unfold(source: str) -> str:
    """The code of a cell as the chapter has it (a folded cell without its form title)."""
    return source.partition("\n")[2] if source.startswith(FORM_TITLE) else source


def fold_bookkeeping(notebook: dict) -> dict:
    """``notebook`` (changed in place and returned) with its outputs cleared and its bookkeeping
    cells (tagged ``remove-cell``) folded."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"], cell["execution_count"] = [], None
        if "remove-cell" in cell.get("metadata", {}).get("tags", []):
            _fold(cell)
    notebook.get("metadata", {}).pop("widgets", None)  # widget state belongs to the outputs
    return notebook


def reader_notebook(notebook: dict, name: str = "notebook", titles=None) -> dict:
    """The reader copy of one executed chapter (see the module docstring); ``titles``: the
    chapters' titles by file stem."""
    reader = fold_bookkeeping(substitute_roles(notebook, glued_values(notebook), name, titles))
    cells = reader.get("cells", [])
    title = next((i for i, c in enumerate(cells) if c.get("cell_type") == "markdown"), None)
    if title is None:
        raise ReaderError(f"{name}: no markdown cell (the chapter's title) to put the note after")
    cells.insert(title + 1, {"cell_type": "markdown", "metadata": {}, "source": _lines(READER_NOTE)})
    return reader


def notebook_text(notebook: dict) -> str:
    """A notebook as the repository writes it (the chapters' own layout)."""
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def default_notebooks() -> Path:
    """The chapters of the repository mdlib is installed from (an editable install)."""
    return Path(__file__).resolve().parent.parent / "notebooks"


def reader_notebooks_in_memory(notebooks=None) -> dict[str, str]:
    """Every chapter's reader copy as text, by file name; nothing is written."""
    folder = Path(notebooks) if notebooks is not None else default_notebooks()
    chapters = sorted(folder.glob(CHAPTER_PATTERN))
    if not chapters:
        raise ReaderError(f"{folder}: no chapters ({CHAPTER_PATTERN}) to copy")
    loaded = read_chapters(chapters)
    titles = chapter_titles(loaded)
    return {path.name: notebook_text(reader_notebook(chapter, path.name, titles)) for path, chapter in loaded.items()}


def read_chapters(paths) -> dict[Path, dict]:
    """Every chapter of ``paths`` as a notebook dict, by path; one that cannot be read is a
    :class:`ReaderError` naming it, before anything is written."""
    loaded = {}
    for path in paths:
        try:
            loaded[path] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise ReaderError(f"{path}: cannot be read as a notebook ({error})") from None
    return loaded


def chapter_titles(chapters: dict[Path, dict]) -> dict[str, str]:
    """The chapters' titles by file stem (the stem where a chapter has no ``#`` heading)."""
    return {path.stem: chapter_title(chapter) or path.stem for path, chapter in chapters.items()}


def reader_notebooks(out, notebooks=None) -> list[str]:
    """Write every chapter's reader copy into the folder ``out`` (all of them or none); return
    the file names written."""
    out = check_output_folder(out)
    source = Path(notebooks) if notebooks is not None else default_notebooks()
    if out.exists() and source.exists() and out.resolve() == source.resolve():
        raise OutputError(f"output folder {out}: is the chapters' own folder; the copies would replace the chapters")
    copies = reader_notebooks_in_memory(source)
    with StagedFolder(out, "output folder") as staging:
        for file_name, text in copies.items():
            (staging / file_name).write_text(text, encoding="utf-8")
    return list(copies)
