"""A clean, pre-imported template that forks each submission's worker and kernel: a zygote.

Most of a submission's cost is not the learner's code: it is starting
Python twice (the worker and its kernel) and importing ``nbclient``,
``ipykernel``, ``numpy`` and ``pandas`` before a line of the notebook runs.
Android and Chromium avoid the same cost by forking each new process from a
*zygote*: a process that has imported everything once and never runs
untrusted code itself.

``python -m autograder.zygote UID`` is started by :mod:`autograder.jobs`,
once per concurrent grading slot, inside that slot's bubblewrap sandbox
(read-only system, no course repository, no network; see
:mod:`autograder.sandbox`), as root with its capabilities. It imports the
grading and kernel stacks, then waits. For each job the host stages the
submission in the slot's inbox and writes one control line; the zygote
forks a **worker**, which, still root,

1. enters a mount, IPC and network namespace of its own: a fresh tmpfs of
   the job's ``scratch_bytes`` at ``/submission`` (``/tmp`` points into
   it) holding a copy of the submission's extra files, the job's reference
   package bound read-only, the inbox hidden, a loopback of its own;
2. forks the **kernel** from this clean state, before the job is read, so
   the kernel's memory never holds the hidden tests;
3. opens the job, then both processes lower their resource limits, drop to
   the slot's unprivileged user id with no capabilities, ``no_new_privs``
   and non-dumpable;

then the worker runs the notebook exactly as :mod:`autograder.worker`
does, starting the waiting kernel instead of a new Python. The kernel
closes every inherited file descriptor before it runs anything. When the
worker ends, the zygote kills every process of the slot's user id, waits
until none is left, and reports the worker's exit status on its own line::

    {"event": "exit", "returncode": 0}

so each submission still has its own processes, its own private filesystem
view and its own limits, while the imports are paid once per slot.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["INBOX", "main"]

INBOX = "/opt/ds2mle/inbox"
REFERENCE = "/opt/ds2mle/reference"
WORK = "/submission"

# Imported once, in the template; the kernel and the worker inherit them. ipykernel's debugger
# (debugpy) and the shell are most of a kernel's start; numpy, pandas and the simulator are what the
# guard and module 00's notebooks import first. None of them starts a thread at import.
PRELOAD = ("numpy", "pandas", "ds2mle.data", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell",
           "ipykernel.debugger", "jupyter_client.manager", "nbclient", "nbformat", "autograder.engine",
           "autograder.guard", "autograder.worker")

_CLONE_NEWNS = 0x00020000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _loopback_up() -> None:
    """Bring ``lo`` up in a new network namespace (SIOCGIFFLAGS / SIOCSIFFLAGS)."""
    import fcntl

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(s.fileno(), 0x8913, req)[:18])[1]
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH", b"lo", flags | 0x1))


def _drop(uid: int, limits: dict[str, int]) -> None:
    """Lower the limits, become ``uid`` with no capabilities, and stay so."""
    import resource

    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is not None:
            resource.setrlimit(which, (value, value))
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to another user: every capability is gone
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), "non-dumpable")


def _copy_tree(source: Path, target: Path, uid: int) -> None:
    import shutil

    for root, dirs, names in os.walk(source):
        here = target / Path(root).relative_to(source)
        for name in dirs:
            (here / name).mkdir(exist_ok=True)
            os.chown(here / name, uid, uid)
        for name in names:
            shutil.copyfile(Path(root) / name, here / name, follow_symlinks=False)
            os.chown(here / name, uid, uid)


def _private_view(scratch: int, uid: int) -> None:
    """Step 1: this job's own mounts, IPC and network."""
    _check(_libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC | _CLONE_NEWNET), "unshare")
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _loopback_up()
    _mount("tmpfs", WORK, "tmpfs", _MS_NOSUID | _MS_NODEV, f"size={scratch},mode=1777")
    os.mkdir(f"{WORK}/.tmp", 0o1777)
    os.chmod(f"{WORK}/.tmp", 0o1777)
    os.chown(WORK, uid, uid)
    _copy_tree(Path(INBOX) / "files", Path(WORK), uid)
    if (Path(INBOX) / "reference").is_dir():
        _mount(f"{INBOX}/reference", REFERENCE, None, _MS_BIND | _MS_REC)
        _mount(None, REFERENCE, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_REC)


def _kernel(ready: int, uid: int, limits: dict[str, int]) -> None:
    """Step 2, in the forked kernel: wait for the connection file, then be an ipykernel. Never returns."""
    code = 0
    try:
        os.setsid()  # its own process group: interrupts and kills reach it and its children only
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, ready)
        os.closerange(ready + 1, 1 << 16)  # nothing inherited: not the worker's records, not the job
        _drop(uid, limits)
        os.chdir(WORK)
        with os.fdopen(ready, "rb") as fh:
            told = fh.read().decode()
        if not told:
            os._exit(0)
        argv = json.loads(told)  # the kernel's arguments, as jupyter_client would have run them
        import importlib

        sys.path[:] = [p for p in sys.path if p not in ("", "/", os.getcwd())]
        sys.path_importer_cache.clear()
        importlib.invalidate_caches()
        sys.argv = ["ipykernel_launcher", *argv]
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(argv)  # type: ignore[no-untyped-call]
        app.start()  # type: ignore[no-untyped-call]
    except BaseException:  # noqa: BLE001 - a kernel that cannot start is seen as dead by the worker
        code = 1
    os._exit(code)


class _Forked:
    """The waiting kernel, shaped like the :class:`subprocess.Popen` jupyter_client expects."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.stdin = self.stdout = self.stderr = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -9
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                import subprocess

                raise subprocess.TimeoutExpired("kernel", timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _kernel_manager(kernel_pid: int, ready: int) -> Any:
    """A jupyter_client kernel manager whose "start" hands the connection file to the forked kernel."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class ForkedProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            # [python, "-m", "ipykernel_launcher", "-f", FILE, ...]: the kernel is already running Python
            argv = cmd[3:] if cmd[1:3] == ["-m", "ipykernel_launcher"] else cmd[cmd.index("-f"):]
            os.write(ready, json.dumps(argv).encode())
            os.close(ready)
            self.process = _Forked(kernel_pid)  # type: ignore[assignment]  # Popen's interface, without exec
            self.pid = kernel_pid
            self.pgid = kernel_pid
            self.cwd = kwargs.get("cwd", WORK)
            return self.connection_info

    km = AsyncKernelManager(kernel_name="python3")
    km.provisioner = ForkedProvisioner(kernel_id="graded", kernel_spec=km.kernel_spec, parent=km)
    return km


def _job(uid: int, control: dict[str, Any]) -> int:
    """One submission, in the forked worker (steps 1-3, then the notebook). Returns the exit status."""
    limits = {k: int(v) for k, v in control["limits"].items()}
    _private_view(int(control["scratch"]), uid)
    job_fd = os.open(f"{INBOX}/job.json", os.O_RDONLY)
    _mount("tmpfs", INBOX, "tmpfs", 0, "size=4k,mode=0")  # the inbox is gone from this job's view
    os.chdir(WORK)
    ready_read, ready_write = os.pipe()
    kernel_pid = os.fork()
    if kernel_pid == 0:
        os.close(ready_write)
        os.close(job_fd)
        _kernel(ready_read, uid, limits)
    os.close(ready_read)
    with os.fdopen(job_fd, "rb") as fh:
        raw = fh.read()
    _drop(uid, limits)

    from autograder.worker import run_payload

    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.set_inheritable(out.fileno(), False)

    def emit(event: dict[str, Any]) -> None:
        out.write(json.dumps(event, ensure_ascii=True) + "\n")
        out.flush()

    try:
        run_payload(raw, emit=emit, kernel_manager=_kernel_manager(kernel_pid, ready_write), kill_strays=True)
    finally:
        try:
            os.kill(kernel_pid, signal.SIGKILL)
        except OSError:
            pass
    return 0


def _reap(uid: int) -> None:
    while True:
        alive = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.stat(f"/proc/{entry}").st_uid == uid:
                        alive.append(int(entry))
                except OSError:
                    continue
        if not alive:
            return
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.02)


def _read_line(fd: int) -> bytes:
    """One control line, byte by byte: nothing beyond it is read into this process."""
    line = bytearray()
    while True:
        byte = os.read(fd, 1)
        if not byte:
            return bytes(line)
        if byte == b"\n":
            return bytes(line)
        line += byte


def main(argv: list[str] | None = None) -> int:
    """Serve jobs for one slot: ``python -m autograder.zygote UID``."""
    args = sys.argv[1:] if argv is None else argv
    uid = int(args[0])
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # see autograder.worker
    import importlib

    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional library only costs speed
            pass
    try:  # IPython loads its colour themes on the first inspector: once here, not per kernel
        from IPython.core.oinspect import Inspector

        Inspector(theme_name="nocolor")
    except Exception:  # noqa: BLE001 - only speed
        pass

    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.write(1, b'{"event": "ready"}\n')
    while True:
        line = _read_line(0)
        if not line:
            return 0
        try:
            control = json.loads(line)
        except ValueError:
            return 2
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                code = _job(uid, control)
            except BaseException as exc:  # noqa: BLE001 - reported as the worker's end
                try:
                    os.write(2, f"zygote worker: {type(exc).__name__}: {exc}\n".encode())
                except OSError:
                    pass
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        _reap(uid)
        out.write(json.dumps({"event": "exit", "returncode": os.waitstatus_to_exitcode(status),
                              "seconds": round(time.monotonic() - started, 3)}) + "\n")
        out.flush()


if __name__ == "__main__":
    raise SystemExit(main())
