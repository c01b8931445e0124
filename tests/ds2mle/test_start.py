"""`ds2mle start` opens JupyterLab on the start page: started for real, on localhost."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from _helpers import REPO

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - localhost only
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_start_serves_the_course_root_and_prints_the_url(tmp_path: Path) -> None:
    port, token = free_port(), "ds2mle-test-token"
    env = {**os.environ, "JUPYTER_TOKEN": token, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    env.pop("DS2MLE_ROOT", None)
    exe = str(Path(sys.executable).with_name("ds2mle"))
    proc = subprocess.Popen([exe, "start", "--no-browser", "--port", str(port)], cwd=REPO / "course",
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://localhost:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                status = get_json(f"{base}/api/status?token={token}")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("JupyterLab did not start:\n" + (proc.stdout.read() if proc.stdout else ""))
                time.sleep(0.5)
        assert "started" in status
        start_page = get_json(f"{base}/api/contents/course/00-start-here/00-how-this-course-works.ipynb"
                              f"?token={token}&content=0")
        assert start_page["type"] == "notebook", "the server's root is the course root, found from a subfolder"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    assert f"localhost:{port}" in output and "token=" in output, "--no-browser prints the URL"
