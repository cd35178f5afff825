"""Reader copies (``python -m mdlib reader-notebooks``): each chapter as a student opens it.

Specification: in a reader copy no MyST role is left raw (the numbers the book glues are written
in, formatted as the book formats them; chapter links, citations and exercise references become
Markdown), bookkeeping cells are folded but kept, outputs are cleared, every other cell is the
chapter's; the copies committed in ``reader/`` are what the command writes today; the student
notebooks carry no raw role either; bad folders are refused before anything is written.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mdlib import reader
from mdlib.reader import ReaderError, reader_notebook, reader_notebooks, reader_notebooks_in_memory
from mdlib.student import student_notebooks

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "notebooks"
COMMITTED = ROOT / reader.READER_FOLDER
RAW_ROLE = re.compile(r"\{(glue|doc|cite|ref|numref|eq)(:\w+)?\}`")


def glue_output(name, text):
    return new_output(
        "display_data",
        data={"application/papermill.record/text/plain": text},
        metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
    )


def chapter(prose="Five maps and a gap of {glue:text}`gap:.1f`, {glue:text}`n_tasks` tasks."):
    bookkeeping = new_code_cell(
        '# Record the numbers\nglue("gap", 12.25)\nglue("n_tasks", 5)',
        metadata={"tags": ["remove-cell"]},
        outputs=[glue_output("gap", "12.25"), glue_output("n_tasks", "5")],
        execution_count=3,
    )
    visible = new_code_cell("print(1)", outputs=[new_output("stream", name="stdout", text="1\n")], execution_count=2)
    return new_notebook(cells=[new_markdown_cell("# A chapter"), visible, bookkeeping, new_markdown_cell(prose)])


def markdown(notebook):
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"]


def test_glued_numbers_are_written_in_as_the_book_formats_them():
    copy = reader_notebook(chapter(), "ch.ipynb")
    assert markdown(copy)[-1] == "Five maps and a gap of 12.2, 5 tasks."  # myst-nb: format(12.25, ".1f")


def test_a_role_quoting_a_name_no_cell_glues_is_an_error_naming_the_notebook_and_the_name():
    with pytest.raises(ReaderError, match=r"ch\.ipynb, cell 3: .*'missing'"):
        reader_notebook(chapter("A {glue:text}`missing:.2f` number."), "ch.ipynb")


def test_links_citations_and_exercise_references_become_markdown():
    prose = (
        "See the {doc}`V1 chapter <04_multidistral_v1>`, {doc}`02_distral` and the {doc}`rules <../book/rules>`, "
        "after {cite}`teh2017distral,watkins1992q`; try {ref}`ex-one`.\n\n"
        "```{exercise} Count the maps\n:label: ex-one\n\nHow many?\n```"
    )
    copy = reader_notebook(chapter(prose), "ch.ipynb", titles={"02_distral": "Distral"})
    text = markdown(copy)[-1]
    assert "[V1 chapter](04_multidistral_v1.ipynb)" in text and "[Distral](02_distral.ipynb)" in text
    assert "[rules](../book/rules.md)" in text
    assert "(Teh et al., 2017; Watkins and Dayan, 1992)" in text and "*Count the maps*" in text
    assert not RAW_ROLE.search(text)


def test_an_unknown_citation_is_an_error():
    with pytest.raises(ReaderError, match="nobody2099"):
        reader_notebook(chapter("As {cite}`nobody2099` says."), "ch.ipynb")


def test_bookkeeping_is_folded_not_removed_and_outputs_are_cleared():
    source = chapter()
    copy = reader_notebook(source, "ch.ipynb")
    code = [c for c in copy["cells"] if c["cell_type"] == "code"]
    assert len(code) == 2 and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    visible, folded = code
    assert "".join(visible["source"]) == "print(1)" and "jupyter" not in visible["metadata"]
    assert folded["metadata"]["jupyter"]["source_hidden"] is True and folded["metadata"]["cellView"] == "form"
    assert (
        "".join(folded["source"])
        == '# @title Record the numbers\n# Record the numbers\nglue("gap", 12.25)\nglue("n_tasks", 5)'
    )
    assert source["cells"][2]["outputs"], "the chapter itself is not changed"
    assert reader.READER_NOTE in markdown(copy)[1], "the note follows the title"


@pytest.fixture(scope="module")
def copies():
    return reader_notebooks_in_memory(CHAPTERS)


def test_every_chapter_has_a_committed_reader_copy_that_is_up_to_date(copies):
    assert sorted(copies) == sorted(p.name for p in CHAPTERS.glob("0*.ipynb"))
    stale = [name for name, text in copies.items() if (COMMITTED / name).read_text(encoding="utf-8") != text]
    assert not stale, f"reader copies out of date: {stale}; run python -m mdlib reader-notebooks reader"
    assert sorted(p.name for p in COMMITTED.glob("*.ipynb")) == sorted(copies), "a reader copy without a chapter"


def test_no_reader_copy_shows_a_raw_role_and_every_chapter_number_is_in_it(copies):
    for name, text in copies.items():
        notebook = json.loads(text)
        for cell in markdown(notebook):
            assert not RAW_ROLE.search(cell), f"{name}: {RAW_ROLE.search(cell)[0]} left raw"
        chapter_code = [c for c in json.loads((CHAPTERS / name).read_text())["cells"] if c["cell_type"] == "code"]
        copy_code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        assert len(copy_code) == len(chapter_code), f"{name}: a code cell went missing"
        for ours, theirs in zip(copy_code, chapter_code):  # the same code, folded cells titled
            assert reader.unfold("".join(ours["source"])) == "".join(theirs["source"])


def test_student_notebooks_show_no_raw_role(tmp_path):
    student_notebooks(tmp_path, CHAPTERS)
    for path in sorted(tmp_path.glob("*.ipynb")):
        for cell in markdown(json.loads(path.read_text())):
            assert not RAW_ROLE.search(cell), f"{path.name}: {RAW_ROLE.search(cell)[0]} left raw"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mdlib", "reader-notebooks", *args], capture_output=True, text=True)


def test_cli_writes_every_copy(tmp_path):
    result = run_cli(str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in CHAPTERS.glob("0*.ipynb"))


def test_cli_refuses_a_file_and_the_chapters_folder_before_writing(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("x")
    result = run_cli(str(target))
    assert result.returncode == 2 and "exists and is not a folder" in result.stderr
    before = {p: p.stat().st_mtime_ns for p in CHAPTERS.glob("0*.ipynb")}
    with pytest.raises(Exception, match="chapters' own folder"):
        reader_notebooks(CHAPTERS, CHAPTERS)
    assert before == {p: p.stat().st_mtime_ns for p in CHAPTERS.glob("0*.ipynb")}
