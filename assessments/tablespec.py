"""表样 (table templates): one declaration of an official 自评表 variant.

A `TableSpec` says everything about a table: its kind and title; the header fields (which,
labels, required, where printed); the funding table's columns and rows (which rows carry
分值/得分, which add up to which); 资金结构; the goal columns; the indicator table's columns (指标性质
and 度量单位 as columns of their own where a province prints them), its 一级 structure with weights
and the 二级 suggestions; the blocks under the table (评价结论, 存在问题, 改进措施); the report's
sections; and the scoring behaviour (reasons block or warn; weights required or optional).

The entry form, live scoring, the read model, the pages, the xlsx, the JSON, the CSV, the import
and the diff all read this declaration (docs/adr/0010). Plain Python, no Django import; specs are
stored as JSON (`to_dict`/`from_dict`) in `TemplateVersion.spec`, immutable once used.

Column and field *keys* name what a value means. Keys the portal knows are listed in
`FUNDING_COLUMNS`, `INDICATOR_COLUMNS` and `HEADER_FIELDS`; any other key (a-z, digits, _) is a
custom column whose value is kept as typed, of the `kind` the template gives it ("备注" is data,
not code). Adding a new *kind* of value touches three files: `VALUE_KINDS` here, a `Kind` in
columns.py (pages, JSON, xlsx) and its form field in forms.py.
"""

import json
import re
from dataclasses import asdict, dataclass, fields, replace
from decimal import Decimal, InvalidOperation

from .scoring import TableRules

KIND_PROJECT, KIND_DEPARTMENT = "project", "department"
KIND_LABELS = {KIND_PROJECT: "项目支出", KIND_DEPARTMENT: "部门整体支出"}

# Kinds of value a column or field may hold (custom columns choose one of these).
VALUE_KINDS = {
    "text": "文本",
    "long_text": "长文本",
    "amount": "金额（万元）",
    "number": "数字",
    "integer": "整数",
}

# Header fields stored in the assessment's own columns: key -> (default label, value kind).
HEADER_FIELDS: dict[str, tuple[str, str]] = {
    "project_name": ("项目名称", "text"),
    "project_leader": ("项目负责人", "text"),
    "leader_phone": ("联系电话", "text"),
    # One printed cell "刘雄 13875709408": the form asks for the two values separately.
    "leader_and_phone": ("项目负责人及电话", "text"),
    "supervisor_name": ("主管部门", "text"),
    "implementer": ("实施单位", "text"),
    "unit_name": ("部门（单位）", "text"),  # the unit's own name, not typed
    "duties": ("部门职责", "long_text"),
    "staff_quota": ("人员编制", "integer"),
    "staff_actual": ("实有人数", "integer"),
}
PROJECT_ONLY_FIELDS = {"project_name", "project_leader", "leader_phone", "leader_and_phone", "supervisor_name", "implementer"}
DEPARTMENT_ONLY_FIELDS = {"duties", "staff_quota", "staff_actual"}

# Funding columns: key -> (default label, value kind); "rate" is computed, never typed.
FUNDING_COLUMNS: dict[str, tuple[str, str]] = {
    "initial_budget": ("年初预算数", "amount"),
    "budget": ("全年预算数", "amount"),
    "actual": ("全年执行数", "amount"),
    "rate": ("执行率", "computed"),
    "weight": ("分值", "computed"),
    "score": ("得分", "number"),
    "reason": ("偏差原因", "text"),
}
# Indicator columns: key -> (default label, value kind).
INDICATOR_COLUMNS: dict[str, tuple[str, str]] = {
    "level1": ("一级指标", "text"),
    "level2": ("二级指标", "text"),
    "name": ("三级指标", "text"),
    "operator": ("指标性质", "text"),
    "target": ("指标值", "text"),
    "unit": ("度量单位", "text"),
    "actual": ("实际完成值", "text"),
    "weight": ("分值", "number"),
    "score": ("得分", "number"),
    "reason": ("偏差原因分析及改进措施", "text"),
}
# 一级/二级 are optional: a table listing its indicators without them (重庆's 指标名称 list) puts
# every row in the template's first 一级 (its weight is then the indicators' total).
REQUIRED_INDICATOR_COLUMNS = ("name", "target", "actual")

REASON_BLOCK, REASON_WARN = "block", "warn"
WEIGHTS_OPTIONAL, WEIGHTS_REQUIRED = "optional", "required"
PLACE_TOP, PLACE_BOTTOM = "top", "bottom"
WIDTH_HALF, WIDTH_FULL, WIDTH_LONG = "half", "full", "long"

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,29}$")

# Header texts workbooks use for a column besides the template's own label (import).
COMMON_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "funding": {
        "initial_budget": ("年初预算数", "年初预算", "年初预算资金总额", "年初预算资金"),
        "budget": ("全年预算数", "全年预算", "调整后预算数", "调整后预算", "预算数", "全年预算数(A)", "全年(调整)预算数",
                   "全年调整预算数", "调整预算数"),
        "actual": ("全年执行数", "执行数", "实际投入资金额", "实际投入", "预算执行数", "决算数", "实际支出", "全年执行数(B)"),
        "rate": ("执行率", "预算执行率", "执行率(B/A)"),
        "weight": ("分值", "权重"),
        "score": ("得分", "自评得分"),
        "reason": ("偏差原因", "原因", "产生差异的原因", "差异原因", "偏差原因分析"),
    },
    "indicators": {
        "level1": ("一级指标",),
        "level2": ("二级指标",),
        "name": ("三级指标", "指标名称", "指标内容"),
        "operator": ("指标性质", "指标方向", "运算符号", "符号"),
        "target": ("指标值", "年度指标值", "目标值", "年度目标值", "预期指标值", "指标目标值"),
        "unit": ("度量单位", "计量单位", "单位"),
        "actual": ("实际完成值", "全年实际完成值", "完成值", "实际值", "实际完成情况", "全年完成值"),
        "weight": ("分值", "权重"),
        "score": ("得分", "自评得分"),
        "reason": ("偏差原因分析及改进措施", "产生差异的原因及改进措施", "未完成原因分析", "偏差原因", "原因分析", "改进措施"),
    },
}


# Chapter titles reports use besides a section's own title and aliases (从Word导入), by section key:
# they apply to every template whose sections have these keys (the built-in ones and the bureaus'
# copies of them). Seeds 000–004 use every one of the first lines.
COMMON_SECTION_ALIASES: dict[str, tuple[str, ...]] = {
    "basic_info": ("部门（单位）概况", "预算单位基本情况", "单位基本情况", "部门基本情况", "单位概况", "基本概况"),
    "general_budget": ("整体支出管理及使用情况", "整体预算支出情况", "支出管理及使用情况", "部门预算支出情况", "预算支出情况",
                       "一般公共预算财政拨款支出情况"),
    "gov_fund": ("政府性基金预算",),
    "state_capital": ("国有资本经营预算",),
    "social_insurance": ("社会保险基金预算",),
    "department_performance": ("资金使用及绩效情况", "整体支出绩效情况", "部门整体绩效情况", "整体绩效情况", "部门绩效情况"),
    "project_performance": ("专项组织实施情况", "项目绩效情况", "专项资金绩效情况", "项目支出绩效"),
    "problems": ("存在的主要问题", "存在问题", "主要问题", "问题及原因"),
    "improvements": ("改进措施和有关建议", "改进措施及建议", "整改措施", "下一步工作打算", "下一步工作计划"),
    "application": ("绩效自评结果拟应用", "结果应用", "结果拟应用和公开"),
    "other": ("其他需要说明的事项", "其他需要说明"),
    "conclusion": ("评价结论", "自评结论"),
}


class SpecInvalid(ValueError):
    """A template declaration that cannot be used; `errors` lists every problem in Chinese."""

    def __init__(self, errors: list[str]):
        super().__init__("；".join(errors))
        self.errors = errors


# --- The declaration --------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderField:
    key: str
    label: str
    required: bool = False
    width: str = WIDTH_HALF  # half: two to a printed row; full: a row of its own; long: multi-row text
    place: str = PLACE_TOP  # top: the header block; bottom: a line under the table (填报人, 财务负责人)
    kind: str = "text"  # custom fields only; known fields have their own kind
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # custom columns only
    when_weighted: bool = False  # shown only when the table uses weights (分值/得分 of seed 001's table)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FundingRowSpec:
    key: str
    label: str
    weight: Decimal | None = None  # carries 分值/得分 (its execution rate is scored) when set
    parts: tuple[str, ...] = ()  # rows that add up to this one (a warning names them when not)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Level1Spec:
    name: str
    weight: Decimal | None = None
    level2: tuple[str, ...] = ()  # suggestions; other values are kept, with a warning
    shares: str = ""  # another 一级 whose weight this one's rows count in (成本指标 in 产出指标)


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    code: str
    name: str  # shown when choosing a template: "项目支出绩效自评表（财预〔2020〕10号）"
    kind: str
    title: str  # "项目支出绩效自评表"
    header: tuple[HeaderField, ...]
    funding_caption: str
    funding_label_header: str  # first column's head: 资金来源 / 项目
    funding_columns: tuple[Column, ...]
    funding_rows: tuple[FundingRowSpec, ...]
    goal_caption: str = "年度总体目标"
    goal_labels: tuple[str, str] = ("年度目标", "全年完成情况")
    goal_aliases: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    indicator_caption: str = "绩效指标"
    indicator_caption_weight: bool = False  # "绩效指标（90分）"
    level1_caption_weight: bool = False  # "产出指标（50分）" in the 一级 cell
    indicator_columns: tuple[Column, ...] = ()
    level1: tuple[Level1Spec, ...] = ()
    structure_caption: str = ""  # 资金结构（万元）; "" = no 资金结构 block
    structure_rows: tuple[FundingRowSpec, ...] = ()
    structure_labels: tuple[str, str, str] = ("支出", "预算数", "执行数")
    expenses: bool = False  # the department report's 项目支出明细
    blocks: tuple[SectionSpec, ...] = ()  # narrative blocks under the table: 评价结论, 存在问题, 改进措施
    report_title: str = ""  # "" = the table comes without a narrative report of its own
    sections: tuple[SectionSpec, ...] = ()
    reason_policy: str = REASON_BLOCK  # over/under-achievement and execution-rate reasons
    weights: str = WEIGHTS_OPTIONAL
    note: str = ""  # where the template comes from

    # Derived views of the declaration (everything reads these, nobody recomputes them).

    @property
    def is_project(self) -> bool:
        return self.kind == KIND_PROJECT

    def header_fields(self, place: str = PLACE_TOP) -> tuple[HeaderField, ...]:
        return tuple(f for f in self.header if f.place == place)

    @property
    def header_keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.header)

    def funding_column(self, key: str) -> Column | None:
        return next((c for c in self.funding_columns if c.key == key), None)

    def indicator_column(self, key: str) -> Column | None:
        return next((c for c in self.indicator_columns if c.key == key), None)

    @property
    def funding_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.funding_columns)

    @property
    def indicator_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.indicator_columns)

    @property
    def funding_row_keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.funding_rows)

    @property
    def funding_weight(self) -> Decimal | None:
        weights = [r.weight for r in self.funding_rows if r.weight is not None]
        return sum(weights, Decimal(0)) if weights else None

    @property
    def level1_names(self) -> tuple[str, ...]:
        return tuple(level.name for level in self.level1)

    def level1_spec(self, name: str) -> Level1Spec | None:
        return next((level for level in self.level1 if level.name == name), None)

    @property
    def weight_groups(self) -> tuple[tuple[str, Decimal, tuple[str, ...]], ...]:
        """(一级, its weight, the 一级 names counted in it) for every weighted 一级."""
        groups = []
        for level in self.level1:
            if level.weight is None:
                continue
            members = (level.name,) + tuple(other.name for other in self.level1 if other.shares == level.name)
            groups.append((level.name, level.weight, members))
        return tuple(groups)

    @property
    def total_weight(self) -> Decimal:
        return (self.funding_weight or Decimal(0)) + sum((w for _, w, _ in self.weight_groups), Decimal(0))

    @property
    def indicator_weight(self) -> Decimal:
        return sum((w for _, w, _ in self.weight_groups), Decimal(0))

    @property
    def table_rules(self):
        """What the template decides about scoring, in the scoring module's terms."""
        return TableRules(
            level1_groups=self.weight_groups,
            weights_required=self.weights == WEIGHTS_REQUIRED,
            reasons_block=self.reason_policy == REASON_BLOCK,
            reasons_asked="reason" in self.indicator_keys,
        )

    @property
    def level2_suggestions(self) -> dict[str, tuple[str, ...]]:
        return {level.name: level.level2 for level in self.level1}

    @property
    def text_sections(self) -> tuple[SectionSpec, ...]:
        """Every narrative text of the assessment: the blocks under the table, then the report."""
        return self.blocks + self.sections

    def level1_caption(self, name: str) -> str:
        level = self.level1_spec(name)
        if self.level1_caption_weight and level is not None and level.weight is not None:
            return f"{name}（{_plain(level.weight)}分）"
        return name

    def indicator_heading(self) -> str:
        if self.indicator_caption_weight and self.weight_groups:
            return f"{self.indicator_caption}（{_plain(self.indicator_weight)}分）"
        return self.indicator_caption

    # JSON.

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "TableSpec":
        """Build (and validate) a spec from its JSON form; raises SpecInvalid with every problem."""
        try:
            spec = _build(cls, data)
        except (TypeError, KeyError, ValueError, InvalidOperation) as exc:
            raise SpecInvalid([f"表样定义格式错误：{exc}"]) from exc
        errors = validate(spec)
        if errors:
            raise SpecInvalid(errors)
        return spec

    def evolve(self, **changes) -> "TableSpec":
        return replace(self, **changes)


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _jsonable(value):
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


_NESTED = {
    "header": HeaderField,
    "funding_columns": Column,
    "funding_rows": FundingRowSpec,
    "indicator_columns": Column,
    "level1": Level1Spec,
    "structure_rows": FundingRowSpec,
    "blocks": SectionSpec,
    "sections": SectionSpec,
}
_DECIMALS = {"weight"}


def _build(cls, data: dict):
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"未知的项：{'、'.join(sorted(unknown))}")
    values = {}
    for name, value in data.items():
        if cls is TableSpec and name in _NESTED:
            values[name] = tuple(_build(_NESTED[name], item) for item in value)
        elif name in _DECIMALS:
            values[name] = None if value in (None, "") else Decimal(str(value))
        elif name == "goal_aliases":
            values[name] = tuple(tuple(v) for v in value)
        elif isinstance(value, list):
            values[name] = tuple(value)
        else:
            values[name] = value
    return cls(**values)


# --- Validation -------------------------------------------------------------------------------


def validate(spec: TableSpec) -> list[str]:
    """Every problem of a declaration, as sentences a bureau's administrator can act on."""
    errors: list[str] = []

    def need(condition: bool, message: str) -> None:
        if not condition:
            errors.append(message)

    need(spec.kind in KIND_LABELS, f"表样类型“{spec.kind}”无效，应为项目支出或部门整体支出")
    need(bool(spec.code) and bool(_KEY_RE.match(spec.code.replace("-", "_"))), "表样代码只能由小写字母、数字、短横线组成")
    need(bool(spec.name.strip()), "请填写表样名称")
    need(bool(spec.title.strip()), "请填写表格标题（如“项目支出绩效自评表”）")
    need(spec.reason_policy in (REASON_BLOCK, REASON_WARN), "“原因必填”的处理方式应为阻止提交或仅提示")
    need(spec.weights in (WEIGHTS_OPTIONAL, WEIGHTS_REQUIRED), "分值设置应为必填或可选")

    _unique(errors, "表头栏目", [f.key for f in spec.header])
    for f in spec.header:
        _check_key(errors, "表头栏目", f.key)
        need(bool(f.label.strip()), f"表头栏目“{f.key}”缺少名称")
        need(f.width in (WIDTH_HALF, WIDTH_FULL, WIDTH_LONG), f"表头栏目“{f.label}”的宽度设置无效")
        need(f.place in (PLACE_TOP, PLACE_BOTTOM), f"表头栏目“{f.label}”的位置设置无效")
        if f.key not in HEADER_FIELDS:
            need(f.kind in ("text", "long_text", "integer", "number", "amount"), f"表头栏目“{f.label}”的类型“{f.kind}”无效")
        elif spec.kind == KIND_DEPARTMENT:
            need(f.key not in PROJECT_ONLY_FIELDS, f"部门整体支出表不能有“{f.label}”（项目支出表的栏目）")
        else:
            need(f.key not in DEPARTMENT_ONLY_FIELDS, f"项目支出表不能有“{f.label}”（部门整体支出表的栏目）")
    if spec.kind == KIND_PROJECT:
        need("project_name" in spec.header_keys, "项目支出表必须有“项目名称”栏目")
    both = {"leader_and_phone"} & set(spec.header_keys) and {"project_leader", "leader_phone"} & set(spec.header_keys)
    need(not both, "“项目负责人及电话”与“项目负责人”“联系电话”不能同时出现")

    need(bool(spec.funding_caption.strip()), "请填写资金表的标题（如“资金情况（万元）”）")
    keys = spec.funding_keys
    _unique(errors, "资金表的列", list(keys))
    for c in spec.funding_columns:
        _check_key(errors, "资金表的列", c.key)
        need(bool(c.label.strip()), f"资金表的列“{c.key}”缺少名称")
        if c.key not in FUNDING_COLUMNS:
            need(c.kind in ("text", "long_text", "amount", "number"), f"资金表的列“{c.label}”的类型“{c.kind}”无效")
    need("actual" in keys, "资金表必须有执行数（实际投入）列")
    need("initial_budget" in keys or "budget" in keys, "资金表必须有年初预算数或全年预算数列")
    need(bool(spec.funding_rows), "资金表至少要有一行（如“合计”）")
    row_keys = [r.key for r in spec.funding_rows]
    _unique(errors, "资金表的行", row_keys)
    for r in spec.funding_rows:
        _check_key(errors, "资金表的行", r.key)
        need(bool(r.label.strip()), f"资金表的行“{r.key}”缺少名称")
        need(r.weight is None or r.weight >= 0, f"资金表“{r.label}”的分值不能为负数")
        for part in r.parts:
            need(part in row_keys and part != r.key, f"资金表“{r.label}”的组成行“{part}”不存在")
    if spec.funding_weight is not None:
        need("weight" in keys and "score" in keys, "资金表有计分行时须有“分值”和“得分”列")

    _unique(errors, "资金结构的行", [r.key for r in spec.structure_rows])
    need(not spec.structure_rows or bool(spec.structure_caption), "资金结构须有标题")

    ikeys = spec.indicator_keys
    _unique(errors, "绩效指标表的列", list(ikeys))
    for c in spec.indicator_columns:
        _check_key(errors, "绩效指标表的列", c.key)
        need(bool(c.label.strip()), f"绩效指标表的列“{c.key}”缺少名称")
        if c.key not in INDICATOR_COLUMNS:
            need(c.kind in ("text", "long_text", "amount", "number"), f"绩效指标表的列“{c.label}”的类型“{c.kind}”无效")
    for key in REQUIRED_INDICATOR_COLUMNS:
        need(key in ikeys, f"绩效指标表必须有“{INDICATOR_COLUMNS[key][0]}”列")
    need(("weight" in ikeys) == ("score" in ikeys), "绩效指标表的“分值”和“得分”列须同时设置")
    if spec.weights == WEIGHTS_REQUIRED:
        need("weight" in ikeys, "分值必填的表样须有“分值”列")
    need(bool(spec.level1), "请至少设置一个一级指标（表中没有一级指标列时，所有指标归入第一个一级指标）")
    names = [level.name for level in spec.level1]
    _unique(errors, "一级指标", names)
    for level in spec.level1:
        need(bool(level.name.strip()), "一级指标名称不能为空")
        need(level.weight is None or level.weight >= 0, f"一级指标“{level.name}”的分值不能为负数")
        if level.shares:
            need(level.shares in names and level.shares != level.name, f"一级指标“{level.name}”共用分值的一级指标“{level.shares}”不存在")
            need(level.weight is None, f"一级指标“{level.name}”与“{level.shares}”共用分值，不能另设分值")
        _unique(errors, f"一级指标“{level.name}”的二级指标", list(level.level2))

    section_keys = [s.key for s in spec.blocks + spec.sections]
    _unique(errors, "表下栏目和报告章节", section_keys)
    for s in spec.blocks + spec.sections:
        _check_key(errors, "报告章节", s.key)
        need(bool(s.title.strip()), f"章节“{s.key}”缺少标题")
    if spec.sections:
        need(bool(spec.report_title.strip()), "有报告章节时须填写报告名称")
    return errors


def _unique(errors: list[str], what: str, keys: list[str]) -> None:
    seen, repeated = set(), []
    for key in keys:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    if repeated:
        errors.append(f"{what}重复：{'、'.join(repeated)}")


def _check_key(errors: list[str], what: str, key: str) -> None:
    if not _KEY_RE.match(key or ""):
        errors.append(f"{what}的代码“{key}”无效：须以小写字母开头，只含小写字母、数字和下划线，不超过30个字符")


# --- Import aliases -----------------------------------------------------------------------------


def column_aliases(spec: TableSpec, table: str) -> dict[str, tuple[str, ...]]:
    """Header texts that name each column of `table` ("funding" / "indicators"): the template's
    label first, its own aliases, then the common ones."""
    columns = spec.funding_columns if table == "funding" else spec.indicator_columns
    common = COMMON_ALIASES[table]
    out = {}
    for c in columns:
        out[c.key] = _dedupe((c.label, *c.aliases, *common.get(c.key, ())))
    return out


def _dedupe(items) -> tuple[str, ...]:
    seen, out = set(), []
    for item in items:
        if item and item not in seen:
            seen.add(item)
            out.append(item)
    return tuple(out)
