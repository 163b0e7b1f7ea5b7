"""Checks on an uploaded file before openpyxl reads it.

openpyxl trusts the zip it is given: a small upload can inflate to gigabytes (a zip bomb), hold
thousands of entries, or be a Word document renamed to .xlsx. Everything here looks only at the
raw bytes and the zip's central directory (sizes as declared there; Python's zipfile never
inflates an entry beyond its declared size), so nothing is decompressed before it has passed.
"""

import io
import posixpath
import re
import xml.parsers.expat
import zipfile
import zlib

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
    with _zip_directory(data, not_zip=NOT_ZIP, ole=OLE_FILE) as (archive, infos):
        names = {info.filename for info in infos}
        if any(info.filename.startswith("xl/worksheets/") and info.file_size > MAX_SHEET_XML_BYTES for info in infos):
            raise UploadRefused(SHEET_TOO_BIG)
        strings = next((info for info in infos if info.filename == SHARED_STRINGS_PART), None)
        if strings is not None and strings.file_size > MAX_SHARED_STRINGS_BYTES:
            raise UploadRefused(SHARED_STRINGS_TOO_BIG.format(
                part=SHARED_STRINGS_PART, size=_megabytes(strings.file_size), limit=_megabytes(MAX_SHARED_STRINGS_BYTES)))
        if "word/document.xml" in names:
            raise UploadRefused(WORD_FILE)
        if "ppt/presentation.xml" in names:
            raise UploadRefused(OTHER_OFFICE_FILE)
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise UploadRefused(NOT_WORKBOOK_ZIP)
        if not any(kind in _content_types(archive, NOT_WORKBOOK_ZIP) for kind in _WORKBOOK_TYPES):
            raise UploadRefused(NOT_WORKBOOK_ZIP)


class _zip_directory:
    """The checks every Office upload passes before anything in it is read: its size, what it is
    (an old binary Office file, not a zip at all), and the zip's central directory (entries, sizes
    as declared, ratio). Used as `with _zip_directory(data, ...) as (archive, infos):`."""

    def __init__(self, data, *, not_zip: str, ole: str, max_bytes: int = MAX_UPLOAD_BYTES, too_large: str = TOO_LARGE):
        # `data` is bytes, or a binary file open on disk (佐证材料: never read whole into memory).
        if isinstance(data, bytes | bytearray):
            size, head, source = len(data), bytes(data[:8]), io.BytesIO(data)
        else:
            size, _ = data.seek(0, io.SEEK_END), data.seek(0)
            head, _ = data.read(8), data.seek(0)
            source = data
        if size > max_bytes:
            raise UploadRefused(too_large)
        if not size:
            raise UploadRefused(EMPTY_FILE)
        if head.startswith(_OLE_MAGIC):
            raise UploadRefused(ole)
        if not head.startswith(b"PK"):
            raise UploadRefused(not_zip)
        try:
            self.archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise UploadRefused(not_zip) from None

    def __enter__(self):
        infos = self.archive.infolist()
        try:
            if len(infos) > MAX_ENTRIES:
                raise UploadRefused(TOO_MANY_ENTRIES)
            total = sum(info.file_size for info in infos)
            compressed = sum(info.compress_size for info in infos)
            if total > MAX_UNCOMPRESSED_BYTES:
                raise UploadRefused(TOO_BIG_UNCOMPRESSED)
            if total > RATIO_FLOOR_BYTES and total > MAX_RATIO * max(compressed, 1):
                raise UploadRefused(BAD_RATIO)
        except UploadRefused:
            self.archive.close()
            raise
        return self.archive, infos

    def __exit__(self, *exc):
        self.archive.close()
        return False


def _content_types(archive: zipfile.ZipFile, refusal: str) -> bytes:
    """The package's [Content_Types].xml (small: read whole), or `refusal`."""
    try:
        info = archive.getinfo("[Content_Types].xml")
    except KeyError:
        raise UploadRefused(refusal) from None
    if info.file_size > 1024 * 1024:
        raise UploadRefused(refusal)
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError, zlib.error):
        raise UploadRefused(CORRUPT) from None


# --- Word documents (从Word导入) ----------------------------------------------------------------
#
# The same directory checks as a workbook (size, entries, inflated size, ratio), then what makes a
# .docx: word/document.xml declared as a WordprocessingML document. A .doc or .wps (an OLE compound
# file, as is an encrypted .docx) is refused with the advice to save it as .docx, unless the server
# converts it (importing/convert.py, off by default).

NO_DOCUMENT = "请选择要导入的 Word 文档（.docx）。"
DOC_FILE = (
    "该文件是旧版 Word 文档（.doc）、WPS 文字文档（.wps）或已加密的文档，无法直接读取。"
    "请在 Word 或 WPS 中打开，请另存为 .docx 后上传（如已加密，请先取消密码）。"
)
RTF_FILE = "该文件是 RTF 格式，不是 Word 文档（.docx）。请在 Word 或 WPS 中打开，请另存为 .docx 后上传。"
NOT_DOCX = "该文件不是 Word 文档（.docx）。请在 Word 或 WPS 中打开自评报告，请另存为 .docx 后上传。"
EXCEL_NOT_WORD = "该文件是 Excel 工作簿，不是 Word 文档。自评表请使用“从Excel导入”；自评报告请上传 .docx 文件。"
NOT_DOCUMENT_ZIP = "该压缩文件不是 Word 文档（缺少 [Content_Types].xml 或 word/document.xml）。"
DOCUMENT_TOO_BIG = "文档正文（word/document.xml）解压后为 {size}，超过 {limit} 的上限，不像是一份自评报告，已拒绝导入。"
CORRUPT_DOCX = "无法读取该文档：文件可能已损坏。请在 Word 或 WPS 中打开并重新保存为 .docx 后再上传。"

_DOCUMENT_TYPES = (
    b"wordprocessingml.document.main",
    b"wordprocessingml.template.main",
    b"ms-word.document.macroEnabled.main",
    b"ms-word.template.macroEnabledTemplate.main",
)
DOCUMENT_PART = "word/document.xml"


def is_old_word_file(data: bytes) -> bool:
    """A .doc / .wps (OLE compound file) or an RTF file: what the optional converter may read."""
    return data.startswith(_OLE_MAGIC) or data.lstrip()[:5] == b"{\\rtf"


def check_docx_upload(data: bytes) -> None:
    """Raise `UploadRefused` unless `data` looks like a .docx python-docx may safely open."""
    if data.lstrip()[:5] == b"{\\rtf":
        raise UploadRefused(RTF_FILE)
    with _zip_directory(data, not_zip=NOT_DOCX, ole=DOC_FILE) as (archive, infos):
        names = {info.filename for info in infos}
        if "xl/workbook.xml" in names:
            raise UploadRefused(EXCEL_NOT_WORD)
        if "ppt/presentation.xml" in names:
            raise UploadRefused(NOT_DOCX)
        if "[Content_Types].xml" not in names or DOCUMENT_PART not in names:
            raise UploadRefused(NOT_DOCUMENT_ZIP)
        document = archive.getinfo(DOCUMENT_PART)
        if document.file_size > MAX_XML_PART_BYTES:
            raise UploadRefused(DOCUMENT_TOO_BIG.format(
                size=_megabytes(document.file_size), limit=_megabytes(MAX_XML_PART_BYTES)))
        if not any(kind in _content_types(archive, NOT_DOCUMENT_ZIP) for kind in _DOCUMENT_TYPES):
            raise UploadRefused(NOT_DOCUMENT_ZIP)


# --- What the workbook declares ---------------------------------------------------------------
#
# A file that passes the checks above can still make openpyxl build millions of objects: a 5 KB
# sheet declaring <mergeCell ref="A1:Z100000"/> makes it create 2.6 million MergedCell objects
# (51.7 s, 886 MB), a hyperlink on A1:XFD1048576 as many cells, 47 MB of shared strings 16 s of
# parsing. `check_declared` reads every XML part with a streaming parser (expat: no tree, no
# entity expansion, no DTD) and refuses a workbook by what it declares — merged and hyperlinked
# ranges, dimension, cells, rows, column ranges, shared strings — before openpyxl builds any cell.
# The limits are far above any 自评表 (the portal's own export of the largest demo assessment has
# 342 cells, 137 merged cells, 102 rows) and low enough that the worst workbook they let through is
# parsed in well under a second (bench: upload group). Work the limits do not foresee is bounded
# by the CPU-time and memory limits of the child process that parses (importing/sandbox.py).

MAX_XML_PART_BYTES = 5 * 1024 * 1024  # any XML part, wherever the workbook puts it
MAX_SHARED_STRINGS_BYTES = 1024 * 1024
MAX_SHARED_STRINGS = 8_000
MAX_CELLS = 4_000  # cells, and the cells comments are attached to, in the whole workbook
MAX_ROWS = 4_000
MAX_COLUMN_RANGES = 1_000
MAX_MERGED_CELLS = 3_000  # cells covered by merged ranges, whole workbook
MAX_HYPERLINK_CELLS = 3_000  # cells covered by hyperlink ranges, whole workbook
MAX_DIMENSION_CELLS = 1_000_000  # the used range a sheet declares (<dimension ref>)
MAX_XML_ELEMENTS = 200_000  # all parts: bounds the objects openpyxl can make from them

SHARED_STRINGS_TOO_BIG = (
    "工作簿的共享字符串表（{part}）解压后为 {size}，超过 {limit} 的上限，不像是一份自评表，已拒绝导入。"
    "请删除无关的工作表后重新保存再上传。"
)
SHARED_STRINGS_TOO_MANY = (
    "工作簿的共享字符串表（{part}）中的字符串超过 {limit:,} 条，不像是一份自评表，已拒绝导入。"
    "请删除无关的工作表后重新保存再上传。"
)
XML_PART_TOO_BIG = "文件内部的“{part}”解压后为 {size}，超过 {limit} 的上限，疑似异常文件，已拒绝导入。"
MERGED_TOO_BIG = (
    "{where}中的合并单元格过大：到 {ref} 为止合并区域累计 {total:,} 个单元格，超过 {limit:,} 个的上限，"
    "不像是一份自评表，已拒绝导入。请检查该工作表的合并单元格。"
)
HYPERLINKS_TOO_BIG = (
    "{where}中的超链接范围过大：到 {ref} 为止累计 {total:,} 个单元格，超过 {limit:,} 个的上限，"
    "不像是一份自评表，已拒绝导入。"
)
DIMENSION_TOO_BIG = (
    "{where}声明的数据范围 {ref} 共 {total:,} 个单元格，超过 {limit:,} 个的上限，不像是一份自评表，已拒绝导入。"
    "请在 Excel 或 WPS 中删除多余的行和列后重新保存再上传。"
)
CELLS_TOO_MANY = (
    "{where}中的单元格过多：整个工作簿超过 {limit:,} 个单元格，不像是一份自评表，已拒绝导入。"
    "请删除无关的工作表后重新保存再上传。"
)
ROWS_TOO_MANY = (
    "{where}中的行过多：整个工作簿超过 {limit:,} 行，不像是一份自评表，已拒绝导入。请删除无关的工作表后重新保存再上传。"
)
COLUMNS_TOO_MANY = "{where}中的列格式定义过多（超过 {limit:,} 条），疑似异常文件，已拒绝导入。"
XML_TOO_COMPLEX = "文件内部结构过于复杂（“{part}”处累计超过 {limit:,} 个 XML 元素），疑似异常文件，已拒绝导入。"
XML_DTD = "文件内部的“{part}”含有文档类型声明（DTD），Excel 工作簿不会包含这种内容，疑似异常文件，已拒绝导入。"

_READ_CHUNK = 64 * 1024
# openpyxl only knows the elements of this namespace: others cost it nothing.
SHEET_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED_STRINGS_PART = "xl/sharedStrings.xml"
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError, RuntimeError)
_LAST_COLUMN, _LAST_ROW = 16384, 1048576
_REF_END = re.compile(r"^\$?([A-Za-z]*)\$?([0-9]*)$")  # any length: openpyxl reads "A000001" as A1


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n % (1024 * 1024) else f"{n // (1024 * 1024)} MB"


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def area(ref: str) -> int:
    """Cells covered by a reference: "A1", "A1:Z100000", "A:C" (whole columns), "1:3" (whole rows),
    several separated by spaces. What cannot be read counts nothing (openpyxl refuses it too)."""
    total = 0
    for piece in ref.split():
        ends = [_REF_END.match(end) for end in piece.split(":")]
        if not 1 <= len(ends) <= 2 or not all(m and (m.group(1) or m.group(2)) for m in ends):
            continue
        try:
            cols = [_column_number(m.group(1)) if m.group(1) else None for m in ends]
            rows = [int(m.group(2)) if m.group(2) else None for m in ends]
        except ValueError:  # more digits than int() reads: openpyxl cannot read it either
            continue
        c1, c2 = cols[0] or 1, cols[-1] or _LAST_COLUMN
        r1, r2 = rows[0] or 1, rows[-1] or _LAST_ROW
        total += (abs(c2 - c1) + 1) * (abs(r2 - r1) + 1)
    return total


def _parts_of_sheets(archive: zipfile.ZipFile) -> dict[str, str]:
    """Part name → sheet name, as the workbook's relationships say (for the messages only)."""

    def elements(name: str, wanted: str) -> list[dict]:
        found = []
        try:
            info = archive.getinfo(name)
        except KeyError:
            return found
        if info.file_size > MAX_XML_PART_BYTES:
            return found
        parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")

        def start(tag, attrs):
            if tag.rpartition(" ")[2] == wanted:
                found.append({k.rpartition(" ")[2]: v for k, v in attrs.items()})

        def refuse(*args):
            raise UploadRefused(XML_DTD.format(part=name))

        parser.StartElementHandler = start
        parser.StartDoctypeDeclHandler = refuse
        try:
            parser.Parse(archive.read(info), True)
        except (xml.parsers.expat.ExpatError, *_READ_ERRORS):
            pass
        return found

    workbook = next((r.get("Target", "") for r in elements("_rels/.rels", "Relationship")
                     if r.get("Type", "").endswith("/officeDocument")), "xl/workbook.xml")
    workbook = workbook.lstrip("/")
    folder = posixpath.dirname(workbook)
    rels = {r.get("Id"): r.get("Target", "") for r in elements(
        posixpath.join(folder, "_rels", posixpath.basename(workbook) + ".rels"), "Relationship")}
    names = {}
    for sheet in elements(workbook, "sheet"):
        target = rels.get(sheet.get("id"))
        if target:
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            names[path] = sheet.get("name", "")
    return names


class _Counts:
    """What the parts declare, summed over the whole workbook."""

    def __init__(self):
        self.cells = self.rows = self.columns = self.merged = self.links = self.strings = self.elements = 0


def check_declared(data: bytes) -> None:
    """Raise `UploadRefused` if the workbook declares more than an 自评表 ever needs (see above).

    Expects `data` to have passed `check_upload`. Reads each XML part once, streaming, and stops at
    the first limit passed; a part that is not well-formed is read up to its error (openpyxl stops
    there too, or never reads that part).
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = _parts_of_sheets(archive)
        counts = _Counts()
        for info in archive.infolist():
            # Every part, whatever its name: the relationships may put a sheet anywhere (even under
            # xl/media/); an image fails expat at its first bytes.
            if info.is_dir() or info.file_size == 0:
                continue
            sheet = sheets.get(info.filename)
            where = f"工作表“{sheet}”" if sheet is not None else f"文件内部的“{info.filename}”"
            _check_part(archive, info, where, _workbook_element(info, counts), elements=counts, limit=MAX_XML_ELEMENTS)


def _workbook_element(info: zipfile.ZipInfo, counts: _Counts):
    """What one element of a workbook's part declares, added to `counts` (refuse(...) past a limit)."""

    def element(namespace, name, attrs, refuse):
        if namespace != SHEET_MAIN_NS:
            return
        if name in ("c", "comment"):
            # openpyxl attaches a comment to ws[ref]: a range ref creates every cell in it.
            counts.cells += 1 if name == "c" else max(1, area(attrs.get("ref", "")))
            if counts.cells > MAX_CELLS:
                refuse(CELLS_TOO_MANY, limit=MAX_CELLS)
        elif name == "row":
            counts.rows += 1
            if counts.rows > MAX_ROWS:
                refuse(ROWS_TOO_MANY, limit=MAX_ROWS)
        elif name == "col":
            counts.columns += 1
            if counts.columns > MAX_COLUMN_RANGES:
                refuse(COLUMNS_TOO_MANY, limit=MAX_COLUMN_RANGES)
        elif name == "mergeCell":
            counts.merged += area(attrs.get("ref", ""))
            if counts.merged > MAX_MERGED_CELLS:
                refuse(MERGED_TOO_BIG, ref=attrs.get("ref", ""), total=counts.merged, limit=MAX_MERGED_CELLS)
        elif name == "hyperlink":
            counts.links += area(attrs.get("ref", ""))
            if counts.links > MAX_HYPERLINK_CELLS:
                refuse(HYPERLINKS_TOO_BIG, ref=attrs.get("ref", ""), total=counts.links, limit=MAX_HYPERLINK_CELLS)
        elif name == "dimension":
            declared = area(attrs.get("ref", ""))
            if declared > MAX_DIMENSION_CELLS:
                refuse(DIMENSION_TOO_BIG, ref=attrs.get("ref", ""), total=declared, limit=MAX_DIMENSION_CELLS)
        elif name == "sst":
            if info.file_size > MAX_SHARED_STRINGS_BYTES:
                refuse(SHARED_STRINGS_TOO_BIG, size=_megabytes(info.file_size), limit=_megabytes(MAX_SHARED_STRINGS_BYTES))
            declared = attrs.get("uniqueCount", "")
            if declared.isdigit() and int(declared) > MAX_SHARED_STRINGS:
                refuse(SHARED_STRINGS_TOO_MANY, limit=MAX_SHARED_STRINGS)
        elif name == "si":
            counts.strings += 1
            if counts.strings > MAX_SHARED_STRINGS:
                refuse(SHARED_STRINGS_TOO_MANY, limit=MAX_SHARED_STRINGS)

    return element


def _check_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, element, *, elements, limit: int,
                dtd: str = "", corrupt: str = "") -> None:
    """Stream one part through expat: `element(namespace, name, attrs, refuse)` for each element,
    at most `limit` elements in all parts (`elements.elements` counts them), no DTD, no entity."""
    part = info.filename

    def refuse(template: str, **values):
        raise UploadRefused(template.format(where=where, part=part, **values))

    def start(tag, attrs):
        elements.elements += 1
        if elements.elements > limit:
            refuse(XML_TOO_COMPLEX, limit=limit)
        namespace, _, name = tag.rpartition(" ")
        element(namespace, name, attrs, refuse)

    def refuse_dtd(*args):
        refuse(dtd or XML_DTD)

    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    try:
        with archive.open(info) as stream:
            chunk = stream.read(_READ_CHUNK)
            # Every part is given to expat, which reads the encoding from a BOM or the declaration
            # as ElementTree (openpyxl) does — UTF-16 included. What is not XML (printer settings, an
            # embedded object) fails at its first bytes and is left alone: openpyxl cannot parse it either.
            parser.Parse(chunk, False)  # the root element first: the shared strings' own message
            if info.file_size > MAX_XML_PART_BYTES:
                refuse(XML_PART_TOO_BIG, size=_megabytes(info.file_size), limit=_megabytes(MAX_XML_PART_BYTES))
            while chunk := stream.read(_READ_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except xml.parsers.expat.ExpatError:
        return  # not XML, or not well-formed: openpyxl stops at the same place, or never reads this part
    except _READ_ERRORS:
        raise UploadRefused(corrupt or CORRUPT) from None


# --- What a Word document declares ----------------------------------------------------------------
#
# python-docx builds a tree of every part it reads, and the reader (importing/word.py) walks it once:
# the cost follows the number of elements, paragraphs and table cells, which are bounded here before
# python-docx opens anything. A table cell spanning thousands of grid columns (gridSpan) would make
# the grid the reader builds as large as it says: refused too. Every limit is far above a real
# 自评报告 (seed 004, report and table: some 130 paragraphs and 200 cells) and low enough that the
# worst document they let through is read well within the child's CPU budget (tests: worst accepted).
# A table's grid (rows × columns, spans included) is bounded by the reader (word.MAX_GRID_CELLS).

WORD_MAIN_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
MAX_DOCX_XML_ELEMENTS = 100_000
MAX_DOCX_PARAGRAPHS = 5_000
MAX_DOCX_CELLS = 2_000
MAX_DOCX_TABLES = 200
MAX_GRID_SPAN = 64  # grid columns one cell may span (a 自评表 has about ten)

XML_DTD_DOCX = "文件内部的“{part}”含有文档类型声明（DTD），Word 文档不会包含这种内容，疑似异常文件，已拒绝导入。"
PARAGRAPHS_TOO_MANY = "文档中的段落过多（超过 {limit:,} 段），不像是一份自评报告，已拒绝导入。"
DOCX_CELLS_TOO_MANY = "文档中的表格单元格过多（超过 {limit:,} 个），不像是一份自评报告，已拒绝导入。请删除无关的表格后再上传。"
DOCX_TABLES_TOO_MANY = "文档中的表格过多（超过 {limit:,} 个），不像是一份自评报告，已拒绝导入。"
GRID_SPAN_TOO_WIDE = "文档中有表格单元格声明横跨 {span:,} 列，超过 {limit} 列的上限，疑似异常文件，已拒绝导入。"


class _DocxCounts:
    def __init__(self):
        self.elements = self.paragraphs = self.cells = self.tables = 0


def check_declared_docx(data: bytes) -> None:
    """Raise `UploadRefused` if the document declares more than a 自评报告 ever needs (see above).

    Expects `data` to have passed `check_docx_upload`. Every XML part is streamed through expat (no
    tree, no DTD, no entity), whatever its name; binary parts (images, fonts) fail at their first
    bytes and are left alone.
    """
    counts = _DocxCounts()

    def element(namespace, name, attrs, refuse):
        if namespace != WORD_MAIN_NS:
            return
        if name == "p":
            counts.paragraphs += 1
            if counts.paragraphs > MAX_DOCX_PARAGRAPHS:
                refuse(PARAGRAPHS_TOO_MANY, limit=MAX_DOCX_PARAGRAPHS)
        elif name == "tc":
            counts.cells += 1
            if counts.cells > MAX_DOCX_CELLS:
                refuse(DOCX_CELLS_TOO_MANY, limit=MAX_DOCX_CELLS)
        elif name == "tbl":
            counts.tables += 1
            if counts.tables > MAX_DOCX_TABLES:
                refuse(DOCX_TABLES_TOO_MANY, limit=MAX_DOCX_TABLES)
        elif name in ("gridSpan", "gridBefore", "gridAfter"):
            value = next((v for k, v in attrs.items() if k.rpartition(" ")[2] == "val"), "1")
            span = int(value) if value.strip().isdigit() else 1
            if span > MAX_GRID_SPAN:
                refuse(GRID_SPAN_TOO_WIDE, span=span, limit=MAX_GRID_SPAN)

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir() or info.file_size == 0:
                continue
            _check_part(archive, info, f"文件内部的“{info.filename}”", element, elements=counts,
                        limit=MAX_DOCX_XML_ELEMENTS, dtd=XML_DTD_DOCX, corrupt=CORRUPT_DOCX)
