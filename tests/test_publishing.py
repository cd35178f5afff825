"""Publishing: the workflow runs the README's commands, the PDF command refuses bad input before it
prints anything, and the Sphinx glue's markup fixes do what they say.

The PDF itself, and the site's link to it, are tested on the built book in tests/test_book.py.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


book_pdf = load(ROOT / "scripts" / "book_pdf.py", "book_pdf")
mdlib_site = load(ROOT / "book" / "_ext" / "mdlib_site.py", "mdlib_site")
mdlib_api = load(ROOT / "book" / "_ext" / "mdlib_api.py", "mdlib_api")


def readme_commands() -> list[str]:
    """Every ``bash scripts/...`` command in the README's shell blocks (comments dropped)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, re.S):
        for line in block.splitlines():
            for part in line.split("#", 1)[0].split("&&"):
                if part.strip().startswith("bash scripts/"):
                    commands.append(part.strip())
    return commands


def workflow_steps() -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_the_workflow_runs_the_commands_the_readme_documents():
    runs = [line.strip() for step in workflow_steps() if "run" in step for line in step["run"].splitlines()]
    scripts = [run for run in runs if "scripts/" in run]
    documented = readme_commands()
    assert scripts == ["bash scripts/build-book.sh", "bash scripts/make-pdf.sh"], scripts
    assert all(command in documented for command in scripts), (scripts, documented)
    # The README's publishing section names the same two commands, in the same order.
    publishing = README.split("## Publishing", 1)[1].split("\n## ", 1)[0]
    assert publishing.index("bash scripts/build-book.sh") < publishing.index("bash scripts/make-pdf.sh")
    assert "ghp-import -n -p -f _build/html" in publishing


def test_the_workflow_deploys_the_built_site_with_the_pdf_at_its_root():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    uploads = [step for step in workflow_steps() if step.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert [step["with"]["path"] for step in uploads] == ["_build/html"]
    assert any(step.get("uses", "").startswith("actions/deploy-pages") for step in workflow_steps())
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    # make-pdf.sh runs with its defaults, which put the PDF where the site links it.
    assert book_pdf.PDF_NAME == mdlib_site.PDF_NAME
    assert "--out" not in WORKFLOW.read_text(encoding="utf-8")


def test_ghp_import_is_installed_by_the_lock():
    assert re.search(r"^ghp-import==", (ROOT / "requirements.lock").read_text(), re.M)
    assert re.search(r"^pypdf==", (ROOT / "requirements.lock").read_text(), re.M)


def fake_site(folder: Path) -> Path:
    """Just enough of a built book for book_pdf's checks: every toc page with a heading."""
    for document in book_pdf.toc_documents():
        page = folder / f"{document}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f'<article class="bd-article"><h1>{document}<a class="headerlink" href="#">#</a></h1>')
    return folder


@pytest.fixture
def make_pdf(capsys):
    """The command's ``main``, in this process: (exit code, what it printed, its error output)."""

    def run(*args: str) -> subprocess.CompletedProcess:
        code = book_pdf.main(list(args))
        printed = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, printed.out, printed.err)

    return run


@pytest.mark.parametrize(
    "out, reason",
    [
        ("book.txt", "must end in .pdf"),
        ("folder.pdf/", "is a folder"),
        ("afile/book.pdf", "is a file, not a folder"),
    ],
)
def test_make_pdf_refuses_a_bad_output_path_in_one_line_before_printing(tmp_path, make_pdf, out, reason):
    site = fake_site(tmp_path / "html")
    (tmp_path / "folder.pdf").mkdir()
    (tmp_path / "afile").write_text("")
    done = make_pdf("--html", str(site), "--out", str(tmp_path / out), "--chromium", "/nonexistent/chromium")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("make-pdf: PDF "), done.stderr
    assert reason in done.stderr and "printed" not in done.stdout


def test_make_pdf_refuses_a_missing_build(tmp_path, make_pdf):
    done = make_pdf("--html", str(tmp_path / "nothing"))
    assert done.returncode == 2 and "no such folder" in done.stderr and "build-book.sh" in done.stderr
    (tmp_path / "half").mkdir()
    done = make_pdf("--html", str(tmp_path / "half"), "--out", str(tmp_path / "book.pdf"))
    assert done.returncode == 2 and "holds no built page book/preface.html" in done.stderr, done.stderr
    assert not (tmp_path / "book.pdf").exists()


def test_make_pdf_refuses_a_missing_chromium_before_printing(tmp_path, make_pdf):
    site = fake_site(tmp_path / "html")
    done = make_pdf("--html", str(site), "--out", str(tmp_path / "book.pdf"), "--chromium", "/nonexistent/chromium")
    assert done.returncode == 2 and "Chromium not found at /nonexistent/chromium" in done.stderr, done.stderr
    assert not (tmp_path / "book.pdf").exists()


def test_chapter_titles_are_the_first_heading_in_plain_text():
    page = (
        '<nav><h1>menu</h1></nav><article class="bd-article"><section><h1>Distral: '
        '<span class="math">\\(\\pi_0\\)</span> &amp; co<a class="headerlink" href="#d">#</a></h1>'
    )
    assert book_pdf.page_title(page) == "Distral: \\pi_0 & co"


def test_the_site_glue_fixes_exactly_the_two_known_markups():
    body = (
        '<details class="admonition hide above-input">\n<summary aria-label="Toggle hidden content">\n'
        '<div role="list" class="citation-list">\n<div class="citation" id="id5" role="doc-biblioentry">'
    )
    fixed = mdlib_site.fix_body(body)
    assert "aria-label" not in fixed and "<summary>" in fixed
    assert 'role="listitem"' in fixed and "doc-biblioentry" not in fixed and 'role="list"' in fixed
    assert mdlib_site.fix_body("<p>nothing to do</p>") == "<p>nothing to do</p>"


def test_the_download_menu_gets_the_whole_book_first():
    group = {"label": "download-buttons", "buttons": [{"label": "download-source-button"}], "tooltip": ""}
    context = {"header_buttons": [group], "pathto": lambda name, resource: f"../{name}"}
    mdlib_site.add_pdf_button(context)
    assert group["buttons"][0]["url"] == f"../{mdlib_site.PDF_NAME}"
    assert group["buttons"][0]["label"] == "download-book-pdf-button" and len(group["buttons"]) == 2


def test_api_references_follow_a_name_to_where_its_object_is_documented():
    """The API page's glue links ``mdlib.solve_distral`` (a re-export) and an imported name to
    the entry of the module that defines the object, and leaves other names alone."""
    assert mdlib_api.defined_name("mdlib.solve_distral") == "mdlib.exact_distral.solve_distral"
    # The function the learners' package exports, not its submodule of the same name.
    assert mdlib_api.defined_name("mdlib.learners.distill") == "mdlib.learners.distill.distill"
    assert mdlib_api.defined_name("mdlib.game.transition") == "mdlib.game.transition"  # a numba kernel
    assert mdlib_api.defined_name("mdlib.env.AGENTS") == "mdlib.game.AGENTS"  # a constant, imported
    assert mdlib_api.defined_name("mdlib.learners.softq") is None  # a module
    assert mdlib_api.defined_name("numpy.ndarray") is None
    assert mdlib_api.defined_name("mdlib.game.no_such_name") is None
