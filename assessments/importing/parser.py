"""Read an 自评表 workbook into a plain, JSON-ready dict (no database; no Django except the
export's row-fitting rule, imported lazily for the portal's own files).

The workbook is read as laid out by a 表样 (tablespec.TableSpec): the template's own column
headers, row labels, header fields, blocks and report sections (with their aliases) say what each
cell is. Given several templates, every one is tried and the one that explains the most cells
wins (`parse_workbook(data, templates)`); given one (`chosen`), only it is used. Nothing is changed
without a note: amounts rounded to four decimals, 二级 rewritten, placeholder rows dropped, labels
the template does not know (reported, and the block goes on).

What it understands: the portal's own export (exports/xlsx.py), and workbooks laid out like the
three paper forms (seed 001's 项目支出 table, seed 004's 部门整体支出 table, the national template
of 财预〔2020〕10号), however the unit has arranged the cells: captions merged down column A or
not, 一级/二级 cells merged over several rows or left blank under the first, "产出指标（50分）"
headers, a header row repeated on every printed page, total rows (合计/总分), blank rows, notes
below the table, amounts with or without 万元 and in full-width digits, "—" / "-" / "/" for
empty, formulas (the cached value is used; a formula without one is reported).

Every non-empty cell that was not taken into the result, and is not a label or a value the portal
computes itself (执行率, 得分 of the funding row, totals), is listed in ``unmapped`` with its sheet,
row, column letter and the reason in Chinese.

Text is kept as written (trimmed): the scoring module parses "≥10次", ">=10次", "＞１０次" itself,
so an imported target scores exactly as the same text typed into the form.
"""

import datetime
import io
import re
import unicodedata
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import openpyxl
from openpyxl.utils import get_column_letter

from ..builtin_templates import BUILTIN
from ..tablespec import COMMON_ALIASES, HEADER_FIELDS, TableSpec, column_aliases

PORTAL_CREATOR = "绩效自评门户"
PORTAL_TABLE_SHEET = "自评表"
PORTAL_REPORT_SHEET = "自评报告"
PORTAL_HEADING_STYLE = "自评报告章节"
NO_REPORT_TEXT = "（本项目自评表未附文字报告）"
CONFIDENTIAL_WORD = "涉密"

NO_TABLE = "未在工作簿中找到可识别的自评表：需要“绩效指标”表头（一级指标、二级指标、三级指标）或“资金情况”表头（预算数、执行数）。"

# What units write in a cell to mean "nothing here". "无" is empty only where a number is due: as
# a text ("无重大安全事故" → "无") it is an answer.
EMPTY_MARKS = frozenset({"", "—", "——", "–", "-", "--", "/", "\\", "－", "／"})
EMPTY_NUMBER_MARKS = EMPTY_MARKS | {"无", "空"}
_CN_DIGITS = "一二三四五六七八九十"
_HEADING_RE = re.compile(r"^([一二三四五六七八九十]+)、\s*(.+)$", re.S)
_LEVEL1_WEIGHT_RE = re.compile(r"^(.*?)[(（]\s*([0-9]+(?:\.[0-9]+)?)\s*分?\s*[)）]$")
_PHONE_RE = re.compile(r"[\s,，、/]*((?:\+?86[- ]?)?(?:[0-9*][0-9*\- ()（）]{5,}[0-9*]))\s*$")
_YEAR_RE = re.compile(r"((?:19|20)[0-9]{2})\s*年")
_YEAR_ONLY_RE = re.compile(r"^\(?((?:19|20)[0-9]{2})年度?\)?$")
_CENT = Decimal("0.01")
AMOUNT_PLACES = 4  # 万元 to the yuan
_YUAN = Decimal("0.0001")


# --- Result ---------------------------------------------------------------------------------


@dataclass
class Unmapped:
    sheet: str
    row: int
    column: str
    value: str
    reason: str

    @property
    def cell(self) -> str:
        return f"{self.column}{self.row}"


@dataclass
class ParsedWorkbook:
    """What the workbook said, in the entry form's terms. Amounts are strings ("36.00") or None."""

    kind: str = ""
    layout: str = ""  # the code of the 表样 the workbook was read by
    file_kind: str = ""  # what the table itself says it is (部门职责, 资金结构 …: department), if anything
    year: int | None = None
    title: str = ""
    unit_name: str = ""
    from_portal: bool = False
    header: dict = field(default_factory=dict)  # field key -> value (a template's own fields too)
    funding: dict = field(default_factory=dict)  # source -> {initial_budget, budget, actual, reason, score, extra}
    funding_columns: list = field(default_factory=list)
    structure: dict = field(default_factory=dict)  # item -> {budget, actual}
    goals: list = field(default_factory=list)  # [{target, achieved}]
    indicators: list = field(default_factory=list)  # [{level1, level2, name, operator, target, unit, actual, weight, score, reason, extra}]
    expenses: list = field(default_factory=list)  # [{name, budget, actual, note, confidential}]
    sections: list | None = None  # [{key, title, body}]; None: the workbook has no report
    blocks: list = field(default_factory=list)  # [{key, title, body}]: 评价结论 … under the table
    level1_weights: dict = field(default_factory=dict)
    unmapped: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        data = dict(self.__dict__)
        data["unmapped"] = [u.__dict__.copy() for u in self.unmapped]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ParsedWorkbook":
        # Only known keys: a preview stored by an older version of this code must still load.
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        unmapped_fields = {f.name for f in fields(Unmapped)}
        data["unmapped"] = [
            Unmapped(**{k: v for k, v in u.items() if k in unmapped_fields}) for u in data.get("unmapped", [])
        ]
        return cls(**data)


class ParseRefused(Exception):
    """The workbook cannot be read as an 自评表; `str(exc)` is the message for the officer."""


class NoTableFound(ParseRefused):
    pass


MAX_CELLS = 200_000
TOO_MANY_CELLS = "工作表中的单元格过多（超过 20 万个），不像是自评表，已拒绝导入。"


# --- Cell values ----------------------------------------------------------------------------


def norm(text) -> str:
    """Label key: NFKC, no whitespace, no trailing colon."""
    text = unicodedata.normalize("NFKC", str(text or ""))
    return "".join(text.split()).rstrip(":：")


_NUMBERING = re.compile(r"^(?:[一二三四五六七八九十]+[、.．]|[0-9]+[、.．)）]|[（(][一二三四五六七八九十0-9]+[)）]|[①-⑳])")
_TRAILING_NOTE = re.compile(r"[（(][^（）()]{1,12}[)）]$")
_DASHES = re.compile(r"^[-—–－_~～/／\\]+$")


def label_key(text) -> str:
    """A label as the template would write it: no numbering in front ("一、", "1.", "（一）"), no
    bracketed note behind ("（盖章）", "（万元）", "（10分）")."""
    key = norm(text)
    key = _NUMBERING.sub("", key, count=1)
    while True:
        stripped = _TRAILING_NOTE.sub("", key)
        if stripped == key or not stripped:
            return key
        key = stripped


def _is_empty_mark(text: str) -> bool:
    key = norm(text)
    return key in EMPTY_MARKS or bool(_DASHES.match(key)) or unicodedata.normalize("NFKC", text).strip() in EMPTY_MARKS


def _decimal_text(value) -> str:
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if d == d.to_integral():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")


def as_text(value, number_format: str = "General") -> str:
    """A cell as the text a person sees: numbers without ".0", percentages with %, dates as dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (int, float, Decimal)):
        if "%" in (number_format or ""):
            d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
            return _decimal_text(d * 100) + "%"
        return _decimal_text(value)
    text = str(value).replace("\r\n", "\n").replace("\r", "\n").replace("\x0b", "\n").replace("_x000D_", "")
    return text.strip()


def _clean_text(value, number_format="General") -> str:
    text = as_text(value, number_format)
    return "" if _is_empty_mark(text) else text


def parse_amount(value, number_format: str = "General") -> tuple[Decimal | None, str]:
    """An amount in 万元: (value, "") or (None, reason). Empty marks give (None, "")."""
    if value is None:
        return None, ""
    if isinstance(value, bool):
        return None, "不是金额"
    if isinstance(value, (int, float, Decimal)):
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip()
        text = "".join(text.split()).replace(",", "")
        if text in EMPTY_NUMBER_MARKS:
            return None, ""
        for suffix in ("万元", "万"):
            if text.endswith(suffix):
                text = text[: -len(suffix)]
                break
        else:
            if text.endswith("元"):
                return None, "金额单位是“元”，表格金额应以万元填写"
        try:
            d = Decimal(text)
        except InvalidOperation:
            return None, "无法识别为金额（应为数字，单位万元）"
        if not d.is_finite():
            return None, "无法识别为金额（应为数字，单位万元）"
    if d < 0:
        return None, "金额不能为负数"
    if abs(d) >= Decimal("1e12"):
        return None, "金额过大，请检查单位是否为万元"
    return d, ""  # more than four decimals are rounded (and noted) by the caller


def parse_number(value, *, integer=False) -> tuple[Decimal | int | None, str]:
    """A weight, score or head count."""
    if value is None:
        return None, ""
    if isinstance(value, bool):
        return None, "不是数字"
    if isinstance(value, (int, float, Decimal)):
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    else:
        text = "".join(unicodedata.normalize("NFKC", str(value)).split())
        if text in EMPTY_NUMBER_MARKS:
            return None, ""
        for suffix in ("分", "人", "名"):
            if text.endswith(suffix):
                text = text[: -len(suffix)]
        try:
            d = Decimal(text)
        except InvalidOperation:
            return None, "无法识别为数字"
        if not d.is_finite():
            return None, "无法识别为数字"
    if d < 0:
        return None, "不能为负数"
    if integer:
        if d != d.to_integral():
            return None, "人数应为整数"
        return int(d), ""
    return d.quantize(_CENT, rounding=ROUND_HALF_UP), ""


def _money(d: Decimal | None) -> str | None:
    return None if d is None else format(d, "f")


def _plain(d: Decimal) -> str:
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- The sheet grid -------------------------------------------------------------------------


@dataclass
class GridCell:
    row: int  # origin (top-left of its merged range)
    col: int
    last_row: int
    last_col: int
    value: object
    number_format: str
    style: str
    formula_missing: bool  # a formula whose cached value is absent

    @property
    def text(self) -> str:
        return as_text(self.value, self.number_format)

    @property
    def key(self) -> str:
        return norm(self.text)

    @property
    def origin(self) -> tuple[int, int]:
        return self.row, self.col


class Grid:
    """One worksheet with merged ranges resolved: `at(r, c)` gives the cell covering (r, c)."""

    def __init__(self, ws, formulas: set[tuple[int, int]]):
        self.title = ws.title
        merged = {}
        for rng in ws.merged_cells.ranges:
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    merged[(r, c)] = (rng.min_row, rng.min_col, rng.max_row, rng.max_col)
        self.cells: dict[tuple[int, int], GridCell] = {}
        # ws._cells holds only the cells that exist; iter_rows() would walk every formatted row.
        for (r, c), cell in sorted(ws._cells.items()):
            if (r, c) in merged and merged[(r, c)][:2] != (r, c):
                continue
            value = cell.value
            if isinstance(value, str) and not value.strip():
                value = None
            missing = (r, c) in formulas and value is None
            if value is None and not missing:
                continue
            r2, c2 = merged.get((r, c), (r, c, r, c))[2:]
            style = getattr(cell, "style", "") or ""
            self.cells[(r, c)] = GridCell(r, c, r2, c2, value, cell.number_format or "General", style, missing)
        self.cover: dict[tuple[int, int], GridCell] = {}
        self.by_row: dict[int, dict[tuple[int, int], GridCell]] = {}
        for cell in self.cells.values():
            if (cell.last_row - cell.row + 1) * (cell.last_col - cell.col + 1) > MAX_CELLS:
                raise ParseRefused(TOO_MANY_CELLS)
            for r in range(cell.row, cell.last_row + 1):
                for c in range(cell.col, cell.last_col + 1):
                    self.cover[(r, c)] = cell
                self.by_row.setdefault(r, {})[cell.origin] = cell
            if len(self.cover) > 4 * MAX_CELLS:
                raise ParseRefused(TOO_MANY_CELLS)
        self.rows = sorted(self.by_row)

    def at(self, r: int, c: int) -> GridCell | None:
        return self.cover.get((r, c))

    def row_cells(self, r: int) -> list[GridCell]:
        """Distinct cells covering row r, left to right (a merged cell once)."""
        return sorted(self.by_row.get(r, {}).values(), key=lambda cell: cell.col)


# --- Column headers -------------------------------------------------------------------------


def _funding_column(key: str) -> str | None:
    if key.startswith("年初预算"):
        return "initial_budget"
    if key.startswith("全年预算") or key in ("预算数", "预算数(万元)", "调整后预算数"):
        return "budget"
    if "执行率" in key:
        return "rate"
    if "执行数" in key or "实际投入" in key or key.startswith("决算数"):
        return "actual"
    if key == "分值":
        return "weight"
    if key in ("得分", "自评得分"):
        return "score"
    if "原因" in key:
        return "reason"
    return None


def _indicator_column(key: str) -> str | None:
    if "一级指标" in key:
        return "level1"
    if "二级指标" in key:
        return "level2"
    if "三级指标" in key or key in ("指标名称", "指标内容"):
        return "name"
    if key.startswith("复核"):
        return "review"
    if "指标值" in key or "目标值" in key:
        return "target"
    if "完成值" in key or "实际值" in key or key in ("实际完成情况", "完成情况"):
        return "actual"
    if key == "分值" or key == "权重":
        return "weight"
    if key in ("得分", "自评得分"):
        return "score"
    if "原因" in key or "改进措施" in key:
        return "reason"
    return None


FUNDING_KEYS = frozenset({"initial_budget", "budget", "actual", "rate", "weight", "score", "reason"})
INDICATOR_KEYS = frozenset({"level1", "level2", "name", "operator", "target", "unit", "actual", "weight", "score", "reason", "review"})
TOTAL_WORDS = ("合计", "总分", "总计", "小计", "得分合计", "分值合计")
NOTE_STARTS = ("注", "备注", "说明", "填表", "填报", "单位负责人", "联系人", "审核人", "制表")

HEADER_LABELS = {
    "项目名称": "project_name",
    "项目负责人及电话": "leader_and_phone",
    "项目负责人及联系电话": "leader_and_phone",
    "项目负责人": "project_leader",
    "负责人": "project_leader",
    "联系电话": "leader_phone",
    "电话": "leader_phone",
    "主管部门": "supervisor_name",
    "主管部门及代码": "supervisor_name",
    "实施单位": "implementer",
    "部门(单位)": "unit_name",
    "部门名称": "unit_name",
    "单位名称": "unit_name",
    "预算单位": "unit_name",
    "部门职责": "duties",
    "部门主要职责": "duties",
    "人员编制": "staff_quota",
    "编制人数": "staff_quota",
    "实有人数": "staff_actual",
}


PLACEHOLDER_MARKS = frozenset({"…", "……", "...", "......", "。。。", "…………", "——……"})
GOAL_TARGET_WORDS = ("年度目标", "年度总体目标", "总体目标", "预期目标", "年初设定目标", "绩效目标", "年度绩效目标")
GOAL_ACHIEVED_WORDS = ("年度总体目标完成情况", "总体目标完成情况", "全年完成情况", "实际完成情况", "目标完成情况", "完成情况")


def _known(table: str, own: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """The common labels of the columns a template does not have (its own come first)."""
    return {key: labels for key, labels in COMMON_ALIASES[table].items() if key not in own}


def _norms(*labels) -> tuple[str, ...]:
    return tuple(dict.fromkeys(norm(label) for label in labels if label))


class Vocabulary:
    """What one 表样 calls its columns, rows, header fields and texts, as normalised labels."""

    def __init__(self, spec: TableSpec):
        self.spec = spec
        # Every column the portal knows, the template's own labels first: a column the template lacks
        # is still recognised, and reported by its name ("本表样没有“指标性质”列").
        self.funding = self._columns({**column_aliases(spec, "funding"), **_known("funding", spec.funding_keys)})
        self.indicators = self._columns({**column_aliases(spec, "indicators"), **_known("indicators", spec.indicator_keys)})
        # The template's own column labels: a workbook made with this template uses exactly these.
        self.own_labels = {norm(c.label) for c in (*spec.funding_columns, *spec.indicator_columns)}
        self.funding_rows = [(r.key, _norms(r.label, *r.aliases)) for r in spec.funding_rows]
        self.structure_rows = [(r.key, _norms(r.label, *r.aliases)) for r in spec.structure_rows]
        self.header: dict[str, str] = {}
        for f in spec.header:
            for label in _norms(f.label, *f.aliases):
                self.header.setdefault(label, f.key)
        for label, key in HEADER_LABELS.items():
            self.header.setdefault(norm(label), key)
        self.blocks = [(b.key, b.title, _norms(b.title, *b.aliases)) for b in spec.blocks]
        self.sections = [(t.key, t.title, _norms(t.title, *t.aliases)) for t in spec.sections]
        self.goal_target = _norms(spec.goal_labels[0], *spec.goal_aliases[0], *GOAL_TARGET_WORDS)
        self.goal_achieved = _norms(spec.goal_labels[1], *spec.goal_aliases[1], *GOAL_ACHIEVED_WORDS)
        self.level1 = {norm(name): name for name in spec.level1_names}

    @staticmethod
    def _columns(aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, labels in aliases.items():
            for label in labels:
                out.setdefault(norm(label), key)
        return out

    def funding_column(self, key: str) -> str | None:
        return self.funding.get(key) or self.funding.get(label_key(key)) or _funding_column(key)

    def indicator_column(self, key: str) -> str | None:
        return self.indicators.get(key) or self.indicators.get(label_key(key)) or _indicator_column(key)

    def header_field(self, key: str) -> str | None:
        return self.header.get(key) or self.header.get(label_key(key))

    @staticmethod
    def row_of(keys: list[str], rows: list[tuple[str, tuple[str, ...]]]) -> str | None:
        """The row whose label (or alias) a row's label cells give: exact first, then the
        longest label contained in the cell ("其中：财政拨款（万元）")."""
        for key in keys:
            for row_key, labels in rows:
                if key in labels or label_key(key) in labels:
                    return row_key
        best, best_length = None, 0
        for key in keys:
            for row_key, labels in rows:
                for label in labels:
                    if len(label) > best_length and label in key:
                        best, best_length = row_key, len(label)
        return best

    def level1_of(self, compact: str) -> str:
        """The template's 一级 name for a cell's text ("产出" / "产出指标"), else the text."""
        if compact in self.level1:
            return self.level1[compact]
        if compact + "指标" in self.level1:
            return self.level1[compact + "指标"]
        return compact

    def looks_like_level1(self, key: str) -> bool:
        return key in self.level1 or key + "指标" in self.level1

    def text_of(self, key: str, texts) -> tuple[str, str] | None:
        """(key, title) of the block or section a caption names."""
        for text_key, title, labels in texts:
            if key in labels or label_key(key) in labels:
                return text_key, title
        return None


# --- The parser -----------------------------------------------------------------------------


class _SheetParser:
    """Walks one worksheet top to bottom, switching between the blocks of the 自评表."""

    def __init__(self, grid: Grid, result: ParsedWorkbook, portal: bool, vocab: Vocabulary):
        self.g = grid
        self.out = result
        self.portal = portal
        self.vocab = vocab
        self.exact_hits = 0  # header cells that are exactly the template's own labels
        self.text_rows: list[str] = []  # the rows of the block (评价结论 …) being read
        self.goal_header: dict[int, str] = {}  # column -> label of the goal table's other columns
        self.foreign: list[list] = []  # [span, label, header row, last row or None]: columns the template lacks
        self.current_text: tuple[str, str, int] | None = None  # (key, title, caption column)
        self.used: set[tuple[int, int]] = set()
        self.reasons: dict[tuple[int, int], str] = {}
        self.state: str | None = None
        self.cols: dict[str, tuple[int, int]] = {}
        self.stopped = False  # a second table on the same sheet: not read
        self.sub = ""  # 资金来源 / 资金结构 inside one funding table
        self.prev_level1 = self.prev_level2 = ""
        self.last_header_field: tuple[str, int] | None = None  # (field, column of its label)
        self.found_table = False
        self.found_list = False  # a 项目支出明细 header (a table of its own only where lists suffice)
        self.goal_rows: list[tuple[str, str]] = []
        self.duties_rows: list[str] = []

    # Bookkeeping.

    def use(self, cell: GridCell | None) -> None:
        if cell is not None:
            self.used.add(cell.origin)

    def refuse(self, cell: GridCell, reason: str) -> None:
        self.reasons[cell.origin] = reason

    def value_in(self, r: int, span: tuple[int, int]) -> GridCell | None:
        """The cell of row r under a header spanning columns span (first non-empty one). A cell
        merged across several columns belongs to the column where it starts, and to no other."""
        c1, c2 = span
        for c in range(c1, c2 + 1):
            cell = self.g.at(r, c)
            if cell is not None and cell.row == r and c1 <= cell.col <= c2:
                return cell
        return None

    def text(self, cell: GridCell | None, *, empty_marks=True) -> str:
        if cell is None:
            return ""
        if cell.formula_missing:
            self.refuse(cell, FORMULA_MISSING)
            return ""
        self.use(cell)
        return _clean_text(cell.value, cell.number_format) if empty_marks else cell.text

    def amount(self, cell: GridCell | None) -> str | None:
        if cell is None:
            return None
        if cell.formula_missing:
            self.refuse(cell, FORMULA_MISSING)
            return None
        value, problem = parse_amount(cell.value, cell.number_format)
        if problem:
            self.refuse(cell, problem)
            return None
        self.use(cell)
        if value is not None and value.as_tuple().exponent < -AMOUNT_PLACES:
            rounded = value.quantize(_YUAN, rounding=ROUND_HALF_UP)
            # A number stored by Excel may carry binary noise (9205.139999999999): not a rounding.
            if abs(rounded - value) > Decimal("1e-9"):
                self.note(cell, f"金额 {cell.text} 超过四位小数（万元，精确到元），已取整为 {_plain(rounded)}")
            value = rounded
        return _money(value)

    def note(self, cell: GridCell, text: str) -> None:
        """A change made while reading (rounding, rewriting, dropping), for the preview."""
        self.out.notes.append(f"{self.g.title}!{get_column_letter(cell.col)}{cell.row}：{text}")

    def number(self, cell: GridCell | None, *, integer=False):
        if cell is None:
            return None
        if cell.formula_missing:
            self.refuse(cell, FORMULA_MISSING)
            return None
        value, problem = parse_number(cell.value, integer=integer)
        if problem:
            self.refuse(cell, problem)
            return None
        self.use(cell)
        return value

    # Walking.

    def run(self) -> None:
        for r in self.g.rows:
            cells = [c for c in self.g.row_cells(r)]
            own = [c for c in cells if c.row == r]  # cells starting on this row
            if not own:
                continue  # only vertical merges pass through: nothing new
            self.row(r, cells, own)
        self.flush_goals()
        self.flush_duties()
        self.flush_text()

    def row(self, r, cells, own) -> None:
        if self.stopped or self.starts_second_table(own):
            for c in own:
                self.reasons.setdefault(c.origin, SECOND_TABLE)
            return
        labels = [c for c in own if len(c.key) <= 20]
        if self.total_row(own):
            return
        if self.detect_header(r, labels, [c.key for c in labels]):
            for c in own:
                if c.origin not in self.used:
                    self.reasons.setdefault(c.origin, NOT_IN_TABLE)
            return
        if self.is_title(own):
            return
        if self.text_row(r, cells, own):
            return
        if self.header_row(r, cells, own):
            return
        if self.goal_vertical(r, own):
            return
        handler = {
            "funding": self.funding_row,
            "structure": self.structure_row,
            "goals": self.goal_row,
            "indicators": self.indicator_row,
            "expenses": self.expense_row,
        }.get(self.state)
        if handler is not None and handler(r, cells, own):
            return
        reason = NOTE_OUTSIDE
        if self.state is not None and not own[0].key.startswith(NOTE_STARTS):
            reason = f"无法识别此行属于{BLOCK_LABELS[self.state]}的哪一栏，未导入"
        self.state = None
        self.end_foreign(r)
        for cell in own:
            if cell.origin not in self.used and cell.origin not in self.reasons:
                self.reasons[cell.origin] = reason

    def total_row(self, own) -> bool:
        """总分 / 合计 rows after the indicator table (the portal adds the totals up itself)."""
        if self.state == "indicators" or not self.out.indicators:
            return False
        first = own[0].key
        if not (first in TOTAL_WORDS or first.startswith("总分")):
            return False
        grades = ("优", "良", "中", "差", "优秀", "良好", "合格", "不合格")
        if any(not _is_empty_mark(c.text) and parse_number(c.value)[1] and c is not own[0] and "等级" not in c.key
               and label_key(c.key) not in grades for c in own):
            return False  # words beside it: not a row of totals
        for c in own:
            self.use(c)
        return True

    def starts_second_table(self, own) -> bool:
        if not self.found_table or len(own) != 1 or not self.out.title:
            return False
        key = own[0].key
        if "自评表" in key and len(key) <= 80 and key != norm(self.out.title):
            self.stopped = True
        return self.stopped

    def is_title(self, own) -> bool:
        if len(own) != 1:
            return False
        cell = own[0]
        key = cell.key
        if "自评表" in key and len(key) <= 80:
            self.use(cell)
            if not self.out.title:
                self.out.title = cell.text
                match = _YEAR_RE.search(cell.text)
                if match:
                    self.out.year = int(match.group(1))
                if "部门整体" in key:
                    self.out.kind = self.out.kind or "department"
            self.state = None
            return True
        year = _YEAR_ONLY_RE.match(key)
        if year and not self.found_table:
            self.use(cell)
            self.out.year = self.out.year or int(year.group(1))
            return True
        if key.startswith("单位:") or key.startswith("金额单位") or key.startswith("单位(盖章)") or key.startswith("填报单位"):
            self.use(cell)
            return True
        return False

    # Header detection.

    def detect_header(self, r, own, keys) -> bool:
        ind = {name: (c.col, c.last_col) for c in own if (name := self.vocab.indicator_column(c.key))}
        flat = "level1" not in self.vocab.spec.indicator_keys  # a template whose indicators have no 一级 column
        if ("level1" in ind and "level2" in ind) or (flat and {"name", "target", "actual"} <= set(ind)):
            self.exact_hits += sum(1 for c in own if c.key in self.vocab.own_labels)
            for c in own:
                self.use(c)
            ind = self.keep_known(ind, own, self.vocab.spec.indicator_keys + ("review",))
            if self.state == "indicators" and set(ind) == set(self.cols):
                return True  # the header repeated on the next printed page
            self.end_foreign(r)
            self.state, self.cols, self.found_table = "indicators", ind, True
            self.prev_level1 = self.prev_level2 = ""
            return True
        has_structure_caption = any(k.startswith("资金结构") for k in keys)
        fund = {}
        for c in own:
            name = self.vocab.funding_column(c.key)
            if name and name not in fund:
                fund[name] = (c.col, c.last_col)
        amounts = [n for n in ("initial_budget", "budget", "actual") if n in fund]
        if has_structure_caption and amounts and any(k in ("支出", "项目") for k in keys):
            for c in own:
                self.use(c)
            self.state, self.cols, self.found_table = "structure", fund, True
            return True
        if "actual" in fund and len(amounts) >= 2 or (len(amounts) >= 1 and any("资金" in k for k in keys) and "actual" in fund):
            if any(k == "项目名称" for k in keys) and any("实际支出" in k for k in keys):
                pass  # 项目支出明细, below
            else:
                for c in own:
                    self.use(c)
                fund = self.keep_known(fund, own, self.vocab.spec.funding_keys)
                if self.state == "funding" and set(fund) == set(self.cols):
                    return True
                self.exact_hits += sum(1 for c in own if c.key in self.vocab.own_labels)
                self.end_foreign(r)
                self.state, self.cols, self.found_table, self.sub = "funding", fund, True, ""
                self.out.funding_columns = [n for n in ("initial_budget", "budget", "actual", "reason") if n in fund]
                return True
        if any(k == "项目名称" for k in keys) and any("实际支出" in k or "支出" == k for k in keys):
            cols = {}
            for c in own:
                k = c.key
                if k == "项目名称":
                    cols["name"] = (c.col, c.last_col)
                elif "预算" in k:
                    cols["budget"] = (c.col, c.last_col)
                elif "支出" in k or "执行" in k:
                    cols["actual"] = (c.col, c.last_col)
                elif k in ("说明", "备注", "主要用途", "用途"):
                    cols["note"] = (c.col, c.last_col)
            for c in own:
                self.use(c)
            self.state, self.cols, self.found_list = "expenses", cols, True
            return True
        # 年度总体目标: a target column and, to its right, an achieved column (a caption such as
        # "年度总体目标完成情况" merged down the first column is neither).
        pair = self.goal_columns(own)
        if pair is not None:
            target_cell, achieved_cell = pair
            for c in own:
                self.use(c)
            self.flush_goals()
            self.end_foreign(r)
            self.goal_header = {c.col: c.text for c in own if c is not target_cell and c is not achieved_cell}
            self.state = "goals"
            self.cols = {"target": (target_cell.col, target_cell.last_col), "achieved": (achieved_cell.col, achieved_cell.last_col)}
            return True
        return False

    def goal_columns(self, own) -> tuple[GridCell, GridCell] | None:
        """(target, achieved) header cells of a goal table: a caption merged down beside them
        ("年度总体目标完成情况") is neither; a label the template uses wins, else the leftmost target;
        the achieved column is the first to its right."""
        vocab = self.vocab

        def is_target(c):
            return label_key(c.key) in vocab.goal_target or ("目标" in c.key and "完成" not in c.key and "指标" not in c.key)

        def is_achieved(c):
            return label_key(c.key) in vocab.goal_achieved or ("完成情况" in c.key and "指标" not in c.key)

        if not own:
            return None
        row = min(c.row for c in own)
        cells = sorted((c for c in own if c.last_row == row), key=lambda c: c.col)  # not captions merged down
        targets = [c for c in cells if is_target(c)]
        exact = [c for c in targets if label_key(c.key) in vocab.goal_target]
        for target in exact + [c for c in targets if c not in exact]:
            achieved = next((c for c in cells if c.col > target.last_col and is_achieved(c)), None)
            if achieved is not None:
                return target, achieved
        return None

    # Header block (项目名称 … / 部门职责 …).

    def header_row(self, r, cells, own) -> bool:
        labelled = False
        for i, cell in enumerate(cells):
            field_name = self.vocab.header_field(cell.key)
            if field_name is None or cell.row != r:
                continue
            if field_name == "project_name" and self.state == "expenses":
                return False
            labelled = True
            self.use(cell)
            self.flush_goals()
            value = None
            for nxt in cells[i + 1 :]:
                if self.vocab.header_field(nxt.key):
                    break
                if nxt.row == r:
                    value = nxt
                    break
            self.set_header(field_name, value)
            self.last_header_field = (field_name, cell.col)
        if not labelled and len(own) <= 2:
            labelled = self.inline_fields(own)
        if labelled:
            self.state = None
            return True
        # A long 部门职责 continues on the next rows beside its caption merged down column A.
        if self.last_header_field and self.last_header_field[0] == "duties":
            first = cells[0] if cells else None
            if first is not None and first.row < r and self.vocab.header_field(first.key) == "duties" and len(own) == 1:
                self.duties_rows.append(self.text(own[0], empty_marks=False))
                return True
        return False

    def set_header(self, field_name: str, cell: GridCell | None) -> None:
        h = self.out.header
        if not self.accepts_field(field_name):
            if cell is not None:
                self.refuse(cell, f"本表样没有“{HEADER_FIELDS.get(field_name, (field_name,))[0]}”栏目，未导入")
            # Still what the table says it is (a 项目名称 makes it a project table, 部门职责 a department one).
            if field_name == "project_name":
                self.out.kind = self.out.kind or "project"
            elif field_name in ("duties", "staff_quota", "staff_actual"):
                self.out.kind = self.out.kind or "department"
            return
        target = {"leader_and_phone": "project_leader"}.get(field_name, field_name)
        if h.get(target) not in (None, "") and cell is not None:
            self.refuse(cell, "该栏目在表中重复出现，已采用前面的值")
            return
        if field_name in ("staff_quota", "staff_actual"):
            h[field_name] = self.number(cell, integer=True)
            return
        text = self.text(cell)
        if field_name == "leader_and_phone":
            leader, phone = split_leader_phone(text)
            h["project_leader"] = leader
            self.set_phone(cell, phone)
        elif field_name == "leader_phone":
            self.set_phone(cell, text)
        elif field_name == "unit_name":
            self.out.unit_name = text
            self.out.kind = self.out.kind or "department"
        elif field_name == "duties":
            self.duties_rows = [text] if text else []
            self.out.kind = self.out.kind or "department"
        else:
            h[field_name] = text
            if field_name == "project_name":
                self.out.kind = self.out.kind or "project"

    def keep_known(self, cols: dict, own, known) -> dict:
        """The header's columns the template has; the others are remembered so that their cells
        are reported ("本表样没有“年初预算数”列") instead of read into nothing."""
        kept = {}
        for name, span in cols.items():
            if name in known:
                kept[name] = span
                continue
            label = next((c.text for c in own if (c.col, c.last_col) == span), name)
            self.foreign.append([span, label, own[0].row if own else 0, None])
        return kept

    def foreign_reason(self, cell) -> str | None:
        """Cells under a column the template lacks, in the rows of that column's own table."""
        for (c1, c2), label, first, last in self.foreign:
            if c1 <= cell.col <= c2 and first < cell.row and (last is None or cell.row <= last):
                return f"本表样（{self.vocab.spec.name}）没有“{label}”列，未导入"
        return None

    def end_foreign(self, r: int) -> None:
        for entry in self.foreign:
            if entry[3] is None and entry[2] < r:
                entry[3] = r - 1

    def accepts_field(self, field_name: str) -> bool:
        keys = set(self.vocab.spec.header_keys) | {"unit_name"}
        if "leader_and_phone" in keys:
            keys |= {"project_leader", "leader_phone"}
        if keys & {"project_leader", "leader_phone"}:
            keys.add("leader_and_phone")
        return field_name in keys

    def inline_fields(self, own) -> bool:
        """Cells written "财务负责人：王五  填报人：赵六": each known label takes the text up to the next."""
        found = False
        for cell in own:
            text = unicodedata.normalize("NFKC", cell.text)
            marks = [m for m in _INLINE_LABEL.finditer(text) if self.vocab.header_field(m.group(1))]
            if not marks:
                continue
            if not any(self.accepts_field(self.vocab.header_field(m.group(1))) for m in marks):
                names = "、".join(f"“{m.group(1)}”" for m in marks)
                self.refuse(cell, f"本表样没有{names}栏目，未导入")
                continue
            found = True
            self.use(cell)
            for n, mark in enumerate(marks):
                end = marks[n + 1].start() if n + 1 < len(marks) else len(text)
                value = text[mark.end() : end].strip()
                key = self.vocab.header_field(mark.group(1))
                if not self.accepts_field(key):
                    if not _is_empty_mark(value):
                        self.note(cell, f"本表样没有“{mark.group(1)}”栏目，“{value}”未导入")
                    continue
                if key == "leader_and_phone":
                    leader, phone = split_leader_phone(value)
                    self.out.header.setdefault("project_leader", leader)
                    self.out.header.setdefault("leader_phone", phone)
                elif key in ("staff_quota", "staff_actual"):
                    number, problem = parse_number(value, integer=True)
                    if problem:
                        self.note(cell, f"“{mark.group(1)}”的值“{value}”{problem}，未导入")
                    else:
                        self.out.header.setdefault(key, number)
                elif key not in ("unit_name", "duties") and not _is_empty_mark(value):
                    self.out.header.setdefault(key, value)
        return found

    def goal_vertical(self, r, own) -> bool:
        """年度总体目标 written down the sheet: "年度目标 | text" then "年度总体目标完成情况 | text"."""
        if len(own) < 2 or own[0].key not in self.vocab.goal_target + self.vocab.goal_achieved:
            return False
        if self.portal and self.state == "goals":
            # The portal's own export: inside its goal table a row is a goal, even one whose target
            # reads like a label ("完成情况").
            t1, t2 = self.cols["target"]
            a1, a2 = self.cols["achieved"]
            if t1 <= own[0].col <= t2 and a1 <= own[1].col <= a2:
                return False
        value = own[1]
        text = self.text(value, empty_marks=False)
        self.use(own[0])
        for extra in own[2:]:
            self.reasons.setdefault(extra.origin, NOT_IN_TABLE)
        self.flush_goals()
        if own[0].key in self.vocab.goal_achieved:
            if self.out.goals and not self.out.goals[-1]["achieved"]:
                self.out.goals[-1]["achieved"] = "" if _is_empty_mark(text) else text
            elif not _is_empty_mark(text):
                self.out.goals.append({"target": "", "achieved": text})
        elif not _is_empty_mark(text):
            self.out.goals.append({"target": text, "achieved": ""})
        self.state = None
        return True

    # Blocks under the table (评价结论, 存在问题, 改进措施) and their continuation rows.

    def text_row(self, r, cells, own) -> bool:
        first = own[0]
        caption = self.vocab.text_of(first.key, self.vocab.blocks)
        inline = None
        if caption is None:
            head, sep, rest = unicodedata.normalize("NFKC", first.text).partition(":")
            if not sep:
                head, sep, rest = first.text.partition("：")
            if sep:
                caption = self.vocab.text_of(norm(head), self.vocab.blocks)
                inline = rest.strip()
        if caption is not None:
            self.flush_text()
            self.flush_goals()
            self.use(first)
            self.current_text = (caption[0], caption[1], first.col)
            if inline is not None:
                self.text_rows = [inline] if inline else []
                rest_cells = own[1:]
            else:
                self.text_rows = []
                rest_cells = own[1:]
            for cell in rest_cells:
                text = self.text(cell, empty_marks=False)
                if text:
                    self.text_rows.append(text)
            self.state = None
            return True
        # A block's text going on below it, beside its caption merged down the first column.
        if self.current_text is not None and cells and cells[0].row < r and self.vocab.text_of(cells[0].key, self.vocab.blocks):
            for cell in own:
                text = self.text(cell, empty_marks=False)
                if text:
                    self.text_rows.append(text)
            return True
        if self.current_text is not None:
            self.flush_text()
        return False

    def flush_text(self) -> None:
        if self.current_text is None:
            return
        key, title, _col = self.current_text
        body = "\n".join(self.text_rows).strip()
        self.out.blocks.append({"key": key, "title": "", "body": "" if norm(body) in ("无", "") else body})
        self.current_text, self.text_rows = None, []

    def set_phone(self, cell, phone: str) -> None:
        if "*" in phone:
            self.out.header["leader_phone"] = ""
            if cell is not None:
                self.out.notes.append(f"{self.g.title}!{get_column_letter(cell.col)}{cell.row}：{PHONE_MASKED}")
            return
        self.out.header["leader_phone"] = phone

    def flush_duties(self) -> None:
        if self.duties_rows:
            width = _portal_width(self.out, "duties") if self.portal else None
            self.out.header["duties"] = join_pieces(self.duties_rows, width)
            self.duties_rows = []

    # Funding and structure.

    def _labels_left_of(self, r, cells) -> tuple[list[str], list[GridCell]]:
        first_amount = min(c1 for name, (c1, _c2) in self.cols.items() if name != "reason")
        left = [c for c in cells if c.col < first_amount]
        return [c.key for c in left], left

    def funding_row(self, r, cells, own) -> bool:
        keys, left = self._labels_left_of(r, cells)
        if any(k.startswith("资金结构") for k in keys):
            self.sub = "structure"
        elif any(k.startswith("资金来源") for k in keys):
            self.sub = ""
        own_keys = [c.key for c in left if c.row == r] or keys
        vocab = self.vocab
        if self.sub == "structure":
            item = vocab.row_of(own_keys, vocab.structure_rows)
            if item is None and any(k in TOTAL_WORDS for k in own_keys):
                for c in own:
                    self.use(c)  # 资金结构 合计: the portal adds it up itself
                return True
            if item is None:
                return self.unknown_row(r, own, left, "资金结构", vocab.structure_rows)
            for c in left:
                self.use(c)
            self.out.structure[item] = {
                "budget": self.amount(self.value_in(r, self.cols["budget"])) if "budget" in self.cols else None,
                "actual": self.amount(self.value_in(r, self.cols["actual"])) if "actual" in self.cols else None,
            }
            self.skip_computed(r, own)
            return True
        source = vocab.row_of(own_keys, vocab.funding_rows)
        if source is None:
            item = vocab.row_of(own_keys, vocab.structure_rows)
            if item is not None:  # seed 004: 资金结构 rows follow in the same table
                self.sub = "structure"
                return self.funding_row(r, cells, own)
            if not [c for c in left if c.row == r and c.text.strip()] and not self.out.funding and vocab.spec.funding_rows:
                # One row of amounts without a label, first under the header: the table's total.
                source = vocab.spec.funding_rows[0].key
                first = next((c for c in own if c.col >= min(c1 for c1, _ in self.cols.values())), own[0])
                self.note(first, f"资金表中没有行名称的一行金额，按“{vocab.spec.funding_rows[0].label}”导入")
            else:
                return self.unknown_row(r, own, left, "资金来源", vocab.funding_rows)
        for c in left:
            self.use(c)
        row = {}
        for name in ("initial_budget", "budget", "actual"):
            row[name] = self.amount(self.value_in(r, self.cols[name])) if name in self.cols else None
        row["reason"] = self.text(self.value_in(r, self.cols["reason"])) if "reason" in self.cols else ""
        weighted = any(spec.key == source and spec.weight is not None for spec in vocab.spec.funding_rows)
        row["score"] = self.number(self.value_in(r, self.cols["score"])) if weighted and "score" in self.cols else None
        if row["score"] is not None:
            row["score"] = _money(row["score"])
        row["extra"] = self.extra_values(r, vocab.spec.funding_columns, FUNDING_KEYS)
        reason_cell = self.value_in(r, self.cols["reason"]) if "reason" in self.cols else None
        if reason_cell is not None and reason_cell.last_row > r and row["reason"]:
            self.note(reason_cell, f"“原因”一格跨{reason_cell.last_row - r + 1}行，按“{self.row_label(source)}”一行导入")
        self.out.funding[source] = row
        self.skip_computed(r, own, self.row_label(source), weighted)
        return True

    def row_label(self, key: str) -> str:
        return next((row.label for row in self.vocab.spec.funding_rows if row.key == key), key)

    def extra_values(self, r, template_columns, known) -> dict:
        """A row's cells under the template's own columns (备注 …)."""
        out = {}
        for column in template_columns:
            if column.key in known or column.key not in self.cols:
                continue
            cell = self.value_in(r, self.cols[column.key])
            if column.kind == "amount":
                value = self.amount(cell)
            elif column.kind in ("number", "integer"):
                value = self.number(cell)
                value = None if value is None else _money(value) if isinstance(value, Decimal) else value
            else:
                value = self.text(cell)
            if value not in (None, ""):
                out[column.key] = value
        return out

    def unknown_row(self, r, own, left, what: str, rows) -> bool:
        """A row whose label the template does not know: reported cell by cell, and the block goes
        on (the next rows may well be known ones)."""
        label = " ".join(c.text for c in left if c.row == r).strip()
        if not label:
            return False  # no label at all: not a row of this table
        known = "、".join(dict.fromkeys(labels[0] for _key, labels in rows))
        reason = f"{what}“{label}”不在本表样中（本表样的行：{known}），此行未导入"
        for cell in own:
            if cell.origin not in self.used:
                self.reasons.setdefault(cell.origin, reason)
        return True

    def skip_computed(self, r, own, label: str = "", weighted: bool = True) -> None:
        """执行率, 分值 and 得分 of the funding table, and "－": computed by the portal, not read. A
        分值 or 得分 on a row the template does not score is reported, never dropped in silence."""
        for name in ("rate", "weight", "score"):
            if name in self.cols:
                cell = self.value_in(r, self.cols[name])
                if cell is None or cell.formula_missing or cell.origin in self.used:
                    continue
                if name != "rate" and not weighted and not _is_empty_mark(cell.text):
                    scored = "、".join(row.label for row in self.vocab.spec.funding_rows if row.weight is not None) or "任何一行"
                    self.refuse(cell, f"本表样中“{label}”不计分（只有{scored}计分），此值未导入")
                    continue
                self.use(cell)
        for cell in own:
            if cell.origin not in self.used and _is_empty_mark(cell.text):
                self.use(cell)

    def structure_row(self, r, cells, own) -> bool:
        keys, left = self._labels_left_of(r, cells)
        own_keys = [c.key for c in left if c.row == r] or keys
        item = self.vocab.row_of(own_keys, self.vocab.structure_rows)
        if item is None:
            if any(k in TOTAL_WORDS for k in own_keys):
                for c in own:
                    self.use(c)
                return True
            return self.unknown_row(r, own, left, "资金结构", self.vocab.structure_rows)
        for c in left:
            self.use(c)
        self.out.structure[item] = {
            "budget": self.amount(self.value_in(r, self.cols["budget"])) if "budget" in self.cols else None,
            "actual": self.amount(self.value_in(r, self.cols["actual"])) if "actual" in self.cols else None,
        }
        return True

    # Goals.

    def goal_row(self, r, cells, own) -> bool:
        t1, t2 = self.cols["target"]
        a1, a2 = self.cols["achieved"]
        # One cell across both columns is a heading ("二、部门年度重点工作任务") or another block's text.
        if any(c.col <= t1 and c.last_col >= a1 for c in own):
            return False
        target_cell = next((c for c in own if t1 <= c.col <= t2 or c.col <= t1 <= c.last_col), None)
        achieved_cell = next((c for c in own if a1 <= c.col <= a2 or c.col <= a1 <= c.last_col), None)
        others = [c for c in own if c is not target_cell and c is not achieved_cell and c.text.strip()]
        # Cells under the goal table's other columns (序号, 财年, 调整后目标) are reported, not read;
        # a cell anywhere else means another table or a labelled row: the goals end here.
        if any(c.col not in self.goal_header for c in others):
            return False
        for c in others:
            label = self.goal_header[c.col]
            self.refuse(c, f"目标表中的“{label}”栏，本表样没有此栏，未导入" if label else NOT_IN_TABLE)
        target = self.text(target_cell, empty_marks=False)
        achieved = self.text(achieved_cell, empty_marks=False)
        self.goal_rows.append((target, achieved))
        return True

    def flush_goals(self) -> None:
        rows, self.goal_rows = self.goal_rows, []
        if not rows:
            return
        goals: list[list[list[str]]] = []
        widths = _portal_goal_widths(self.out) if self.portal else None
        for target, achieved in rows:
            if goals and widths and _continues(goals[-1], (target, achieved), widths):
                if target:
                    goals[-1][0].append(target)
                if achieved:
                    goals[-1][1].append(achieved)
                continue
            goals.append([[target] if target else [], [achieved] if achieved else []])
        for targets, achieveds in goals:
            target = join_pieces(targets, widths[0] if widths else None)
            achieved = join_pieces(achieveds, widths[1] if widths else None)
            target = "" if _is_empty_mark(target) else target
            achieved = "" if _is_empty_mark(achieved) else achieved
            if target or achieved:
                self.out.goals.append({"target": target, "achieved": achieved})

    # Indicators.

    def indicator_row(self, r, cells, own) -> bool:
        cols = self.cols
        get = {name: self.g.at(r, span[0]) for name, span in cols.items()}
        own_origins = {c.origin for c in own}

        def fresh(name):
            """The row's own cell under a column: one that starts in it (a cell merged across the
            table belongs to its first column only)."""
            cell = get.get(name)
            if cell is None or cell.origin not in own_origins:
                return None
            c1, c2 = cols[name]
            return cell if c1 <= cell.col <= c2 else None

        # Total rows (总分 / 合计) and notes end or interrupt the table.
        first_col = min(c1 for c1, _c2 in cols.values())
        lead = [c for c in own if c.col <= cols.get("name", cols.get("level2", (first_col, first_col)))[0]]
        lead_keys = [c.key for c in lead]
        if any(k in TOTAL_WORDS or k.startswith("总分") for k in lead_keys):
            for c in own:
                if c.origin not in self.reasons:
                    self.use(c)
            self.prev_level1 = self.prev_level2 = ""
            return True
        if own and own[0].col <= first_col and own[0].key.startswith(NOTE_STARTS) and not self.vocab.looks_like_level1(own[0].key):
            return False
        if len(own) == 1 and own[0].last_col - own[0].col >= 3 and own[0].col <= first_col:
            return False  # a note written across the table
        starts = [c1 for name, (c1, _c2) in cols.items() if name not in ("level1", "level2")]
        if any(sum(1 for c1 in starts if c.col <= c1 <= c.last_col) >= 2 for c in own):
            return False  # one value across several columns: a block's text or a heading, not a row
        level1_cell, level2_cell = get.get("level1"), get.get("level2")
        level1 = self.text(level1_cell) if level1_cell is not None else ""
        level2 = self.text(level2_cell) if level2_cell is not None else ""
        values = {}
        for name in ("name", "operator", "target", "unit", "actual", "reason"):
            values[name] = self.text(fresh(name)) if name in cols else ""
        placeholder = [name for name in ("name", "target", "actual") if norm(values[name]) in PLACEHOLDER_MARKS]
        if placeholder and all(norm(values[n]) in PLACEHOLDER_MARKS or not values[n] for n in ("name", "target", "actual")):
            cell = fresh(placeholder[0])
            self.note(cell, "占位行（“……”），未导入")
            for c in own:
                self.use(c)
            return True
        weight = self.number(fresh("weight")) if "weight" in cols else None
        score = self.number(fresh("score")) if "score" in cols else None
        if "review" in cols and fresh("review") is not None:
            self.use(fresh("review"))
        extra = {}
        for column in self.vocab.spec.indicator_columns:
            if column.key not in INDICATOR_KEYS and column.key in cols:
                cell = fresh(column.key)
                if column.kind == "amount":
                    value = self.amount(cell)
                elif column.kind in ("number", "integer"):
                    value = self.number(cell)
                    value = _money(value) if isinstance(value, Decimal) else value
                else:
                    value = self.text(cell)
                if value not in (None, ""):
                    extra[column.key] = value
        # Cells outside the known columns on this row (e.g. caption column A) are left as they are.
        if not any(values.values()) and weight is None and score is None and not extra:
            if level1_cell is not None and level1_cell.origin in own_origins and level1:
                self.prev_level1 = self._level1(level1, level1_cell)
                self.prev_level2 = ""
            if level2_cell is not None and level2_cell.origin in own_origins and level2:
                self.prev_level2 = level2
            return True  # a blank row (or one that only names a group)
        level1 = self._level1(level1, level1_cell) if level1 else self.prev_level1
        if "level1" not in self.vocab.spec.indicator_keys and self.vocab.spec.level1_names:
            level1 = self.vocab.spec.level1_names[0]  # no 一级 column: every row is in the template's one 一级
        if level1 != self.prev_level1 and not level2:
            level2 = ""
        elif not level2:
            level2 = self.prev_level2
        level2 = self.level2(level1, level2, level2_cell if level2_cell is not None and level2_cell.origin in own_origins else None)
        names = self.vocab.spec.level1_names
        if level1 and level1 not in names and level1_cell is not None:
            self.refuse(level1_cell, f"一级指标“{level1}”不是本表样的一级指标（{'、'.join(names)}）")
        self.prev_level1, self.prev_level2 = level1, level2
        self.out.indicators.append(
            {
                "level1": level1,
                "level2": level2,
                "name": values["name"],
                "operator": values["operator"],
                "target": values["target"],
                "unit": values["unit"],
                "actual": values["actual"],
                "weight": _money(weight),
                "score": _money(score),
                "reason": values["reason"],
                "extra": extra,
                "row": r,
            }
        )
        return True

    def level2(self, level1: str, level2: str, cell: GridCell | None) -> str:
        """二级 as the template suggests it when it only lacks the "指标" ending (noted); any other
        value is kept as written (noted once per cell when the template does not suggest it)."""
        compact = norm(level2)
        choices = self.vocab.spec.level2_suggestions.get(level1, ())
        if not choices or compact in choices:
            return compact
        rewritten = None
        if compact and compact + "指标" in choices:
            rewritten = compact + "指标"
        elif len(choices) == 1 and (not compact or "满意" in compact):
            rewritten = choices[0]
        if rewritten is not None:
            if cell is not None:
                self.note(cell, f"二级指标“{compact}”按本表样的写法记为“{rewritten}”" if compact else f"二级指标空白，按本表样记为“{rewritten}”")
            return rewritten
        if cell is not None and compact:
            self.note(cell, f"二级指标“{compact}”不在本表样对“{level1}”的建议中，按原文保留")
        return compact

    def _level1(self, text: str, cell: GridCell | None) -> str:
        compact = norm(text)
        match = _LEVEL1_WEIGHT_RE.match(compact)
        if match:
            compact = match.group(1)
            weight = Decimal(match.group(2)).quantize(_CENT)
            self.out.level1_weights[self.vocab.level1_of(compact)] = str(weight)
        return self.vocab.level1_of(compact)

    # 项目支出明细.

    def expense_row(self, r, cells, own) -> bool:
        cols = self.cols
        if "name" not in cols:
            return False
        name_cell = self.value_in(r, cols["name"])
        if name_cell is None or name_cell.row != r:
            return False
        name = self.text(name_cell)
        if not name:
            return True
        if norm(name) in TOTAL_WORDS:
            for c in own:
                self.use(c)
            return True
        note = self.text(self.value_in(r, cols["note"])) if "note" in cols else ""
        self.out.expenses.append(
            {
                "name": name,
                "budget": self.amount(self.value_in(r, cols["budget"])) if "budget" in cols else None,
                "actual": self.amount(self.value_in(r, cols["actual"])) if "actual" in cols else None,
                "note": note,
                "confidential": CONFIDENTIAL_WORD in name or CONFIDENTIAL_WORD in note,
            }
        )
        return True

    # Unmapped cells.

    def unmapped(self) -> list[Unmapped]:
        out = []
        for origin, cell in sorted(self.g.cells.items()):
            if cell.formula_missing:
                self.reasons[origin] = FORMULA_MISSING  # even in a row that is otherwise skipped (总分)
            if origin in self.used and origin not in self.reasons:
                continue
            if cell.value is None and not cell.formula_missing:
                continue
            reason = self.reasons.get(origin) or self.foreign_reason(cell) or NOT_IN_TABLE
            out.append(Unmapped(self.g.title, cell.row, get_column_letter(cell.col), cell.text[:200], reason))
        return out


_INLINE_LABEL = re.compile(r"([^\s:：，,；;]{2,12})\s*[:：]")

BLOCK_LABELS = {
    "funding": "资金情况表", "structure": "资金结构表", "goals": "年度总体目标",
    "indicators": "绩效指标表", "expenses": "项目支出明细",
}
FORMULA_MISSING = "公式没有缓存的计算结果（文件未经 Excel/WPS 计算保存），无法取值；请在 Excel 中打开并保存，或改填数值"
SECOND_TABLE = "同一工作表中的第二张自评表，未导入；请把每张表放在单独的工作表或文件中分别导入"
NOTE_OUTSIDE = "表格以外的文字（如备注、说明），未导入"
NOT_IN_TABLE = "不在可识别的表格栏目中，未导入"
PHONE_MASKED = "电话号码已打码（公开版文件），未导入，请在表单中填写"


def split_leader_phone(text: str) -> tuple[str, str]:
    """"刘雄 13875709408" / "刘雄\\n13875709408" -> ("刘雄", "13875709408")."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    match = _PHONE_RE.search(text)
    if not match or sum(ch.isdigit() or ch == "*" for ch in match.group(1)) < 7:
        return text, ""
    return text[: match.start()].strip(" ,，、/\n"), match.group(1).strip()


# --- Long texts the portal's export split over several rows -----------------------------------


def _portal_width(out: ParsedWorkbook, what: str) -> float | None:
    return getattr(out, "_widths", {}).get(what)


def _portal_goal_widths(out: ParsedWorkbook):
    widths = getattr(out, "_widths", {})
    if "goal_target" in widths:
        return widths["goal_target"], widths["goal_achieved"]
    return None


def _budget(width: float, size: int = 10) -> tuple[int, float]:
    from ..exports import xlsx

    max_lines = max(1, int((xlsx._MAX_ROW_PT - 10 - xlsx._PAD_PT) // xlsx._LINE_PT[size]))
    return max_lines, max_lines * max(width - 1.5, 2.0)


def _full(previous: str, current: str, width: float, size: int = 10) -> bool:
    """Would the export have put `current` on the row of `previous`? If not, it may continue it."""
    from ..exports import xlsx

    max_lines, _ = _budget(width, size)
    return xlsx._line_count(previous + "\n" + current, width) > max_lines


def _continues(goal, row, widths) -> bool:
    targets, achieveds = goal
    target, achieved = row
    if not (target or achieved):
        return False
    if target and not (targets and _full(targets[-1], target, widths[0])):
        return False
    if achieved and not (achieveds and _full(achieveds[-1], achieved, widths[1])):
        return False
    return True


_SENTENCE = re.compile(r"^.*?[。；！？;!?]|^.+$", re.S)


def join_pieces(pieces: list[str], width: float | None, size: int = 10) -> str:
    """Rejoin a text split over rows: a paragraph cut at a sentence end (it did not fit one row)
    joins without a break, anything else was a new paragraph."""
    pieces = [p for p in pieces if p is not None]
    if not pieces:
        return ""
    text = pieces[0]
    for previous, piece in zip(pieces, pieces[1:], strict=False):
        if width is not None:
            from ..exports import xlsx

            _, budget = _budget(width, size)
            last = previous.split("\n")[-1]
            first = piece.split("\n")[0]
            sentence = _SENTENCE.match(first).group(0) if first else ""
            if xlsx._units(last) + xlsx._units(sentence) > budget:
                text += piece
                continue
        text += "\n" + piece
    return text


# --- Report sheet ---------------------------------------------------------------------------


def parse_report(grid: Grid, out: ParsedWorkbook, portal: bool, vocab: Vocabulary) -> list[Unmapped]:
    """The narrative report: "一、<title>" headings and their paragraphs, one per row; the headings
    are the template's sections (by position in the portal's own files, else by title)."""
    from ..exports import xlsx

    unmapped: list[Unmapped] = []
    sections: dict[str, dict] = {}
    order: list[str] = []
    current: str | None = None
    bodies: dict[str, list[str]] = {}
    expected = 1
    saw_title = False
    keys = [key for key, _title, _labels in vocab.sections]
    for (r, c), cell in sorted(grid.cells.items()):
        text = cell.text
        if cell.formula_missing:
            unmapped.append(Unmapped(grid.title, r, get_column_letter(c), "", FORMULA_MISSING))
            continue
        if not text:
            continue
        if text == NO_REPORT_TEXT:
            out.sections = None
            return unmapped
        heading = _HEADING_RE.match(text)
        is_heading = False
        if heading:
            number = _cn_to_int(heading.group(1))
            title = heading.group(2).strip()
            if portal:
                is_heading = cell.style == PORTAL_HEADING_STYLE
            else:
                is_heading = number == expected and len(title) <= 60 and "。" not in title
            if is_heading:
                by_position = keys[number - 1] if 1 <= number <= len(keys) else None
                key = by_position if portal else (_section_of(title, vocab) or by_position)
                if key is None or key in sections:
                    unmapped.append(Unmapped(grid.title, r, get_column_letter(c), text[:200], "无法对应到本表样自评报告的章节"))
                    current = None
                    continue
                label = next(t for k, t, _labels in vocab.sections if k == key)
                sections[key] = {"key": key, "title": "" if title == label else title, "body": ""}
                bodies[key] = []
                order.append(key)
                current = key
                expected = number + 1
                continue
        if current is None:
            if not saw_title and "报告" in text and len(text) <= 80:
                saw_title = True
                continue
            unmapped.append(Unmapped(grid.title, r, get_column_letter(c), text[:200], "位于第一个章节标题之前，未导入"))
            continue
        bodies[current].append(text)
    for key in order:
        width = xlsx.REPORT_WIDTH if portal else None
        body = join_pieces(bodies[key], width, 11)
        sections[key]["body"] = "" if norm(body) in ("无", "") else body
    if sections:
        out.sections = [sections[k] for k in keys if k in sections]
    return unmapped


def _section_of(title: str, vocab: Vocabulary) -> str | None:
    """The section a heading names: its title exactly, else the first section a keyword of which
    the heading contains (longest keyword first)."""
    compact = norm(title)
    for key, _title, labels in vocab.sections:
        if compact == labels[0]:
            return key
    best, best_length = None, 0
    for key, _title, labels in vocab.sections:
        for label in labels:
            if len(label) > best_length and label in compact:
                best, best_length = key, len(label)
    return best


def _cn_to_int(text: str) -> int:
    if text == "十":
        return 10
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.index(tens) + 1 if tens else 1) * 10 + (_CN_DIGITS.index(ones) + 1 if ones else 0)
    return _CN_DIGITS.index(text) + 1 if text in _CN_DIGITS else 0


# --- Entry point ----------------------------------------------------------------------------


def _formula_cells(data: bytes) -> dict[str, set[tuple[int, int]]]:
    wb = openpyxl.load_workbook(io.BytesIO(data), data_only=False)
    out = {}
    for ws in wb.worksheets:
        out[ws.title] = {(r, c) for (r, c), cell in ws._cells.items() if cell.data_type == "f"}
    wb.close()
    return out


def _portal_widths(ws) -> dict:
    """Widths the export used for its long text blocks, read back from the column widths."""
    def width(c1, c2):
        return sum(ws.column_dimensions[get_column_letter(c)].width or 13 for c in range(c1, c2 + 1))

    last = ws.max_column
    split = min(5, last - 1)
    return {"duties": width(2, last), "goal_target": width(2, split), "goal_achieved": width(split + 1, last)}


@dataclass
class _Sheet:
    title: str
    grid: Grid | None  # None: hidden
    report: bool
    widths: dict


def _read_sheets(data: bytes) -> tuple[list[_Sheet], bool]:
    """The workbook's sheets as grids (merged ranges resolved), and whether the portal wrote it."""
    formulas = _formula_cells(data)
    if sum(len(cells) for cells in formulas.values()) > MAX_CELLS:
        raise ParseRefused(TOO_MANY_CELLS)
    wb = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    try:
        if sum(len(ws._cells) for ws in wb.worksheets) > MAX_CELLS:
            raise ParseRefused(TOO_MANY_CELLS)
        portal = (wb.properties.creator or "") == PORTAL_CREATOR and PORTAL_TABLE_SHEET in wb.sheetnames
        sheets = []
        for ws in wb.worksheets:
            if ws.sheet_state != "visible":
                sheets.append(_Sheet(ws.title, None, False, {}))
                continue
            grid = Grid(ws, formulas.get(ws.title, set()))
            report = ws.title == PORTAL_REPORT_SHEET or (not portal and "报告" in ws.title)
            sheets.append(_Sheet(ws.title, grid, report, _portal_widths(ws) if portal and not report else {}))
    finally:
        wb.close()
    return sheets, portal


def parse_workbook(data: bytes, templates: list[TableSpec] | None = None, chosen: TableSpec | None = None) -> ParsedWorkbook:
    """Parse the workbook bytes (already checked by `safety.check_upload`) as laid out by the
    `chosen` template, else by whichever of `templates` (default: the built-in ones) explains it
    best: a table found, the fewest cells left over, the most headers exactly as the template
    labels them."""
    sheets, portal = _read_sheets(data)
    candidates = [chosen] if chosen is not None else list(templates or BUILTIN)
    best, best_rank, refusal = None, None, None
    for order, spec in enumerate(candidates):
        try:
            out, hits, evidence = _parse_sheets(sheets, portal, Vocabulary(spec))
        except NoTableFound as exc:
            refusal = refusal or exc
            continue
        # A table that says what kind it is (部门职责, 资金结构, a title with 部门整体 …) is read by a
        # template of that kind when one explains it.
        wrong_kind = bool(evidence) and evidence != spec.kind
        rank = (wrong_kind, len(out.unmapped) + len(out.notes), -hits, order)
        if best_rank is None or rank < best_rank:
            best, best_rank = out, rank
    if best is None:
        raise refusal or NoTableFound(NO_TABLE)
    return best


def parse_grid(rows: list[list[str]], merges: list[tuple[int, int, int, int]], spec: TableSpec, title: str = "表格") -> ParsedWorkbook:
    """Cells laid out as one worksheet — the tables of a Word document (importing/word.py) — read
    by `spec` exactly as a workbook's sheet is. `rows` are the cell texts (row by row, 0-based),
    `merges` the merged ranges (first row, first column, last row, last column, 0-based). A
    项目支出明细 alone is a table here (a report often carries only that list)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title[:31]
    for r, row in enumerate(rows, start=1):
        for c, text in enumerate(row, start=1):
            if text:
                ws.cell(r, c, text)
    for r1, c1, r2, c2 in merges:
        if (r1, c1) != (r2, c2):
            ws.merge_cells(start_row=r1 + 1, start_column=c1 + 1, end_row=r2 + 1, end_column=c2 + 1)
    sheet = _Sheet(ws.title, Grid(ws, set()), False, {})
    out, _hits, _evidence = _parse_sheets([sheet], False, Vocabulary(spec), lists_suffice=True)
    return out


def _parse_sheets(sheets: list[_Sheet], portal: bool, vocab: Vocabulary, *, lists_suffice: bool = False) -> tuple[ParsedWorkbook, int, str]:
    out = ParsedWorkbook()
    out.from_portal = portal
    table_found = False
    hits = 0
    report_sheets = []
    for sheet in sheets:
        if sheet.grid is None:
            out.notes.append(f"已跳过隐藏的工作表“{sheet.title}”。")
            continue
        grid = sheet.grid
        if not grid.cells:
            continue
        if sheet.report:
            report_sheets.append(grid)
            continue
        if table_found:
            out.unmapped += [
                Unmapped(grid.title, cell.row, get_column_letter(cell.col), cell.text[:200], "只导入第一个自评表工作表")
                for cell in grid.cells.values()
            ]
            continue
        if portal:
            out._widths = sheet.widths
        parser = _SheetParser(grid, out, portal, vocab)
        parser.run()
        if parser.found_table or (lists_suffice and parser.found_list):
            table_found = True
            hits = parser.exact_hits
            out.unmapped += parser.unmapped()
        else:
            # Not the table: forget what it said, but tell where it was looked at.
            out.header, out.funding, out.structure, out.goals, out.expenses, out.blocks = {}, {}, {}, [], [], []
            out.unmapped += [
                Unmapped(grid.title, cell.row, get_column_letter(cell.col), cell.text[:200], "此工作表中没有可识别的自评表")
                for cell in sorted(grid.cells.values(), key=lambda c: (c.row, c.col))
            ]
    for grid in report_sheets:
        out.unmapped += parse_report(grid, out, portal, vocab)
    if hasattr(out, "_widths"):
        del out._widths
    if not table_found:
        raise NoTableFound(NO_TABLE)
    evidence = out.kind
    if out.structure or out.expenses or "duties" in out.header or out.unit_name or "staff_actual" in out.header:
        evidence = "department"
    if not evidence and "部门整体" in norm(out.title):
        evidence = "department"
    out.file_kind = evidence
    _decide_layout(out, vocab.spec)
    return out, hits, evidence


def _decide_layout(out: ParsedWorkbook, spec: TableSpec) -> None:
    """The template read by, and a project's name from the title when the table has none."""
    out.kind, out.layout = spec.kind, spec.code
    if spec.kind == "department":
        return
    if not out.header.get("project_name") and out.title:
        name = re.sub(r"^.*?年度", "", out.title)
        name = re.sub(r"(项目支出)?绩效自评表$", "", name).strip()
        if name:
            out.header["project_name"] = name
