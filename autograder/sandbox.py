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
- ``/submission``: the kernel's working folder and the only writable space,
  a tmpfs of bounded size (``scratch_bytes``) into which the worker copies
  the submission's extra files (staged read-only at ``/opt/ds2mle/staged``);
  ``/tmp`` is a link to ``/submission/.tmp``, so it shares that bound;
- a new ``/proc`` and a minimal ``/dev``.

Nothing else: no ``solutions/``, no gradebook, no other student's folder, no
home folder, no network (a new network namespace with only loopback), no
other processes (a new PID namespace). When the coordinator runs as root the
worker drops to a dedicated unprivileged user id per concurrent slot (so
``RLIMIT_NPROC`` counts only that sandbox's processes; the id is reused only
once none of its processes is left), with no capabilities and
``no_new_privs``; otherwise bubblewrap maps the user to ``nobody`` in a new
user namespace and forbids nested ones, and the process limit is counted on
top of the processes the user already has.

The worker itself lowers its resource limits before it starts the kernel
(see :meth:`SandboxPolicy.rlimits`): CPU time, address space, processes,
file size, core dumps.

Where the grader runs as root (``worker_command(zygote=...)``), each
grading slot keeps one such sandbox alive, running
:mod:`autograder.zygote` as root inside it; the zygote forks every job's
worker and kernel into a mount, IPC and network namespace of the job's own,
with a fresh ``/submission`` tmpfs, and drops them to the slot's user id
and limits before a line of the notebook runs.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = [
    "SandboxPolicy",
    "bwrap_path",
    "reap_user",
    "size",
    "tasks_of",
    "sandbox_env",
    "slot_uid",
    "worker_command",
]

INSIDE_WORK = "/submission"
INSIDE_TMP = "/submission/.tmp"
INSIDE_STAGED = "/opt/ds2mle/staged"
INSIDE_INBOX = "/opt/ds2mle/inbox"
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

    Every field can be set in ``nbgrader_config.py`` as
    ``c.SandboxPolicy.<field> = value`` (see :meth:`from_config`); ``ds2mle
    grade`` has an option for each limit that overrides it.

    Attributes
    ----------
    cell_timeout : float, default 120
        Seconds one cell may run before it is interrupted.
    budget : float, default 600
        Seconds the notebook's cells may run, counted from the moment the
        kernel is ready (its start-up is not the learner's); cells that would
        start later fail.
    startup_grace : float, default 60
        Seconds on top of ``budget`` before the coordinator kills the sandbox
        outright (sandbox and kernel start-up, shutdown).
    cpu_seconds : int, default 0
        ``RLIMIT_CPU`` per process; 0 means ``budget`` plus ``startup_grace``.
    memory_bytes : int, default 2 GiB
        ``RLIMIT_AS`` (address space) per process.
    processes : int, default 64
        ``RLIMIT_NPROC``: processes and threads the submission may have at once.
    file_bytes : int, default 100 MiB
        ``RLIMIT_FSIZE``: the largest file the notebook may write.
    scratch_bytes : int, default 512 MiB
        Size of the sandbox's only writable space: a tmpfs holding the
        working folder ``/submission`` and ``/tmp``.
    output_bytes : int, default 256 KiB
        Output kept per cell; the rest is cut with a note.
    """

    cell_timeout: float = 120.0
    budget: float = 600.0
    startup_grace: float = 60.0
    cpu_seconds: int = 0
    memory_bytes: int = 2 * _GIB
    processes: int = 64
    file_bytes: int = 100 * _MIB
    scratch_bytes: int = 512 * _MIB
    output_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        for name in ("cell_timeout", "budget", "memory_bytes", "processes", "file_bytes", "scratch_bytes", "output_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"SandboxPolicy.{name} must be a positive number, got {value!r}")

    def rlimits(self) -> dict[str, int]:
        """The resource limits the worker applies to itself and its kernel, by ``resource`` name."""
        return {
            "RLIMIT_CPU": self.cpu_seconds or int(self.budget + self.startup_grace),
            "RLIMIT_AS": self.memory_bytes,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_FSIZE": self.file_bytes,
            "RLIMIT_CORE": 0,
        }

    def describe(self) -> str:
        """The limits in one line, as reasons and the instructor guide name them."""
        return (f"memory {size(self.memory_bytes)} per process, {self.processes} processes and threads, "
                f"files of at most {size(self.file_bytes)}, scratch space {size(self.scratch_bytes)}, "
                f"{self.cell_timeout:g} s per cell, {self.budget:g} s per notebook")

    def to_json(self) -> dict[str, Any]:
        """A plain dict (jobs travel as JSON)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxPolicy:
        """The inverse of :meth:`to_json`; unknown keys are an error."""
        return cls(**data)

    @classmethod
    def from_config(cls, root: Path, **overrides: Any) -> SandboxPolicy:
        """The limits of ``root/nbgrader_config.py`` (``c.SandboxPolicy.*``), then ``overrides`` that are not None.

        Raises
        ------
        ValueError
            A field that does not exist, or a value that is not a positive number.
        """
        values: dict[str, Any] = {}
        config_file = root / "nbgrader_config.py"
        if config_file.is_file():
            from traitlets.config.loader import PyFileConfigLoader

            section = PyFileConfigLoader(config_file.name, path=str(root)).load_config().get("SandboxPolicy", {})
            values.update(dict(section))
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"SandboxPolicy has no setting {unknown[0]!r}; the settings are {', '.join(sorted(known))}")
        return cls(**values)


def size(n: float) -> str:
    """``2 GiB``, ``100 MiB``, ``512 KiB``: a byte count as the limits are written."""
    for unit, scale in (("GiB", _GIB), ("MiB", _MIB), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n:g} bytes"


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
            # A sandbox killed from outside is torn down by the kernel after its parent is gone: a fork
            # bomb's thousands of processes can outlive the worker by seconds on a busy machine. The next
            # sandbox on this uid would start with RLIMIT_NPROC already spent, so the uid is released only
            # once none of its processes is left.
            if os.geteuid() == 0:
                reap_user(uid)
            with self.lock:
                self.free.append(uid)

    def _take(self) -> int:
        self.next += 1
        return self.next - 1


# Distinct processes on one host (e.g. several Dask workers) get distinct ranges.
_POOL = _UidPool(base=int(os.environ.get("DS2MLE_SANDBOX_UID_BASE", "0")) or 200_000 + (os.getpid() % 500) * 100)


def tasks_of(uid: int) -> list[tuple[int, int]]:
    """``(pid, threads)`` of every process whose owner is ``uid`` (from ``/proc``; empty off Linux)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                found.append((int(entry), len(os.listdir(f"/proc/{entry}/task"))))
        except OSError:  # gone meanwhile
            continue
    return found


def reap_user(uid: int, *, timeout: float = 60.0) -> bool:
    """Kill every process of ``uid`` and wait until none is left; ``False`` if some outlived ``timeout``."""
    import signal
    import time

    deadline = time.monotonic() + timeout
    while True:
        alive = tasks_of(uid)
        if not alive:
            return True
        if time.monotonic() >= deadline:
            return False
        for pid, _ in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


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
        # glibc adds a 64 MiB malloc arena whenever threads contend for one, so under load the same
        # notebook reserves more address space and could hit RLIMIT_AS: a fixed count keeps it load-free.
        "MALLOC_ARENA_MAX": "2",
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
    zygote: Path | None = None,
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
        The limits (only ``scratch_bytes`` is used here; the worker applies the rest).
    uid : int or None
        Host user id to drop to when running as root.
    zygote : Path, optional
        Start a slot's :mod:`autograder.zygote` instead, serving jobs staged
        in this inbox folder (root only; ``work`` and ``reference`` unused).

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
    # The only writable space: one size-limited tmpfs for the working folder, with /tmp inside it
    # (for a zygote, each job mounts its own: here only the mount point).
    args += ["--proc", "/proc", "--dev", "/dev"]
    if zygote is None:
        args += ["--perms", "1777", "--size", str(policy.scratch_bytes), "--tmpfs", INSIDE_WORK,
                 "--perms", "1777", "--dir", INSIDE_TMP]
    else:
        args += ["--perms", "0755", "--dir", INSIDE_WORK]
    if any(root == Path("/tmp") or Path("/tmp") in root.parents for root in _python_roots()):
        # Python lives under /tmp (a virtual environment in a checkout there): /tmp must be a real folder to
        # bind it into, so it gets a size-limited tmpfs of its own (jobs.use_zygote() is off in this case).
        args += ["--perms", "1777", "--size", str(policy.scratch_bytes), "--tmpfs", "/tmp"]
    else:
        args += ["--symlink", INSIDE_TMP, "/tmp"]
    made.update({"/proc", "/dev", "/tmp", INSIDE_WORK})
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
    if zygote is not None:  # each job binds its own reference here; the host stages jobs in the inbox
        args += ["--perms", "0755", "--dir", INSIDE_REFERENCE, "--perms", "0755", "--dir", INSIDE_INBOX,
                 "--ro-bind", str(zygote), INSIDE_INBOX]
        pythonpath.insert(0, INSIDE_REFERENCE)
    elif reference is not None:
        args += ["--ro-bind", str(reference), INSIDE_REFERENCE]
        pythonpath.insert(0, INSIDE_REFERENCE)
    if zygote is None:
        ensure_dirs(INSIDE_STAGED)
        args += ["--ro-bind", str(work), INSIDE_STAGED]
    args += ["--chdir", INSIDE_WORK if zygote is None else "/", "--clearenv"]
    for key, value in sandbox_env(home="/tmp/home", tmp="/tmp", pythonpath=pythonpath).items():
        args += ["--setenv", key, value]
    args += ["--setenv", "DS2MLE_SANDBOXED", "1"]
    if zygote is None:
        args += ["--setenv", "DS2MLE_STAGED", INSIDE_STAGED]
    setpriv = shutil.which("setpriv")
    if zygote is not None:
        # root with its capabilities, in the sandbox's own namespaces: it builds each job's private view,
        # then the job's processes drop to ``uid`` (see autograder.zygote); it never runs a notebook itself
        return [*args, "--cap-add", "ALL", "--", sys.executable, "-m", "autograder.zygote", str(uid)], None, "/"
    if os.geteuid() == 0 and uid is not None and setpriv:
        args += ["--", setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    else:
        args[1:1] = ["--unshare-user", "--uid", "65534", "--gid", "65534", "--disable-userns", "--cap-drop", "ALL"]
        args += ["--"]
    return args + worker, None, "/"
