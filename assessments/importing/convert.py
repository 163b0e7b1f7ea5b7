"""Optional: a .doc / .wps / .rtf upload converted to .docx by LibreOffice (从Word导入, issue 19).

Off unless settings.WORD_IMPORT_SOFFICE names the `soffice` program. The conversion runs in a
throw-away directory with its own LibreOffice profile, without a shell, with a wall-clock limit
(WORD_IMPORT_CONVERT_SECONDS) and CPU and memory limits set in the child; its result then passes
every check a .docx upload passes (importing/safety.py) and is read in the same sandbox.
"""

import os
import resource
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

from . import safety

CONVERT_FAILED = "无法转换该文件（.doc / .wps）。请在 Word 或 WPS 中打开，请另存为 .docx 后上传。"
_SUFFIXES = (".doc", ".wps", ".rtf", ".dot", ".wpt")


def enabled() -> bool:
    program = getattr(settings, "WORD_IMPORT_SOFFICE", "")
    return bool(program) and (os.path.isfile(program) or shutil.which(program) is not None)


def _limits() -> None:  # runs in the child, before LibreOffice starts
    seconds = int(getattr(settings, "WORD_IMPORT_CONVERT_SECONDS", 20)) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 * safety.MAX_UPLOAD_BYTES,) * 2)


def _end_group(process) -> None:
    """Whatever LibreOffice left running in its process group ends with the request."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def to_docx(data: bytes, filename: str) -> bytes:
    """The .docx LibreOffice makes of `data`; `safety.UploadRefused` when it cannot."""
    suffix = Path(filename or "").suffix.lower()
    suffix = suffix if suffix in _SUFFIXES else ".doc"
    with tempfile.TemporaryDirectory(prefix="portal-convert-") as tmp:
        source = Path(tmp) / f"upload{suffix}"
        source.write_bytes(data)
        out = Path(tmp) / "out"
        out.mkdir()
        command = [
            settings.WORD_IMPORT_SOFFICE, "--headless", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
            f"-env:UserInstallation=file://{tmp}/profile", "--convert-to", "docx", "--outdir", str(out), str(source),
        ]
        try:
            # Its own process group: LibreOffice starts a second process, which a timeout must end too.
            process = subprocess.Popen(
                command, cwd=tmp, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                preexec_fn=_limits, start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp, "LANG": "C.UTF-8"},
            )
        except OSError:
            raise safety.UploadRefused(CONVERT_FAILED) from None
        try:
            process.wait(timeout=float(getattr(settings, "WORD_IMPORT_CONVERT_SECONDS", 20)))
        except subprocess.TimeoutExpired:
            raise safety.UploadRefused(CONVERT_FAILED) from None
        finally:
            _end_group(process)
        result = out / "upload.docx"
        if not result.is_file() or result.stat().st_size > safety.MAX_UPLOAD_BYTES:
            raise safety.UploadRefused(CONVERT_FAILED)
        return result.read_bytes()
