"""Repository-wide pytest settings."""

import os

import pytest

collect_ignore_glob = ["_build/*", "node_modules/*", ".venv/*", "results/*"]


def pytest_collection_modifyitems(items):
    """Notebooks collected by nbval execute a chapter: they are ``book`` tests."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.book)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On CI a skipped test is a failure: nothing may pass by not running."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped on CI, which is not allowed: {report.longrepr}"
