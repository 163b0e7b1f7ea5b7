"""What changed between two submissions, field by field. Works on snapshot dicts only."""

from dataclasses import dataclass

from .layouts import STRUCTURE_LABELS

HEADER_LABELS = {
    "project_name": "项目名称", "project_leader": "项目负责人", "leader_phone": "联系电话",
    "supervisor": "主管部门", "implementer": "实施单位", "confidential": "涉密项目",
    "duties": "部门职责", "staff_quota": "人员编制", "staff_actual": "实有人数",
}
FUNDING_LABELS = {"initial_budget": "年初预算数", "budget": "全年预算数", "actual": "全年执行数", "reason": "差异原因"}
SOURCE_LABELS = {"total": "合计", "fiscal": "财政拨款", "carryover": "上年结转资金", "other": "其他资金"}
INDICATOR_LABELS = {
    "level1": "一级指标", "level2": "二级指标", "name": "三级指标", "target": "指标值", "actual": "实际完成值",
    "weight": "分值", "outcome": "完成情况", "score": "得分", "reason": "偏差原因",
}
EXPENSE_LABELS = {"budget": "年初预算", "actual": "实际支出", "note": "说明", "confidential": "涉密"}


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


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def _fields(section, row, old, new, labels, row_key=""):
    return [
        Change(section, row, label, _text(old.get(name)), _text(new.get(name)), row_key)
        for name, label in labels.items()
        if _text(old.get(name)) != _text(new.get(name))
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


def compare(old: dict, new: dict) -> list[Change]:
    """Every difference between two snapshots; rows matched by identity, not position."""
    changes = _fields("基本信息", "", old.get("header", {}), new.get("header", {}), HEADER_LABELS)
    changes += _rows(
        "资金情况", old.get("funding", []), new.get("funding", []), lambda r: r["source"], FUNDING_LABELS,
        lambda r: SOURCE_LABELS.get(r["source"], r["source"]),
    )
    changes += _rows(
        "资金结构", old.get("structure", []), new.get("structure", []), lambda r: r["item"], {"budget": "预算数", "actual": "执行数"},
        lambda r: STRUCTURE_LABELS.get(r["item"], r["item"]),
    )
    old_goals = [dict(r, n=i) for i, r in enumerate(old.get("goals", []), start=1)]
    new_goals = [dict(r, n=i) for i, r in enumerate(new.get("goals", []), start=1)]
    changes += _rows("年度总体目标", old_goals, new_goals, lambda r: r["n"], {"target": "目标", "achieved": "完成情况"},
                     lambda r: f"第{r['n']}条")
    changes += _rows("项目支出明细", old.get("project_expenses", []), new.get("project_expenses", []), lambda r: r["name"],
                     EXPENSE_LABELS, lambda r: r["name"])
    changes += _rows(
        "绩效指标", old.get("indicators", []), new.get("indicators", []), lambda r: r["key"], INDICATOR_LABELS,
        lambda r: r.get("name") or f"{r.get('level1')}/{r.get('level2')}", keep_key=True,
    )
    changes += _rows("自评报告", old.get("report", []), new.get("report", []), lambda r: r["key"], {"title": "标题", "body": "内容"},
                     lambda r: r.get("title") or r["key"])
    if _text(old.get("total_score")) != _text(new.get("total_score")):
        changes.append(Change("总分", "", "自评总分", _text(old.get("total_score")), _text(new.get("total_score"))))
    return changes
