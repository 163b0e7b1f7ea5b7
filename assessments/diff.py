"""What changed between two submissions, field by field. Works on documents (document.py) only;
the fields and their labels are those of the assessment's 表样."""

from dataclasses import dataclass

from .scoring import OUTCOME_LABELS
from .tablespec import FUNDING_COLUMNS, HEADER_FIELDS, INDICATOR_COLUMNS, TableSpec

# Header keys of the document -> label (the template's label where it has the field).
HEADER_KEYS = {
    "project_name": "project_name", "project_leader": "project_leader", "leader_phone": "leader_phone",
    "supervisor": "supervisor_name", "implementer": "implementer", "confidential": "confidential",
    "duties": "duties", "staff_quota": "staff_quota", "staff_actual": "staff_actual",
}
DEFAULT_HEADER_LABELS = {"project_leader": "项目负责人", "leader_phone": "联系电话", "confidential": "涉密项目"}
FUNDING_FIELDS = ("initial_budget", "budget", "actual", "score", "reason")
INDICATOR_FIELDS = ("level1", "level2", "name", "operator", "target", "unit", "actual", "weight", "outcome", "score", "reason")
EXPENSE_LABELS = {"budget": "年初预算", "actual": "实际支出", "note": "说明", "confidential": "涉密"}
# Fields whose stored value is a code: what the user sees instead (issue 17: "完成情况 achieved →
# partial" must read 达成年度指标 → 部分达成年度指标并具有一定效果).
VALUE_LABELS = {"outcome": OUTCOME_LABELS}


@dataclass(frozen=True)
class Change:
    section: str
    row: str
    field: str
    before: str
    after: str
    row_key: str = ""  # indicator key, so a page can put the change beside its row

    @property
    def kind(self) -> str:
        if self.before == "" and self.field == "（整行）":
            return "added"
        if self.after == "" and self.field == "（整行）":
            return "removed"
        return "changed"


def _text(value, name: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    labels = VALUE_LABELS.get(name)
    if labels is not None:
        return labels.get(value, str(value))
    return str(value)


def _get(row: dict, name: str):
    if name.startswith("extra."):
        return (row.get("extra") or {}).get(name[6:])
    return row.get(name)


def _fields(section, row, old, new, labels, row_key=""):
    return [
        Change(section, row, label, _text(_get(old, name), name), _text(_get(new, name), name), row_key)
        for name, label in labels.items()
        if _text(_get(old, name)) != _text(_get(new, name))
    ]


def _rows(section, old_rows, new_rows, key, labels, row_name, *, keep_key=False):
    changes = []
    old_by = {key(r): r for r in old_rows}
    new_by = {key(r): r for r in new_rows}
    for k, new in new_by.items():
        name = row_name(new)
        if k not in old_by:
            changes.append(Change(section, name, "（整行）", "", "新增", str(k) if keep_key else ""))
        else:
            changes += _fields(section, name, old_by[k], new, labels, str(k) if keep_key else "")
    for k, old in old_by.items():
        if k not in new_by:
            changes.append(Change(section, row_name(old), "（整行）", "删除前存在", "", str(k) if keep_key else ""))
    return changes


def _labels(table: TableSpec | None) -> dict[str, dict[str, str]]:
    """Field labels per part, from the template (defaults for what it does not name)."""
    header = {doc_key: DEFAULT_HEADER_LABELS.get(attr) or HEADER_FIELDS.get(attr, (attr,))[0] for doc_key, attr in HEADER_KEYS.items()}
    funding = {name: FUNDING_COLUMNS[name][0] for name in FUNDING_FIELDS}
    indicators = {name: INDICATOR_COLUMNS.get(name, ("完成情况",))[0] for name in INDICATOR_FIELDS}
    if table is not None:
        own = {f.key: f.label for f in table.header}
        for doc_key, attr in HEADER_KEYS.items():
            if attr in own:
                header[doc_key] = own[attr]
        for f in table.header:
            if f.key not in HEADER_FIELDS:
                header[f"extra.{f.key}"] = f.label
        for c in table.funding_columns:
            if c.key in funding:
                funding[c.key] = c.label
            elif c.key not in FUNDING_COLUMNS:
                funding[f"extra.{c.key}"] = c.label
        for c in table.indicator_columns:
            if c.key in indicators:
                indicators[c.key] = c.label
            elif c.key not in INDICATOR_COLUMNS:
                indicators[f"extra.{c.key}"] = c.label
    return {"header": header, "funding": funding, "indicators": indicators}


def _spec_label(specs, key: str) -> str:
    """A row's label from the template; a row the template does not know by its position's kind."""
    return next((s.label for s in specs if s.key == key), "（未命名行）")


def compare(old: dict, new: dict, table: TableSpec | None = None) -> list[Change]:
    """Every difference between two documents; rows matched by identity, not position."""
    labels = _labels(table)
    header_old, header_new = dict(old.get("header", {})), dict(new.get("header", {}))
    changes = _fields("基本信息", "", header_old, header_new, labels["header"])
    changes += _rows(
        "资金情况", old.get("funding", []), new.get("funding", []), lambda r: r["source"], labels["funding"],
        lambda r: r.get("label") or _spec_label(table.funding_rows if table else (), r["source"]),
    )
    changes += _rows(
        "资金结构", old.get("structure", []), new.get("structure", []), lambda r: r["item"],
        {"budget": table.structure_labels[1] if table else "预算数", "actual": table.structure_labels[2] if table else "执行数"},
        lambda r: r.get("label") or _spec_label(table.structure_rows if table else (), r["item"]),
    )
    old_goals = [dict(r, n=i) for i, r in enumerate(old.get("goals", []), start=1)]
    new_goals = [dict(r, n=i) for i, r in enumerate(new.get("goals", []), start=1)]
    goal_labels = table.goal_labels if table else ("目标", "完成情况")
    changes += _rows("年度总体目标", old_goals, new_goals, lambda r: r["n"], {"target": goal_labels[0], "achieved": goal_labels[1]},
                     lambda r: f"第{r['n']}条")
    changes += _rows("项目支出明细", old.get("project_expenses", []), new.get("project_expenses", []), lambda r: r["name"],
                     EXPENSE_LABELS, lambda r: r["name"])
    changes += _rows(
        "绩效指标", old.get("indicators", []), new.get("indicators", []), lambda r: r["key"], labels["indicators"],
        lambda r: r.get("name") or f"{r.get('level1')}/{r.get('level2')}", keep_key=True,
    )
    titles = {t.key: t.title for t in table.text_sections} if table else {}
    changes += _rows(
        "自评报告", old.get("blocks", []) + old.get("report", []), new.get("blocks", []) + new.get("report", []),
        lambda r: r["key"], {"title": "标题", "body": "内容"}, lambda r: r.get("title") or titles.get(r["key"]) or "（无标题）",
    )
    if _text(old.get("total_score")) != _text(new.get("total_score")):
        changes.append(Change("总分", "", "自评总分", _text(old.get("total_score")), _text(new.get("total_score"))))
    return changes
