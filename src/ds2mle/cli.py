"""The ``ds2mle`` command.

Learners: ``start``, ``status``, ``export``, ``grade --self``, ``catch-up``, ``data``.
Maintainers: ``build [--check]``, ``verify``, ``clean``.

A user error prints one line, ``error: ...``, that names the fix, and exits 1.
A traceback means a bug in ds2mle.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ds2mle import __version__
from ds2mle.errors import Ds2mleError, GradingError, NotebookError
from ds2mle.manifest import Course, load_course

if TYPE_CHECKING:
    from autograder.sandbox import SandboxPolicy

__all__ = ["main"]

logger = logging.getLogger("ds2mle")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 1."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"error: {message}; see `{self.prog} --help`\n")


# The exit status of a command whose reader went away (`ds2mle status | head -4`): 128 + SIGPIPE, as a shell
# reports for `cat` killed by a closed pipe.
_EXIT_BROKEN_PIPE = 141


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        status = _run(argv)
        sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's last flush at exit
    except BrokenPipeError:
        # The reader stopped reading (`| head`): stop quietly. Point stdout at /dev/null so that
        # Python's own flush at exit has nowhere to fail and prints no "Exception ignored" either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return _EXIT_BROKEN_PIPE
    return status


def _run(argv: list[str] | None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 1
    logging.basicConfig(level=logging.INFO if not args.quiet else logging.WARNING, format="%(message)s")
    for noisy in ("traitlets", "papermill", "nbclient", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    if not hasattr(args, "func"):
        parser.print_help()
        return 1
    try:
        result: int = args.func(args)
    except Ds2mleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ds2mle", description="The ds2mle course: from data scientist to ML engineer.")
    parser.add_argument("--version", action="version", version=f"ds2mle {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print warnings and errors")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)

    start = sub.add_parser(
        "start",
        help="open JupyterLab on the course's start page",
        description=(
            "Open JupyterLab at the root of the course, on the start page "
            "(course/00-start-here/00-how-this-course-works.ipynb), and keep it running until Ctrl-C. "
            "It writes nothing itself; your notebooks are saved where they are, under course/ and assignments/. "
            "On a remote machine or in a container: `ds2mle start --no-browser --ip 0.0.0.0 --port 8888` "
            "prints the URL to open instead of opening a browser."
        ),
    )
    start.add_argument("--no-browser", action="store_true", help="do not open a browser; print the URL")
    start.add_argument("--port", type=int, default=None, help="port to listen on (default: Jupyter's)")
    start.add_argument("--ip", default="localhost", help="address to listen on (default: localhost)")
    start.set_defaults(func=_cmd_start)

    status = sub.add_parser(
        "status",
        help="progress per module: lessons run, files exported, self-grade",
        description=(
            "Print one row per module: lessons you have run (saved with every code cell executed), "
            "package files of the module that exist in src/fraudguard, and your last `ds2mle grade --self` "
            "score. It only reads: the scores come from .ds2mle/progress.json, which `grade --self` writes. "
            "Example: `ds2mle status`, or `ds2mle status | head -4` for the first modules."
        ),
    )
    status.set_defaults(func=_cmd_status)

    export = sub.add_parser(
        "export",
        help="write notebooks' '#| export' cells into src/fraudguard",
        description=(
            "Write the '#| export' cells of your saved notebooks into the package files they own (course.toml "
            "says which). Save the notebook first (Ctrl-S): export reads the file, not the kernel. Restart the "
            "kernel afterwards before importing the new module. Export writes nothing when a cell does not parse, "
            "and refuses to replace a working file with one that still has TODO stubs unless --force is given "
            "(the working file is then kept as <file>.bak)."
        ),
    )
    export.add_argument("notebooks", nargs="*", type=Path, help="notebooks to export (default: all of yours)")
    export.add_argument("--force", action="store_true",
                        help="replace a working file with one that still has TODO stubs (keeps <file>.bak)")
    export.set_defaults(func=_cmd_export)

    catch_up = sub.add_parser(
        "catch-up",
        help="drop in the reference code for a module or one package file; yours is kept as *.mine",
        description=(
            "Stuck on an exercise? Copy the course's reference version of a package file into src/fraudguard, "
            "so that the next lessons run. Give a module (`ds2mle catch-up 01`: every file it owns) or one file "
            "(`ds2mle catch-up splits.py`). Your own file is never lost: it is kept beside it as <file>.mine "
            "(then .mine.1, .mine.2, ...: an earlier .mine is never overwritten). Compare with "
            "`diff src/fraudguard/splits.py.mine src/fraudguard/splits.py`, and restart the notebook's kernel."
        ),
    )
    catch_up.add_argument("target", metavar="MODULE_OR_FILE", help="module id or slug (01), or a package file (splits.py)")
    catch_up.set_defaults(func=_cmd_catch_up)

    grade = sub.add_parser(
        "grade",
        help="grade an assignment: a cohort's submissions (instructors), or --self: your own",
        description=(
            "Grade every submission of ASSIGNMENT in submitted/<student>/<assignment>/ (or from an LMS zip), "
            "each in a sandbox, in parallel; write gradebook.db, autograded/, feedback/ and exports/<assignment>.csv. "
            "With --self: grade your own notebook in assignments/, hidden tests included."
        ),
    )
    grade.add_argument("assignment", help="module id or slug, e.g. 00 or 00-start-here")
    grade.add_argument("--self", dest="self_grade", action="store_true", help="grade your own notebooks")
    grade.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    grade.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1,
                       help="submissions graded at once (default: number of cores)")
    # Limits: the defaults are SandboxPolicy's, or c.SandboxPolicy.* in nbgrader_config.py; an option overrides both.
    grade.add_argument("--timeout", type=float, default=None, help="seconds a cell may run (default 120)")
    grade.add_argument("--budget", type=float, default=None, help="seconds a notebook's cells may run (default 600)")
    grade.add_argument("--memory", type=int, default=None, metavar="MB", help="address space per process (default 2048)")
    grade.add_argument("--processes", type=int, default=None, metavar="N",
                       help="processes and threads per submission (default 64)")
    grade.add_argument("--file-size", type=int, default=None, metavar="MB", help="largest file a notebook may write (default 100)")
    grade.add_argument("--scratch", type=int, default=None, metavar="MB",
                       help="writable space per submission, /tmp included (default 512)")
    grade.add_argument("--sandbox", choices=["auto", "on", "off"], default="auto",
                       help="bubblewrap sandbox: auto (where installed; default), on (required), off")
    grade.add_argument("--zip", type=Path, metavar="FILE", help="collect this LMS download first (nbgrader zip_collect)")
    grade.add_argument("--zip-pattern", metavar="REGEX", default=None,
                       help="file-name pattern for --zip, with (?P<student_id>...) and (?P<file_id>...)")
    grade.add_argument("--scheduler", metavar="ADDRESS", help="run the submissions on this Dask scheduler")
    grade.add_argument("--no-feedback", dest="feedback", action="store_false", help="do not write HTML feedback")
    grade.add_argument("--csv", type=Path, metavar="FILE", help="where to write grades (default exports/<assignment>.csv)")
    grade.set_defaults(func=_cmd_grade)

    build = sub.add_parser(
        "build",
        help="generate assignments/ and the reference package (maintainers)",
        description=(
            "Regenerate everything the course derives from its sources: the student versions in assignments/ "
            "(nbgrader's generate step on solutions/assignments/), the learner's lessons in course/ (from "
            "solutions/course/), the reference package solutions/fraudguard/ (every notebook's export plus the "
            "skeleton files of src/fraudguard that no notebook owns) and the module table in README.md. "
            "Run it after editing a source notebook, then commit what it wrote. With --check it writes nothing "
            "and exits 1 with the list of differences; the test suite (and so CI) runs `ds2mle build --check`."
        ),
    )
    build.add_argument("--check", action="store_true", help="only check that they are up to date; exit 1 if not")
    build.set_defaults(func=_cmd_build)

    verify = sub.add_parser(
        "verify",
        help="run every notebook with papermill and report (maintainers, CI)",
        description=(
            "In a scratch copy of the course (with src/fraudguard reset to the skeleton), run every lesson and "
            "solution notebook with papermill in manifest order, exporting each one's package files as it "
            "passes; then check that each student version fails exactly its own graded tests and autogrades "
            "to 0. It writes nothing in the repository: it prints one line per notebook as it finishes and a "
            "report at the end, and exits 1 if any notebook failed. Example: `ds2mle verify -j 2 --module 00`."
        ),
    )
    verify.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="notebooks run at once")
    verify.add_argument("--module", action="append", help="only this module (repeatable)")
    verify.add_argument("--timeout", type=int, default=600, help="seconds a cell may run (default 600)")
    verify.add_argument("--changed", action="store_true",
                        help="skip checks that passed before on the same inputs: the notebook, the package files it "
                             "imports, the course tooling (local use; kept in .ds2mle/verify.json)")
    verify.set_defaults(func=_cmd_verify)

    clean = sub.add_parser(
        "clean",
        help="strip outputs and execution counts from notebooks",
        description=(
            "Rewrite each NOTEBOOK in place without outputs, execution counts or run metadata, as the course "
            "commits them (`ds2mle build --check` fails on a notebook committed with outputs). "
            "Example: `ds2mle clean solutions/course/01-engineering-foundations/*.ipynb` before you commit."
        ),
    )
    clean.add_argument("notebooks", nargs="+", type=Path, metavar="NOTEBOOK", help="notebooks to clean in place")
    clean.set_defaults(func=_cmd_clean)

    from ds2mle.data.cli import register as register_data

    register_data(sub)
    return parser


def _course() -> Course:
    return load_course()


def _cmd_start(args: argparse.Namespace) -> int:
    import importlib.util

    course = _course()
    first = course.modules[0].lessons[0].student_path(course.root).relative_to(course.root)
    if importlib.util.find_spec("jupyterlab") is None:
        raise Ds2mleError("JupyterLab is not installed in this environment; run `python -m pip install -e .`")
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={course.root}", f"--ServerApp.ip={args.ip}"]
    if args.port:
        command.append(f"--ServerApp.port={args.port}")
    if args.no_browser:
        command.append("--no-browser")
    command.append(f"--LabApp.default_url=/lab/tree/{first.as_posix()}")  # the URL it prints opens the start page
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI run as root
        command.append("--allow-root")
    command.append(first.as_posix())
    # Tools that Jupyter's extensions run as commands (nbgrader's formgrader runs `alembic`) live beside
    # this Python: put them first on PATH, so `.venv/bin/ds2mle start` works without activating the venv.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    logger.info("Opening %s in JupyterLab (stop it with Ctrl-C)", first)
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(course.root)
    os.execv(command[0], command)


def _cmd_status(args: argparse.Namespace) -> int:
    from ds2mle.progress import module_progress, render_table

    course = _course()
    print(render_table(module_progress(course)))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from ds2mle.export import export_notebook

    course = _course()
    paths = [p.resolve() for p in args.notebooks] or [
        nb.student_path(course.root) for nb in course.notebooks if nb.exports
    ]
    for path in paths:
        if not path.is_file():
            raise NotebookError(f"{path} does not exist; give the path of a notebook listed in course.toml")
        written = export_notebook(course, path, force=args.force)
        for target in written:
            print(f"{path.relative_to(course.root)} -> {target.relative_to(course.root)}")
        if not written:
            print(f"{path.relative_to(course.root)} owns no package file; nothing to export")
    return 0


def _cmd_catch_up(args: argparse.Namespace) -> int:
    from ds2mle.export import keep_copy

    course = _course()
    targets = _catch_up_targets(course, args.target)
    for target in targets:
        source = course.reference_dir / target
        dest = course.package_dir / target
        if not source.is_file():
            raise Ds2mleError(f"the reference {source.relative_to(course.root)} is missing; run `ds2mle build`")
        if dest.is_file() and dest.read_bytes() == source.read_bytes():
            print(f"{dest.relative_to(course.root)} is already the reference; nothing to do")
            continue
        if dest.is_file():
            kept = keep_copy(dest, suffix=".mine")
            print(f"kept your {dest.relative_to(course.root)} as {kept.relative_to(course.root)}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        print(f"copied the reference {source.relative_to(course.root)} -> {dest.relative_to(course.root)}")
    if targets:
        print("Restart your notebook's kernel (Kernel > Restart) so that it imports the new files.")
    return 0


def _catch_up_targets(course: Course, key: str) -> list[str]:
    """Package files for ``ds2mle catch-up KEY``: a module id or slug, or one package file."""
    name = key.removeprefix(f"src/{course.package}/").removeprefix(f"{course.package}/")
    name = name if name.endswith(".py") else f"{name.replace('.', '/')}.py"
    if course.owner_of(name) is not None:
        return [name]
    try:
        module = course.module(key)
    except Ds2mleError:
        owned = sorted(t for nb in course.notebooks for t in nb.exports)
        raise Ds2mleError(
            f"{key!r} is neither a module nor a package file; give a module id (e.g. 01) or one of: {', '.join(owned)}"
        ) from None
    targets = [t for nb in module.notebooks for t in nb.exports]
    if not targets:
        print(f"{module.slug} owns no package file; nothing to copy")
    return targets


def _cmd_grade(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        raise GradingError("-j must be at least 1")
    # jsonschema (under nbformat) compiles an IRI grammar at import when rfc3987_syntax is installed: about a
    # second before grading starts, for a format check that no notebook schema uses (the worker skips it too).
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    if not args.self_grade:
        return _cmd_grade_cohort(args)
    from autograder.selfgrade import progress_printer, render_report, self_grade
    from ds2mle.progress import record_self_grade

    course = _course()
    module = course.module(args.assignment)
    if not module.assignments:  # the error first, before any "Grading ..." line
        raise GradingError(f"module {module.slug} has no graded assignment yet; pick one from `ds2mle status`")
    policy = _grading_policy(course, args)
    print(f"Grading your {module.slug} with its hidden tests (this runs your notebook)...", flush=True)
    report = self_grade(course, module.slug, policy=policy, sandbox=args.sandbox,
                        on_progress=None if args.quiet else progress_printer(sys.stderr))
    print(render_report(report))
    record_self_grade(
        course, module_slug=module.slug, score=report.score, max_score=report.max_score,
        manual_points=report.manual_points,
    )
    return 0 if report.passed else 1  # scriptable: 1 when any autograded test failed


def _grading_policy(course: Course, args: argparse.Namespace) -> SandboxPolicy:
    """The limits of nbgrader_config.py, overridden by the command line's options."""
    from autograder.sandbox import SandboxPolicy

    mb = 1024**2
    if args.memory is not None and args.memory < 256:
        raise GradingError(f"--memory {args.memory} is too small for a Python kernel; give at least 256 (MB)")
    try:
        return SandboxPolicy.from_config(
            course.root, cell_timeout=args.timeout, budget=args.budget,
            memory_bytes=args.memory * mb if args.memory is not None else None, processes=args.processes,
            file_bytes=args.file_size * mb if args.file_size is not None else None,
            scratch_bytes=args.scratch * mb if args.scratch is not None else None,
        )
    except (ValueError, TypeError) as exc:
        raise GradingError(f"{exc}; fix nbgrader_config.py or the option") from None


def _cmd_grade_cohort(args: argparse.Namespace) -> int:
    from autograder.collect import DEFAULT_ZIP_PATTERN
    from autograder.coordinator import GradingOptions, SubmissionReport, grade_assignment

    course = _course()
    module = course.module(args.assignment)
    options = GradingOptions(
        jobs=args.jobs,
        policy=_grading_policy(course, args),
        sandbox=args.sandbox,
        scheduler=args.scheduler,
        feedback=args.feedback,
        csv_path=args.csv.resolve() if args.csv else None,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    where = f"on the Dask cluster at {args.scheduler}" if args.scheduler else f"with {args.jobs} job(s)"
    print(f"Grading {module.slug} {where}...", flush=True)

    def show(report: SubmissionReport) -> None:
        auto_max = report.max_score - report.manual_points
        if not options.progress:
            print(f"  {report.score:>5g}/{auto_max:<4g} {report.outcome:<20} {report.student}", flush=True)

    report = grade_assignment(
        course, module.slug, students=args.student, options=options, zip_path=args.zip,
        zip_pattern=args.zip_pattern or DEFAULT_ZIP_PATTERN, on_submission=show,
    )
    print()
    print(report.summary())
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from ds2mle.build import build, check

    course = _course()
    if args.check:
        problems = check(course)
        if problems:
            print(f"{len(problems)} problem(s): the committed course is out of date", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        print("build check: student versions, reference package and notebooks are up to date and clean")
        return 0
    written = build(course)
    print(f"built {len(written)} files (assignments/, course/ and {course.reference_dir.relative_to(course.root)}/)")
    print(_render_share(course))
    return 0


def _render_share(course: Course) -> str:
    """The learner's share of the reference package, per module and in total."""
    from ds2mle.build import learner_share

    rows = [row for row in learner_share(course) if row.total]
    lines = ["The learner writes, in exercises, these code lines of the reference package:"]
    for row in rows:
        lines.append(f"  {row.module:<32} {row.written:>5} of {row.total:>5} lines  {row.fraction:6.1%}")
    written, total = sum(r.written for r in rows), sum(r.total for r in rows)
    lines.append(f"  {'total':<32} {written:>5} of {total:>5} lines  {written / total if total else 0:6.1%}")
    return "\n".join(lines)


def _cmd_verify(args: argparse.Namespace) -> int:
    from ds2mle.verify import render_report, verify

    course = _course()
    if args.module:
        for key in args.module:
            course.module(key)  # unknown module: one-line error before any work
    started = time.perf_counter()

    def live(result: object) -> None:
        label = getattr(result, "label", "")
        ok = "ok" if getattr(result, "ok", False) else "FAIL"
        print(f"  {ok:<4} {getattr(result, 'kind', ''):<8} {label} ({getattr(result, 'seconds', 0.0):.1f} s)", flush=True)

    print(f"Verifying {len(course.notebooks)} notebooks with {args.jobs} job(s) in a scratch copy...", flush=True)
    results = verify(
        course, jobs=args.jobs, modules=args.module, cell_timeout=args.timeout, on_result=live,
        changed_only=args.changed,
    )
    print()
    print(render_report(results, total_seconds=time.perf_counter() - started))
    return 0 if results and all(r.ok for r in results) else 1


def _cmd_clean(args: argparse.Namespace) -> int:
    from ds2mle.notebooks import clean, read_notebook, write_notebook

    for path in args.notebooks:
        write_notebook(clean(read_notebook(path)), path)
        print(f"cleaned {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
