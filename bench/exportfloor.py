"""The floor of one export: a plain openpyxl script writing the same cells with the same named styles.

The portal's workbook is read back once (outside the timing) into plain data: per sheet the cells
(value, named style, quotePrefix), merged ranges, column widths and row heights, plus the named
style definitions. The floor then builds a fresh workbook from that data — registering the
same named styles, merging the same ranges, writing the same values (text that starts with "="
kept as text, as the portal writes it), setting widths, heights and page set-up — and saves it to
memory. That is what writing this workbook costs with openpyxl when nothing else is done.

`per_cell_styles` is the same script with style objects assigned to every cell instead of named
styles, for reference (the issue notes it is ~4x slower than named styles).
"""

import copy
import io
from dataclasses import dataclass

import openpyxl
from openpyxl import Workbook
from openpyxl.styles import NamedStyle


@dataclass
class SheetData:
    title: str
    cells: list[tuple[int, int, object, str, bool]]  # row, column, value (None: style only), style, quotePrefix
    merges: list[str]
    widths: dict[str, float]
    heights: dict[int, float]
    orientation: str


@dataclass
class WorkbookData:
    styles: list[dict]
    sheets: list[SheetData]
    cell_count: int


def read(xlsx: bytes) -> WorkbookData:
    wb = openpyxl.load_workbook(io.BytesIO(xlsx))
    used = set()
    sheets = []
    count = 0
    for ws in wb.worksheets:
        cells = []
        for row in ws.iter_rows():
            for cell in row:
                style = cell.style
                value = getattr(cell, "value", None)
                if value is None and style == "Normal":
                    continue
                used.add(style)
                quote = bool(getattr(cell, "quotePrefix", False))
                cells.append((cell.row, cell.column, value, style, quote))
        count += len(cells)
        sheets.append(
            SheetData(
                title=ws.title,
                cells=cells,
                merges=[str(r) for r in ws.merged_cells.ranges],
                widths={k: d.width for k, d in ws.column_dimensions.items() if d.width},
                heights={k: d.height for k, d in ws.row_dimensions.items() if d.height},
                orientation=ws.page_setup.orientation or "portrait",
            )
        )
    styles = []
    for style in wb._named_styles:
        if style.name in used and style.name != "Normal":
            styles.append({"name": style.name, "font": style.font, "fill": style.fill, "border": style.border,
                           "alignment": style.alignment, "number_format": style.number_format})
    return WorkbookData(styles, sheets, count)


def _page_setup(ws, orientation: str) -> None:
    ws.page_setup.orientation = orientation
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.sheet_view.showGridLines = False


def _write_value(cell, value, quote: bool) -> None:
    if value is None:
        return
    cell.value = value
    if isinstance(value, str) and cell.data_type != "s":
        cell.data_type = "s"
    if quote:
        cell.quotePrefix = True


def named_styles(data: WorkbookData) -> bytes:
    """The floor: same cells, same named styles, plain openpyxl."""
    wb = Workbook()
    for s in data.styles:
        wb.add_named_style(NamedStyle(s["name"], font=copy.copy(s["font"]), fill=copy.copy(s["fill"]),
                                      border=copy.copy(s["border"]), alignment=copy.copy(s["alignment"]),
                                      number_format=s["number_format"]))
    first = True
    for sheet in data.sheets:
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = sheet.title
        for letter, width in sheet.widths.items():
            ws.column_dimensions[letter].width = width
        for merged in sheet.merges:
            ws.merge_cells(merged)
        for row, col, value, style, quote in sheet.cells:
            cell = ws.cell(row, col)
            cell.style = style
            _write_value(cell, value, quote)
        for row, height in sheet.heights.items():
            ws.row_dimensions[row].height = height
        _page_setup(ws, sheet.orientation)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def per_cell_styles(data: WorkbookData) -> bytes:
    """Reference: the same workbook with style objects set on every cell (no named styles)."""
    by_name = {s["name"]: s for s in data.styles}
    wb = Workbook()
    first = True
    for sheet in data.sheets:
        ws = wb.active if first else wb.create_sheet()
        first = False
        ws.title = sheet.title
        for letter, width in sheet.widths.items():
            ws.column_dimensions[letter].width = width
        for merged in sheet.merges:
            ws.merge_cells(merged)
        for row, col, value, style, quote in sheet.cells:
            cell = ws.cell(row, col)
            s = by_name.get(style)
            if s is not None:
                cell.font = copy.copy(s["font"])
                cell.fill = copy.copy(s["fill"])
                cell.border = copy.copy(s["border"])
                cell.alignment = copy.copy(s["alignment"])
                cell.number_format = s["number_format"]
            _write_value(cell, value, quote)
        for row, height in sheet.heights.items():
            ws.row_dimensions[row].height = height
        _page_setup(ws, sheet.orientation)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
