"""``python -m mdlib student-notebooks DIR``: every chapter without its solutions, ready to hand out.

The convention (CONTRIBUTING.md, "Chapters") is tested on a small synthetic chapter that uses every
form of solution, each carrying a secret marker that must not survive; then on the book's own
chapters, whose solutions are found here independently of mdlib.student and searched for line by
line. The synthetic student notebook is executed top to bottom; the book's are checked cell by
cell against their chapter, which strict nbval executes, and their stubs are run (see the
execution test; MDLIB_STUDENT_EXECUTE=1 executes them whole).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from mdlib import student
from mdlib.files import OutputError
from mdlib.reader import unfold
from mdlib.student import NotebookError, strip_solutions, student_notebooks

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "notebooks"

COLAB = (
    'import sys\n\nif "google.colab" in sys.modules:\n'
    '    print("installing mdlib")  # the chapters pip-install mdlib here\n'
)

STUB = '''from mdlib.exercises import check_soft_value


def soft_value(q, pi0, alpha, beta):
    """Eq. 3 along the last axis."""
    raise NotImplementedError("your code here")


check_soft_value(soft_value)'''

REFERENCE = """import numpy as np


def soft_value(q, pi0, alpha, beta):  # SECRET_CODE_GATED
    q, pi0 = np.asarray(q, float), np.asarray(pi0, float)
    with np.errstate(divide="ignore"):
        logits = (0.0 if alpha == 0 else alpha * np.log(pi0)) + beta * q
    top = logits.max(axis=-1, keepdims=True)
    return (top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))) / beta


assert check_soft_value(soft_value)"""


def tagged(cell, *tags):
    cell.metadata["tags"] = list(tags)
    return cell


def glued(name, text):
    """The output a glue call leaves in an executed chapter."""
    return nbformat.v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": text},
        metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}},
    )


def synthetic_chapter() -> nbformat.NotebookNode:
    """A chapter with every form of solution the convention knows; secrets are marked SECRET."""
    cells = [
        tagged(new_code_cell(COLAB), "remove-cell"),
        new_markdown_cell("# A synthetic chapter\n\nIts prose stays."),
        new_code_cell(
            "from mdlib.book import glue\n\nanswer, shown = 42, 7\nglue('shown', shown)",
            execution_count=3,
            outputs=[nbformat.v4.new_output("stream", text="old output\n"), glued("shown", "7")],
        ),
        tagged(new_code_cell("glue('only_in_solution', answer)  # SECRET_GLUE_AUTO"), "remove-cell"),
        tagged(new_code_cell("glue('quoted_outside', 1)", outputs=[glued("quoted_outside", "1")]), "remove-cell"),
        tagged(new_code_cell("needed_later = 5\nglue('solution_but_needed', needed_later)"), "remove-cell"),
        new_markdown_cell(
            "## Exercises\n\n"
            "```{exercise} A first exercise\n:label: ex-first\n\nThe statement stays: "
            "{glue:text}`shown` and {glue:text}`quoted_outside`.\n```\n\n"
            "````{solution} ex-first\n:class: dropdown\n\nSECRET-PROSE-BACKTICKS quotes "
            "{glue:text}`only_in_solution` and {glue:text}`solution_but_needed`.\n\n"
            "```python\nSECRET_CODE_IN_BLOCK = 1\n```\n````\n\n"
            "Text between two solutions stays.\n\n"
            ":::{solution} ex-first\nSECRET-PROSE-COLONS\n:::\n\n"
            "`````{admonition} An aside\n````{solution} ex-first\nSECRET-PROSE-NESTED\n````\n"
            "The aside's own text stays.\n`````\n\n"
            "````markdown\nA literal example of the syntax stays: ```{solution} label\n````"
        ),
        new_markdown_cell("```{exercise} Write the soft value\n:label: ex-soft\n\nWrite eq. 3.\n```"),
        new_code_cell(STUB),
        new_markdown_cell(
            "Text before the gated solution stays.\n\n"
            "````{solution-start} ex-soft\n:class: dropdown\n````\n\nSECRET-PROSE-GATE-OPEN"
        ),
        tagged(new_code_cell(REFERENCE), "solution"),
        new_markdown_cell("SECRET-PROSE-GATE-INSIDE"),
        new_code_cell("print('SECRET_CODE_GATED_UNTAGGED')"),
        new_markdown_cell("SECRET-PROSE-GATE-CLOSE\n\n```{solution-end}\n```\n\nText after the gate stays."),
        tagged(new_code_cell("print('SECRET_CODE_TAGGED')"), "solution"),
        tagged(new_code_cell("glue('tagged_glue', 3)  # SECRET_CODE_GLUE_TAG"), "solution-glue"),
        new_code_cell("print(needed_later + answer)"),
    ]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def as_text(notebook) -> str:
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in notebook["cells"])


def execute(path: Path, timeout: int = 1800) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in its own folder, as the book does (MDLIB_STATIC_BOOK=1);
    any error in a cell raises."""
    notebook = nbformat.read(path, as_version=4)
    before = os.environ.get("MDLIB_STATIC_BOOK")
    os.environ["MDLIB_STATIC_BOOK"] = "1"  # the kernel inherits it
    try:
        NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        if before is None:
            os.environ.pop("MDLIB_STATIC_BOOK")
        else:
            os.environ["MDLIB_STATIC_BOOK"] = before
    return notebook


def outputs(notebook) -> str:
    return "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


@pytest.fixture
def synthetic(tmp_path):
    source = tmp_path / "chapters"
    source.mkdir()
    nbformat.write(synthetic_chapter(), source / "01_synthetic.ipynb")
    return source


# The convention, on a synthetic chapter ----------------------------------------------------------


def test_no_solution_survives_in_any_form(synthetic, tmp_path):
    removed = student_notebooks(tmp_path / "students", synthetic)
    text = (tmp_path / "students" / "01_synthetic.ipynb").read_text()
    assert "SECRET" not in text
    what = removed["01_synthetic.ipynb"]
    assert (what.solution_blocks, what.solution_cells, what.glue_cells) == (4, 3, 2)


def test_everything_else_stays(synthetic, tmp_path):
    student_notebooks(tmp_path / "students", synthetic)
    notebook = nbformat.read(tmp_path / "students" / "01_synthetic.ipynb", as_version=4)
    nbformat.validate(notebook)
    text = as_text(notebook)
    for kept in (
        "Its prose stays.",
        "The statement stays",
        "Text between two solutions stays.",
        "The aside's own text stays.",
        "A literal example of the syntax stays: ```{solution} label",
        "Text before the gated solution stays.",
        "Text after the gate stays.",
        "Write eq. 3.",
        "glue('quoted_outside', 1)",
        "needed_later = 5",
        "print(needed_later + answer)",
        "Student version.",
    ):
        assert kept in text, kept
    assert "The statement stays: 7 and 1." in text, "the numbers the statement quotes are written in"
    assert "{glue" not in text
    colab = notebook.cells[0]
    assert "".join(colab.source).endswith(COLAB) and colab.metadata.tags == ["remove-cell"]
    assert colab.metadata.jupyter.source_hidden, "bookkeeping is folded, as in the reader copies"
    assert [c.source for c in notebook.cells if c.cell_type == "code"].count(STUB) == 1
    assert notebook.cells[2].metadata.tags == ["student-note"], "the note follows the title"


def test_outputs_and_execution_counts_are_cleared(synthetic, tmp_path):
    student_notebooks(tmp_path / "students", synthetic)
    notebook = nbformat.read(tmp_path / "students" / "01_synthetic.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_the_chapter_itself_is_left_alone(synthetic, tmp_path):
    before = (synthetic / "01_synthetic.ipynb").read_bytes()
    notebook = json.loads(before)
    strip_solutions(notebook, "01_synthetic.ipynb")
    assert json.dumps(notebook, indent=1) == json.dumps(json.loads(before), indent=1)
    student_notebooks(tmp_path / "students", synthetic)
    assert (synthetic / "01_synthetic.ipynb").read_bytes() == before


@pytest.mark.book
def test_the_chapter_runs_its_solution_and_the_student_version_its_stub(synthetic, tmp_path):
    """The full chapter passes its check; the student notebook runs top to bottom and its stub says
    "not implemented yet" instead of failing."""
    teacher = execute(synthetic / "01_synthetic.ipynb", timeout=600)
    assert "check_soft_value: all " in outputs(teacher)
    student_notebooks(tmp_path / "students", synthetic)
    pupil = execute(tmp_path / "students" / "01_synthetic.ipynb", timeout=600)
    shown = outputs(pupil)
    assert "check_soft_value: not implemented yet (soft_value raises NotImplementedError)" in shown
    assert "cases pass" not in shown


@pytest.mark.parametrize(
    "markdown, message",
    [
        ("````{solution} ex\nnever closed\n", "a {solution} block opened with ```` is never closed"),
        ("```{solution-end}\n```", "{solution-end} without a {solution-start}"),
        ("````{solution-start} ex\n````\ntext", "a {solution-start} is never closed by a {solution-end}"),
    ],
)
def test_a_malformed_solution_is_one_error_naming_the_notebook_and_cell(markdown, message):
    notebook = new_notebook(cells=[new_markdown_cell("# Title"), new_markdown_cell(markdown)])
    with pytest.raises(NotebookError) as error:
        strip_solutions(notebook, "03_broken.ipynb")
    assert message in str(error.value) and "03_broken.ipynb" in str(error.value)


def test_one_malformed_chapter_writes_nothing(synthetic, tmp_path):
    broken = new_notebook(cells=[new_markdown_cell("````{solution} ex\nSECRET never closed\n")])
    nbformat.write(broken, synthetic / "02_broken.ipynb")
    with pytest.raises(NotebookError, match="02_broken.ipynb, cell 1"):
        student_notebooks(tmp_path / "students", synthetic)
    assert not (tmp_path / "students").exists()


def test_a_failure_while_writing_leaves_the_folder_as_it_was(synthetic, tmp_path, monkeypatch):
    nbformat.write(synthetic_chapter(), synthetic / "02_second.ipynb")
    out = tmp_path / "students"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    calls = []

    def full_disk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return json.dumps(*args, **kwargs)

    monkeypatch.setattr(student.json, "dumps", full_disk)
    with pytest.raises(OutputError, match="the disk is full"):
        student_notebooks(out, synthetic)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


# Bad folders: one clear error before any work ----------------------------------------------------


def mdlib_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "mdlib", "student-notebooks", *args], capture_output=True, text=True, timeout=300
    )


def test_the_command_writes_every_chapter_and_says_what_it_removed(synthetic, tmp_path):
    done = mdlib_cli(str(tmp_path / "out" / "students"), "--notebooks", str(synthetic))
    assert done.returncode == 0, done.stderr
    assert "01_synthetic.ipynb: removed 4 solutions, 3 solution code cells and 2 glue cells" in done.stdout
    assert done.stdout.rstrip().endswith(f"wrote 1 student notebook to {tmp_path / 'out' / 'students'}/")
    assert [p.name for p in (tmp_path / "out" / "students").iterdir()] == ["01_synthetic.ipynb"]


@pytest.mark.parametrize("case", ["out is a file", "out is the chapters", "no chapters", "chapters missing"])
def test_a_bad_folder_is_one_usage_error_before_any_work(case, synthetic, tmp_path):
    out, source = tmp_path / "students", synthetic
    if case == "out is a file":
        out.write_text("not a folder")
        expected = f"output folder {out}: exists and is not a folder"
    elif case == "out is the chapters":
        out = synthetic
        expected = "is the chapters' own folder"
    elif case == "no chapters":
        source = tmp_path / "empty"
        source.mkdir()
        expected = f"chapters folder {source}: no chapter notebooks (0*.ipynb) in it"
    else:
        source = tmp_path / "nowhere"
        expected = f"chapters folder {source}: not a folder"
    before = sorted(p.name for p in synthetic.iterdir())
    done = mdlib_cli(str(out), "--notebooks", str(source))
    assert done.returncode == 2 and expected in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("python -m mdlib: error: ")
    assert sorted(p.name for p in synthetic.iterdir()) == before
    assert not list(tmp_path.glob(".mdlib-staging-*"))


# The book's own chapters -------------------------------------------------------------------------

SOLUTION_BLOCK = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|:{3,})\{solution\}.*?\n(?P<body>.*?)^[ \t]*(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL
)
GATED = re.compile(r"\{solution-start\}.*?\{solution-end\}", re.DOTALL)


def chapter_secrets(notebook) -> tuple[list[str], str]:
    """Found here without mdlib.student: the lines of every solution (code cells tagged solution or
    solution-glue, gated ranges, {solution} blocks in markdown) that occur nowhere else in the
    chapter, and the chapter's text outside its solutions."""
    secret = []
    sources = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and {"solution", "solution-glue"} & set(cell.metadata.get("tags", [])):
            secret.append(cell.source)
        else:
            sources.append(cell.source)
    text = "\n\n".join(sources)
    secret += GATED.findall(text)
    text = GATED.sub("", text)
    secret += [match["body"] for match in SOLUTION_BLOCK.finditer(text)]
    public = SOLUTION_BLOCK.sub("", text)
    lines = {line.strip() for block in secret for line in block.splitlines()}
    return sorted(line for line in lines if len(line) >= 12 and line not in public), public


@pytest.fixture(scope="module")
def book_students(tmp_path_factory):
    out = tmp_path_factory.mktemp("students")
    removed = student_notebooks(out, CHAPTERS)
    return out, removed


def chapters():
    return sorted(p.name for p in CHAPTERS.glob("0*.ipynb"))


def test_every_chapter_is_written(book_students):
    out, removed = book_students
    assert sorted(p.name for p in out.glob("*.ipynb")) == chapters() == sorted(removed)


@pytest.mark.parametrize("name", chapters())
def test_no_solution_of_the_book_survives(name, book_students):
    out, removed = book_students
    original = nbformat.read(CHAPTERS / name, as_version=4)
    secrets, _ = chapter_secrets(original)
    text = as_text(nbformat.read(out / name, as_version=4))
    assert original and removed[name].solution_blocks >= 1, "every chapter has exercises with solutions"
    leaked = [line for line in secrets if line in text]
    assert not leaked, f"{name}: solution lines left in the student notebook: {leaked[:3]}"


@pytest.mark.parametrize("name", chapters())
def test_exercises_stubs_and_the_colab_cell_stay(name, book_students):
    out, _ = book_students
    original = nbformat.read(CHAPTERS / name, as_version=4)
    pupil = nbformat.read(out / name, as_version=4)
    nbformat.validate(pupil)
    exercise = re.compile(r"\{exercise(-start)?\}")
    assert len(exercise.findall(as_text(pupil))) == len(exercise.findall(as_text(original)))
    assert unfold(pupil.cells[0].source) == original.cells[0].source and "google.colab" in pupil.cells[0].source
    assert "remove-cell" in pupil.cells[0].metadata.tags
    code = [c.source for c in original.cells if c.cell_type == "code"]
    kept = iter(code)
    assert all(
        any(source == other for other in kept)
        for source in (unfold(c.source) for c in pupil.cells if c.cell_type == "code")
    ), "code cells are kept unchanged, in order"
    assert all(not c.outputs and c.execution_count is None for c in pupil.cells if c.cell_type == "code")
    stubs = [
        c.source
        for c in original.cells
        if c.cell_type == "code"
        and "NotImplementedError" in c.source
        and not {"solution", "solution-glue"} & set(c.metadata.get("tags", []))
    ]
    assert all(stub in [unfold(c.source) for c in pupil.cells] for stub in stubs)


def parse_cell(source: str) -> ast.Module:
    """A code cell as Python, without its IPython magics and shell lines."""
    return ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))


def bound_and_read(source: str) -> tuple[set[str], set[str]]:
    """The names a code cell binds (assignments, definitions, imports, loop and with targets) and
    the names it reads; IPython magics and shell lines are left out."""
    bound, read = set(), set()
    for node in ast.walk(parse_cell(source)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return bound, read


def stub_names(cell) -> set[str]:
    """The functions a stub cell defines for the student to write."""
    return {
        node.name
        for node in ast.walk(parse_cell(cell.source))
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n) for n in ast.walk(node))
    }


@pytest.mark.book
@pytest.mark.parametrize("name", chapters())
def test_the_student_notebook_runs_top_to_bottom(name, book_students):
    """A student notebook runs top to bottom: its code cells are the chapter's, in order, less the
    solutions (test above), and strict nbval executes the chapter's; so it can only fail where a
    kept cell reads a name that only a removed cell defines, or calls a stub, which now meets no
    solution after it. Both are ruled out here cell by cell, and every stub is executed and must
    say "not implemented yet" instead of failing. With MDLIB_STUDENT_EXECUTE=1 every student
    notebook is also executed whole (it costs what the chapter costs, minutes each)."""
    out, _ = book_students
    original = nbformat.read(CHAPTERS / name, as_version=4)
    pupil = nbformat.read(out / name, as_version=4)
    kept_sources = [unfold(c.source) for c in pupil.cells if c.cell_type == "code"]
    next_kept, bound_kept = 0, set()
    only_removed, stubs, defined = set(), [], set()
    for cell in (c for c in original.cells if c.cell_type == "code"):
        bound, read = bound_and_read(cell.source)
        if next_kept < len(kept_sources) and cell.source == kept_sources[next_kept]:  # kept, in order
            next_kept += 1
            bound_kept |= bound
            missing = (read - bound) & only_removed
            assert not missing, f"{name}: a kept cell reads {sorted(missing)}, defined only in removed cells"
            called = (read & defined) - bound
            assert not called, f"{name}: a kept cell uses the stub {sorted(called)}, never solved here"
            only_removed -= bound
            if stub_names(cell):
                stubs.append(cell.source)
                defined |= stub_names(cell)
            else:
                defined -= bound
        else:
            only_removed |= bound - bound_kept
    assert next_kept == len(kept_sources), f"{name}: the student notebook's code cells are not the chapter's"
    if os.environ.get("MDLIB_STUDENT_EXECUTE") == "1":
        outputs(execute(out / name))
    if stubs:
        run = nbformat.v4.new_notebook(
            cells=[new_code_cell("import numpy as np")] + [new_code_cell(source) for source in stubs]
        )
        run.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = out / f"stubs-{name}"
        nbformat.write(run, path)
        shown = outputs(execute(path))
        assert shown.count("not implemented yet") == len(stubs), f"{name}: every stub says so: {shown}"
