"""Tests for docker/fraudguard.Dockerfile: its rules, its dependency list, and its entry command run for real.

No Docker engine is needed: the image's CMD and HEALTHCHECK are run on this machine, with the image's
environment, changing only what differs outside a container (localhost, a free port, a local model).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from _helpers import REPO
from packaging.requirements import Requirement

DOCKER = REPO / "docker"
DOCKERFILE = (DOCKER / "fraudguard.Dockerfile").read_text(encoding="utf-8")
INSTRUCTIONS = [line for line in DOCKERFILE.splitlines() if line and not line.startswith("#")]


def instruction(keyword: str) -> list[str]:
    return [line for line in INSTRUCTIONS if line.split(" ", 1)[0] == keyword]


def test_base_image_is_slim_and_pinned_to_a_python_minor_version() -> None:
    assert re.fullmatch(r"FROM python:3\.11-slim-\w+", instruction("FROM")[0])


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    """Is the dependency layer cached across code changes?"""
    lines = INSTRUCTIONS
    install_deps = next(i for i, line in enumerate(lines) if "pip install -r" in line)
    copy_code = next(i for i, line in enumerate(lines) if line.startswith("COPY src/fraudguard"))
    assert install_deps < copy_code


def test_runs_as_a_non_root_user() -> None:
    user = instruction("USER")
    assert user and user[-1] not in ("USER root", "USER 0")
    assert INSTRUCTIONS.index(user[-1]) > max(
        i for i, line in enumerate(INSTRUCTIONS) if line.startswith("RUN pip")
    )


def test_no_secrets_or_local_files_reach_the_image() -> None:
    assert not re.search(r"(TOKEN|SECRET|PASSWORD|KEY)=", DOCKERFILE)
    assert all(line.split()[1].startswith(("docker/", "src/fraudguard")) for line in instruction("COPY"))
    ignore = (DOCKER / "fraudguard.Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[2] == "*" or "*" in ignore, (
        "the context starts empty and re-includes only what the image needs"
    )
    assert "**/.env" in ignore


def test_every_instruction_has_a_reason() -> None:
    lines = DOCKERFILE.splitlines()
    for index, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[index - 1].startswith("# reason:"), f"no '# reason:' comment above {line!r}"


def test_image_dependencies_have_the_course_bounds() -> None:
    """Do docker/requirements.txt and pyproject.toml agree on every package they share?"""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    course = {Requirement(r).name: str(Requirement(r).specifier) for r in project["dependencies"]}
    image = [
        Requirement(line)
        for line in (DOCKER / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    for requirement in image:
        name = "mlflow" if requirement.name == "mlflow-skinny" else requirement.name
        assert name in course, f"{requirement.name} is in the image but not in pyproject.toml"
        assert str(requirement.specifier) == course[name], (
            f"{requirement.name}: image {requirement.specifier}, course {course[name]}"
        )
    docker_project = tomllib.loads((DOCKER / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert docker_project["scripts"]["fraudguard"] == project["scripts"]["fraudguard"]


@pytest.mark.slow
def test_entry_command_serves_health_and_passes_the_healthcheck(
    fraudguard_command: str, package_env: dict[str, str], saved_model: Path, port: int
) -> None:
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", DOCKERFILE, flags=re.MULTILINE).group(1))  # type: ignore[union-attr]
    healthcheck = json.loads(
        re.search(r"^HEALTHCHECK .*? CMD (\[.*\])$", DOCKERFILE, flags=re.MULTILINE).group(1)
    )  # type: ignore[union-attr]
    image_env = dict(re.findall(r"(FRAUDGUARD_\w+)=(\S+)", "\n".join(instruction("ENV"))))
    assert cmd == ["fraudguard", "serve"] and image_env["FRAUDGUARD_HOST"] == "0.0.0.0"
    env = {
        **package_env,
        **image_env,
        "FRAUDGUARD_HOST": "127.0.0.1",
        "FRAUDGUARD_PORT": str(port),
        "FRAUDGUARD_MODEL_URI": str(saved_model),
    }
    server = subprocess.Popen(
        [fraudguard_command, *cmd[1:]], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            assert time.monotonic() < deadline, "the entry command did not serve /health within 60 s"
        check = subprocess.run(healthcheck, env=env, capture_output=True, text=True, timeout=30, check=False)
        assert check.returncode == 0, check.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    output = server.stdout.read() if server.stdout else ""
    assert "Finished server process" in output, "SIGTERM (docker stop) must shut uvicorn down gracefully"
