"""Read the approved 绩效目标 from the workbook the bureau keeps (绩效目标申报表: 一级/二级/三级/指标值,
often 分值 too; one sheet per project), by the same 表样-driven parser as 从Excel导入.

Each visible sheet is read on its own, as a one-sheet workbook, so a workbook holding the targets
of several units and projects gives one target set per sheet. Runs in the import sandbox's
limited child process (see sandbox.py): the file comes from outside.
"""

import io

import openpyxl

from . import parser, safety, sandbox


def split_sheets(data: bytes) -> list[tuple[str, bytes]]:
    """(title, one-sheet workbook) for each visible worksheet: values and merged ranges."""
    wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    out = []
    try:
        for ws in wb.worksheets:
            if ws.sheet_state != "visible" or ws.max_row < 2:
                continue
            single = openpyxl.Workbook()
            target = single.active
            target.title = ws.title[:31]
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None and not isinstance(cell, openpyxl.cell.cell.MergedCell):
                        target.cell(cell.row, cell.column, cell.value)
            for merged in ws.merged_cells.ranges:
                target.merge_cells(str(merged))
            buf = io.BytesIO()
            single.save(buf)
            out.append((ws.title, buf.getvalue()))
    finally:
        wb.close()
    return out


def parse_sheets(data: bytes, specs) -> list[dict]:
    """Every visible sheet parsed by whichever of `specs` explains it best: a list of
    {"sheet", "parsed": ParsedWorkbook as dict} or {"sheet", "error": message}."""
    out = []
    for title, single in split_sheets(data):
        try:
            out.append({"sheet": title, "parsed": parser.parse_workbook(single, specs).to_dict()})
        except parser.ParseRefused as exc:
            out.append({"sheet": title, "error": str(exc)})
    return out


def read_target_workbook(data: bytes, specs) -> list[dict]:
    """`parse_sheets` after the upload checks, in the limited child process (raises
    `safety.UploadRefused` / `parser.ParseRefused` with the message for the user)."""
    safety.check_upload(data)

    def work() -> dict:
        safety.check_declared(data)
        return {"sheets": parse_sheets(data, specs)}

    return sandbox.run_limited(work)["sheets"]
