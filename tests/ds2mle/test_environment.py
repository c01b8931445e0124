"""pyproject.toml and environment.yml must list the same dependencies."""

from __future__ import annotations

import re
import tomllib

from _helpers import REPO


# conda-forge names that differ from PyPI's (conda-forge's "playwright" is the Node.js CLI).
CONDA_TO_PYPI = {"playwright-python": "playwright"}


def _normalise(spec: str) -> tuple[str, str]:
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
