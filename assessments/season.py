"""The season the bureau runs (issue 14): approved 绩效目标, 目标调整, 填报任务 and their reminders.

Plain functions called by the views, the admin, the Celery tasks and the demo data. State changes
of assessments stay in workflow.py; this module creates tasks, links them to assessments, locks
and adjusts approved targets and records reminders.
"""

import datetime
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from . import audit, permissions, scoring, services, sqlwords, table_templates
from .models import (
    ApprovedIndicator,
    Assessment,
    Indicator,
    Membership,
    Reminder,
    TargetAdjustment,
    TargetSet,
    Task,
    Unit,
)
from .targets import link_task, start_from_targets, submit_refusal, target_set_for  # noqa: F401 (part of this API)

log = logging.getLogger(__name__)

S = Assessment.State
# What the unit has handed in: the task is done (a returned one is open again).
HANDED_IN = (S.SUBMITTED, S.FORWARDED, S.IN_REVIEW, S.APPROVED, S.PUBLISHED)
EDITABLE = (S.DRAFT, S.RETURNED)


class SeasonRefused(ValueError):
    """The request cannot be carried out; the message says why, in Chinese."""


# --- Approved targets ------------------------------------------------------------------------


@dataclass
class TargetRow:
    level1: str
    level2: str
    name: str
    target: str
    weight: object = None  # Decimal | None
    operator: str = ""
    unit: str = ""


@dataclass
class TargetSheet:
    """One approved target set as read from a workbook sheet or typed in."""

    unit: Unit | None
    project_name: str
    kind: str = "project"
    goals: str = ""
    rows: list[TargetRow] = field(default_factory=list)
    sheet: str = ""
    problems: list[str] = field(default_factory=list)


def load_target_set(*, round_, sheet: TargetSheet, user=None, source=TargetSet.Source.UPLOAD, file_name="") -> TargetSet:
    """Create or replace the approved targets of `sheet.unit`'s project in `round_`.

    Assessments already started keep their rows (the approved value of each row is what it was
    when the assessment started); only new ones start from the replaced set."""
    if sheet.unit is None:
        raise SeasonRefused("未指定预算单位。")
    if sheet.kind == Assessment.Kind.PROJECT and not sheet.project_name.strip():
        raise SeasonRefused("项目支出的绩效目标须有项目名称。")
    if not sheet.rows:
        raise SeasonRefused(f"“{sheet.project_name or '部门整体支出'}”没有任何绩效指标。")
    with transaction.atomic():
        target_set, created = TargetSet.objects.update_or_create(
            round=round_, unit=sheet.unit, kind=sheet.kind, project_name=sheet.project_name.strip() if sheet.kind == "project" else "",
            defaults={"goals": sheet.goals, "source": source, "file_name": file_name[:200], "loaded_by": user},
        )
        target_set.indicators.all().delete()
        ApprovedIndicator.objects.bulk_create(
            ApprovedIndicator(
                target_set=target_set, position=n, level1=r.level1, level2=r.level2, name=r.name,
                operator=r.operator, target=r.target, unit=r.unit, weight=r.weight,
            )
            for n, r in enumerate(sheet.rows, start=1)
        )
        audit.record(
            "targets.load", actor=user, unit=sheet.unit.pk, obj=target_set,
            details={"round": round_.pk, "project": target_set.title, "rows": len(sheet.rows),
                     "created": created, "source": source},
        )
    return target_set


def adjust_target(user, assessment: Assessment, key: str, new_target: str, reason: str) -> TargetAdjustment:
    """A 目标调整: set the 指标值 of an approved (locked) row to `new_target`, with a reason.

    Only the unit's officers, only while the assessment can be edited. Bumps the version so that a
    form opened before the adjustment cannot overwrite it."""
    new_target, reason = (new_target or "").strip(), (reason or "").strip()
    if not permissions.can_edit(user, assessment):
        raise SeasonRefused(f"该自评当前状态为“{assessment.get_state_display()}”，不能调整目标。")
    row = Indicator.objects.filter(assessment=assessment, key=key).exclude(approved_target="").first()
    if row is None:
        raise SeasonRefused("该指标不是批复的绩效指标，无需目标调整，可直接修改。")
    if not new_target:
        raise SeasonRefused("请填写调整后的指标值。")
    if len(new_target) > 1000:
        raise SeasonRefused("调整后的指标值过长：最多 1000 字。")
    if not reason:
        raise SeasonRefused(f"目标调整须填写理由（指标“{row.name}”）。")
    previous = scoring.compose_value(row.operator, row.target, row.unit)
    if new_target == previous:
        raise SeasonRefused(f"调整后的指标值与当前指标值“{previous}”相同。")
    with transaction.atomic():
        claimed = Assessment.objects.filter(pk=assessment.pk, state__in=EDITABLE).update(version=F("version") + 1)
        if claimed != 1:
            raise SeasonRefused("该自评的状态刚刚已被更改，请刷新页面后再操作。")
        # The whole value goes into 指标值: 指标性质 and 度量单位 are part of what is adjusted.
        Indicator.objects.filter(pk=row.pk).update(target=new_target, operator="", unit="")
        adjustment = TargetAdjustment.objects.create(
            assessment=assessment, indicator_key=row.key, indicator_name=row.name[:300],
            approved_target=row.approved_target, previous_target=previous, new_target=new_target, reason=reason, by=user,
        )
        audit.record(
            "targets.adjust", actor=user, unit=assessment.unit_id, obj=assessment,
            details={"indicator": row.name[:100], "approved": row.approved_target, "from": previous,
                     "to": new_target, "reason": reason[:500]},
        )
        services.refresh_scores(assessment)
    assessment.refresh_from_db(fields=["version"])
    return adjustment


def adjustments_by_key(assessment: Assessment) -> dict[str, TargetAdjustment]:
    """The latest 目标调整 of each indicator (one query), keyed by the indicator's key as text."""
    out = {}
    for adj in TargetAdjustment.objects.filter(assessment=assessment).select_related("by").order_by("at", "id"):
        out[str(adj.indicator_key)] = adj
    return out


# --- Tasks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    unit: Unit
    kind: str
    project_name: str = ""
    target_set: TargetSet | None = None


# The columns a task's line shows where tasks are listed (the 待办, 我的绩效自评): the task, its round's
# and unit's names and its assessment's state (`status_of`), not their sixty columns (issue 17, part 5).
TASK_SHOWN = (*(f.name for f in Task._meta.concrete_fields), "round__title", "round__year", "unit__name",
              "unit__short_name", "assessment__state")


def status_of(task: Task, today: datetime.date | None = None) -> str:
    """未开始 / 填报中 / 已提交 / 被退回 / 逾期 / 已取消 (reads task.assessment, selected with it)."""
    today = today or timezone.localdate()
    T = Task.Status
    if task.is_cancelled:
        return T.CANCELLED
    a = task.assessment
    if a is not None and a.state in HANDED_IN:
        return T.SUBMITTED
    if today > task.due_on:
        return T.OVERDUE
    if a is None:
        return T.NOT_STARTED
    return T.RETURNED if a.state == S.RETURNED else T.FILLING


def days_left(task: Task, today: datetime.date | None = None) -> int:
    return (task.due_on - (today or timezone.localdate())).days


def annotate(tasks, today=None):
    """Set `status`, `status_label` and `days_left` on each task (no query)."""
    today = today or timezone.localdate()
    for task in tasks:
        task.status = status_of(task, today)
        task.status_label = Task.Status(task.status).label
        task.days_left = days_left(task, today)
    return tasks


def _check_dates(starts_on, due_on, warn_days) -> None:
    if starts_on is None or due_on is None:
        raise SeasonRefused("请填写开始日期和截止日期。")
    if due_on < starts_on:
        raise SeasonRefused(f"截止日期（{due_on}）不能早于开始日期（{starts_on}）。")
    if warn_days is None or warn_days < 0 or warn_days > 60:
        raise SeasonRefused("预警天数应为 0 到 60 之间的整数。")


def issue_tasks(*, round_, specs: list[TaskSpec], starts_on, due_on, warn_days, user=None) -> tuple[list[Task], int]:
    """Create the tasks (one per unit, kind and project); those that exist already are left as
    they are. Returns (created tasks, number skipped). An assessment already started for the same
    project is linked to its task."""
    _check_dates(starts_on, due_on, warn_days)
    if not specs:
        raise SeasonRefused("没有可下达任务的单位。")
    wanted = {(s.unit.pk, s.kind, s.project_name if s.kind == "project" else ""): s for s in specs}
    existing = set(
        Task.objects.filter(round=round_, unit_id__in={k[0] for k in wanted}).values_list("unit_id", "kind", "project_name")
    )
    started = {
        (a.unit_id, a.kind, a.project_name if a.kind == "project" else ""): a.pk
        for a in Assessment.objects.filter(round=round_, unit_id__in={k[0] for k in wanted}, task__isnull=True)
        .only("id", "unit_id", "kind", "project_name")
    }
    new = [
        Task(
            round=round_, unit=s.unit, kind=s.kind, project_name=key[2], target_set=s.target_set,
            assessment_id=started.get(key), starts_on=starts_on, due_on=due_on, warn_days=warn_days, issued_by=user,
        )
        for key, s in wanted.items()
        if key not in existing
    ]
    with transaction.atomic():
        Task.objects.bulk_create(new)
        audit.record(
            "task.issue", actor=user, object_type="round", object_id=round_.pk,
            details={"round": round_.pk, "created": len(new), "skipped": len(wanted) - len(new),
                     "starts_on": str(starts_on), "due_on": str(due_on), "warn_days": warn_days},
        )
    return new, len(wanted) - len(new)


def specs_from_targets(round_, units) -> list[TaskSpec]:
    """A task per approved target set of the round (of `units`)."""
    return [
        TaskSpec(ts.unit, ts.kind, ts.project_name, ts)
        for ts in TargetSet.objects.filter(round=round_, unit__in=units).select_related("unit").order_by("unit_id", "id")
    ]


def specs_for_units(units, *, project_name="") -> list[TaskSpec]:
    """All units (of a region): their 部门整体, or the named project."""
    kind = Assessment.Kind.PROJECT if project_name else Assessment.Kind.DEPARTMENT
    return [TaskSpec(u, kind, project_name) for u in units]


def specs_from_list(text: str, units) -> tuple[list[TaskSpec], list[str]]:
    """An uploaded or pasted list, one task a line: 单位全称（或简称）, then the project name (none
    or “部门整体支出”: the 部门整体), separated by a tab, a comma or “，”. Returns the specs and a
    message per line that names no unit of `units`."""
    by_name = {}
    for u in units:
        by_name[u.name] = u
        if u.short_name:
            by_name.setdefault(u.short_name, u)
    specs, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        for sep in ("\t", "，", ","):
            if sep in line:
                name, project = (part.strip() for part in line.split(sep, 1))
                break
        else:
            name, project = line, ""
        if number == 1 and name in ("单位", "单位名称", "预算单位", "单位全称"):
            continue  # a header row
        unit = by_name.get(name)
        if unit is None:
            problems.append(f"第{number}行：找不到预算单位“{name}”（或您无权为其下达任务）。")
            continue
        if project in ("", "部门整体", "部门整体支出"):
            specs.append(TaskSpec(unit, Assessment.Kind.DEPARTMENT))
        else:
            specs.append(TaskSpec(unit, Assessment.Kind.PROJECT, project[:200]))
    return specs, problems


def cancel_task(task: Task, reason: str, user=None) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise SeasonRefused("取消任务须填写理由。")
    if task.assessment_id and task.assessment.state in HANDED_IN:
        raise SeasonRefused("该任务的自评已提交，不能取消。")
    with transaction.atomic():
        updated = Task.objects.filter(pk=task.pk, cancelled_at__isnull=True).update(
            cancelled_at=timezone.now(), cancel_reason=reason
        )
        if updated != 1:
            raise SeasonRefused("该任务已被取消。")
        audit.record("task.cancel", actor=user, unit=task.unit_id, obj=task,
                     details={"task": task.title, "reason": reason[:500]})
    task.refresh_from_db()


def extend_task(task: Task, due_on, reason: str, user=None) -> None:
    reason = (reason or "").strip()
    if task.is_cancelled:
        raise SeasonRefused("已取消的任务不能延期。")
    if not reason:
        raise SeasonRefused("延期须填写理由。")
    if due_on is None or due_on <= task.due_on:
        raise SeasonRefused(f"新的截止日期须晚于当前截止日期（{task.due_on}）。")
    with transaction.atomic():
        old = task.due_on
        Task.objects.filter(pk=task.pk).update(due_on=due_on, extend_reason=reason)
        audit.record("task.extend", actor=user, unit=task.unit_id, obj=task,
                     details={"task": task.title, "from": str(old), "to": str(due_on), "reason": reason[:500]})
    task.refresh_from_db()


def start_task(user, task: Task) -> Assessment:
    """新建 from a task: the assessment of the task's unit, project and round, from the approved
    targets when there are any, else from last year's assessment (carry-over), else empty."""
    if task.unit_id not in permissions.officer_unit_ids(user):
        raise SeasonRefused("只能填报本单位的任务。")
    if task.is_cancelled:
        raise SeasonRefused(f"该任务已取消（理由：{task.cancel_reason}），不能填报。")
    if task.assessment_id:
        return task.assessment
    today = timezone.localdate()
    if today < task.starts_on:
        raise SeasonRefused(f"该任务自 {task.starts_on} 起开始填报。")
    round_, unit = task.round, task.unit
    offered = table_templates.offered_templates(round_, unit)[task.kind]
    if not offered:
        raise SeasonRefused("没有可用的表样，请联系系统管理员。")
    existing = Assessment.objects.filter(round=round_, unit=unit, kind=task.kind)
    if task.kind == Assessment.Kind.PROJECT:
        existing = existing.filter(project_name=task.project_name)
    with transaction.atomic():
        assessment = existing.first()
        if assessment is None:
            previous = services.previous_assessment(unit=unit, round=round_, kind=task.kind, project_name=task.project_name)
            assessment = services.create_assessment(
                unit=unit, round=round_, template=offered[0], project_name=task.project_name, user=user,
                carry_from=previous,
            )
            audit.record("assessment.create", actor=user, unit=unit.pk, obj=assessment,
                         details={"title": assessment.title, "task": task.pk,
                                  "carry_from": previous.pk if previous else None})
        link_task(assessment)
    task.refresh_from_db()
    return assessment


def late_tasks(round_, units, today: datetime.date | None = None):
    """Every task of the round (of `units`: units, or a condition on the task's unit_id) past its
    deadline (before `today`, by default the day in Beijing) and not handed in. `round_` may be an
    `OuterRef`."""
    today = today or timezone.localdate()
    of_units = units if isinstance(units, Q) else Q(unit__in=units)
    return (
        Task.objects.filter(of_units, round=round_, cancelled_at__isnull=True, due_on__lt=today)
        .filter(Q(assessment__isnull=True) | Q(assessment__state__in=EDITABLE))
        .select_related("unit", "assessment")
        .order_by("due_on", "unit__name", "project_name")
    )


# Units without a 部门整体 self-assessment handed in (a returned one is not): one statement per way
# a reviewer's units are limited, compiled once (the dashboard after a round's deadline lists a
# few hundred of them: 8 ms of the page, issue 17). The handed-in ones are read from the
# department index alone (`assessment_department_idx`).
_UNITS_WITHOUT_DEPARTMENT = permissions.ForReviewer(lambda units, round_id: (
    Unit.objects.filter(units("pk"))
    .exclude(Exists(Assessment.objects.filter(  # the code's words in the statement: its one plan uses the index
        ~Q(sqlwords.one_of("state", EDITABLE)), sqlwords.equals("kind", Assessment.Kind.DEPARTMENT),
        unit=OuterRef("pk"), round_id=round_id)))
    .order_by("name").values_list("pk", "name", "short_name", named=True)
), int)


def late_units(user, round_) -> list:
    """The units `user` reviews that have not handed in their 部门整体 self-assessment of `round_`,
    by name (each its pk, name and short_name: plain rows, a few hundred after a deadline); none
    before the round's deadline has passed."""
    if not round_.deadline or timezone.localdate() <= round_.deadline:
        return []
    return _UNITS_WITHOUT_DEPARTMENT.all(user, round_.pk)


def pending_tasks_for_officer(unit_ids):
    """The officer's tasks not handed in and not cancelled, soonest deadline first."""
    return (
        Task.objects.filter(unit_id__in=unit_ids, cancelled_at__isnull=True, round__is_open=True)
        .filter(Q(assessment__isnull=True) | Q(assessment__state__in=EDITABLE))
        .select_related("round", "unit", "assessment")
        .order_by("due_on", "unit_id", "kind", "project_name")
    )


# --- Reminders -------------------------------------------------------------------------------


def officer_emails(unit_id: int) -> list[str]:
    User = get_user_model()
    users = User.objects.filter(
        memberships__unit=unit_id, memberships__role=Membership.Role.OFFICER, is_active=True
    ).exclude(email="")
    return sorted({u.email for u in users})


def _needs_reminder(task: Task) -> bool:
    return not task.is_cancelled and (task.assessment_id is None or task.assessment.state in EDITABLE)


def send_reminder(task: Task, kind: str, *, user=None, today=None) -> Reminder | None:
    """Record and send one reminder for `task`; None when the task needs none (handed in,
    cancelled), when an automatic reminder of this kind was already sent for the task's current
    deadline, or when the unit has no officer with an e-mail address."""
    today = today or timezone.localdate()
    if not _needs_reminder(task):
        return None
    to = officer_emails(task.unit_id)
    if not to:
        log.warning("no officer e-mail for unit %s: task %s not reminded", task.unit_id, task.pk)
        return None
    try:
        with transaction.atomic():
            reminder = Reminder.objects.create(
                task=task, kind=kind, due_on=task.due_on, recipients=", ".join(to), sent_count=len(to), sent_by=user
            )
            audit.record("task.remind", actor=user, system=user is None, unit=task.unit_id, obj=task,
                         details={"task": task.title, "kind": kind, "to": len(to)})
    except IntegrityError:  # sent already for this deadline (another beat run, a second click)
        return None
    base = getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    context = {"task": task, "kind": kind, "days_left": days_left(task, today), "url": base + reverse("assessments:list"),
               "overdue": today > task.due_on}
    subject = " ".join(render_to_string("emails/task_reminder_subject.txt", context).split())
    body = render_to_string("emails/task_reminder.txt", context)
    try:
        send_mail(subject, body, None, to)
    except OSError:
        # Recorded but not delivered: drop the record so that the next run tries again.
        Reminder.objects.filter(pk=reminder.pk).delete()
        raise
    return reminder


def due_reminders(today=None) -> dict[str, int]:
    """What beat runs every hour: the lead-time reminder of each task whose warning day has come,
    the deadline reminder of each task due today (or overdue and never reminded for this deadline)."""
    today = today or timezone.localdate()
    sent = {"lead": 0, "deadline": 0}
    base = (
        Task.objects.filter(cancelled_at__isnull=True, round__is_open=True, starts_on__lte=today)
        .filter(Q(assessment__isnull=True) | Q(assessment__state__in=EDITABLE))
        .select_related("unit", "round", "assessment")
    )
    def not_yet(kind):
        return ~Exists(Reminder.objects.filter(task=OuterRef("pk"), kind=kind, due_on=OuterRef("due_on")))

    for task in base.filter(not_yet(Reminder.Kind.LEAD), due_on__gt=today):
        if task.warn_on <= today and send_reminder(task, Reminder.Kind.LEAD, today=today):
            sent["lead"] += 1
    for task in base.filter(not_yet(Reminder.Kind.DEADLINE), due_on__lte=today):
        if send_reminder(task, Reminder.Kind.DEADLINE, today=today):
            sent["deadline"] += 1
    return sent


# --- Reading a 绩效目标申报表 workbook ---------------------------------------------------------


def sheets_from_workbook(results: list[dict], units, unit=None) -> list[TargetSheet]:
    """Target sets from `importing.targets.read_target_workbook`'s result: each sheet's unit is
    `unit` when given, else the one its 实施单位 (or 单位名称) names among `units`."""
    from decimal import Decimal

    from .importing.parser import ParsedWorkbook

    by_name = {}
    for u in units:
        by_name[u.name] = u
        if u.short_name:
            by_name.setdefault(u.short_name, u)
    out = []
    for item in results:
        if "error" in item:
            out.append(TargetSheet(None, "", sheet=item["sheet"], problems=[f"工作表“{item['sheet']}”：{item['error']}"]))
            continue
        parsed = ParsedWorkbook.from_dict(item["parsed"])
        named = (parsed.header.get("implementer") or parsed.unit_name or "").strip()
        sheet_unit = unit or by_name.get(named)
        problems = []
        if sheet_unit is None:
            problems.append(
                f"工作表“{item['sheet']}”：" + (f"实施单位“{named}”不是您可下达的预算单位。" if named else "未写明实施单位，请在上传时选择预算单位。")
            )
        rows = [
            TargetRow(level1=r["level1"], level2=r.get("level2", ""), name=r.get("name", ""), target=r.get("target", ""),
                      weight=Decimal(r["weight"]) if r.get("weight") else None, operator=r.get("operator", ""),
                      unit=r.get("unit", ""))
            for r in parsed.indicators
            if (r.get("target") or "").strip()
        ]
        skipped = len(parsed.indicators) - len(rows)
        if skipped:
            problems.append(f"工作表“{item['sheet']}”：{skipped} 行指标没有指标值，未载入。")
        for u in parsed.unmapped[:5]:
            if u.reason.startswith("表格以外的文字"):
                continue
            problems.append(f"工作表“{u.sheet}”{u.cell}：“{u.value[:40]}”{u.reason}")
        goals = "\n\n".join(g["target"].strip() for g in parsed.goals if g.get("target", "").strip())
        out.append(TargetSheet(
            sheet_unit, (parsed.header.get("project_name") or "").strip() if parsed.kind == "project" else "",
            kind=parsed.kind or "project", goals=goals, rows=rows, sheet=item["sheet"], problems=problems,
        ))
    return out
