"""pyproject.toml and environment.yml must list the same dependencies.

environment.yml is the learner's environment: the runtime dependencies and the ``test`` extra. The
maintainers' ``browser`` extra (Playwright, for tests/browser only) stays out of it and out of the
learner's install command, and goes into the README's test command, which CI runs.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

from _helpers import REPO


# conda-forge names that differ from PyPI's (conda-forge's "playwright" is the Node.js CLI).
CONDA_TO_PYPI = {"playwright-python": "playwright"}


def _normalise(spec: str) -> tuple[str, str]:
    """(name, version bound) of a requirement; an environment marker is pip's business, conda selects by platform."""
    spec = spec.split(";", 1)[0]
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", spec)
    assert match, spec
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _conda_dependencies() -> dict[str, str]:
    """Parse environment.yml's top-level dependency list (no YAML library needed)."""
    deps: dict[str, str] = {}
    in_deps = False
    for line in (REPO / "environment.yml").read_text(encoding="utf-8").splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if in_deps and re.match(r"^  - [^:]+$", line) and not line.strip().startswith("- -e"):
            name, spec = _normalise(line.strip()[2:].split("#")[0])
            deps[CONDA_TO_PYPI.get(name, name)] = spec
    return deps


def test_environment_yml_matches_pyproject() -> None:
    """Does every runtime and test dependency appear in both files with the same bound?"""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = dict(_normalise(s) for s in project["dependencies"] + project["optional-dependencies"]["test"])
    conda = _conda_dependencies()
    conda.pop("python", None)
    conda.pop("pip", None)
    assert conda == wanted


def test_environment_yml_installs_the_repo_and_pins_python_311() -> None:
    text = (REPO / "environment.yml").read_text(encoding="utf-8")
    assert "- python=3.11" in text and "conda-forge" in text
    assert '-e ".[test]"' in text


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project


def _readme_command(after: str) -> str:
    """The first line of the first code block after ``after`` in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text[text.index(after):].split("```bash\n", 1)[1]
    return block.splitlines()[0]


def test_the_browser_extra_stays_out_of_the_learners_environment() -> None:
    """Is Playwright (and anything else of the browser extra) left out of environment.yml and the test extra?"""
    extras = _project()["optional-dependencies"]
    browser = dict(_normalise(s) for s in extras["browser"])
    assert "playwright" in browser
    assert not browser.keys() & dict(_normalise(s) for s in extras["test"]).keys()
    assert not browser.keys() & _conda_dependencies().keys()
    text = (REPO / "environment.yml").read_text(encoding="utf-8")
    for name, bound in browser.items():  # named in its comment, with the same bound, for maintainers
        assert f"{name}{bound}" in text, f"environment.yml's comment does not name {name}{bound}"


def test_the_learner_installs_the_test_extra_and_ci_also_the_browser_extra() -> None:
    """Does the quick start install only `.[test]`, and the README's test command (CI's) `.[test,browser]`?"""
    learner = _readme_command("## Self-study quick start")
    assert learner.startswith('python -m pip install -e ".[test]" ') and "browser" not in learner, learner
    ci = _readme_command("<!-- ci:test-command -->")
    assert ci.startswith('python -m pip install -e ".[test,browser]" && '), ci
