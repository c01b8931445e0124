"""The browser test without Playwright: it skips on a laptop, naming the `browser` extra, and fails in CI.

Playwright is the maintainers' `browser` extra, so a learner's environment does not have it. Here a stub
`playwright` package without `sync_api` stands in for the missing one, first on PYTHONPATH, and
tests/browser/test_lab.py runs in a pytest subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _helpers import REPO


def run_browser_test_without_playwright(tmp_path: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    stub = tmp_path / "no-playwright" / "playwright"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('"""Not Playwright: it has no sync_api."""\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = str(stub.parent)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests/browser/test_lab.py", "-q", "-rsE", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "basetemp")],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=300,
    )


@pytest.mark.slow  # two pytest subprocesses: seconds each
@pytest.mark.parametrize("ci", [False, True], ids=["laptop", "ci"])
def test_browser_test_without_playwright_skips_on_a_laptop_and_fails_in_ci(tmp_path: Path, ci: bool) -> None:
    """Without Playwright, do the browser tests skip (naming the browser extra) on a laptop, and fail in CI?"""
    proc = run_browser_test_without_playwright(tmp_path, ci=ci)
    out = proc.stdout
    assert "the playwright Python package is not installed" in out, out
    assert "pip install -e '.[test,browser]'" in out, out
    assert "JupyterLab did not start" not in out
    if ci:
        assert proc.returncode == 1, out
        assert "CI must run the browser test" in out and " skipped" not in out.splitlines()[-1], out
    else:
        assert proc.returncode == 0, out
        assert out.splitlines()[-1].startswith("3 skipped"), out
