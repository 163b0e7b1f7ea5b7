"""Parse an uploaded workbook in a child process with a CPU-time and a memory limit.

The declared-size checks (safety.check_declared) stop the workbooks we know how to make expensive;
this bounds the ones we do not. The web worker forks (a copy of itself: Django and openpyxl are
already imported, so the child starts in a few milliseconds, with or without Celery, on SQLite or
PostgreSQL); the child sets its own limits — IMPORT_PARSE_CPU_SECONDS of CPU (a profiling timer,
SIGPROF, to the tenth of a second; setrlimit(RLIMIT_CPU) one second later as the kernel's backstop),
its address space IMPORT_PARSE_MEMORY_MB above what it inherited (setrlimit) — checks the
declared sizes, parses, and writes the result as JSON to a pipe. The web worker waits at most
IMPORT_PARSE_WALL_SECONDS (0.9 s: with the rest of the request, at most a second of the worker),
then kills the child. A Word document (从Word导入, importing/word.py) is read the same way
(`read_document`), with its own declared-size checks (safety.check_declared_docx). Either way the
officer gets a message saying what was too big or too slow — or, when the child was stopped by the
clock having used little CPU, that the server is busy (the file is not at fault).

The child never returns into Django: whatever happens it leaves through os._exit, so it runs no
atexit handler, closes no inherited database connection or socket, and flushes no buffer of its
parent. `gc.freeze()` keeps it from finalising objects it inherited.
"""

import gc
import json
import logging
import math
import os
import resource
import select
import signal
import time
import traceback
import warnings

from django.conf import settings

from . import parser, safety, word

log = logging.getLogger(__name__)

MAX_RESULT_BYTES = 16 * 1024 * 1024  # the parsed workbook as JSON; the view keeps ≤ 1,000,000 characters

TOO_SLOW = (
    "读取该文件超过了 {seconds} 秒的处理时间上限：文件过于复杂，不像是一份自评表，已拒绝导入。"
    "请删除无关的工作表后重新保存再上传。"
)
TOO_MUCH_MEMORY = (
    "读取该文件所需的内存超过了 {megabytes} MB 的上限：文件过于复杂，不像是一份自评表，已拒绝导入。"
    "请删除无关的工作表后重新保存再上传。"
)
RESULT_TOO_BIG = "识别出的内容过多，不像是一份自评表，请检查文件。"
BUSY = "服务器繁忙，暂时无法读取该文件，请稍后再试。"

# What the child reports: the kind of outcome, then its payload.
_OK, _REFUSED_UPLOAD, _REFUSED_PARSE, _NO_MEMORY, _ERROR = "ok", "upload", "parse", "memory", "error"
_CHILD_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2,
                  signal.SIGCHLD, signal.SIGWINCH, signal.SIGTTIN, signal.SIGTTOU, signal.SIGALRM)


class ParseFailed(Exception):
    """The child failed in a way the officer cannot act on (a bug, a damaged file): logged, shown as CORRUPT."""


def cpu_seconds() -> float:
    return float(getattr(settings, "IMPORT_PARSE_CPU_SECONDS", 0.8))


def wall_seconds() -> float:
    return float(getattr(settings, "IMPORT_PARSE_WALL_SECONDS", 0.9))


def memory_megabytes() -> int:
    return int(getattr(settings, "IMPORT_PARSE_MEMORY_MB", 256))


def parse_workbook(data: bytes, templates=None, chosen=None) -> parser.ParsedWorkbook:
    """`safety.check_declared(data)`, then `parser.parse_workbook(data, templates, chosen)` (the
    表样 to read it by), in a limited child process.

    `data` must have passed `safety.check_upload`. Raises `safety.UploadRefused` (declared sizes,
    time, memory) or `parser.ParseRefused` with the officer's message, or `ParseFailed` for
    anything else.
    """

    def work() -> dict:
        safety.check_declared(data)
        return parser.parse_workbook(data, templates, chosen).to_dict()

    return parser.ParsedWorkbook.from_dict(run_limited(work))


def read_document(data: bytes, specs) -> word.WordDocument:
    """从Word导入: `safety.check_declared_docx(data)`, then `word.read_document(data, specs)` (the
    表样 by kind, see there), in the same limited child process as a workbook.

    `data` must have passed `safety.check_docx_upload`. Raises as `parse_workbook` does.
    """
    def work() -> dict:
        safety.check_declared_docx(data)
        return word.read_document(data, specs).to_dict()

    return word.WordDocument.from_dict(run_limited(work))


def run_limited(work) -> dict:
    """`work()` (which returns a JSON-ready dict or raises `safety.UploadRefused` /
    `parser.ParseRefused`) in a child process with the CPU, memory and wall-clock limits above."""
    _warm_up()
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:  # EAGAIN, ENOMEM: the server is overloaded, the file is not at fault
        os.close(read_end)
        os.close(write_end)
        log.exception("import: cannot start the parsing process")
        raise safety.UploadRefused(BUSY) from None
    if pid == 0:  # the child
        os.close(read_end)
        _child(work, write_end)  # never returns
    os.close(write_end)
    try:
        payload, timed_out = _collect(pid, read_end)
    finally:
        os.close(read_end)
    used = _cpu_used(pid) if timed_out else None
    status = _reap(pid, kill=timed_out)
    # The officer is told the promise in whole seconds ("1 秒"), not the clock's 0.9.
    too_slow = safety.UploadRefused(TOO_SLOW.format(seconds=math.ceil(wall_seconds())))
    if timed_out:
        # A child that got less than three quarters of a core was slowed by the machine, not by the file.
        if used is not None and used < 0.75 * wall_seconds():
            log.warning("import: parsing stopped by the clock after %.2f s of CPU: the server is busy", used)
            raise safety.UploadRefused(BUSY)
        raise too_slow
    if payload is None:
        raise safety.UploadRefused(RESULT_TOO_BIG)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGPROF, signal.SIGXCPU, signal.SIGKILL):
        raise too_slow  # the CPU timer, the soft CPU limit, the hard one
    try:
        kind, value = json.loads(payload)
    except ValueError:
        raise ParseFailed(f"import child ended with status {status} and no readable result ({len(payload)} bytes)") from None
    if kind == _OK:
        return value
    if kind == _REFUSED_UPLOAD:
        raise safety.UploadRefused(value)
    if kind == _REFUSED_PARSE:
        raise parser.ParseRefused(value)
    if kind == _NO_MEMORY:
        raise safety.UploadRefused(TOO_MUCH_MEMORY.format(megabytes=memory_megabytes()))
    raise ParseFailed(f"import child failed:\n{value}")


_warm = {"done": False}


def _warm_up() -> None:
    """Import here, once, what the parsers import lazily, so that no child pays for it."""
    if not _warm["done"]:
        import docx  # noqa: F401 - python-docx, for 从Word导入

        from ..exports import xlsx  # noqa: F401 - the row-fitting rule of the portal's own files

        _warm["done"] = True


def _cpu_used(pid: int) -> float | None:
    """CPU seconds the child has used so far (from /proc), None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _collect(pid: int, fd: int) -> tuple[bytes | None, bool]:
    """Read the child's answer until it closes the pipe: (payload or None if too big, timed out)."""
    deadline = time.monotonic() + wall_seconds()
    chunks, size = [], 0
    poller = select.poll()  # not select(): a busy process may hold descriptors above 1024
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not poller.poll(remaining * 1000):
            return b"", True
        chunk = os.read(fd, 1024 * 1024)
        if not chunk:
            return b"".join(chunks), False
        size += len(chunk)
        if size > MAX_RESULT_BYTES:
            os.kill(pid, signal.SIGKILL)
            return None, False
        chunks.append(chunk)


def _reap(pid: int, *, kill: bool) -> int:
    """Wait for the child (killing it first if asked, or if it lingers after closing its pipe)."""
    if kill:
        _kill(pid)
    deadline = time.monotonic() + 1.0
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): nothing to wait for
            return 0
        if done:
            return status
        if time.monotonic() > deadline:
            _kill(pid)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.002)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _child(work, fd: int) -> None:
    code = 0
    try:
        gc.freeze()  # never finalise what the parent owns (its connections, its files)
        for sig in _CHILD_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        warnings.simplefilter("ignore")  # openpyxl's warnings would write to the parent's stderr
        cpu = cpu_seconds()
        signal.signal(signal.SIGPROF, signal.SIG_DFL)  # the default action ends the process
        signal.setitimer(signal.ITIMER_PROF, cpu)
        backstop = math.ceil(cpu) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (backstop, backstop + 1))
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + memory_megabytes() * 1024 * 1024,) * 2)
        try:
            # Prepared before the work: with the memory limit reached there may be none left for it.
            no_memory = json.dumps([_NO_MEMORY, None]).encode()
            try:
                answer = json.dumps([_OK, work()], ensure_ascii=False).encode()
            except safety.UploadRefused as exc:
                answer = json.dumps([_REFUSED_UPLOAD, str(exc)], ensure_ascii=False).encode()
            except parser.ParseRefused as exc:
                answer = json.dumps([_REFUSED_PARSE, str(exc)], ensure_ascii=False).encode()
        except MemoryError:
            answer = no_memory
        except BaseException:  # noqa: BLE001 - reported to the parent, which logs it
            answer = json.dumps([_ERROR, traceback.format_exc()[-8000:]], ensure_ascii=False).encode()
        view = memoryview(answer)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:  # noqa: BLE001 - the parent sees no answer and reports the exit status
        code = 70
    finally:
        os._exit(code)


def _address_space() -> int:
    """The process's current virtual size in bytes (the limit is set above what it already has)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()
