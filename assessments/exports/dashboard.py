"""The reviewer's dashboard list as an .xlsx workbook (issue 17): the rows the filters select, the
columns the page shows (`views.review.SORT_COLUMNS`, declared once), numbers as numbers and text
never run as a formula."""

import io

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

NUMBER_KEYS = ("self", "review", "gap")
WIDTHS = {"unit": 24, "kind": 12, "title": 40, "state": 10, "submitted": 17, "self": 10, "review": 10, "gap": 10,
          "flags": 40}


def values(a) -> dict:
    """One assessment's cells by column key, as the dashboard shows them."""
    return {
        "unit": a.unit.short_name or a.unit.name,
        "kind": a.get_kind_display(),
        "title": a.title,
        "state": a.get_state_display(),
        "submitted": timezone.localtime(a.submitted_at).strftime("%Y-%m-%d %H:%M") if a.submitted_at else "",
        "self": a.self_total,
        "review": a.review_total,
        "gap": a.gap,
        "flags": "、".join(f.label for f in a.flag_list),
    }


def to_bytes(columns, rows, title: str) -> bytes:
    """columns: (key, label); rows: dicts from `values`."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    for n, (key, _label) in enumerate(columns):
        ws.column_dimensions[chr(ord("A") + n)].width = WIDTHS.get(key, 12)
    ws.freeze_panes = "A2"
    header = []
    for _key, label in columns:
        cell = WriteOnlyCell(ws, value=label)
        cell.font = Font(bold=True)
        header.append(cell)
    ws.append(header)
    for row in rows:
        cells = []
        for key, _label in columns:
            value = row[key]
            cell = WriteOnlyCell(ws, value=value)
            if key in NUMBER_KEYS and value is not None:
                cell.number_format = "0.00"
            elif isinstance(value, str):
                cell.data_type = "s"  # "=…" typed in a name stays text, never a formula
            cells.append(cell)
        ws.append(cells)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
