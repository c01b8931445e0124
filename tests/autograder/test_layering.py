"""Which part may import which: the course model at the bottom, the grading engine above it, commands on top.

The import graph is read from the source (every ``import`` statement,
including those inside functions), so a lazy import cannot hide an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from _helpers import REPO

# The course model: what the grading engine may read the course through.
COURSE_MODEL = {"ds2mle", "ds2mle.errors", "ds2mle.manifest", "ds2mle.notebooks"}
# The commands: the only parts of ds2mle that may use the grading engine.
COMMANDS = {"ds2mle.cli", "ds2mle.verify", "ds2mle._student_check"}
# The grading engine, bottom to top: each module imports only modules before it.
ENGINE = [
    "autograder.merge",
    "autograder.guard",
    "autograder.engine",
    "autograder.sandbox",
    "autograder.worker",
    "autograder.zygote",
    "autograder.jobs",
    "autograder.intake",
    "autograder.collect",
    "autograder.gradebook",
    "autograder.feedback",
    "autograder.coordinator",
    "autograder.selfgrade",
]
OURS = ("ds2mle", "autograder", "fraudguard")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for base, package in ((REPO / "src", "ds2mle"), (REPO, "autograder")):
        for path in sorted((base / package).rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def imports_of(name: str) -> set[str]:
    """Our modules that ``name`` imports anywhere in its source (submodules resolved)."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in MODULES else base)
    return {t for t in targets if t.split(".")[0] in OURS and t != name}


def test_the_import_graph_is_read_from_real_edges() -> None:
    """Does the reader see the edges it must (so that the checks below can fail)?"""
    assert "autograder.engine" in imports_of("autograder.jobs")
    assert "ds2mle.manifest" in imports_of("autograder.coordinator")
    assert "autograder.selfgrade" in imports_of("ds2mle.cli")  # a lazy import inside a function


def test_every_engine_module_has_a_place_in_the_layers() -> None:
    listed = set(ENGINE) | {"autograder"}
    assert {m for m in MODULES if m.startswith("autograder")} == listed


@pytest.mark.parametrize("module", ENGINE)
def test_engine_modules_import_only_the_layers_below_them(module: str) -> None:
    below = set(ENGINE[: ENGINE.index(module)])
    inside = {m for m in imports_of(module) if m.split(".")[0] == "autograder"}
    assert inside <= below, f"{module} imports {sorted(inside - below)}, which sit at or above it"


@pytest.mark.parametrize("module", ENGINE)
def test_the_engine_reads_the_course_only_through_the_course_model(module: str) -> None:
    ours = {m for m in imports_of(module) if m.split(".")[0] != "autograder"}
    assert ours <= COURSE_MODEL, f"{module} imports {sorted(ours - COURSE_MODEL)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("ds2mle")))
def test_only_the_commands_use_the_grading_engine(module: str) -> None:
    engine = {m for m in imports_of(module) if m.split(".")[0] == "autograder"}
    assert not engine or module in COMMANDS, f"{module} imports {sorted(engine)}"


@pytest.mark.parametrize("module", sorted(COURSE_MODEL))
def test_the_course_model_stands_on_its_own(module: str) -> None:
    ours = imports_of(module)
    assert ours <= COURSE_MODEL, f"{module} imports {sorted(ours - COURSE_MODEL)}"
