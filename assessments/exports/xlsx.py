"""The public .xlsx workbook of an assessment, laid out like the official 自评表.

Sheet ``自评表`` follows the paper forms of the seeds (001: 项目支出, 004: 部门整体支出): a title
row, the header block of the layout, the funding table with its caption cell merged down the
left, 资金结构 (department), 年度总体目标, the indicator table with the 一级/二级 cells merged
over the rows they group and a 总分 row, then 项目支出明细 (department). Sheet ``自评报告``
holds the narrative report, one row per paragraph.

Everything comes from `PublicReport` (the same read model as the public page and the JSON).

Choices worth knowing:

- Column grid. Column A holds the block captions (资金情况（万元）, 绩效指标, …). Columns B… are
  the indicator table's columns; the other blocks spread their columns over the same grid
  (`_spread`), so that the funding table's 分值/得分 sit right above the indicators' 分值/得分.
- Numbers are numbers: amounts and scores are written as `Decimal` (openpyxl stores them
  exactly as their decimal text) with format ``0.00``; the execution rate is stored as a
  fraction (96.67% → 0.9667) with format ``0.00%``; weights and head counts use ``General`` so
  that 5 reads "5" and 12.5 reads "12.5" (``0.##`` would show "5." in Excel). Empty values stay
  empty cells, never "None".
- Formula injection: every user text is written as a string cell (``data_type = "s"``) even when
  it starts with ``=``, ``+``, ``-`` or ``@`` (seed 001 writes targets like "=100%"), and such
  cells also get Excel's ``quotePrefix`` so that editing them in Excel/WPS keeps them text. The
  visible text is exactly what the unit wrote; nothing is prefixed. Text that looks like an
  error code ("#N/A") is kept as a string too. Control characters that the xlsx format cannot
  hold are dropped (a vertical tab from Word becomes a line break).
- Row heights. Excel and WPS do not grow a row to fit wrapped text in merged cells, so every
  row's height is estimated from its text (a CJK character ≈ 2 width units). Long texts are
  split into one row per paragraph (and long paragraphs at sentence ends) so that no row needs
  more than Excel's 409 points.
- Styles are openpyxl `NamedStyle`s registered once per workbook; cells only refer to them.
- Deterministic output: document properties come from the report (creator 绩效自评门户,
  created/modified = published_at, or a fixed epoch), and the zip entries carry a fixed
  timestamp, so two exports of the same report are byte-identical.
"""

import datetime
import io
import math
import re
import zipfile

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.writer.excel import ExcelWriter

from .. import columns
from ..models import Assessment
from ..tablespec import Column
from ..templatetags.portal import chinese_number
from .public import PublicReport

SHEET_TABLE = "自评表"
SHEET_REPORT = "自评报告"
CREATOR = "绩效自评门户"
EPOCH = datetime.datetime(2000, 1, 1)  # created/modified when a report has no publication time
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)

FONT_NAME = "宋体"
MONEY_FORMAT = "0.00"
RATE_FORMAT = "0.00%"
SCORE_FORMAT = "0.00"
WEIGHT_FORMAT = "General"
DASH = "－"  # 分值/得分 of the 财政拨款 / 其他资金 rows, as on the paper form
NO_REPORT = "（本项目自评表未附文字报告）"

# Named styles (the names appear in Excel's cell-style gallery).
TITLE, HEAD, LABEL, TEXT, MONEY, RATE, NUMBER, SCORE = (
    "自评表标题", "自评表表头", "自评表栏目", "自评表文本", "自评表金额", "自评表比率", "自评表分值", "自评表得分",
)
R_TITLE, R_HEAD, R_BODY = "自评报告标题", "自评报告章节", "自评报告正文"
# The style of each family a value kind names (columns.Kind.xlsx_style); amounts: money_style().
KIND_STYLES = {"text": TEXT, "rate": RATE, "number": NUMBER, "score": SCORE}

# Row-height estimate: points per line of wrapped text and padding, per font size.
_LINE_PT = {10: 13.5, 11: 15.0, 12: 16.0, 16: 21.0}
_PAD_PT = 4.0
_MIN_ROW_PT = 18.0
_MAX_ROW_PT = 409.0  # Excel's limit
_WIDE = re.compile(r"[^\x00-\u02ff]")  # CJK, full-width punctuation, “”: two width units each
_SENTENCE_END = re.compile(r"(?<=[。；！？;!?])")
_ILLEGAL = re.compile(r"[\x00-\x08\x0c\x0e-\x1f]")
_FORMULA_START = ("=", "+", "-", "@")

TABLE_WIDTHS = {"operator": 7, "unit": 8, "caption": 10, "level1": 10, "level2": 12, "name": 26, "target": 24, "actual": 34,
                "weight": 7, "score": 8, "review": 9, "reason": 22}
REPORT_WIDTH = 100


# --- Public API -------------------------------------------------------------------------------


def build_workbook(report: PublicReport) -> Workbook:
    """The workbook of one public report: sheet 自评表 and (when the 表样 has a report) 自评报告."""
    wb = Workbook()
    _register_styles(wb)
    _set_properties(wb, report)
    table = wb.active
    table.title = SHEET_TABLE
    _TableSheet(table, report).write()
    if report.view.table.sections:  # a template without a narrative report has no second sheet
        _write_report_sheet(wb.create_sheet(SHEET_REPORT), report)
    return wb


def to_bytes(report: PublicReport) -> bytes:
    """The saved workbook; the same report always gives the same bytes."""
    wb = build_workbook(report)
    buffer = io.BytesIO()
    # ExcelWriter rather than wb.save(): save() stamps "modified" with the current time.
    ExcelWriter(wb, _StableZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    return buffer.getvalue()


def table_title(report: PublicReport) -> str:
    """"2020年度部门整体支出绩效自评表", "2022年度综治、平安建设经费绩效自评表"."""
    a = report.assessment
    if a.kind == Assessment.Kind.PROJECT:
        return f"{a.round.year}年度{a.project_name}绩效自评表"
    return f"{a.round.year}年度{report.view.table.title}"


def report_title(report: PublicReport) -> str:
    """"2020年度<unit>部门整体支出绩效自评报告" / "2022年度<unit><project>项目绩效自评报告"."""
    a = report.assessment
    name = a.project_name if a.kind == Assessment.Kind.PROJECT else ""
    return f"{a.round.year}年度{a.unit.name}{name}{report.view.table.report_title or '绩效自评报告'}"


# --- Workbook set-up --------------------------------------------------------------------------


def _register_styles(wb: Workbook) -> None:
    thin = Side(style="thin", color="000000")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    grey = PatternFill("solid", fgColor="E7E6E6")

    def font(size=10, bold=False):
        return Font(name=FONT_NAME, size=size, bold=bold)

    def align(horizontal, vertical="center"):
        return Alignment(horizontal=horizontal, vertical=vertical, wrap_text=True)

    styles = [
        NamedStyle(TITLE, font=font(16, True), alignment=align("center")),
        NamedStyle(HEAD, font=font(10, True), fill=grey, border=box, alignment=align("center")),
        NamedStyle(LABEL, font=font(), border=box, alignment=align("center")),
        NamedStyle(TEXT, font=font(), border=box, alignment=align("left")),
        NamedStyle(MONEY, font=font(), border=box, alignment=align("right"), number_format=MONEY_FORMAT),
        NamedStyle(RATE, font=font(), border=box, alignment=align("center"), number_format=RATE_FORMAT),
        NamedStyle(NUMBER, font=font(), border=box, alignment=align("center"), number_format=WEIGHT_FORMAT),
        NamedStyle(SCORE, font=font(), border=box, alignment=align("center"), number_format=SCORE_FORMAT),
        NamedStyle(R_TITLE, font=font(16, True), alignment=align("center")),
        NamedStyle(R_HEAD, font=font(12, True), alignment=align("left")),
        NamedStyle(R_BODY, font=font(11), alignment=align("left", "top")),
    ]
    for style in styles:
        wb.add_named_style(style)


# Amounts typed with three or four decimals (万元 to the yuan) show all of them; their styles are
# added to a workbook only when used, so that other workbooks stay as they were.
MONEY_PLACES_STYLES = {3: ("自评表金额3", "0.000"), 4: ("自评表金额4", "0.0000")}


def money_style(value) -> str:
    if value is None:
        return MONEY
    places = columns.amount_places(value)
    return MONEY_PLACES_STYLES[places][0] if places in MONEY_PLACES_STYLES else MONEY


def _ensure_style(wb: Workbook, name: str) -> str:
    for style_name, number_format in MONEY_PLACES_STYLES.values():
        if name == style_name and style_name not in wb.named_styles:
            thin = Side(style="thin", color="000000")
            wb.add_named_style(NamedStyle(
                style_name, font=Font(name=FONT_NAME, size=10), border=Border(left=thin, right=thin, top=thin, bottom=thin),
                alignment=Alignment(horizontal="right", vertical="center", wrap_text=True), number_format=number_format,
            ))
    return name


def _set_properties(wb: Workbook, report: PublicReport) -> None:
    when = report.published_at
    if isinstance(when, datetime.datetime):
        if when.tzinfo is not None:
            when = when.astimezone(datetime.UTC).replace(tzinfo=None)
        when = when.replace(microsecond=0)
    else:
        when = EPOCH
    props = wb.properties
    props.creator = props.lastModifiedBy = CREATOR
    props.title = _clean(table_title(report))
    props.created = props.modified = when
    meta = report.meta
    if meta is not None and meta.identifier:
        # The 公开 metadata (issue 16) in the core properties: identifier = 索引号, subject =
        # 主题分类, keywords = 发布机构 (creator stays the portal), the whole block as description.
        props.identifier = meta.identifier
        props.subject = meta.theme
        props.description = "；".join(f"{label}：{text}" for label, text in meta.rows)
        props.version = str(meta.version)
        props.keywords = meta.publisher


def _page_setup(ws, orientation: str) -> None:
    ws.page_setup.orientation = orientation
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.print_options.horizontalCentered = True
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.sheet_view.showGridLines = False


class _StableZipFile(zipfile.ZipFile):
    """A zip whose entries all carry one fixed timestamp, so equal content gives equal bytes."""

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if not isinstance(zinfo_or_arcname, zipfile.ZipInfo):
            zinfo = zipfile.ZipInfo(zinfo_or_arcname, date_time=_ZIP_TIME)
            zinfo.compress_type = self.compression
            zinfo.external_attr = 0o600 << 16
            zinfo_or_arcname = zinfo
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        # openpyxl writes each worksheet through a temporary file; keep its mtime out of the zip.
        with open(filename, "rb") as source:
            self.writestr(arcname or filename, source.read(), compress_type, compresslevel)


# --- Cells ------------------------------------------------------------------------------------


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x0b", "\n")
    return _ILLEGAL.sub("", text)


def _set_value(cell, value) -> None:
    """Write a value: text always as a string cell (never a formula), blanks as empty cells."""
    if value is None:
        return
    if isinstance(value, str):
        value = _clean(value)
        if not value:
            return
        cell.value = value
        if cell.data_type != "s":  # "=…" would be a formula, "#N/A" an error
            cell.data_type = "s"
        if value.startswith(_FORMULA_START):
            cell.quotePrefix = True
        return
    cell.value = value


def _units(text: str) -> int:
    """Display width in column-width units: 2 per CJK character, 1 per Latin one."""
    return len(text) + len(_WIDE.findall(text))


def _line_count(text: str, width: float) -> int:
    per_line = max(width - 1.5, 2.0)
    return sum(max(1, math.ceil(_units(part) / per_line)) for part in text.split("\n"))


def _height(text: str, width: float, size: int = 10) -> float:
    return _line_count(text, width) * _LINE_PT[size] + _PAD_PT


def _chunks(text: str, width: float, size: int = 10, max_pt: float = _MAX_ROW_PT - 10) -> list[str]:
    """Split a text into pieces that each fit in one row of the given width.

    Consecutive paragraphs share a row while they fit; a paragraph too long for one row is cut
    at sentence ends (or, for a single enormous sentence, by length). Pieces of one paragraph
    are never rejoined, so concatenating a paragraph's pieces gives it back exactly.
    """
    max_lines = max(1, int((max_pt - _PAD_PT) // _LINE_PT[size]))
    budget = max_lines * max(width - 1.5, 2.0)
    pieces: list[tuple[str, bool]] = []  # (text, starts a paragraph)
    for paragraph in text.split("\n"):
        if _units(paragraph) <= budget:
            pieces.append((paragraph, True))
            continue
        parts: list[str] = []
        current = ""
        for sentence in _SENTENCE_END.split(paragraph):
            while _units(sentence) > budget:  # a sentence longer than a row: cut it by length
                if current:
                    parts.append(current)
                    current = ""
                cut = max(1, int(budget // 2))
                parts.append(sentence[:cut])
                sentence = sentence[cut:]
            if current and _units(current + sentence) > budget:
                parts.append(current)
                current = ""
            current += sentence
        if current:
            parts.append(current)
        pieces += [(part, n == 0) for n, part in enumerate(parts)]
    groups: list[str] = []
    for piece, starts in pieces:
        if groups and starts and _line_count(groups[-1] + "\n" + piece, width) <= max_lines:
            groups[-1] += "\n" + piece
        else:
            groups.append(piece)
    return groups or [""]


# --- Sheet 1: 自评表 --------------------------------------------------------------------------


class _TableSheet:
    """Writes the 自评表 sheet top to bottom, as the assessment's 表样 lays it out; `self.row` is
    the next free row."""

    def __init__(self, ws, report: PublicReport):
        self.ws = ws
        self.report = report
        self.view = report.view
        self.a = report.assessment
        self.table = report.view.table
        self.weights = report.view.weights_used
        self.review = self.weights and (
            report.review_total is not None or any(p.review_score is not None for p in report.lines)
        )
        self.indicator_cols = list(self.view.indicator_columns)
        if self.review:
            at = next((n + 1 for n, c in enumerate(self.indicator_cols) if c.key == "score"), len(self.indicator_cols))
            self.indicator_cols.insert(at, Column("review", "复核得分"))
        self.funding_cols = [Column("label", self.table.funding_label_header), *self.view.funding_columns]
        self.last = 1 + max(len(self.indicator_cols), len(self.funding_cols))
        self.widths = {1: TABLE_WIDTHS["caption"]}
        for n, column in enumerate(self.indicator_cols, start=2):
            self.widths[n] = TABLE_WIDTHS.get(column.key) or columns.KINDS[column.kind].width
        for n in range(2 + len(self.indicator_cols), self.last + 1):
            self.widths[n] = TABLE_WIDTHS["reason"]
        self.heights: dict[int, float] = {}
        self.row = 1

    # Low-level writing.

    def put(self, row, col, value, style, to_row=None, to_col=None, size=10):
        """Write one (possibly merged) cell; note the height its text needs when one row high."""
        ws = self.ws
        to_row, to_col = to_row or row, to_col or col
        style = _ensure_style(ws.parent, style)
        if (to_row, to_col) != (row, col):
            # Merge first: the cells are still unstyled, so openpyxl copies no borders around;
            # then every cell of the range gets the named style (its borders draw the frame).
            ws.merge_cells(start_row=row, start_column=col, end_row=to_row, end_column=to_col)
            for r in range(row, to_row + 1):
                for c in range(col, to_col + 1):
                    ws.cell(r, c).style = style
            cell = ws.cell(row, col)
        else:
            cell = ws.cell(row, col)
            cell.style = style
        _set_value(cell, value)
        if isinstance(cell.value, str) and to_row == row:
            need = _height(cell.value, self.width(col, to_col), size)
            if need > self.heights.get(row, 0):
                self.heights[row] = need

    def width(self, col, to_col) -> float:
        return sum(self.widths[c] for c in range(col, to_col + 1))

    def put_value(self, row, col, cell: columns.Cell, to_col=None) -> None:
        """A table value in the style of its kind (amounts with the decimals they were typed with)."""
        kind = columns.KINDS[cell.kind]
        style = money_style(cell.value) if kind.xlsx_style == "amount" else KIND_STYLES[kind.xlsx_style]
        self.put(row, col, kind.xlsx_value(cell.value), style, to_col=to_col)

    # Layout.

    def write(self) -> None:
        ws = self.ws
        for col, width in self.widths.items():
            ws.column_dimensions[get_column_letter(col)].width = width
        self.put(1, 1, table_title(self.report), TITLE, to_col=self.last, size=16)
        self.heights[1] = max(self.heights.get(1, 0), 36.0)
        self.row = 2
        self.header()
        self.funding()
        if self.view.structure:
            self.structure()
        self.goals()
        self.indicators()
        if self.view.blocks:
            self.blocks()
        if self.view.footer:
            self.footer()
        if self.view.project_expenses:
            self.expenses()
        for row in range(1, self.row):
            ws.row_dimensions[row].height = min(_MAX_ROW_PT, max(_MIN_ROW_PT, self.heights.get(row, 0)))
        _page_setup(ws, "landscape")

    def pair_row(self, label1, value1, label2, value2, style1=TEXT, style2=TEXT) -> None:
        """label | value (B:D) | label (E) | value (F:last), as 项目名称 / 项目负责人及电话."""
        r = self.row
        self.put(r, 1, label1, HEAD)
        self.put(r, 2, value1, style1, to_col=4)
        self.put(r, 5, label2, HEAD)
        self.put(r, 6, value2, style2, to_col=self.last)
        self.row += 1

    def header(self) -> None:
        """The template's header fields: half-width ones two to a row, the others a row each."""
        for row in self.view.header_rows:
            if len(row) == 2:
                (v1, s1), (v2, s2) = (self.header_value(h) for h in row)
                self.pair_row(row[0].label, v1, row[1].label, v2, s1, s2)
            elif row[0].field.width == "long":
                self.long_text(row[0].label, row[0].text)
            else:
                value, style = self.header_value(row[0])
                self.put(self.row, 1, row[0].label, HEAD)
                self.put(self.row, 2, value, style, to_col=self.last)
                self.row += 1

    @staticmethod
    def header_value(line):
        if line.field.key in ("staff_quota", "staff_actual") or columns.KINDS[line.field.kind].xlsx_style == "number":
            return columns.number_value(line.text), NUMBER
        return line.text, TEXT

    def long_text(self, caption: str, text: str) -> None:
        """A caption beside a text in B:last, split into rows by paragraph when it is long."""
        pieces = _chunks(_clean(text or ""), self.width(2, self.last))
        first = self.row
        for piece in pieces:
            self.put(self.row, 2, piece, TEXT, to_col=self.last)
            self.row += 1
        self.put(first, 1, caption, HEAD, to_row=self.row - 1)

    def caption(self, text: str, first: int) -> None:
        """The block caption in column A, merged from `first` down to the block's last row."""
        self.put(first, 1, text, HEAD, to_row=self.row - 1)

    def funding(self) -> None:
        spans = _spread(len(self.funding_cols), self.last - 1)
        first = self.row
        for column, (c1, c2) in zip(self.funding_cols, spans, strict=True):
            self.put(first, c1, column.label, HEAD, to_col=c2)
        self.row += 1
        for line in self.view.funding:
            r = self.row
            for column, (c1, c2) in zip(self.funding_cols, spans, strict=True):
                if column.key == "label":
                    self.put(r, c1, line.label, LABEL, to_col=c2)
                elif column.key in ("weight", "score") and not line.carries_weight:
                    self.put(r, c1, DASH, LABEL, to_col=c2)
                else:
                    self.put_value(r, c1, columns.cell(line, column, "funding"), to_col=c2)
            self.row += 1
        self.caption(self.table.funding_caption, first)

    def structure(self) -> None:
        """资金结构 (department): 支出 / 预算数 / 执行数 under the funding table's own columns."""
        spans = _spread(len(self.funding_cols), self.last - 1)[:3]
        rest = (spans[-1][1] + 1, self.last)
        first = self.row
        for label, (c1, c2) in zip(self.table.structure_labels, spans, strict=True):
            self.put(first, c1, label, HEAD, to_col=c2)
        if rest[0] <= rest[1]:
            self.put(first, rest[0], None, HEAD, to_col=rest[1])
        self.row += 1
        for line in self.view.structure:
            r = self.row
            (l1, l2), (b1, b2), (x1, x2) = spans
            self.put(r, l1, line.label, LABEL, to_col=l2)
            self.put(r, b1, columns.amount_value(line.budget), money_style(line.budget), to_col=b2)
            self.put(r, x1, columns.amount_value(line.actual), money_style(line.actual), to_col=x2)
            if rest[0] <= rest[1]:
                self.put(r, rest[0], None, LABEL, to_col=rest[1])
            self.row += 1
        caption = self.table.structure_caption
        self.caption(caption if "万元" in caption else f"{caption}（万元）", first)

    def goals(self) -> None:
        """年度总体目标: target in B:E, achieved in F:last, one row per goal."""
        split = min(5, self.last - 1)
        first = self.row
        target_label, achieved_label = self.table.goal_labels
        self.put(first, 2, target_label, HEAD, to_col=split)
        self.put(first, split + 1, achieved_label, HEAD, to_col=self.last)
        self.row += 1
        goals = [(g.target, g.achieved) for g in self.view.goals] or [("", "")]
        left, right = self.width(2, split), self.width(split + 1, self.last)
        for target, achieved in goals:
            targets, achieveds = _chunks(_clean(target), left), _chunks(_clean(achieved), right)
            for n in range(max(len(targets), len(achieveds))):
                self.put(self.row, 2, targets[n] if n < len(targets) else None, TEXT, to_col=split)
                self.put(self.row, split + 1, achieveds[n] if n < len(achieveds) else None, TEXT, to_col=self.last)
                self.row += 1
        self.caption(self.table.goal_caption, first)

    def indicators(self) -> None:
        cols = self.indicator_cols
        last_key = cols[-1].key
        first = self.row
        for n, column in enumerate(cols, start=2):
            self.put(first, n, column.label, HEAD, to_col=self.last if column.key == last_key else None)
        self.row += 1
        for public in self.report.lines:
            line, r = public.line, self.row
            for n, column in enumerate(cols, start=2):
                to_col = self.last if column.key == last_key else None
                if column.key == "level1":
                    if line.level1_span:
                        self.put(r, n, line.level1_caption or line.level1, LABEL, to_row=r + line.level1_span - 1)
                elif column.key == "level2":
                    if line.level2_span:
                        self.put(r, n, line.level2, LABEL, to_row=r + line.level2_span - 1)
                elif column.key == "review":
                    self.put(r, n, public.review_score, SCORE, to_col=to_col)
                else:
                    self.put_value(r, n, columns.cell(line, column, "indicators"), to_col=to_col)
            self.row += 1
        if self.weights:
            r = self.row
            for segment in columns.total_segments(cols):
                c1 = segment.first + 2
                c2 = c1 + segment.span - 1
                if segment.kind == "label":
                    self.put(r, c1, "总分", HEAD, to_col=c2)
                elif segment.kind == "label_grade":
                    grade = self.grade_text()
                    self.put(r, c1, f"总分（{grade}）" if grade else "总分", HEAD, to_col=self.last if c2 == len(cols) + 1 else c2)
                elif segment.kind == "weight":
                    self.put(r, c1, self.view.result.weight_total, NUMBER)
                elif segment.kind == "score":
                    self.put(r, c1, self.view.total, SCORE)
                elif segment.kind == "review":
                    self.put(r, c1, self.report.review_total, SCORE)
                else:
                    text = self.grade_text() if segment.kind == "grade" else None
                    self.put(r, c1, text, TEXT, to_col=self.last if c2 == len(cols) + 1 else c2)
            self.row += 1
        self.caption(self.table.indicator_heading(), first)

    def grade_text(self) -> str:
        own, reviewed = self.view.grade, self.report.review_grade
        if reviewed:
            return f"自评等级：{own or '—'}；复核等级：{reviewed}"
        if own:
            return f"等级：{own}"
        return self.view.result.status

    def blocks(self) -> None:
        """评价结论, 存在问题, 改进措施 … under the table: caption in A, text in B:last."""
        for block in self.view.blocks:
            self.long_text(block.title, block.body)

    def footer(self) -> None:
        """Fields printed under the table (项目负责人, 财务负责人 …), as label/value pairs."""
        lines = self.view.footer
        for start in range(0, len(lines), 2):
            pair = lines[start : start + 2]
            if len(pair) == 2:
                (v1, s1), (v2, s2) = (self.header_value(h) for h in pair)
                self.pair_row(pair[0].label, v1, pair[1].label, v2, s1, s2)
            else:
                value, style = self.header_value(pair[0])
                self.put(self.row, 1, pair[0].label, HEAD)
                self.put(self.row, 2, value, style, to_col=self.last)
                self.row += 1

    def expenses(self) -> None:
        """项目支出明细 (department report's per-project breakdown)."""
        first = self.row
        self.put(first, 2, "项目名称", HEAD, to_col=4)
        self.put(first, 5, "年初预算（万元）", HEAD)
        self.put(first, 6, "实际支出（万元）", HEAD)
        self.put(first, 7, "说明", HEAD, to_col=self.last)
        self.row += 1
        for p in self.view.project_expenses:
            r = self.row
            self.put(r, 2, p.name, TEXT, to_col=4)
            self.put(r, 5, columns.amount_value(p.budget), money_style(p.budget))
            self.put(r, 6, columns.amount_value(p.actual), money_style(p.actual))
            self.put(r, 7, p.note, TEXT, to_col=self.last)
            self.row += 1
        self.caption("项目支出明细", first)




def _spread(m: int, n: int) -> list[tuple[int, int]]:
    """Columns (from B) of a block with m logical columns over a grid of n: the first takes one
    extra grid column when there is room (so a 7-column funding table over an 8-column indicator
    grid lines its 分值/得分 up with the indicators'), the last takes what remains."""
    extra = max(0, n - m)
    spans, col = [], 2
    for i in range(m):
        width = 1 + (min(extra, 1) if i == 0 else 0)
        if i == m - 1:
            width = max(1, n + 2 - col)
        spans.append((col, col + width - 1))
        col += width
    return spans


# --- Sheet 2: 自评报告 ------------------------------------------------------------------------


def _write_report_sheet(ws, report: PublicReport) -> None:
    """Title, then per section "一、<title>" and its body, one row per paragraph; "无" if empty."""
    ws.column_dimensions["A"].width = REPORT_WIDTH
    rows: list[tuple[str, str, int]] = [(report_title(report), R_TITLE, 16)]
    view = report.view
    if report.assessment.kind == Assessment.Kind.PROJECT and not view.has_report:
        rows.append((NO_REPORT, R_BODY, 11))
    else:
        for section in view.sections:
            rows.append((f"{chinese_number(section.number)}、{section.title}", R_HEAD, 12))
            # Blank lines only separate paragraphs; each paragraph keeps its text as written.
            paragraphs = [p.rstrip() for p in _clean(section.body).split("\n") if p.strip()] or ["无"]
            for paragraph in paragraphs:
                rows.extend((piece, R_BODY, 11) for piece in _chunks(paragraph, REPORT_WIDTH, 11))
    for n, (text, style, size) in enumerate(rows, start=1):
        cell = ws.cell(n, 1)
        cell.style = style
        _set_value(cell, text)
        height = _height(text, REPORT_WIDTH, size) + (8 if style != R_BODY else 2)
        ws.row_dimensions[n].height = min(_MAX_ROW_PT, max(_MIN_ROW_PT, height))
    _page_setup(ws, "portrait")
