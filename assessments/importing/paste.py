"""从Excel粘贴 (issue 17): indicator rows copied from a spreadsheet, read by the assessment's 表样.

What Excel puts on the clipboard is TSV: cells separated by tabs, rows by newlines, a cell holding a
newline, a tab or a leading quote written in double quotes ("" for a quote). The block is read as a
grid of cell texts and given to `parser.parse_grid` — the reader of 从Excel导入 and 从Word导入 — so a
pasted table is understood exactly as an imported one: the same column labels and aliases, 一级/二级
left blank under a filled one meaning "same as above", 合计 rows and notes skipped, 二级 names
rewritten as the 表样 writes them. A block copied without its header row is read again with the
表样's own indicator column labels put on top (the columns of the table on the entry page, in its
order), so the portal's several 表样 and the ones bureaus define all work alike.

Nothing is saved here: the rows go back to the page as entry-form field values, and the officer
reviews them and presses 保存草稿 like after typing them. A cell the reader refuses (分值 "abc")
is handed back as it was typed, so the entry form names the error on that cell when saving.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from openpyxl.utils import column_index_from_string

from .. import scoring
from ..tablespec import TableSpec
from . import parser
from .apply import indicator_values, resolve_indicators

MAX_ROWS = 200
MAX_BYTES = 200 * 1024
MAX_COLUMNS = 50  # an indicator table has about ten; this bounds the grid the parser builds
TOO_MANY_ROWS = "粘贴的内容有 {rows} 行，超过一次最多 200 行的限制，请分批粘贴。"
TOO_LARGE = "粘贴的内容过大（超过 200 KB），一次最多粘贴 200 行、200 KB，请分批粘贴。"
EMPTY = "没有可粘贴的内容：请在 Excel 中选中指标所在的单元格区域，复制后再粘贴。"
UNREADABLE = "无法读取粘贴的内容：请在 Excel 中选中单元格区域后复制，再粘贴。"
TOO_MANY_COLUMNS = "粘贴的内容有 {columns} 列，超过一次最多 50 列的限制：请只复制绩效指标表的各列。"
NO_INDICATORS = (
    "未能按本表样识别出绩效指标：请复制按本表样各列（{labels}）排列的指标行，可连同表头一起复制。"
)
MAX_WARNINGS = 20
SHEET = "粘贴"
_NOTE = re.compile(rf"^{SHEET}!([A-Z]+)(\d+)：")


class PasteRefused(Exception):
    """The pasted text cannot be read; `str(exc)` is the message for the officer."""


@dataclass
class Pasted:
    rows: list[dict]  # the entry form's row fields (level1, name, weight, extra columns …) as text
    warnings: list[str] = field(default_factory=list)
    header_added: bool = False  # the block came without its header row


def read_tsv(text: str) -> list[list[str]]:
    """The cells of a TSV block as Excel writes it (quoted cells may hold newlines and tabs)."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise PasteRefused(TOO_LARGE)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter="\t", quotechar='"'))
    except csv.Error as exc:  # a cell over csv's field limit (128 KB)
        raise PasteRefused(UNREADABLE) from exc
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    while rows and not any(cell.strip() for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise PasteRefused(EMPTY)
    if len(rows) > MAX_ROWS:
        raise PasteRefused(TOO_MANY_ROWS.format(rows=len(rows)))
    columns = max(len(row) for row in rows)
    if columns > MAX_COLUMNS:
        raise PasteRefused(TOO_MANY_COLUMNS.format(columns=columns))
    return rows


def header_labels(spec: TableSpec) -> list[str]:
    """The 表样's indicator column labels, in the order of the entry page's table."""
    return [c.label for c in spec.indicator_columns]


def header_columns(row: list[str], spec: TableSpec, vocab: parser.Vocabulary) -> dict[int, str] | None:
    """{column index: field key} when `row` is an indicator header as the parser recognises one
    (一级 and 二级 columns, or 三级/指标值/完成值 for a 表样 without 一级), else None."""
    keys: dict[int, str] = {}
    for c, text in enumerate(row):
        key = vocab.indicator_column(parser.norm(text)) if text.strip() else None
        if key and key not in keys.values():
            keys[c] = key
    found = set(keys.values())
    flat = "level1" not in spec.indicator_keys
    if {"level1", "level2"} <= found or (flat and {"name", "target", "actual"} <= found):
        return keys
    return None


def read(text: str, spec: TableSpec, rules: scoring.RuleSet) -> Pasted:
    """The indicator rows of a pasted block, as entry-form values, with what was not taken."""
    def indicators_of(grid):
        try:
            parsed = parser.parse_grid(grid, [], spec, title=SHEET)
        except parser.ParseRefused:
            return None
        return parsed if parsed.indicators else None

    rows = read_tsv(text)
    header_added = False
    parsed = indicators_of(rows)
    if parsed is None:
        # No header row in the block (the usual case when only the rows are selected): read it
        # again under the 表样's own labels.
        rows = [header_labels(spec), *rows]
        header_added = True
        parsed = indicators_of(rows)
    if parsed is None:
        raise PasteRefused(NO_INDICATORS.format(labels="、".join(header_labels(spec))))

    vocab = parser.Vocabulary(spec)
    head_at, columns = next(
        ((r, cols) for r, row in enumerate(rows) if (cols := header_columns(row, spec, vocab)) is not None),
        (0, {}),
    )
    offset = 1 if header_added else 0  # grid row n (1-based) is the officer's row n - offset
    labels = {c.key: c.label for c in spec.indicator_columns}
    resolved, _notes = resolve_indicators(parsed.indicators, rules, spec.table_rules)
    out = [indicator_values(r) for r in resolved]
    by_row = {r["row"]: n for n, r in enumerate(parsed.indicators)}

    warnings: list[str] = []
    # Rows (grid rows, 1-based) that gave no indicator: 合计, notes; not a row naming only a group.
    def group_heading(row: list[str]) -> bool:
        filled = [(c, text) for c, text in enumerate(row) if text.strip()]
        return all(columns.get(c) in ("level1", "level2") and not parser.norm(text).startswith(parser.NOTE_STARTS)
                   for c, text in filled)

    skipped = [r + 1 for r in range(head_at + 1, len(rows)) if r + 1 not in by_row and not group_heading(rows[r])]
    unmapped_columns = set()
    for cell in parsed.unmapped:
        col = column_index_from_string(cell.column) - 1
        if col in unmapped_columns or cell.row in skipped:
            continue
        if cell.row == head_at + 1 and not header_added:
            unmapped_columns.add(col)
            warnings.append(f"第{col + 1}列“{cell.value}”：{cell.reason}，该列未粘贴。")
            continue
        key = columns.get(col)
        if key not in labels:  # a column the 表样 does not have
            unmapped_columns.add(col)
            head = "" if header_added or col >= len(rows[head_at]) else rows[head_at][col].strip()
            named = f"“{head}”" if head else ""
            warnings.append(f"第{col + 1}列{named}不是本表样的列（本表样的列：{'、'.join(header_labels(spec))}），该列未粘贴。")
            continue
        where = f"粘贴的第{cell.row - offset}行"
        n = by_row.get(cell.row)
        if n is not None:
            # A refused cell (分值 "abc", an unknown 一级) goes back as typed: saving names the
            # error on that cell, where the officer corrects it.
            out[n][key] = rows[cell.row - 1][col]
            warnings.append(f"{where}“{labels[key]}”为“{cell.value}”：{cell.reason}。已按原文填入，请在表中更正。")
        else:
            warnings.append(f"{where}第{col + 1}列“{cell.value}”：{cell.reason}。")
    if skipped:
        numbers = "、".join(str(r - offset) for r in skipped)
        warnings.append(f"粘贴的第{numbers}行不是指标行（如合计、说明），已跳过。")
    for note in parsed.notes:
        match = _NOTE.match(note)
        if match:
            col, row = column_index_from_string(match.group(1)), int(match.group(2)) - offset
            note = f"粘贴的第{row}行第{col}列：" + note[match.end():]
        warnings.append(note + ("" if note.endswith("。") else "。"))
    if len(warnings) > MAX_WARNINGS:
        warnings = warnings[:MAX_WARNINGS] + [f"……另有 {len(warnings) - MAX_WARNINGS} 条提示未列出。"]
    return Pasted(rows=out, warnings=warnings, header_added=header_added)


def form_rows(entry, pasted: Pasted, start: int) -> tuple[int, list[dict]]:
    """(first row index, one {posted field name: value} per pasted row) for the entry form `entry`.

    Pasted rows are always new rows, from `start` on, and never fewer than the saved rows: a saved
    row — above all an approved (locked) one of the 批复的绩效目标, whose 指标值 and 分值 change
    only by a 目标调整 — is never written by a paste. Filling saved rows in place would have to
    skip locked cells and leave half-pasted rows; appending keeps every saved row as it was, and
    the officer deletes what the pasted rows replace. `start` lets the page reuse its trailing
    empty new rows (the five a new assessment opens with) instead of adding more under them.
    """
    formset = entry.indicators
    start = max(start, formset.initial_form_count())
    names = [name for name in formset.empty_form.fields if name not in ("id", "ORDER", "DELETE", formset.fk.name)]
    out = []
    for n, values in enumerate(pasted.rows, start=start):
        prefix = f"{formset.prefix}-{n}"
        out.append({f"{prefix}-{name}": "" if values.get(name) is None else str(values.get(name)) for name in names})
    return start, out
