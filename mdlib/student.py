"""Student notebooks: a copy of every chapter with its solutions taken out, ready to hand out.

``python -m mdlib student-notebooks DIR`` reads every chapter ``notebooks/0*.ipynb`` and writes
into ``DIR`` a notebook of the same name without anything that gives a solution away:

* in markdown cells, every sphinx-exercise ``{solution}`` block (fenced with three or more
  backticks or colons, prose and code inside it) and every gated solution, from
  ``{solution-start}`` to ``{solution-end}``, with all the cells in between;
* code cells tagged ``solution`` (reference solution code) and ``solution-glue`` (cells that only
  compute or glue numbers for solution prose);
* untagged glue cells found to serve solutions only: a ``remove-cell`` code cell whose every glued
  name is quoted inside solutions and nowhere else, and none of whose variables a later cell reads;
* every output and execution count, and the cells' execution timestamps.

As in the reader copies (:mod:`mdlib.reader`), every glue role of the prose that stays is replaced
by the number the book shows, and the bookkeeping cells (``remove-cell``) are folded.

Everything else stays: the prose, the exercises, the stubs a reader fills in (code cells that
raise ``NotImplementedError``, with the check under them) and the Colab install cell. A short
note after the title says it is the student version. CONTRIBUTING.md ("Chapters") states the tags.

The chapters are read and transformed in memory first, so a malformed notebook (an unclosed
solution, a ``{solution-start}`` without its end) stops the command with one error naming the
notebook and cell before anything is written; the output folder is checked first of all, and the
notebooks are written together or not at all (:class:`mdlib.files.StagedFolder`).
"""

from __future__ import annotations

import ast
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .files import OutputError, StagedFolder, check_output_folder
from .reader import (
    CHAPTER_PATTERN,
    ReaderError,
    chapter_titles,
    default_notebooks,
    fold_bookkeeping,
    glued_values,
    read_chapters,
    substitute_roles,
)

#: The tags of code cells that hold solutions: reference code, and glue for solution prose only.
SOLUTION_TAGS = ("solution", "solution-glue")
#: The note a student notebook carries after its title.
STUDENT_NOTE = (
    "```{note}\n"
    "**Student version.** The solutions of this chapter's exercises have been taken out (made with\n"
    "`python -m mdlib student-notebooks`). Where a code cell raises `NotImplementedError`, write the\n"
    'function, then run the check under it: it says "not implemented yet", shows the first case your\n'
    "function gets wrong with a hint, or passes in one line.\n"
    "```"
)

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[\w:-]+)\}")
_GLUE_CALL = re.compile(r"""\bglue\(\s*(?P<f>f?)(?P<q>["'])(?P<name>.+?)(?P=q)""")
_GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`(?P<name>[^`:]+)(?::[^`]*)?`")
_GLUE_DIRECTIVE = re.compile(r"^\s*(`{3,}|:{3,})\{glue(?::\w+)?\}\s+(?P<name>\S+)", re.MULTILINE)


class NotebookError(ValueError):
    """A chapter that cannot be turned into a student notebook; the message names it and the cell."""


@dataclass
class Removed:
    """What was taken out of one notebook."""

    solution_blocks: int = 0
    solution_cells: int = 0
    glue_cells: int = 0
    solution_text: list[str] = field(default_factory=list)

    def __iadd__(self, other: Removed) -> Removed:
        self.solution_blocks += other.solution_blocks
        self.solution_cells += other.solution_cells
        self.glue_cells += other.glue_cells
        self.solution_text += other.solution_text
        return self


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _closes(line: str, fence: str) -> bool:
    """True when ``line`` closes a block opened with ``fence`` (same character, at least as long,
    nothing after it): the CommonMark rule MyST follows."""
    match = _FENCE.match(line)
    return bool(
        match and match["fence"][0] == fence[0] and len(match["fence"]) >= len(fence) and not match["info"].strip()
    )


def _split_markdown(text: str, where: str, open_gate: bool) -> tuple[list[tuple[str, bool]], bool, int]:
    """Cut a markdown cell into runs of lines, each marked as solution or not.

    ``open_gate`` says whether a gated solution (``{solution-start}``) is open when the cell
    begins; returns the runs, whether one is open when it ends, and the number of solution blocks
    that started in the cell. Literal code fences (```python, ```bash) are skipped whole; the
    content of other directives is searched too, so a solution nested in an admonition is found.
    """
    lines = text.split("\n")
    runs: list[tuple[str, bool]] = []
    stack: list[tuple[str, str]] = []  # open fences: (fence, kind), kind one of literal, directive,
    # solution (a {solution} block), gate (the {solution-start} directive) and gate-end
    started = 0
    gate = open_gate
    for line in lines:
        inside_solution = gate or any(kind in ("solution", "gate") for _, kind in stack)
        match = _FENCE.match(line)
        if stack and _closes(line, stack[-1][0]):
            _, kind = stack.pop()
            runs.append((line, inside_solution))
            if kind == "gate-end":
                gate = False
            continue
        if stack and stack[-1][1] == "literal":
            runs.append((line, inside_solution))
            continue
        if match:
            directive = _DIRECTIVE.match(match["info"].strip())
            name = directive["name"] if directive else None
            if name == "solution":
                stack.append((match["fence"], "solution"))
                started += not inside_solution
                runs.append((line, True))
            elif name == "solution-start":
                if gate:
                    raise NotebookError(f"{where}: a {{solution-start}} inside another gated solution")
                gate = True
                started += 1
                stack.append((match["fence"], "gate"))
                runs.append((line, True))
            elif name == "solution-end":
                if not gate:
                    raise NotebookError(f"{where}: {{solution-end}} without a {{solution-start}} before it")
                stack.append((match["fence"], "gate-end"))
                runs.append((line, True))
            elif name is not None:
                stack.append((match["fence"], "directive"))
                runs.append((line, inside_solution))
            else:  # a literal block (```python, or no info string): its content is not markdown
                stack.append((match["fence"], "literal"))
                runs.append((line, inside_solution))
            continue
        runs.append((line, inside_solution))
    for fence, kind in stack:
        if kind in ("solution", "gate", "gate-end"):
            what = {
                "solution": "a {solution} block",
                "gate": "the {solution-start} directive",
                "gate-end": "the {solution-end} directive",
            }[kind]
            raise NotebookError(f"{where}: {what} opened with {fence} is never closed")
    return runs, gate, started


def _assigned_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(re.findall(r"\b\w+\b", code))  # unparseable (a magic): assume it sets every word
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _read_names(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(re.findall(r"\b\w+\b", code))  # unparseable (a magic): assume it reads every word
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _glued(code: str) -> list[re.Pattern]:
    """The names a code cell glues, as patterns (an f-string name matches whatever fills it)."""
    patterns = []
    for match in _GLUE_CALL.finditer(code):
        name = match["name"]
        if match["f"]:
            parts = re.split(r"\{[^}]*\}", name)
            patterns.append(re.compile("^" + ".+?".join(re.escape(p) for p in parts) + "$"))
        else:
            patterns.append(re.compile("^" + re.escape(name) + "$"))
    return patterns


def _quoted(text: str) -> set[str]:
    """The glued names a piece of markdown quotes."""
    return {m["name"] for m in _GLUE_ROLE.finditer(text)} | {m["name"] for m in _GLUE_DIRECTIVE.finditer(text)}


def strip_solutions(notebook: dict, name: str = "notebook") -> tuple[dict, Removed]:
    """The student version of one chapter (a notebook as parsed JSON), and what was removed.

    Raises :class:`NotebookError` for a malformed solution; ``notebook`` itself is not changed.
    """
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(f"{name}: not a notebook (no list of cells)")
    removed = Removed()
    gate = False
    kept: list[tuple[int, dict]] = []
    inside_text, outside_text = [], []
    for index, cell in enumerate(cells):
        where = f"{name}, cell {index + 1}"
        kind, source = cell.get("cell_type"), _source(cell)
        if kind == "markdown":
            runs, gate_after, started = _split_markdown(source, where, gate)
            removed.solution_blocks += started
            solution = "\n".join(line for line, secret in runs if secret)
            rest = "\n".join(line for line, secret in runs if not secret)
            if solution.strip():
                removed.solution_text.append(solution)
                inside_text.append(solution)
            outside_text.append(rest)
            gate = gate_after
            rest = re.sub(r"\n{3,}", "\n\n", rest).strip("\n")
            if rest.strip():
                new = copy.deepcopy(cell)
                new["source"] = rest
                kept.append((index, new))
            continue
        if gate:  # a cell between {solution-start} and {solution-end}
            if kind == "code":
                removed.solution_cells += 1
            removed.solution_text.append(source)
            inside_text.append(source)
            continue
        if kind == "code" and any(tag in SOLUTION_TAGS for tag in _tags(cell)):
            if "solution" in _tags(cell):
                removed.solution_cells += 1
            else:
                removed.glue_cells += 1
            removed.solution_text.append(source)
            continue
        kept.append((index, copy.deepcopy(cell)))
    if gate:
        raise NotebookError(f"{name}: a {{solution-start}} is never closed by a {{solution-end}}")

    # Glue cells that serve solutions only: hidden (remove-cell), every glued name quoted inside
    # solutions and nowhere else, and nothing they define read by a later kept cell.
    quoted_inside, quoted_outside = _quoted("\n".join(inside_text)), _quoted("\n".join(outside_text))
    final: list[dict] = []
    for position, (index, cell) in enumerate(kept):
        source = _source(cell)
        if cell.get("cell_type") == "code" and "remove-cell" in _tags(cell) and "google.colab" not in source:
            patterns = _glued(source)
            serves = [any(p.match(n) for n in quoted_inside) for p in patterns]
            elsewhere = [any(p.match(n) for n in quoted_outside) for p in patterns]
            later = set().union(
                *(_read_names(_source(c)) for _, c in kept[position + 1 :] if c.get("cell_type") == "code")
            )
            if patterns and all(serves) and not any(elsewhere) and not (_assigned_names(source) & later):
                removed.glue_cells += 1
                removed.solution_text.append(source)
                continue
        final.append(cell)

    for cell in final:
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
    first_markdown = next((i for i, c in enumerate(final) if c.get("cell_type") == "markdown"), 0)
    note = {"cell_type": "markdown", "metadata": {"tags": ["student-note"]}, "source": STUDENT_NOTE}
    if any("id" in c for c in final):  # nbformat 4.5 and later: every cell has an id
        note["id"] = "student-note"
    final.insert(first_markdown + 1, note)
    student = {key: copy.deepcopy(value) for key, value in notebook.items() if key != "cells"}
    student["cells"] = final
    return student, removed


def _chapters(notebooks: Path) -> list[Path]:
    if not notebooks.is_dir():
        raise OutputError(f"chapters folder {notebooks}: not a folder (give the book's notebooks/ with --notebooks)")
    found = sorted(notebooks.glob(CHAPTER_PATTERN))
    if not found:
        raise OutputError(f"chapters folder {notebooks}: no chapter notebooks ({CHAPTER_PATTERN}) in it")
    return found


def check_student_folders(out, notebooks=None) -> tuple[Path, Path, list[Path]]:
    """Check, before any work, that ``out`` can be written, that ``notebooks`` (default: the
    book's) holds chapters, and that the two are not the same folder; return both and the
    chapters. Raises :class:`mdlib.files.OutputError` naming the folder and what is wrong."""
    out = check_output_folder(out, "output folder")
    notebooks = Path(notebooks) if notebooks is not None else default_notebooks()
    chapters = _chapters(notebooks)
    if out.exists() and out.resolve() == notebooks.resolve():
        raise OutputError(
            f"output folder {out}: is the chapters' own folder; the student notebooks would replace the chapters"
        )
    return out, notebooks, chapters


def student_notebooks(out, notebooks=None) -> dict[str, Removed]:
    """Write the student version of every chapter of ``notebooks`` (default: the book's
    ``notebooks/``) into the folder ``out``; return what was removed, by file name.

    ``out`` is checked before anything is read and must not be the chapters' own folder; files of
    the same names in ``out`` are replaced. Raises :class:`mdlib.files.OutputError` for a bad
    folder and :class:`NotebookError` for a malformed chapter, in both cases before writing.
    """
    out, notebooks, chapters = check_student_folders(out, notebooks)
    students, removed = {}, {}
    try:
        loaded = read_chapters(chapters)
    except ReaderError as error:
        raise NotebookError(str(error)) from None
    titles = chapter_titles(loaded)
    for path, notebook in loaded.items():
        stripped, removed[path.name] = strip_solutions(notebook, path.name)
        try:  # the numbers the text quotes written in, bookkeeping folded, as in the reader copies
            values = glued_values(notebook)
            students[path.name] = fold_bookkeeping(substitute_roles(stripped, values, path.name, titles))
        except ReaderError as error:
            raise NotebookError(str(error)) from None
    with StagedFolder(out, "output folder") as staging:
        for file_name, notebook in students.items():
            text = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
            (staging / file_name).write_text(text, encoding="utf-8")
    return removed
