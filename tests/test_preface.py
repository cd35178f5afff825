"""The preface stays true: its BibTeX snippet is CITATION.cff's, and it quotes no computed results
(it runs no code, so any number in its prose would be typed by hand and could go stale)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PREFACE = (ROOT / "book" / "preface.md").read_text()
CITATION = yaml.safe_load((ROOT / "CITATION.cff").read_text())


def bibtex_fields() -> dict[str, str]:
    entry = re.search(r"```bibtex\n(@software\{.*?\n\})\n```", PREFACE, re.S).group(1)
    return dict(re.findall(r"^\s+(\w+)\s*=\s*\{(.*)\},?$", entry, re.M))


def test_the_bibtex_snippet_matches_citation_cff():
    fields = bibtex_fields()
    assert fields["title"].replace("{", "").replace("}", "") == CITATION["title"]
    assert fields["author"] == "{" + CITATION["authors"][0]["name"] + "}"
    assert fields["year"] == str(CITATION["date-released"])[:4]
    assert fields["version"] == str(CITATION["version"])
    assert fields["license"] == CITATION["license"]
    assert fields["url"] == CITATION["repository-code"]


def test_the_prose_quotes_no_computed_numbers():
    prose = re.sub(r"```.*?```", "", PREFACE, flags=re.S)
    assert not re.findall(r"\d+\.\d+|\d+\s*%", prose)


def test_the_version_lives_in_one_place():
    import mdlib

    assert str(CITATION["version"]) == mdlib.__version__ == bibtex_fields()["version"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'version = {attr = "mdlib.__version__"}' in pyproject
    assert f"## {mdlib.__version__} " in (ROOT / "CHANGELOG.md").read_text()
