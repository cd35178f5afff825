"""The book's environment is pinned: requirements.lock covers everything the chapters import.

``scripts/setup.sh`` installs ``requirements.lock`` (made by ``uv pip compile``, see
CONTRIBUTING.md) and then mdlib itself. The committed notebooks were executed in exactly that
environment, so a reader who runs the setup gets the same library versions. This module checks
that the lock pins every distribution behind every module a chapter or mdlib imports, that it
satisfies the ranges ``pyproject.toml`` declares, and that this environment is the locked one.
"""

from __future__ import annotations

import ast
import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
LOCK_COMMAND = (
    "uv pip compile pyproject.toml --universal --python-version 3.11 --extra book --extra test "
    "--extra cluster --extra dev --no-emit-package mdlib -o requirements.lock"
)


def locked() -> dict[str, str]:
    """Pinned versions of the lock entries that apply to this interpreter and platform."""
    pins, environment = {}, default_environment()
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                (spec,) = requirement.specifier
                assert spec.operator == "==", f"not an exact pin: {line}"
                pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def imported_modules(source: str) -> set[str]:
    tree = ast.parse(source)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def notebook_imports() -> set[str]:
    names = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
                names |= imported_modules(code)
    return names


def test_the_lock_file_is_made_by_the_documented_command():
    assert f"#    {LOCK_COMMAND}" in LOCK.read_text().splitlines()[:3]
    assert LOCK_COMMAND in (ROOT / "CONTRIBUTING.md").read_text()


def test_every_module_the_chapters_and_mdlib_import_is_pinned():
    modules = notebook_imports()
    for path in (ROOT / "mdlib").rglob("*.py"):
        modules |= imported_modules(path.read_text())
    modules -= set(sys.stdlib_module_names) | {"mdlib", "google"}  # google.colab: Colab's own cell
    providers = metadata.packages_distributions()
    pins = locked()
    missing = {}
    for module in sorted(modules):
        distributions = {canonicalize_name(d) for d in providers.get(module, [])}
        if not distributions & set(pins):
            missing[module] = sorted(distributions) or "no installed distribution"
    assert not missing, f"imported but not pinned in requirements.lock: {missing}"
    assert {"numpy", "numba", "matplotlib", "myst_nb", "ipywidgets", "scipy"} <= modules


def test_the_lock_satisfies_every_declared_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    pins = locked()
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{text} is declared but not locked"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} breaks {text}"


def test_this_environment_is_the_locked_one():
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {
        name: (installed.get(name), version) for name, version in locked().items() if installed.get(name) != version
    }
    assert not wrong, f"installed vs locked: {wrong} (run scripts/setup.sh)"
