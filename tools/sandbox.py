"""The grading sandbox: run one learner's notebook code where it can reach nothing of value.

:func:`run_job` starts ``tools/sandbox_runner.py`` under bubblewrap (``bwrap``, Debian package
``bubblewrap``) with

* a read-only view of the system (``/usr``, the Python installation and its virtual environment) and
  a read-only *copy* of the ``mlmkit`` package made for this run: not the instructor's checkout, so
  no master notebook, hidden test, autograder bundle, grade file or other submission is visible;
* its own writable ``/tmp`` (a size-limited tmpfs that disappears with the sandbox), no network, and
  its own user, PID, IPC and UTS namespaces (``--unshare-all``), running as ``nobody``;
* limits: address space (``memory_mb``), file size, open files and core dumps; a wall-clock
  ``timeout`` after which the whole sandbox is killed.  bubblewrap's PID namespace ends with its
  first process, so no child a learner started — background, ``setsid`` or daemonised — outlives it;
  ``--die-with-parent`` ends it if the grader dies.

The runner prints the answers as JSON (:mod:`mlmkit.plain`) on its stdout, which the grader reads
with a size cap.  With no bubblewrap the grader refuses to run unless the instructor passes
``--unsafe-no-sandbox`` (then the runner is a plain child process with the same limits and timeout,
but it can read and write what the grader's user can).  Docker is not used: bubblewrap needs no
daemon and starts in milliseconds.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).resolve().with_name("sandbox_runner.py")
MAX_OUTPUT = 64 * 2 ** 20          # bytes of answers read back
MAX_STDERR = 64 * 2 ** 10


NO_SANDBOX = ("no working sandbox: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) so that "
              "learners' code cannot read the solutions or change the grades, or pass --unsafe-no-sandbox "
              "to grade without isolation (only for notebooks you trust)")


class SandboxUnavailable(RuntimeError):
    """Neither bubblewrap works here nor did the instructor allow running without a sandbox."""


@dataclass(frozen=True)
class JobResult:
    """What came back from one sandboxed run (``stdout`` is untrusted text)."""
    stdout: bytes
    stderr: str
    returncode: int | None          # None: killed at the timeout
    seconds: float
    truncated: bool


def bwrap_path() -> str | None:
    """The bubblewrap binary if it can create a sandbox on this machine, else None."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = subprocess.run([path, "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                            "--proc", "/proc", "--dev", "/dev", "/bin/true"],
                           capture_output=True, timeout=30)
    return path if probe.returncode == 0 else None


def package_copy(dest: Path) -> Path:
    """A copy of the installed mlmkit package (code and data only) for the sandbox to import."""
    import mlmkit
    src = Path(mlmkit.__file__).resolve().parent
    shutil.copytree(src, dest / "mlmkit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _python_roots() -> list[str]:
    """Folders the Python interpreter and its packages live in (mounted read-only, same paths)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    roots = sorted(r for r in roots if r and not r.startswith("/usr/"))
    # a root inside another is covered by it
    return [r for r in roots if not any(r != o and r.startswith(o.rstrip("/") + "/") for o in roots)]


def bwrap_command(bwrap: str, package: Path, job: Path, tmp_mb: int) -> list[str]:
    # Run as root, bwrap keeps capabilities unless told not to: drop them all, in a user namespace.
    cmd = [bwrap, "--unshare-all", "--unshare-user", "--cap-drop", "ALL", "--die-with-parent", "--new-session",
           "--uid", "65534", "--gid", "65534",
           "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{link}"):
            cmd += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
    for etc in ("/etc/ld.so.cache", "/etc/fonts", "/etc/localtime", "/etc/ssl/certs"):
        if os.path.exists(etc):
            cmd += ["--ro-bind", etc, etc]
    # The private /tmp first: a Python installed under /tmp (a CI checkout's .venv) is then mounted on
    # top of it, not hidden by it.
    cmd += ["--size", str(tmp_mb * 2 ** 20), "--tmpfs", "/tmp"]
    for root in _python_roots():
        cmd += ["--ro-bind", root, root]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--ro-bind", str(package), "/opt/mlmkit",
            "--ro-bind", str(RUNNER), "/opt/grader/sandbox_runner.py",
            "--ro-bind", str(job), "/job/job.json",
            "--clearenv", "--setenv", "HOME", "/tmp", "--setenv", "MPLBACKEND", "Agg",
            "--setenv", "MPLCONFIGDIR", "/tmp/mpl", "--setenv", "OPENBLAS_NUM_THREADS", "1",
            "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "PATH", "/usr/bin:/bin",
            "--chdir", "/tmp",
            sys.executable, "-I", "/opt/grader/sandbox_runner.py", "/job/job.json"]
    return cmd


def _limits(memory_mb: int):
    def apply():
        mem = memory_mb * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 2 ** 20, 256 * 2 ** 20))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    return apply


def _drain(stream, cap: int, sink: list, flags: list) -> None:
    size = 0
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        if size < cap:
            sink.append(chunk[:cap - size])
        else:
            flags.append("truncated")
        size += len(chunk)


def run_job(job: dict, package: Path, *, timeout: float, memory_mb: int = 4096, tmp_mb: int = 512,
            unsafe_no_sandbox: bool = False) -> JobResult:
    """Run ``job`` (see ``sandbox_runner.py``) in the sandbox; never raises for the learner's doings."""
    bwrap = bwrap_path()
    if bwrap is None and not unsafe_no_sandbox:
        raise SandboxUnavailable(NO_SANDBOX)
    with tempfile.TemporaryDirectory(prefix="mlmkit-job-") as tmp:
        job_file = Path(tmp) / "job.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        if bwrap is not None:
            cmd = bwrap_command(bwrap, package, job_file, tmp_mb)
            env = {"PATH": "/usr/bin:/bin"}
        else:
            cmd = [sys.executable, "-I", str(RUNNER), str(job_file), str(package), str(Path(tmp) / "work")]
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "MPLBACKEND": "Agg",
                   "OPENBLAS_NUM_THREADS": "1"}
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True, preexec_fn=_limits(memory_mb))
        out, err, flags = [], [], []
        readers = [threading.Thread(target=_drain, args=(proc.stdout, MAX_OUTPUT, out, flags), daemon=True),
                   threading.Thread(target=_drain, args=(proc.stderr, MAX_STDERR, err, []), daemon=True)]
        for r in readers:
            r.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        _kill_group(proc)
        for r in readers:
            # The pipes close once every process of the sandbox is gone (its PID namespace ends with
            # bwrap).  Without the sandbox a learner's setsid child could hold them: stop waiting.
            r.join(timeout=5)
        return JobResult(b"".join(out), b"".join(err).decode("utf-8", "replace"), code,
                         time.monotonic() - start, bool(flags))


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the sandbox's process group (bwrap and, with it, its PID namespace)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
