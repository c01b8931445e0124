"""The sandbox one submission runs in: bubblewrap, resource limits, a private user.

:func:`worker_command` builds the command line that starts
``python -m autograder.worker`` for one staged submission, either inside
bubblewrap (``bwrap``) or, where bubblewrap is missing, as a plain process
(with a one-line warning that it is not sandboxed).

Inside the sandbox the worker and its kernel see:

- ``/usr`` (and the ``/bin``, ``/lib*`` links to it) and a short list of
  ``/etc`` files that programs need to start, read-only;
- the Python environment (``sys.prefix`` and ``sys.base_prefix``), read-only;
- the ``ds2mle`` and ``autograder`` packages at ``/opt/ds2mle/lib``,
  read-only: not the course repository they come from;
- the reference ``fraudguard`` at ``/opt/ds2mle/reference``, read-only, with
  only the files owned by notebooks of earlier modules;
- ``/submission``: a private copy of the submission's extra files, writable,
  the kernel's working folder;
- ``/tmp``: a private tmpfs of bounded size;
- a new ``/proc`` and a minimal ``/dev``.

Nothing else: no ``solutions/``, no gradebook, no other student's folder, no
home folder, no network (a new network namespace with only loopback), no
other processes (a new PID namespace). When the coordinator runs as root the
worker drops to a dedicated unprivileged user id per concurrent slot (so
``RLIMIT_NPROC`` counts only that sandbox's processes), with no capabilities
and ``no_new_privs``; otherwise bubblewrap maps the user to ``nobody`` in a
new user namespace and forbids nested ones.

The worker itself lowers its resource limits before it starts the kernel
(see :meth:`SandboxPolicy.rlimits`): CPU time, address space, processes,
file size, core dumps.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SandboxPolicy",
    "bwrap_path",
    "sandbox_env",
    "slot_uid",
    "worker_command",
]

INSIDE_WORK = "/submission"
INSIDE_LIB = "/opt/ds2mle/lib"
INSIDE_REFERENCE = "/opt/ds2mle/reference"

# /etc files a Python process and its kernel need; nothing with secrets.
_ETC = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "nsswitch.conf",
    "host.conf", "hosts", "passwd", "group", "mime.types", "fonts", "alternatives", "ssl/openssl.cnf",
)

_GIB = 1024**3
_MIB = 1024**2


@dataclass(frozen=True)
class SandboxPolicy:
    """Limits for one submission.

    Attributes
    ----------
    cell_timeout : float, default 120
        Seconds one cell may run before it is interrupted.
    budget : float, default 600
        Seconds the whole notebook may run; cells that would start later fail.
    startup_grace : float, default 60
        Seconds on top of ``budget`` before the coordinator kills the sandbox
        outright (kernel start-up, shutdown).
    cpu_seconds : int, default 0
        ``RLIMIT_CPU`` per process; 0 means ``budget`` plus 30 s.
    memory_bytes : int, default 4 GiB
        ``RLIMIT_AS`` (address space) per process.
    processes : int, default 256
        ``RLIMIT_NPROC``: processes and threads of the sandbox's user.
    file_bytes : int, default 256 MiB
        ``RLIMIT_FSIZE``: the largest file the notebook may write.
    tmp_bytes : int, default 512 MiB
        Size of the sandbox's private ``/tmp``.
    output_bytes : int, default 256 KiB
        Output kept per cell; the rest is cut with a note.
    """

    cell_timeout: float = 120.0
    budget: float = 600.0
    startup_grace: float = 60.0
    cpu_seconds: int = 0
    memory_bytes: int = 4 * _GIB
    processes: int = 256
    file_bytes: int = 256 * _MIB
    tmp_bytes: int = 512 * _MIB
    output_bytes: int = 256 * 1024

    def rlimits(self) -> dict[str, int]:
        """The resource limits the worker applies to itself and its kernel, by ``resource`` name."""
        return {
            "RLIMIT_CPU": self.cpu_seconds or int(self.budget) + 30,
            "RLIMIT_AS": self.memory_bytes,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_FSIZE": self.file_bytes,
            "RLIMIT_CORE": 0,
        }

    def to_json(self) -> dict[str, Any]:
        """A plain dict (jobs travel as JSON)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxPolicy:
        """The inverse of :meth:`to_json`; unknown keys are an error."""
        return cls(**data)


def bwrap_path() -> str | None:
    """Where bubblewrap is, or ``None`` (macOS, or Linux without it)."""
    if not sys.platform.startswith("linux"):
        return None
    return shutil.which("bwrap")


class _UidPool:
    """Unprivileged user ids for concurrent sandboxes, one per slot, when running as root."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.free: list[int] = []
        self.next = 0
        self.lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[int]:
        with self.lock:
            uid = self.free.pop() if self.free else self.base + self._take()
        try:
            yield uid
        finally:
            with self.lock:
                self.free.append(uid)

    def _take(self) -> int:
        self.next += 1
        return self.next - 1


# Distinct processes on one host (e.g. several Dask workers) get distinct ranges.
_POOL = _UidPool(base=int(os.environ.get("DS2MLE_SANDBOX_UID_BASE", "0")) or 200_000 + (os.getpid() % 500) * 100)


@contextmanager
def slot_uid() -> Iterator[int]:
    """A host user id that no other running sandbox of this process uses."""
    with _POOL.slot() as uid:
        yield uid


def sandbox_env(*, home: str, tmp: str, pythonpath: list[str]) -> dict[str, str]:
    """The whole environment of the worker and kernel: nothing inherited from the grader."""
    env = {
        "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_RUNTIME_DIR": f"{tmp}/jupyter-runtime",
        "JUPYTER_CONFIG_DIR": f"{tmp}/jupyter-config",
        "JUPYTER_DATA_DIR": f"{tmp}/jupyter-data",
        "IPYTHONDIR": f"{tmp}/ipython",
        "MPLCONFIGDIR": f"{tmp}/matplotlib",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_MAX_THREADS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "NBGRADER_EXECUTION": "autograde",
    }
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    return env


def _python_roots() -> list[Path]:
    """Folders the interpreter and its packages live in (read-only in the sandbox)."""
    roots: list[Path] = []
    for raw in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                str(Path(sys.executable).parent.parent), str(Path(os.path.realpath(sys.executable)).parent.parent)):
        path = Path(raw)
        for candidate in (path, Path(os.path.realpath(path))):
            if candidate.is_dir() and not str(candidate).startswith(("/usr/", "/bin", "/lib")) and str(candidate) != "/usr":
                if candidate not in roots:
                    roots.append(candidate)
    # a root inside another needs no bind of its own
    return [r for r in roots if not any(o != r and o in r.parents for o in roots)]


def _package_dirs() -> dict[str, Path]:
    """The folders of the installed ``ds2mle`` and ``autograder`` (wherever the project keeps them)."""
    import ds2mle

    return {"ds2mle": Path(ds2mle.__file__ or "").resolve().parent, "autograder": Path(__file__).resolve().parent}


def worker_command(
    *,
    bwrap: str | None,
    work: Path,
    reference: Path | None,
    policy: SandboxPolicy,
    uid: int | None,
) -> tuple[list[str], dict[str, str] | None, str]:
    """The command, environment and working folder that start the worker.

    Parameters
    ----------
    bwrap : str or None
        Path of ``bwrap``; ``None`` starts the worker without a sandbox.
    work : Path
        The staged submission folder (becomes ``/submission`` in the sandbox).
    reference : Path or None
        A folder holding the filtered reference ``fraudguard`` package, or
        ``None`` to import whatever the environment has (unsandboxed only).
    policy : SandboxPolicy
        The limits (only ``tmp_bytes`` is used here; the worker applies the rest).
    uid : int or None
        Host user id to drop to when running as root.

    Returns
    -------
    command : list of str
    env : dict or None
        The environment for :class:`subprocess.Popen` (``None``: inherit).
    cwd : str
        Working folder for :class:`subprocess.Popen`.
    """
    python = sys.executable
    worker = [python, "-m", "autograder.worker"]
    if bwrap is None:
        scratch = work.parent
        (scratch / "home").mkdir(exist_ok=True)
        (scratch / "tmp").mkdir(exist_ok=True)
        if reference is None:
            return worker, None, str(work)
        env = sandbox_env(home=str(scratch / "home"), tmp=str(scratch / "tmp"), pythonpath=[str(reference)])
        return worker, env, str(work)

    args = [
        bwrap,
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--hostname", "grader",
    ]
    made: set[str] = {"/"}

    def ensure_dirs(target: str) -> None:
        parts = Path(target).parts[1:-1]
        current = ""
        for part in parts:
            current += "/" + part
            if current not in made:
                made.add(current)
                args.extend(["--perms", "0755", "--dir", current])

    args += ["--ro-bind", "/usr", "/usr"]
    made.add("/usr")
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
        made.add(top)
    for name in _ETC:
        source = f"/etc/{name}"
        if os.path.exists(source):
            ensure_dirs(source)
            args += ["--ro-bind", source, source]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", str(policy.tmp_bytes), "--tmpfs", "/tmp"]
    made.update({"/proc", "/dev", "/tmp"})
    for root in _python_roots():
        ensure_dirs(str(root) + "/x")
        args += ["--ro-bind", str(root), str(root)]
        made.add(str(root))
    ensure_dirs(INSIDE_LIB + "/x")
    made.add(INSIDE_LIB)
    args += ["--perms", "0755", "--dir", INSIDE_LIB]
    for name, folder in _package_dirs().items():
        args += ["--ro-bind", str(folder), f"{INSIDE_LIB}/{name}"]
    pythonpath = [INSIDE_LIB]
    if reference is not None:
        args += ["--ro-bind", str(reference), INSIDE_REFERENCE]
        pythonpath.insert(0, INSIDE_REFERENCE)
    args += ["--bind", str(work), INSIDE_WORK, "--chdir", INSIDE_WORK, "--clearenv"]
    for key, value in sandbox_env(home="/tmp/home", tmp="/tmp", pythonpath=pythonpath).items():
        args += ["--setenv", key, value]
    args += ["--setenv", "DS2MLE_SANDBOXED", "1"]
    setpriv = shutil.which("setpriv")
    if os.geteuid() == 0 and uid is not None and setpriv:
        args += ["--", setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    else:
        args[1:1] = ["--unshare-user", "--uid", "65534", "--gid", "65534", "--disable-userns", "--cap-drop", "ALL"]
        args += ["--"]
    return args + worker, None, "/"
