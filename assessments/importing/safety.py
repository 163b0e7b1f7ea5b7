"""Checks on an uploaded file before openpyxl reads it.

openpyxl trusts the zip it is given: a small upload can inflate to gigabytes (a zip bomb), hold
thousands of entries, or be a Word document renamed to .xlsx. Everything here looks only at the
raw bytes and the zip's central directory (sizes as declared there; Python's zipfile never
inflates an entry beyond its declared size), so nothing is decompressed before it has passed.
"""

import io
import zipfile

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 1000
MAX_RATIO = 100  # total uncompressed / total compressed
# openpyxl holds every cell of a sheet as an object (hundreds of bytes each): a 5 MB sheet XML is
# some 250,000 cells, far more than any 自评表 and still a bounded amount of memory.
MAX_SHEET_XML_BYTES = 5 * 1024 * 1024
RATIO_FLOOR_BYTES = 1024 * 1024  # tiny files have odd ratios; judge the ratio above this size

# Messages (tests assert them verbatim).
NO_FILE = "请选择要导入的 Excel 文件（.xlsx）。"
TOO_LARGE = "文件超过 10 MB，无法导入。请删除无关的工作表或图片后再试。"
EMPTY_FILE = "文件是空的（0 字节），请重新选择自评表文件。"
NOT_ZIP = "该文件不是 Excel 工作簿（.xlsx）。请在 Excel 或 WPS 中“另存为” .xlsx 格式后再上传。"
OLE_FILE = "该文件是旧版 Excel（.xls）或已加密的工作簿，无法读取。请另存为不加密的 .xlsx 后再上传。"
WORD_FILE = (
    "该文件是 Word 文档（.docx），不是 Excel 工作簿。请上传自评表的 .xlsx 文件；"
    "Word 中的表格可复制到 Excel 后另存为 .xlsx。"
)
OTHER_OFFICE_FILE = "该文件是 PowerPoint 演示文稿，不是 Excel 工作簿。请上传自评表的 .xlsx 文件。"
NOT_WORKBOOK_ZIP = "该压缩文件不是 Excel 工作簿（缺少 [Content_Types].xml 或 xl/workbook.xml）。"
TOO_MANY_ENTRIES = f"文件内部条目超过 {MAX_ENTRIES} 个，疑似异常文件，已拒绝导入。"
TOO_BIG_UNCOMPRESSED = f"文件解压后超过 {MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB，疑似异常文件，已拒绝导入。"
SHEET_TOO_BIG = "工作表过大（单个工作表解压后超过 5 MB），不像是自评表，已拒绝导入。"
BAD_RATIO = f"文件压缩比异常（超过 {MAX_RATIO} 倍），疑似异常文件，已拒绝导入。"
CORRUPT = "无法读取该工作簿：文件可能已损坏。请在 Excel 或 WPS 中打开并重新保存为 .xlsx 后再上传。"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WORKBOOK_TYPES = (
    b"spreadsheetml.sheet.main",
    b"spreadsheetml.template.main",
    b"ms-excel.sheet.macroEnabled.main",
)


class UploadRefused(Exception):
    """The file cannot be imported; `str(exc)` is the message for the officer."""


def check_upload(data: bytes) -> None:
    """Raise `UploadRefused` unless `data` looks like a workbook openpyxl may safely open."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(TOO_LARGE)
    if not data:
        raise UploadRefused(EMPTY_FILE)
    if data.startswith(_OLE_MAGIC):
        raise UploadRefused(OLE_FILE)
    if not data.startswith(b"PK"):
        raise UploadRefused(NOT_ZIP)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise UploadRefused(NOT_ZIP) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_ENTRIES:
            raise UploadRefused(TOO_MANY_ENTRIES)
        names = {info.filename for info in infos}
        total = sum(info.file_size for info in infos)
        compressed = sum(info.compress_size for info in infos)
        if total > MAX_UNCOMPRESSED_BYTES:
            raise UploadRefused(TOO_BIG_UNCOMPRESSED)
        if total > RATIO_FLOOR_BYTES and total > MAX_RATIO * max(compressed, 1):
            raise UploadRefused(BAD_RATIO)
        if any(info.filename.startswith("xl/worksheets/") and info.file_size > MAX_SHEET_XML_BYTES for info in infos):
            raise UploadRefused(SHEET_TOO_BIG)
        if "word/document.xml" in names:
            raise UploadRefused(WORD_FILE)
        if "ppt/presentation.xml" in names:
            raise UploadRefused(OTHER_OFFICE_FILE)
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise UploadRefused(NOT_WORKBOOK_ZIP)
        content_types = archive.getinfo("[Content_Types].xml")
        if content_types.file_size > 1024 * 1024:
            raise UploadRefused(NOT_WORKBOOK_ZIP)
        try:
            declared = archive.read(content_types)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
            raise UploadRefused(CORRUPT) from None
        if not any(kind in declared for kind in _WORKBOOK_TYPES):
            raise UploadRefused(NOT_WORKBOOK_ZIP)
