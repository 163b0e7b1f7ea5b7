"""Hostile workbooks, written as zip + XML by hand (issue 12, finding 1), for the tests and the benchmark.

Each is a small, valid-looking .xlsx that passes the zip-directory checks of importing/safety.py as
they stood before issue 12 (≤ 10 MB, ≤ 50 MB inflated, ratio ≤ 100, sheets ≤ 5 MB) and then made
openpyxl do work out of all proportion to its size:

- ``merged_bomb()``: one ``<mergeCell ref="A1:Z100000"/>`` (5 KB; 51.7 s and 886 MB before);
- ``merged_bomb("A1:XFD1048576")``: 17 billion cells (memory exhausted before);
- ``shared_strings_bomb()``: an 8.5 MB file with a 47 MB ``xl/sharedStrings.xml`` (16 s before);
- hyperlink, dimension, cell and row counts, a DTD, shared strings under another name.

``worst_accepted()`` is the most a workbook may declare and still be read: the benchmark times it.
"""

import io
import random
import zipfile
from xml.sax.saxutils import escape, quoteattr

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def workbook(sheet_body: str = '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>绩效自评</t></is></c></row></sheetData>',
             *, strings: str | None = None, strings_part: str = "xl/sharedStrings.xml", sheet_name: str = "自评表",
             before_data: str = "", extra: dict[str, bytes] | None = None, compresslevel: int | None = None,
             sheet_part: str = "xl/worksheets/sheet1.xml") -> bytes:
    """A one-sheet workbook: `sheet_body` is the sheet's XML after <sheetPr>/<dimension> (sheetData and
    what follows it), `strings` the inner XML of <sst> (None: no shared strings part), `sheet_part`
    where the sheet is stored (the relationships point there)."""
    overrides = [
        ("/xl/workbook.xml", f"{CT}.sheet.main+xml"),
        (f"/{sheet_part}", f"{CT}.worksheet+xml"),
    ]
    rels = [("rId1", f"{REL}/worksheet", sheet_part.removeprefix("xl/"))]
    parts = {}
    if strings is not None:
        overrides.append((f"/{strings_part}", f"{CT}.sharedStrings+xml"))
        rels.append(("rId2", f"{REL}/sharedStrings", strings_part.removeprefix("xl/")))
        parts[strings_part] = f'<?xml version="1.0" encoding="UTF-8"?>\n<sst xmlns="{MAIN}">{strings}</sst>'.encode()
    parts["[Content_Types].xml"] = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        + "".join(f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in overrides)
        + "</Types>"
    ).encode()
    parts["_rels/.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="{PKG_REL}">'
        f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ).encode()
    parts["xl/workbook.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<workbook xmlns="{MAIN}" xmlns:r="{REL}">'
        f'<sheets><sheet name={quoteattr(sheet_name)} sheetId="1" r:id="rId1"/></sheets></workbook>'
    ).encode()
    parts["xl/_rels/workbook.xml.rels"] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Relationships xmlns="{PKG_REL}">'
        + "".join(f'<Relationship Id="{i}" Type="{t}" Target="{target}"/>' for i, t, target in rels)
        + "</Relationships>"
    ).encode()
    parts[sheet_part] = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet xmlns="{MAIN}" xmlns:r="{REL}">{before_data}{sheet_body}</worksheet>'
    ).encode()
    parts.update(extra or {})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    return out.getvalue()


def merged_bomb(ref: str = "A1:Z100000", **options) -> bytes:
    return workbook('<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>绩效自评</t></is></c></row></sheetData>'
                    f'<mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>', **options)


def many_merged_ranges(n: int, width: int = 10) -> bytes:
    """`n` merged ranges of `width` cells each, one per row: no single range is large."""
    ranges = "".join(f'<mergeCell ref="A{r}:{chr(64 + width)}{r}"/>' for r in range(1, n + 1))
    return workbook(f'<sheetData/><mergeCells count="{n}">{ranges}</mergeCells>')


def hyperlink_bomb(ref: str = "A1:XFD1048576") -> bytes:
    return workbook('<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>链接</t></is></c></row></sheetData>'
                    f'<hyperlinks><hyperlink ref="{ref}" display="x" location="自评表!A1"/></hyperlinks>')


def dimension_bomb(ref: str = "A1:XFD1048576") -> bytes:
    return workbook(before_data=f'<dimension ref="{ref}"/>')


def cells_bomb(n: int) -> bytes:
    """`n` numeric cells, 100 to a row."""
    rows = []
    for r in range(1, n // 100 + 2):
        count = min(100, n - (r - 1) * 100)
        if count <= 0:
            break
        rows.append(f'<row r="{r}">' + "".join(f"<c><v>{c}</v></c>" for c in range(count)) + "</row>")
    return workbook(f"<sheetData>{''.join(rows)}</sheetData>")


def rows_bomb(n: int) -> bytes:
    """`n` empty rows with a height: openpyxl keeps a RowDimension for each."""
    return workbook("<sheetData>" + "".join(f'<row r="{r}" ht="20" customHeight="1"/>' for r in range(1, n + 1))
                    + "</sheetData>")


def dtd_bomb() -> bytes:
    """The "billion laughs": ten levels of entities, each ten copies of the one below."""
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{"".join(f"&lol{i - 1};" for _ in range(10))}">' for i in range(1, 10)
    ]
    sheet = (f'<?xml version="1.0"?>\n<!DOCTYPE worksheet [{"".join(levels)}]>\n'
             f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c>'
             "</row></sheetData></worksheet>").encode()
    return workbook(extra={"xl/worksheets/sheet1.xml": sheet})


WORDS = ["绩效", "指标", "完成", "预算", "执行", "资金", "项目", "目标", "社会", "效益", "满意度", "数量",
         "质量", "时效", "成本", "年度", "单位", "部门", "经费", "保障"]


def _strings(total_bytes: int, max_items: int | None = None, words: tuple[int, int] = (4, 12), seed: int = 12) -> str:
    """Shared-string items of plausible Chinese text, about `total_bytes` of XML (at most `max_items`):
    random enough that deflate keeps about a fifth (the compression-ratio check passes). Beyond 2 MB a
    block of random items is repeated: deflate's 32 KB window cannot see the repetition."""
    rng = random.Random(seed)
    items, size = [], 0
    block = min(total_bytes, 2 * 1024 * 1024)
    while size < block and (max_items is None or len(items) < max_items):
        text = "".join(rng.choice(WORDS) for _ in range(rng.randint(*words))) + str(rng.randint(0, 9))
        item = f"<si><t>{escape(text)}</t></si>"
        items.append(item)
        size += len(item.encode())
    text = "".join(items)
    if total_bytes <= block:
        return text
    data = (text * -(-total_bytes // len(text.encode()))).encode()[:total_bytes]
    return data[: data.rfind(b"</si>") + len(b"</si>")].decode()


def shared_strings_bomb(megabytes: float = 47) -> bytes:
    """An upload of under 10 MB whose xl/sharedStrings.xml inflates to `megabytes` MB (deflate level 1:
    a second to write instead of five, and still under 10 MB)."""
    body = _strings(int(megabytes * 1024 * 1024) - 100)
    return workbook('<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>', strings=body,
                    compresslevel=1)


def renamed_shared_strings(megabytes: float = 3, part: str = "xl/strings.xml") -> bytes:
    """Shared strings under a name the zip-directory check does not know: found by their content."""
    body = _strings(int(megabytes * 1024 * 1024))
    return workbook('<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>', strings=body,
                    strings_part=part)


def worst_accepted(limits) -> bytes:
    """Just under every limit of `limits` (importing.safety) at once: the dearest workbook that is read."""
    cells = limits.MAX_CELLS - 10
    per_row = 20
    n_rows = min(cells // per_row, limits.MAX_ROWS - 10)
    # Items long enough that the byte limit and the count limit are reached together.
    body = _strings(int(limits.MAX_SHARED_STRINGS_BYTES * 0.98), max_items=limits.MAX_SHARED_STRINGS - 10, words=(16, 22))
    n_strings = body.count("<si>")
    rows = []
    for r in range(1, n_rows + 1):
        rows.append(f'<row r="{r}">' + "".join(
            f'<c r="{chr(65 + c)}{r}" t="s"><v>{(r * per_row + c) % n_strings}</v></c>' for c in range(per_row)
        ) + "</row>")
    merged_rows = (limits.MAX_MERGED_CELLS - 10) // 10
    merges = "".join(f'<mergeCell ref="A{n_rows + 1 + r}:J{n_rows + 1 + r}"/>' for r in range(merged_rows))
    return workbook(f"<sheetData>{''.join(rows)}</sheetData><mergeCells count=\"{merged_rows}\">{merges}</mergeCells>",
                    strings=body)
