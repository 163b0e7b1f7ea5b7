"""Turn a parsed workbook into a draft, through the entry form's own validation.

The parsed tables are posted to `EntryForm` exactly as a browser would post them, so an imported
draft obeys every rule of a typed one and the officer sees the same error sentences ("绩效指标第3行
「二级指标」：…"). A new draft is made by `services.create_assessment` first; when the form refuses,
the whole transaction (the new draft included) is rolled back and nothing is saved.

`run(..., dry_run=True)` does the same work and always rolls back: the preview page uses it to
show, before the officer confirms, the errors that would stop the import.
"""

import copy
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import IntegrityError, transaction

from .. import readmodel, scoring
from ..forms import EntryForm, StaleDraft
from ..models import Assessment, FundingRow, Goal, Indicator, ProjectExpense, ReportSection, StructureRow
from ..permissions import EDITABLE_STATES
from ..services import create_assessment, previous_assessment, refresh_scores, restore_identities
from ..table_templates import latest_version
from ..tablespec import HEADER_FIELDS, KIND_LABELS
from .parser import ParsedWorkbook


def kind_of(layout: str) -> str:
    """The kind of the template with code `layout`."""
    return latest_version(layout).template.kind


def layout_label(layout: str) -> str:
    return latest_version(layout).template.name

PROJECT_HEADER = ("project_leader", "leader_phone", "supervisor_name", "implementer")
DEPARTMENT_HEADER = ("duties", "staff_quota", "staff_actual")


class ImportInvalid(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Outcome:
    assessment: Assessment | None
    errors: list[str] = field(default_factory=list)


class _DryRun(Exception):
    pass


# --- Indicator scores -------------------------------------------------------------------------


def resolve_indicators(rows: list[dict], rules: scoring.RuleSet, table: scoring.TableRules = scoring.DEFAULT_TABLE) -> tuple[list[dict], list[str]]:
    """Each row with the `score_entered` the form needs: the sheet's 得分 is the unit's record.

    A row the rules score as the sheet does keeps it empty (the rule's score stands, as when the
    row is typed); a differing sheet score is entered as the unit's score (a qualitative row's
    完成情况 then follows from its band) and, on a quantitative row, noted with both figures.
    """
    out, notes = [], []
    for n, row in enumerate(rows, start=1):
        row = dict(row)
        row["outcome"], row["score_entered"] = "", None
        weight = _dec(row.get("weight"))
        sheet_score = _dec(row.get("score"))
        base = scoring.score_indicator(
            _input(row, weight), rules, row_number=n, reasons_block=table.reasons_block, reasons_asked=table.reasons_asked
        )
        if sheet_score is not None and weight is not None and base.score != sheet_score:
            row["score_entered"] = str(sheet_score)
            if base.kind == scoring.KIND_QUANTITATIVE and base.score is not None:
                notes.append(
                    f"绩效指标第{n}行「{row.get('name', '')}」：表中得分 {scoring.fmt(sheet_score)} 与按评分规则计算的 "
                    f"{scoring.fmt(base.score)} 不同，按表中得分记录为本单位自评得分（审核人可见两者）。"
                )
        out.append(row)
    return out, notes


def resolve_funding(funding: dict, spec, rules: scoring.RuleSet) -> tuple[dict, list[str]]:
    """The funding rows with the sheet's 得分 kept only where it is not the rule's (as typed)."""
    out, notes = {}, []
    labels = {r.key: r for r in spec.funding_rows}
    for source, row in funding.items():
        row = dict(row)
        sheet_score = _dec(row.get("score"))
        row["score"] = None
        row_spec = labels.get(source)
        if sheet_score is not None and row_spec is not None and row_spec.weight is not None:
            rule = scoring.score_funding(
                scoring.FundingInput(_dec(row.get("initial_budget")), _dec(row.get("budget")), _dec(row.get("actual")),
                                     row.get("reason", ""), weight=row_spec.weight), rules,
            ).score
            if rule != sheet_score:
                row["score"] = str(sheet_score)
                if rule is not None:
                    notes.append(
                        f"资金情况「{row_spec.label}」：表中得分 {scoring.fmt(sheet_score)} 与按执行率计算的 {scoring.fmt(rule)} "
                        "不同，按表中得分记录为本单位自评得分。"
                    )
        out[source] = row
    return out, notes


def _dec(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _input(row: dict, weight, *, outcome=None, score=None) -> scoring.IndicatorInput:
    return scoring.IndicatorInput(
        level1=row.get("level1", ""), level2=row.get("level2", ""), name=row.get("name", ""),
        target=scoring.compose_value(row.get("operator", ""), row.get("target", ""), row.get("unit", "")),
        actual=scoring.compose_value("", row.get("actual", ""), row.get("unit", "")), weight=weight,
        outcome=outcome, score=score, reason=row.get("reason", ""),
    )


def level1_notes(parsed: ParsedWorkbook) -> list[str]:
    """"产出指标（50分）": the header's weight against the rows' weights under it."""
    notes = []
    for level1, stated in parsed.level1_weights.items():
        weights = [_dec(r.get("weight")) for r in parsed.indicators if r["level1"] == level1]
        total = sum((w for w in weights if w is not None), Decimal(0))
        line = f"表头写明“{level1}（{scoring.fmt_weight(Decimal(stated))}分）”"
        if any(w is not None for w in weights) and total != Decimal(stated):
            line += f"，但其下各行分值合计 {scoring.fmt_weight(total)} 分，请核对。"
        else:
            line += "，与其下各行分值一致。"
        notes.append(line)
    return notes


# --- Preview ----------------------------------------------------------------------------------


def stub(unit, round_, parsed: ParsedWorkbook, layout: str, project_name: str = "", base: Assessment | None = None) -> Assessment:
    """An unsaved assessment carrying the workbook's header, for the preview page; with `base`
    (a draft being replaced), a copy of it with the header fields the workbook has."""
    version = latest_version(layout)
    kind = version.template.kind
    if base is not None:
        a = copy.copy(base)
    else:
        a = Assessment(unit=unit, round=round_, kind=kind, template_version=version)
        a.project_name = project_name or parsed.header.get("project_name", "")
    for name in PROJECT_HEADER if kind == "project" else DEPARTMENT_HEADER:
        if name in parsed.header:
            value = parsed.header[name]
            setattr(a, name, value if name in ("staff_quota", "staff_actual") else value or "")
    custom = {f.key for f in a.table.header} - set(HEADER_FIELDS)
    a.extra = {**(a.extra or {}), **{k: v for k, v in parsed.header.items() if k in custom}}
    return a


def preview_view(assessment: Assessment, parsed: ParsedWorkbook, base: Assessment | None = None) -> readmodel.AssessmentView:
    """The read model of what the import would give (unsaved rows; scores as they would be).
    Tables the workbook does not have show the rows of `base`, which the import keeps."""
    spec = assessment.table
    rows, _notes = resolve_indicators(parsed.indicators, assessment.round.rules, spec.table_rules)
    parsed_funding, _notes = resolve_funding(parsed.funding, spec, assessment.round.rules)

    def amount(source, name):
        return _dec(parsed_funding.get(source, {}).get(name))

    funding = [
        FundingRow(source=s, initial_budget=amount(s, "initial_budget"), budget=amount(s, "budget"),
                   actual=amount(s, "actual"), reason=parsed_funding.get(s, {}).get("reason", ""),
                   score=amount(s, "score"), extra=parsed_funding.get(s, {}).get("extra") or {})
        for s in spec.funding_row_keys
    ]
    indicators = [
        Indicator(level1=r["level1"], level2=r["level2"], name=r["name"], operator=r.get("operator", ""), target=r["target"],
                  unit=r.get("unit", ""), actual=r["actual"], weight=_dec(r.get("weight")), outcome=r["outcome"],
                  score=_dec(r["score_entered"]), reason=r["reason"], extra=r.get("extra") or {})
        for r in rows
    ]
    structure = [StructureRow(item=i, budget=_dec(v.get("budget")), actual=_dec(v.get("actual"))) for i, v in parsed.structure.items()]
    goals = [Goal(target=g["target"], achieved=g["achieved"]) for g in parsed.goals]
    expenses = [
        ProjectExpense(name=e["name"], budget=_dec(e["budget"]), actual=_dec(e["actual"]), note=e["note"], confidential=e["confidential"])
        for e in parsed.expenses
    ]
    texts = list(parsed.blocks) + list(parsed.sections or [])
    sections = [ReportSection(key=s["key"], title=s["title"], body=s["body"]) for s in texts]
    if base is not None and texts:
        # As the import saves them: the file's texts in place of the draft's, the others kept.
        new = {s.key: s for s in sections}
        sections = [new.pop(s.key, s) for s in base.report_sections.all()] + list(new.values())
    if base is not None:
        funding = funding if parsed.funding else list(base.funding_rows.all())
        structure = structure if parsed.structure else list(base.structure_rows.all())
        goals = goals if parsed.goals else list(base.goals.all())
        indicators = indicators if parsed.indicators else list(base.indicators.all())
        expenses = expenses if parsed.expenses else list(base.project_expenses.all())
        sections = sections if parsed.sections is not None or parsed.blocks else list(base.report_sections.all())
    return readmodel.build(
        assessment, funding_rows=funding, indicators=indicators, structure_rows=structure, goals=goals,
        expenses=expenses, sections=sections,
    )


def replaced_texts(base: Assessment, parsed: ParsedWorkbook) -> list[dict]:
    """The draft's texts the import would overwrite although they hold something: [{key, label,
    current, new}] — the second confirmation shows both."""
    labels = {s.key: s.title for s in base.table.text_sections}
    current = {s.key: s for s in base.report_sections.all()}
    out = []
    for text in list(parsed.blocks) + list(parsed.sections or []):
        old = current.get(text["key"])
        if old is not None and old.body.strip() and old.body != text["body"]:
            out.append({"key": text["key"], "label": old.title or labels.get(text["key"], text["key"]),
                        "current": old.body, "new": text["body"]})
    return out


def replaced_tables(base: Assessment, parsed: ParsedWorkbook) -> list[str]:
    """Names of the draft's tables holding something that the import would replace."""
    spec = base.table
    out = []
    if parsed.funding and any(r.initial_budget is not None or r.budget is not None or r.actual is not None or r.reason
                              for r in base.funding_rows.all()):
        out.append(spec.funding_caption)
    if parsed.structure and any(r.budget is not None or r.actual is not None for r in base.structure_rows.all()):
        out.append(spec.structure_caption or "资金结构")
    if parsed.goals and any(g.target or g.achieved for g in base.goals.all()):
        out.append(spec.goal_caption)
    if parsed.indicators and base.indicators.exists():
        out.append(spec.indicator_caption)
    if parsed.expenses and base.project_expenses.exists():
        out.append("项目支出明细")
    return out


# --- Building the form data -------------------------------------------------------------------


def entry_data(assessment: Assessment, parsed: ParsedWorkbook, *, keep_project_name: bool) -> dict:
    """The entry form's POST data: the draft's current values with the workbook's tables put in.

    Tables the workbook does not have (no goals, no report sheet, …) keep the draft's rows.
    """
    entry = EntryForm(assessment)
    data = entry.as_post_data()
    spec = entry.table

    header = parsed.header
    for name, value in header.items():
        if name == "project_name" and (keep_project_name or not value):
            continue
        if name in entry.header.fields:
            data[f"header-{name}"] = "" if value is None else str(value)

    if parsed.funding:
        funding, _notes = resolve_funding(parsed.funding, spec, assessment.round.rules)
        for form in entry.funding.forms:
            row = funding.get(form.instance.source, {})
            values = {name: row.get(name) for name in ("initial_budget", "budget", "actual", "reason", "score")}
            values.update(row.get("extra") or {})
            for name in form.fields:
                if name in values:
                    value = values[name]
                    data[form.add_prefix(name)] = "" if value is None else str(value)
    if entry.structure is not None and parsed.structure:
        for form in entry.structure.forms:
            row = parsed.structure.get(form.instance.item, {})
            for name in ("budget", "actual"):
                value = row.get(name)
                data[form.add_prefix(name)] = "" if value is None else str(value)

    if parsed.goals:
        _fill_in_place(data, entry.goals, [{"target": g["target"], "achieved": g["achieved"]} for g in parsed.goals])
    if parsed.indicators:
        rows, _notes = resolve_indicators(parsed.indicators, assessment.round.rules, spec.table_rules)
        _replace_rows(data, entry.indicators, [indicator_values(r) for r in rows])
    if entry.expenses is not None and parsed.expenses:
        _fill_in_place(data, entry.expenses, [
            {"name": e["name"], "budget": e["budget"] or "", "actual": e["actual"] or "", "note": e["note"],
             "confidential": e["confidential"]}
            for e in parsed.expenses
        ])
    texts = list(parsed.blocks) + list(parsed.sections or [])
    if texts:
        # Only the texts the workbook has: the others stay as they are, like tables it does not have.
        by_key = {s["key"]: s for s in texts}
        for form in entry.sections.forms:
            section = by_key.get(form.instance.key)
            if section is None:
                continue
            data[form.add_prefix("title")] = section.get("title", "")
            data[form.add_prefix("body")] = section.get("body", "")
    return data


def indicator_values(r: dict) -> dict:
    """One parsed indicator row (resolved by `resolve_indicators`) as the entry form's row fields."""
    return {
        "level1": r["level1"], "level2": r["level2"], "name": r["name"], "operator": r.get("operator", ""),
        "target": r["target"], "unit": r.get("unit", ""), "actual": r["actual"], "weight": r.get("weight") or "",
        "outcome": r["outcome"], "score": r["score_entered"] or "", "reason": r["reason"], **(r.get("extra") or {}),
    }


def _set(data: dict, prefix: str, values: dict) -> None:
    for name, value in values.items():
        key = f"{prefix}-{name}"
        if isinstance(value, bool):
            if value:
                data[key] = "on"
            else:
                data.pop(key, None)
        else:
            data[key] = "" if value is None else str(value)


def _fill_in_place(data: dict, formset, rows: list[dict]) -> None:
    """Rows take the places of the existing ones (extra existing rows are deleted)."""
    initial = formset.initial_form_count()
    for n, values in enumerate(rows):
        prefix = f"{formset.prefix}-{n}"
        _set(data, prefix, values)
        data[f"{prefix}-ORDER"] = str(n + 1)
        data.pop(f"{prefix}-DELETE", None)
        if n >= initial:
            data.pop(f"{prefix}-id", None)
            data[f"{prefix}-{formset.fk.name}"] = str(formset.instance.pk)
    for n in range(len(rows), initial):
        data[f"{formset.prefix}-{n}-DELETE"] = "on"
    data[f"{formset.prefix}-TOTAL_FORMS"] = str(max(initial, len(rows)))


def _replace_rows(data: dict, formset, rows: list[dict]) -> None:
    """All existing rows are deleted and the workbook's rows added (indicators get new identities)."""
    initial = formset.initial_form_count()
    for n in range(initial):
        data[formset.forms[n].add_prefix("DELETE")] = "on"
    for offset, values in enumerate(rows):
        n = initial + offset
        prefix = f"{formset.prefix}-{n}"
        for name, value in values.items():
            data[f"{prefix}-{name}"] = "" if value is None else str(value)
        data[f"{prefix}-ORDER"] = str(offset + 1)
        data[f"{prefix}-{formset.fk.name}"] = str(formset.instance.pk)
    data[f"{formset.prefix}-TOTAL_FORMS"] = str(initial + len(rows))


# --- Running the import -----------------------------------------------------------------------


def duplicate_error(unit, round_, layout: str, project_name: str, exclude_pk=None) -> str | None:
    """The entry form's own wording when the unit already has this assessment in the round."""
    qs = Assessment.objects.filter(unit=unit, round=round_)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if kind_of(layout) == "department":
        if qs.filter(kind="department").exists():
            return f"本单位{round_.year}年度的部门整体支出绩效自评已存在。"
        return None
    if not project_name:
        return "项目支出自评须填写项目名称。"
    if qs.filter(kind="project", project_name=project_name).exists():
        return f"本单位{round_.year}年度已有项目“{project_name}”的自评。"
    return None


CONFIDENTIAL_NOTE = "本单位上一年度的同名项目为涉密项目：导入后的草稿同样标为涉密，不会公开（如已解密，请在填报页取消“涉密”）。"


def inherits_confidential(assessment: Assessment) -> bool:
    """A new project draft of a unit whose previous assessment of the same project was 涉密."""
    if assessment.kind != Assessment.Kind.PROJECT or not assessment.project_name:
        return False
    previous = previous_assessment(
        unit=assessment.unit, round=assessment.round, kind=assessment.kind, project_name=assessment.project_name
    )
    return previous is not None and previous.confidential


def import_new(*, user, unit, round_, layout: str, parsed: ParsedWorkbook, project_name: str = "", dry_run=False) -> Outcome:
    """A new draft from the workbook; nothing is saved when anything is refused."""
    project_name = (project_name or parsed.header.get("project_name", "")).strip() if layout != "department" else ""
    problem = duplicate_error(unit, round_, layout, project_name)
    if problem:
        return Outcome(None, [problem])
    try:
        with transaction.atomic():
            assessment = create_assessment(
                unit=unit, round=round_, layout=layout, project_name=project_name, user=user, prefill=False
            )
            if inherits_confidential(assessment):
                # As with "start from last year": a 涉密 project stays 涉密, never published by default.
                Assessment.objects.filter(pk=assessment.pk).update(confidential=True)
                assessment.confidential = True
            _save(assessment, parsed, keep_project_name=True)
            if dry_run:
                raise _DryRun
    except ImportInvalid as exc:
        return Outcome(None, exc.errors)
    except _DryRun:
        return Outcome(None, [])
    except IntegrityError:
        # Two confirmations at once (a double click): the unique constraints let one win.
        return Outcome(None, [duplicate_error(unit, round_, layout, project_name) or CONFLICT])
    return Outcome(assessment, [])


def import_into(*, assessment: Assessment, parsed: ParsedWorkbook, expected_version: int, dry_run=False) -> Outcome:
    """Replace the tables of a draft (the ones the workbook has) with the workbook's rows."""
    if assessment.layout != parsed.layout or (parsed.file_kind and parsed.file_kind != assessment.kind):
        return Outcome(None, [layout_mismatch(assessment, parsed)])
    try:
        with transaction.atomic():
            current = Assessment.objects.select_for_update().get(pk=assessment.pk)
            if current.state not in EDITABLE_STATES:
                raise ImportInvalid([f"该自评当前状态为“{current.get_state_display()}”，不能修改。"])
            if current.version != expected_version:
                raise StaleDraft
            _save(current, parsed, keep_project_name=True)
            if dry_run:
                raise _DryRun
    except ImportInvalid as exc:
        return Outcome(None, exc.errors)
    except StaleDraft:
        return Outcome(None, [STALE])
    except _DryRun:
        return Outcome(None, [])
    return Outcome(current, [])


def evidence_note(target: Assessment, parsed: ParsedWorkbook) -> str | None:
    """佐证材料 are not part of an Excel import (issue 13): the draft's files stay as they are. Files
    of an indicator row follow it when the workbook has the same indicator (一级, 二级, 三级 name:
    the row takes back its identity, services.restore_identities); the others are then listed with
    the whole assessment. Says so on the preview, with the numbers, when the draft has files."""
    from types import SimpleNamespace

    from ..models import Evidence
    from ..services import _indicator_identity

    items = list(Evidence.objects.filter(assessment=target, removed_at__isnull=True).values_list("indicator_key", flat=True))
    if not items:
        return None
    note = f"佐证材料不随 Excel 导入：本草稿已上传的 {len(items)} 个佐证材料保留不变"
    linked = [k for k in items if k is not None]
    if not linked or not parsed.indicators:
        return note + "。"
    rows, _notes = resolve_indicators(parsed.indicators, target.round.rules, target.table.table_rules)
    incoming = {_indicator_identity(SimpleNamespace(**{f: r.get(f, "") for f in ("level1", "level2", "name")}))
                for r in rows}
    identity = {row.key: _indicator_identity(row) for row in Indicator.objects.filter(assessment=target)}
    lost = sum(1 for k in linked if identity.get(k) not in incoming)
    if not lost:
        return note + "，对应的指标行在文件中都有同名指标，导入后仍对应原指标。"
    return (note + f"；其中 {lost} 个所对应的指标在文件中没有同名指标（一级、二级、三级指标名称均相同），"
            "导入后改列在“整体（不对应具体指标）”下，请到“佐证材料”页核对，必要时移除后重新上传到对应指标。")


CONFLICT = "本次未导入：同一自评正在被另一次操作保存，请稍后刷新列表查看。"
STALE = "本次未导入：预览之后，该自评已在别处被保存或提交。请重新上传文件并核对预览。"


def layout_mismatch(assessment: Assessment, parsed: ParsedWorkbook) -> str:
    if parsed.file_kind and parsed.file_kind != assessment.kind:
        return (
            f"文件是{KIND_LABELS[parsed.file_kind]}绩效自评表，当前草稿是“{assessment.template_version.template.name}”，"
            "类型不同，不能替换；请用“从Excel导入”新建。"
        )
    return (
        f"文件是“{layout_label(parsed.layout)}”，当前草稿是“{assessment.template_version.template.name}”，"
        "表样不同，不能替换；请用“从Excel导入”新建。"
    )


def _save(assessment: Assessment, parsed: ParsedWorkbook, *, keep_project_name: bool) -> None:
    assessment = readmodel.load_content(assessment.pk)
    data = entry_data(assessment, parsed, keep_project_name=keep_project_name)
    entry = EntryForm(assessment, data)
    if not entry.is_valid():
        raise ImportInvalid(entry.error_list())
    # Imported rows are new rows: they take back the identity of the same indicator in the rows
    # they replace (review comments and diffs follow it), else last year's lineage.
    replaced = list(assessment.indicators.all())
    previous = previous_assessment(
        unit=assessment.unit, round=assessment.round, kind=assessment.kind, project_name=assessment.project_name
    )
    last_year = list(Indicator.objects.filter(assessment=previous).order_by("position", "id")) if previous else []
    entry.save(assessment.version)
    if restore_identities(assessment, replaced, last_year):
        refresh_scores(assessment)
