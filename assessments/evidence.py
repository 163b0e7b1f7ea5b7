"""佐证材料 (issue 13): evidence files per assessment and per indicator row.

An upload is streamed by `EvidenceUploadHandler` to a private temporary file (hashed on the way,
never held whole in memory) and stops at the caps; `inspect` then decides what the file is from
its content — never its name — with puremagic (pinned) and the checks below: PDF (no JavaScript,
launch actions, embedded files or XFA, not encrypted, not a polyglot), JPEG, PNG, and Office
documents (xlsx, docx) and OFD, whose zip directory passes the same checks as an Excel import
(`importing.safety`, in the limited child of `importing.sandbox`). SVG, HTML, executables and
anything else are refused with the reason. `store` keeps all files of one upload or none.

The submitted set is frozen in the snapshot (`freeze`): a file removed after a submission stays
stored and reachable for reviewers of that version.
"""

import hashlib
import logging
import os
import re
import tempfile
import unicodedata
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from typing import NamedTuple

import puremagic
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.utils import timezone

from portal import storage

from . import audit
from .importing import safety, sandbox
from .models import Assessment, Evidence, Snapshot

log = logging.getLogger(__name__)

MB = 1024 * 1024
HEAD_BYTES = 8192


def max_file_bytes() -> int:
    return settings.EVIDENCE_MAX_FILE_MB * MB


def max_total_bytes() -> int:
    return settings.EVIDENCE_MAX_TOTAL_MB * MB


# --- Messages (tests assert them) -------------------------------------------------------------

NO_FILE = "请选择要上传的文件。"
EMPTY = "“{name}”是空文件（0 字节），未上传。"
TOO_LARGE = "“{name}”超过单个文件 {limit} MB 的上限，未上传。请压缩或拆分后再上传。"
TOO_MANY_AT_ONCE = "一次最多上传 {limit} 个文件，本次未上传任何文件。请分批上传。"
TOTAL_EXCEEDED = "本自评的佐证材料合计不能超过 {limit} MB（已用 {used}），本次未上传任何文件。"
COUNT_EXCEEDED = "本自评的佐证材料最多 {limit} 个（已有 {count} 个），本次未上传任何文件。"
NOT_EDITABLE = "该自评当前状态为“{state}”，不能增删佐证材料。"
NOTHING_STORED = "本次未上传任何文件：{reasons}"
UNKNOWN_TYPE = "“{name}”的文件类型无法识别，未上传。只接受 PDF、JPEG、PNG 图片、Excel（.xlsx）、Word（.docx）和 OFD 文件。"
REFUSED_TYPE = "“{name}”是{what}，不接受此类文件。只接受 PDF、JPEG、PNG 图片、Excel（.xlsx）、Word（.docx）和 OFD 文件。"
SVG = "“{name}”是 SVG 图像：SVG 可以包含脚本，不予接收。请另存为 PNG 或 JPEG 后上传。"
PDF_ACTIVE = "“{name}”是含有{what}的 PDF，不予接收。请用“打印为 PDF”重新生成不含脚本和附件的 PDF 后上传。"
PDF_ENCRYPTED = "“{name}”是加密（设置了密码或权限）的 PDF，无法检查其内容，不予接收。请取消密码后重新保存再上传。"
PDF_BROKEN = "“{name}”的 PDF 结构异常（{why}），无法确认其安全，不予接收。请重新生成 PDF 后上传。"
POLYGLOT = "“{name}”同时是{first}和{second}（伪装文件），不予接收。"
EMBEDDED_MARKUP = "“{name}”中夹带了网页或脚本代码，不予接收。"
OFFICE_MACRO = "“{name}”含有宏或 ActiveX 控件，不予接收。请另存为不含宏的 .xlsx / .docx 后上传。"
OFFICE_EMBEDDED = "“{name}”内嵌了可执行的对象（{part}），不予接收。"
ZIP_UNSAFE_NAME = "“{name}”内部含有异常的路径（{part}），不予接收。"
OLD_OFFICE = "“{name}”是旧版 Office 文件（.doc / .xls）或已加密的文档，不予接收。请另存为 .docx / .xlsx 后上传。"
NOT_OFFICE = "“{name}”是压缩包，但不是 Excel、Word 或 OFD 文件，不予接收。请上传 PDF 或原文件。"
TITLE_REQUIRED = "请填写标题。"

# What a refused file is, in words (puremagic's MIME type or extension -> 中文).
REFUSED_KINDS = {
    "application/vnd.microsoft.portable-executable": "Windows 可执行程序",
    "application/x-msdownload": "Windows 可执行程序",
    "application/x-executable": "可执行程序",
    "application/x-sharedlib": "可执行程序",
    "application/x-elf": "可执行程序",
    "text/html": "网页文件（HTML）",
    "application/xhtml+xml": "网页文件（HTML）",
    "application/x-sh": "脚本文件",
    "application/javascript": "脚本文件",
    "application/x-rar-compressed": "RAR 压缩包",
    "application/x-7z-compressed": "7z 压缩包",
    "application/gzip": "gzip 压缩包",
    "image/gif": "GIF 图像",
    "image/bmp": "BMP 图像",
    "image/tiff": "TIFF 图像",
    "image/webp": "WebP 图像",
}

# --- What is accepted -------------------------------------------------------------------------


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str
    label: str


PDF = FileType("application/pdf", ".pdf", "PDF")
JPEG = FileType("image/jpeg", ".jpg", "JPEG 图片")
PNG = FileType("image/png", ".png", "PNG 图片")
XLSX = FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx", "Excel 工作簿")
DOCX = FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx", "Word 文档")
OFD = FileType("application/ofd", ".ofd", "OFD 版式文件")
ACCEPTED = (PDF, JPEG, PNG, XLSX, DOCX, OFD)
ACCEPT_ATTRIBUTE = ".pdf,.jpg,.jpeg,.png,.xlsx,.docx,.ofd"


class EvidenceRefused(Exception):
    """The upload is refused; `str(exc)` is the officer's message."""


# --- Names ------------------------------------------------------------------------------------

_UNSAFE_NAME_CHARS = set("/\\／＼∕⁄⧸⧹﹨:*?\"<>|")
MAX_NAME = 100


def clean_name(name: str) -> str:
    """The uploader's file name as shown and offered on download: the last path component only,
    no control or bidi character, no separator or character Windows forbids, no "..", at most
    100 characters (the extension kept). Never used to store the file."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]
    chars = ["_" if c in _UNSAFE_NAME_CHARS else c for c in name if not unicodedata.category(c).startswith("C")]
    cleaned = re.sub(r"\.{2,}", ".", "".join(chars)).strip(" ._")
    cleaned = re.sub(r"\s+", " ", cleaned)
    if len(cleaned) > MAX_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) <= 8 else cleaned[:MAX_NAME]
    return cleaned or "未命名"


def display_name(original: str, kind: FileType) -> str:
    """The name offered on download: the cleaned name with the extension of what the file is."""
    name = clean_name(original)
    stem, dot, ext = name.rpartition(".")
    if dot and ("." + ext.lower()) in {t.extension for t in ACCEPTED} | {".jpeg", ".exe", ".svg", ".html", ".htm", ".js"}:
        name = stem or "未命名"
    if kind.extension == ".jpg" and name.lower().endswith((".jpg", ".jpeg")):
        return name
    return name if name.lower().endswith(kind.extension) else name + kind.extension


# --- Upload handling --------------------------------------------------------------------------


class EvidenceFile(UploadedFile):
    """An uploaded file in a private temporary file, with its size, SHA-256 and first bytes."""

    def __init__(self, file, name, size, sha256, head):
        super().__init__(file, name=name, size=size)
        self.sha256 = sha256
        self.head = head

    def temporary_file_path(self):
        return self.file.name


class EvidenceUploadHandler(FileUploadHandler):
    """Streams each file to a private temporary file (never in memory), hashing as it goes, and
    stops the upload at the caps: files per upload, bytes per file, bytes left for the assessment.
    The reason is left on the request (`evidence_refusal`) for the view to show."""

    def __init__(self, request, *, remaining_bytes: int):
        super().__init__(request)
        self.remaining = remaining_bytes
        self.count = 0
        self.total = 0
        self.temp = None

    def _refuse(self, message: str):
        self.request.evidence_refusal = message
        self._discard()
        raise StopUpload(connection_reset=False)

    def _discard(self):
        if self.temp is not None:
            self.temp.close()
            self.temp = None

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.count += 1
        if self.count > settings.EVIDENCE_MAX_FILES_PER_UPLOAD:
            self._refuse(TOO_MANY_AT_ONCE.format(limit=settings.EVIDENCE_MAX_FILES_PER_UPLOAD))
        self.temp = tempfile.NamedTemporaryFile(prefix="portal-evidence-", dir=settings.FILE_UPLOAD_TEMP_DIR)
        os.chmod(self.temp.name, 0o600)
        self.size = 0
        self.hash = hashlib.sha256()
        self.head = bytearray()

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        self.total += len(raw_data)
        if self.size > max_file_bytes():
            self._refuse(TOO_LARGE.format(name=clean_name(self.file_name), limit=settings.EVIDENCE_MAX_FILE_MB))
        if self.total > self.remaining:
            self.request.evidence_refusal_total = True
            self._refuse(TOTAL_EXCEEDED.format(limit=settings.EVIDENCE_MAX_TOTAL_MB,
                                               used=human_size(max(0, max_total_bytes() - self.remaining))))
        self.hash.update(raw_data)
        if len(self.head) < HEAD_BYTES:
            self.head += raw_data[: HEAD_BYTES - len(self.head)]
        self.temp.write(raw_data)
        return None

    def file_complete(self, file_size):
        temp, self.temp = self.temp, None
        temp.flush()
        temp.seek(0)
        return EvidenceFile(temp, self.file_name, self.size, self.hash.hexdigest(), bytes(self.head))

    def upload_interrupted(self):
        self._discard()


def human_size(n: int) -> str:
    if n >= MB:
        return f"{n / MB:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} 字节"


# --- What a file is ---------------------------------------------------------------------------

# PDF names that run something or carry something: actions, scripts, embedded files, forms.
_PDF_ACTIVE_NAMES = {
    b"JavaScript": "JavaScript 脚本", b"JS": "JavaScript 脚本", b"Launch": "启动程序的动作",
    b"EmbeddedFile": "内嵌附件", b"EmbeddedFiles": "内嵌附件", b"RichMedia": "多媒体（Flash）内容",
    b"XFA": "XFA 动态表单", b"SubmitForm": "表单提交动作", b"ImportData": "数据导入动作",
    b"GoToE": "打开内嵌文件的动作", b"GoToR": "打开外部文件的动作",
}
_PDF_NAME = re.compile(rb"/([A-Za-z0-9#]+)")
_HEX = re.compile(rb"#([0-9A-Fa-f]{2})")
_MARKUP = re.compile(rb"<\s*(script|html|svg|iframe|\?php|!doctype\s+html)\b", re.IGNORECASE)
_STREAM = re.compile(rb"(?<=[\s>])stream\r?\n")
_PDF_CHUNK = 1024 * 1024
MAX_INFLATED = 64 * MB  # object streams inflated while checking a PDF, all together


def _pdf_names(data: bytes):
    for match in _PDF_NAME.finditer(data):
        yield _HEX.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))


def _check_pdf_text(data: bytes, name: str) -> None:
    for word in _pdf_names(data):
        if word in _PDF_ACTIVE_NAMES:
            raise EvidenceRefused(PDF_ACTIVE.format(name=name, what=_PDF_ACTIVE_NAMES[word]))
        if word == b"Encrypt":
            raise EvidenceRefused(PDF_ENCRYPTED.format(name=name))


def check_pdf(handle, name: str) -> None:
    """Every part of the PDF outside stream data, and every object stream inflated, is searched
    for the names of scripts, launch actions, embedded files, XFA and encryption. Stream data
    (images, page content) is skipped: raw image bytes would match by chance."""
    handle.seek(0)
    inflated_total = 0
    buffer = b""
    eof = False
    while True:
        if not eof and len(buffer) < 2 * _PDF_CHUNK:
            chunk = handle.read(_PDF_CHUNK)
            eof = not chunk
            buffer += chunk
        match = _STREAM.search(buffer)
        if match is None:
            if eof:
                _check_pdf_text(buffer, name)
                return
            # Keep a tail that may hold a keyword or a name cut in two.
            keep = 256
            _check_pdf_text(buffer[:-keep] if len(buffer) > keep else b"", name)
            buffer = buffer[-keep:] if len(buffer) > keep else buffer
            if eof:
                continue
            continue
        head, buffer = buffer[: match.start()], buffer[match.end():]
        _check_pdf_text(head, name)
        dictionary = head[head.rfind(b"obj") + 3:] if b"obj" in head else head[-2048:]
        names = set(_pdf_names(dictionary))
        object_stream = b"ObjStm" in names
        if object_stream and names & {b"LZWDecode", b"ASCIIHexDecode", b"ASCII85Decode", b"RunLengthDecode", b"Crypt"}:
            raise EvidenceRefused(PDF_BROKEN.format(name=name, why="对象流使用了无法检查的编码"))
        inflater = zlib.decompressobj() if object_stream and b"FlateDecode" in names else None
        carry = b""
        # Copy the stream's data to "endstream", inflating object streams and checking them.
        while True:
            end = buffer.find(b"endstream")
            data, rest = (buffer, None) if end < 0 else (buffer[:end], buffer[end + len(b"endstream"):])
            if end < 0 and not eof:
                data, buffer = buffer[:-16], buffer[-16:]  # "endstream" may be cut in two
            if inflater is not None and data:
                try:
                    out = inflater.decompress(data, MAX_INFLATED - inflated_total + 1)
                except zlib.error:
                    raise EvidenceRefused(PDF_BROKEN.format(name=name, why="对象流无法解压")) from None
                inflated_total += len(out)
                if inflated_total > MAX_INFLATED or inflater.unconsumed_tail:
                    raise EvidenceRefused(PDF_BROKEN.format(name=name, why="对象流解压后过大"))
                _check_pdf_text(carry + out, name)
                carry = out[-256:]
            if rest is not None:
                buffer = rest
                break
            if eof:
                raise EvidenceRefused(PDF_BROKEN.format(name=name, why="数据流没有结尾"))
            chunk = handle.read(_PDF_CHUNK)
            eof = not chunk
            buffer += chunk


def _scan_markup(handle, name: str) -> None:
    """HTML or script markup anywhere in the file (an image that is also a web page)."""
    handle.seek(0)
    tail = b""
    while chunk := handle.read(_PDF_CHUNK):
        if _MARKUP.search(tail + chunk):
            raise EvidenceRefused(EMBEDDED_MARKUP.format(name=name))
        tail = chunk[-32:]


def _is_zip(handle) -> bool:
    handle.seek(0)
    try:
        return zipfile.is_zipfile(handle)
    finally:
        handle.seek(0)


_OFFICE_EXECUTABLE = re.compile(r"(^|/)(vbaProject\.bin|vbaData\.xml|activeX\d*\.(xml|bin))$|(^|/)activeX/", re.IGNORECASE)
_EMBEDDED_BINARY = re.compile(r"(^|/)embeddings/.*\.(bin|exe|dll|com|bat|cmd|js|vbs|scr|ps1)$", re.IGNORECASE)
_BAD_PARTS = re.compile(r"\.(exe|dll|com|bat|cmd|js|vbs|scr|ps1|html?|svg|hta)$", re.IGNORECASE)


def inspect_package(path: str, name: str) -> str:
    """What an Office/OFD zip is ("xlsx", "docx", "ofd"), or EvidenceRefused. Runs in the limited
    child process of the Excel import (importing/sandbox.py): the zip's directory is checked as
    an import's is (entries, inflated size, ratio) before anything in it is read."""

    def work() -> dict:
        try:
            with open(path, "rb") as data, safety._zip_directory(data, not_zip=NOT_OFFICE.format(name=name), ole=OLD_OFFICE.format(name=name),
                                       max_bytes=max_file_bytes(),
                                       too_large=TOO_LARGE.format(name=name, limit=settings.EVIDENCE_MAX_FILE_MB)
                                       ) as (archive, infos):
                names = [info.filename for info in infos]
                for part in names:
                    if part.startswith(("/", "\\")) or ".." in part.split("/") or "\\" in part or ":" in part:
                        return {"refused": ZIP_UNSAFE_NAME.format(name=name, part=clean_name(part))}
                for part in names:
                    if _OFFICE_EXECUTABLE.search(part):
                        return {"refused": OFFICE_MACRO.format(name=name)}
                    if _EMBEDDED_BINARY.search(part) or _BAD_PARTS.search(part):
                        return {"refused": OFFICE_EMBEDDED.format(name=name, part=clean_name(part))}
                if "OFD.xml" in names:
                    head = archive.read("OFD.xml")[:4096] if archive.getinfo("OFD.xml").file_size < 1024 * 1024 else b""
                    if b"ofdspec.org" in head or b"<ofd:OFD" in head:
                        return {"kind": "ofd"}
                    return {"refused": NOT_OFFICE.format(name=name)}
                if "[Content_Types].xml" not in names:
                    return {"refused": NOT_OFFICE.format(name=name)}
                types = safety._content_types(archive, NOT_OFFICE.format(name=name))
                if b"macroEnabled" in types:
                    return {"refused": OFFICE_MACRO.format(name=name)}
                if "xl/workbook.xml" in names and b"spreadsheetml.sheet.main" in types:
                    return {"kind": "xlsx"}
                if "word/document.xml" in names and b"wordprocessingml.document.main" in types:
                    return {"kind": "docx"}
                return {"refused": NOT_OFFICE.format(name=name)}
        except safety.UploadRefused as exc:
            return {"refused": str(exc)}

    try:
        answer = sandbox.run_limited(work)
    except safety.UploadRefused as exc:
        raise EvidenceRefused(f"“{name}”：{exc}") from None
    except sandbox.ParseFailed:
        raise EvidenceRefused(NOT_OFFICE.format(name=name)) from None
    if "refused" in answer:
        raise EvidenceRefused(answer["refused"])
    return answer["kind"]


def _magic_label(head: bytes) -> str | None:
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return None
    for m in matches:
        what = REFUSED_KINDS.get(m.mime_type)
        if what:
            return what
    if head.startswith(b"\x7fELF"):
        return "可执行程序"
    if head.startswith(b"MZ"):
        return "Windows 可执行程序"
    if head[:2] == b"#!":
        return "脚本文件"
    if matches:
        return f"“{matches[0].extension.lstrip('.') or matches[0].name}”类型的文件"
    return None


def inspect(upload: EvidenceFile) -> FileType:
    """What the uploaded file is, from its content; EvidenceRefused with the reason otherwise."""
    name = clean_name(upload.name)
    head = upload.head
    if upload.size == 0:
        raise EvidenceRefused(EMPTY.format(name=name))
    handle = upload.file
    text_head = head.lstrip()[:512].lower()
    if b"<svg" in text_head or (text_head.startswith(b"<?xml") and b"<svg" in head.lower()):
        raise EvidenceRefused(SVG.format(name=name))
    if head.startswith(b"%PDF-"):
        if _is_zip(handle):
            raise EvidenceRefused(POLYGLOT.format(name=name, first="PDF", second="压缩包"))
        check_pdf(handle, name)
        _scan_markup(handle, name)
        return PDF
    for magic, kind, label in ((b"\xff\xd8\xff", JPEG, "JPEG 图片"), (b"\x89PNG\r\n\x1a\n", PNG, "PNG 图片")):
        if head.startswith(magic):
            if _is_zip(handle):
                raise EvidenceRefused(POLYGLOT.format(name=name, first=label, second="压缩包"))
            if b"%PDF-" in head[:1024]:
                raise EvidenceRefused(POLYGLOT.format(name=name, first=label, second="PDF"))
            _scan_markup(handle, name)
            return kind
    if head.startswith(b"PK\x03\x04"):
        kind = inspect_package(upload.temporary_file_path(), name)
        return {"xlsx": XLSX, "docx": DOCX, "ofd": OFD}[kind]
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        raise EvidenceRefused(OLD_OFFICE.format(name=name))
    if b"%PDF-" in head[:1024]:
        # Acrobat reads a PDF whose header comes after other bytes: the classic polyglot.
        raise EvidenceRefused(POLYGLOT.format(name=name, first=_magic_label(head) or "其他文件", second="PDF"))
    what = _magic_label(head)
    if what:
        raise EvidenceRefused(REFUSED_TYPE.format(name=name, what=what))
    raise EvidenceRefused(UNKNOWN_TYPE.format(name=name))


# --- Storing and removing ---------------------------------------------------------------------


def current(assessment) -> "list[Evidence]":
    """The evidence of the draft: what the officer sees and the next submission freezes."""
    return list(Evidence.objects.filter(assessment=assessment, removed_at__isnull=True).order_by("id"))


def usage(assessment) -> tuple[int, int]:
    """(files, bytes) counted against the caps: every file still stored for the draft."""
    items = Evidence.objects.filter(assessment=assessment, removed_at__isnull=True)
    return items.count(), sum(items.values_list("size", flat=True))


def editable(assessment) -> bool:
    return assessment.state in (Assessment.State.DRAFT, Assessment.State.RETURNED)


def inspect_all(uploads) -> list[FileType]:
    """What every upload is; EvidenceRefused with every reason when one is refused (so nothing of
    the upload is stored). Also used for the files of a 整改 answer (issue 15)."""
    reasons, kinds = [], []
    for upload in uploads:
        try:
            kinds.append(inspect(upload))
        except EvidenceRefused as exc:
            reasons.append(str(exc))
    if reasons:
        raise EvidenceRefused(reasons[0] if len(reasons) == 1 else NOTHING_STORED.format(reasons="；".join(reasons)))
    return kinds


def put_upload(folder: str, upload, file_type: FileType) -> str:
    """Store an inspected upload under a name the portal makes (`folder/<uuid><ext>`); the name."""
    name = f"{folder}/{uuid.uuid4().hex}{file_type.extension}"
    upload.file.seek(0)
    storage.put(name, File(upload.file))
    return name


def discard(names) -> None:
    """Delete files stored by an upload that then failed (all or none are kept)."""
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # the upload already failed; an orphan object is only wasted space
            log.warning("evidence: could not delete %s after a failed upload", name, exc_info=True)


def store(*, assessment, user, uploads, kind: str, title: str, note: str = "", indicator_key=None) -> list[Evidence]:
    """Check every upload, then store them all or none. Raises EvidenceRefused with every reason."""
    if not uploads:
        raise EvidenceRefused(NO_FILE)
    kinds = inspect_all(uploads)
    stored_names = []
    try:
        with transaction.atomic():
            locked = Assessment.objects.select_for_update().get(pk=assessment.pk)
            if not editable(locked):
                raise EvidenceRefused(NOT_EDITABLE.format(state=locked.get_state_display()))
            count, used = usage(locked)
            if count + len(uploads) > settings.EVIDENCE_MAX_FILES:
                raise EvidenceRefused(COUNT_EXCEEDED.format(limit=settings.EVIDENCE_MAX_FILES, count=count))
            if used + sum(u.size for u in uploads) > max_total_bytes():
                raise EvidenceRefused(TOTAL_EXCEEDED.format(limit=settings.EVIDENCE_MAX_TOTAL_MB, used=human_size(used)))
            created = []
            for n, (upload, file_type) in enumerate(zip(uploads, kinds, strict=True), start=1):
                name = put_upload(f"evidence/{assessment.pk}", upload, file_type)
                stored_names.append(name)
                item = Evidence.objects.create(
                    assessment=locked, indicator_key=indicator_key, kind=kind,
                    title=title if len(uploads) == 1 else f"{title}（{n}）"[:100], note=note,
                    file=name, original_name=display_name(upload.name, file_type)[:120],
                    content_type=file_type.content_type, size=upload.size, sha256=upload.sha256, uploaded_by=user,
                )
                audit.record("evidence.upload", unit=assessment.unit_id, obj=assessment, details={
                    "evidence": item.pk, "title": item.title, "filename": item.original_name, "size": item.size,
                    "kind": item.kind, "indicator": str(indicator_key) if indicator_key else None,
                })
                created.append(item)
    except BaseException:
        discard(stored_names)
        raise
    return created


def remove(item: Evidence, user) -> None:
    """Remove a file from the draft. One a submission included stays stored for the reviewers of
    that version; one never submitted is deleted for good."""
    with transaction.atomic():
        locked = Assessment.objects.select_for_update().get(pk=item.assessment_id)
        if not editable(locked):
            raise EvidenceRefused(NOT_EDITABLE.format(state=locked.get_state_display()))
        audit.record("evidence.remove", unit=locked.unit_id, obj=locked, details={
            "evidence": item.pk, "title": item.title, "filename": item.original_name, "kept": item.submitted,
        })
        if item.submitted:
            Evidence.objects.filter(pk=item.pk).update(removed_at=timezone.now(), removed_by=user)
        else:
            name = item.file.name
            item.delete()
            transaction.on_commit(lambda: default_storage.delete(name))


def as_entry(item: Evidence) -> dict:
    """An evidence item as a snapshot keeps it."""
    return {
        "id": item.pk, "kind": item.kind, "title": item.title, "note": item.note,
        "indicator_key": str(item.indicator_key) if item.indicator_key else None,
        "name": item.original_name, "content_type": item.content_type, "size": item.size, "sha256": item.sha256,
    }


def freeze(assessment) -> list[dict]:
    """The evidence a submission includes (inside its transaction): marked submitted, so removing
    it later keeps the file for the reviewers of this version."""
    items = current(assessment)
    Evidence.objects.filter(pk__in=[i.pk for i in items]).update(submitted=True)
    return [as_entry(i) for i in items]


def of_snapshot(data: dict) -> list[dict]:
    return list(data.get("evidence") or [])


def submitted_items(assessment) -> "list[Evidence]":
    """The evidence of the latest submission (what reviewers see), as stored rows."""
    snapshot = Snapshot.objects.filter(assessment=assessment).order_by("-number").first()
    ids = [e["id"] for e in of_snapshot(snapshot.data)] if snapshot else []
    by_id = {e.pk: e for e in Evidence.objects.filter(assessment=assessment, pk__in=ids, submitted=True)}
    return [by_id[i] for i in ids if i in by_id]


def reviewer_may_open(assessment, evidence_id: int) -> Evidence | None:
    """The item if a submission of the assessment included it (reviewers never see drafts)."""
    return Evidence.objects.filter(assessment=assessment, pk=evidence_id, submitted=True).first()


def summary(entries) -> dict:
    """{indicator key or None: set of kinds} of a list of snapshot entries (or Evidence rows)."""
    out: dict = {}
    for e in entries:
        key = e["indicator_key"] if isinstance(e, dict) else (str(e.indicator_key) if e.indicator_key else None)
        kind = e["kind"] if isinstance(e, dict) else e.kind
        out.setdefault(key, set()).add(kind)
    return out


@dataclass
class Group:
    """The evidence of one indicator row (or of the whole assessment) on a page."""

    key: str | None
    label: str
    number: int | None
    items: list


class RowLine(NamedTuple):
    """What the evidence pages show of an indicator row (the read model's IndicatorLine has the same)."""

    key: str
    number: int
    name: str
    level2: str


def row_lines(assessment) -> list[RowLine]:
    """The assessment's indicator rows as the read model numbers them (its prefetched rows, in
    their order), without scoring them: the 佐证材料 page shows only which row is which."""
    return [RowLine(str(ind.key), n, ind.name, ind.level2) for n, ind in enumerate(assessment.indicators.all(), start=1)]


def grouped(lines, entries) -> list[Group]:
    """Entries (snapshot dicts or Evidence rows) grouped by row (`lines`: the read model's
    indicator lines or `row_lines`), in the table's order; the whole assessment first, then each
    row; items of rows no longer in the table go with the whole."""
    def key_of(e):
        return e["indicator_key"] if isinstance(e, dict) else (str(e.indicator_key) if e.indicator_key else None)

    rows = {line.key: line for line in lines}
    whole = Group(None, "整体（不对应具体指标）", None, [])
    groups = {k: Group(k, f"第{line.number}行 {' '.join((line.name or '').split()) or line.level2}", line.number, [])
              for k, line in rows.items()}
    for e in entries:
        groups.get(key_of(e), whole).items.append(e)
    return [whole] + [groups[line.key] for line in lines]


def counts_by_row(entries) -> dict:
    out: dict = {}
    for e in entries:
        key = e["indicator_key"] if isinstance(e, dict) else (str(e.indicator_key) if e.indicator_key else None)
        out[key] = out.get(key, 0) + 1
    return out


def read_head(name: str, n: int = HEAD_BYTES) -> bytes:
    stream = storage.open_stream(name)
    try:
        return stream.read(n)
    finally:
        stream.close()


def open_for_inspection(data: bytes, name: str) -> EvidenceFile:
    """An in-memory stand-in for an upload (tests, the sealed-copy check of stored bytes)."""
    handle = tempfile.NamedTemporaryFile(prefix="portal-evidence-")
    handle.write(data)
    handle.flush()
    handle.seek(0)
    return EvidenceFile(handle, name, len(data), hashlib.sha256(data).hexdigest(), data[:HEAD_BYTES])

