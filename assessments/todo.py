"""待办 (issue 14): what each person must do now, one list per duty, in a fixed number of queries.

- officers: tasks to fill in (not handed in, not cancelled), assessments returned to them, 整改事项
  still to answer (issue 15; overdue ones marked);
- 主管部门审核人: submissions of their units waiting for 初审;
- reviewers: submissions to 复核 (forwarded, or submitted without 初审; in review), late tasks and
  answered 整改事项 waiting for their decision; the bureau's (all units) also reports waiting for their
  公开审核 and units whose 20-day 公开 window has raised its warning (issue 16);
- 系统管理员: failed exports; 安全管理员: accounts locked by failed logins.
"""

import datetime
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from . import params, permissions, register, roles, season, sqlwords
from .models import WAITING_STATES, Assessment, ExportJob, Rectification, Task

ROW_LIMIT = 200  # a list longer than this shows its first 200 rows and the full count
S = Assessment.State
# 初审 waits for the 主管部门: submitted, in a round that asks for it, by a unit that has one.
AWAITING_PRE_REVIEW = Q(state=S.SUBMITTED, round__supervisor_review=True, unit__supervisor_unit__isnull=False)
# 复核 waits for the bureau: forwarded, in review, or submitted where there is no 初审.
BUREAU_WAITING = Q(state__in=[S.FORWARDED, S.IN_REVIEW]) | (Q(state=S.SUBMITTED) & ~AWAITING_PRE_REVIEW)


# A listed submission needs only these (its title reads the round's year), read as plain values:
# a list of 200 is 600 model instances otherwise (issue 17).
LISTED = ("pk", "unit__name", "kind", "project_name", "round__year", "state")


@dataclass(frozen=True)
class Listed:
    pk: int
    unit_name: str
    title: str
    state_label: str
    at: object  # the time the list shows (submitted or approved), or None


def _listed(queryset, at: str) -> list[Listed]:
    """The first ROW_LIMIT rows of `queryset` as `Listed`, `at` naming the time shown."""
    return _as_listed(queryset.values_list(*LISTED, at)[:ROW_LIMIT])


def _as_listed(rows) -> list[Listed]:
    return [Listed(pk, unit_name, Assessment.title_of(year, kind, project_name), S(state).label, when)
            for pk, unit_name, kind, project_name, year, state, when in rows]


@dataclass
class Item:
    text: str
    url: str
    note: str = ""
    urgent: bool = False


@dataclass
class Section:
    key: str
    title: str
    items: list[Item] = field(default_factory=list)
    count: int = 0


# The columns the 待办's 整改 lines show (`_rectification_item`): an assessment's sixty are not read for a
# title (issue 17, part 5). A task's: `season.TASK_SHOWN`.
RECTIFICATION_SHOWN = (*(f.name for f in Rectification._meta.concrete_fields), *(f"assessment__{n}" for n in Assessment.TITLE_FIELDS))


# The reviewer's lists, by statements compiled once per way their units are limited
# (permissions.ForReviewer): the same conditions as reviewer_assessments and reviewed_unit_filter.
_REVIEW_WAITING = permissions.ForReviewer(lambda units: (
    # The waiting states again, for the planner: it reads them from their own index (written into
    # the statement, so that its one plan is that: sqlwords).
    Assessment.objects.filter(~Q(state__in=permissions.REVIEWER_HIDDEN_STATES), units(), BUREAU_WAITING,
                              sqlwords.one_of("state", WAITING_STATES))
    .order_by("submitted_at", "id").values_list(*LISTED, "submitted_at")[:ROW_LIMIT]))
_LATE_TASKS = permissions.ForReviewer(lambda units, today: (
    Task.objects.filter(units(), cancelled_at__isnull=True, due_on__lt=today, round__is_open=True)
    .filter(Q(assessment__isnull=True) | Q(assessment__state__in=season.EDITABLE))
    .select_related("round", "unit").order_by("due_on", "unit__name")[:ROW_LIMIT]), datetime.date)
_ANSWERED = permissions.ForReviewer(lambda units: (
    Rectification.objects.filter(~Q(assessment__state__in=permissions.REVIEWER_HIDDEN_STATES),
                                 units("assessment__unit_id"), status=Rectification.Status.ANSWERED)
    .select_related("assessment__round", "assessment__unit").only(*RECTIFICATION_SHOWN)
    .order_by("due_date", "id")[:ROW_LIMIT]))


# The bureau's 公开 duties: approved reports waiting for their 公开审核, and warned clocks.
_DISCLOSURE_PENDING = permissions.ForReviewer(lambda units: (
    register.awaiting_review_in(Assessment.objects.filter(permissions.reviewer_assessment_condition(units)))
    .order_by("approved_at", "id").values_list(*LISTED, "approved_at")[:ROW_LIMIT]))
_WARNED_CLOCKS = permissions.ForReviewer(lambda units: register.listed_clocks(None, units()))


def sections(user) -> list[Section]:
    """The user's 待办, per duty (sections with nothing to do are left out)."""
    out = []
    today = timezone.localdate()
    unit_ids = permissions.officer_unit_ids(user)
    if unit_ids:
        tasks = season.annotate(list(
            season.pending_tasks_for_officer(unit_ids).filter(
                Q(assessment__isnull=True) | Q(assessment__state=Assessment.State.DRAFT)).only(*season.TASK_SHOWN)[:ROW_LIMIT]
        ), today)
        out.append(Section("tasks", "待填报的任务", [
            Item(f"{t.round.title} · {t.unit.short_name or t.unit.name} · {t.title}",
                 reverse("assessments:detail", args=[t.assessment_id]) if t.assessment_id else reverse("assessments:list") + "#tasks",
                 f"{t.status_label}，截止 {t.due_on:%Y-%m-%d}" + (f"，还剩 {t.days_left} 天" if t.days_left >= 0 else f"，已逾期 {-t.days_left} 天"),
                 urgent=t.days_left <= t.warn_days)
            for t in tasks
        ]))
        returned = list(
            permissions.officer_assessments(user).filter(state=Assessment.State.RETURNED)
            .select_related("round", "unit").only(*Assessment.TITLE_FIELDS).order_by("-updated_at")[:ROW_LIMIT]
        )
        out.append(Section("returned", "被退回待修改的自评", [
            Item(a.title, reverse("assessments:detail", args=[a.pk]), a.unit.short_name or a.unit.name, urgent=True)
            for a in returned
        ]))
        to_answer = list(
            # Conditions on the joined assessment, not a subquery of the officer's assessments.
            Rectification.objects.filter(status=Rectification.Status.OPEN, assessment__unit_id__in=unit_ids)
            .select_related("assessment__round", "assessment__unit").only(*RECTIFICATION_SHOWN)
            .order_by("due_date", "id")[:ROW_LIMIT]
        )
        out.append(Section("rectify", "待答复的整改事项", [_rectification_item(r, "assessments:rectifications", today)
                                                         for r in to_answer]))
    if permissions.is_supervisor(user):
        waiting = _listed(permissions.supervisor_assessments(user).filter(AWAITING_PRE_REVIEW, state__in=WAITING_STATES)
                          .order_by("submitted_at", "id"), "submitted_at")
        link = params.pk_link("assessments:supervise_detail")
        out.append(Section("pre_review", "待初审的提交（主管部门）", [
            Item(f"{a.unit_name} · {a.title}", link(a.pk), f"提交于 {timezone.localtime(a.at):%Y-%m-%d %H:%M}" if a.at else "")
            for a in waiting
        ]))
    if permissions.is_reviewer(user):
        waiting = _as_listed(_REVIEW_WAITING.all(user))
        link = params.pk_link("assessments:review")
        out.append(Section("review", "待复核的提交", [
            Item(f"{a.unit_name} · {a.title}", link(a.pk),
                 f"{a.state_label}，提交于 {timezone.localtime(a.at):%Y-%m-%d %H:%M}" if a.at else a.state_label)
            for a in waiting
        ]))
        late = _LATE_TASKS.all(user, today)
        out.append(Section("late", "逾期未提交的任务（可催办）", [
            Item(f"{t.unit.name} · {t.title}", reverse("assessments:season") + f"?round={t.round_id}&status=overdue",
                 f"{t.round.title}，截止 {t.due_on:%Y-%m-%d}，已逾期 {(today - t.due_on).days} 天", urgent=True)
            for t in late
        ]))
        answered = _ANSWERED.all(user)
        out.append(Section("rectify_review", "待审核的整改答复", [
            _rectification_item(r, "assessments:review_rectifications", today, answered=True) for r in answered
        ]))
    if permissions.reviews_all_units(user):
        out.extend(_disclosure_sections(user, today))
    held = roles.admin_roles(user)
    if roles.SYSTEM_ADMIN in held:
        failed = list(ExportJob.objects.filter(status=ExportJob.Status.FAILED).select_related("assessment__round", "assessment__unit")
                      .order_by("-finished_at", "-id")[:ROW_LIMIT])
        out.append(Section("exports", "生成失败的公开文件", [
            Item(f"{j.assessment.unit.name} · {j.assessment.title}", reverse("admin:index"),
                 (j.error or "")[:120], urgent=True)
            for j in failed
        ]))
    if roles.SECURITY_ADMIN in held:
        out.append(_locked_accounts())
    for section in out:
        section.count = len(section.items)
    return [s for s in out if s.count]


def _rectification_item(r: Rectification, url_name: str, today, *, answered: bool = False) -> Item:
    """A 整改事项 as a line of the 待办: the unit, the assessment, the problem and the due date
    (overdue ones marked, unless the unit has answered and the decision is the reviewer's)."""
    a = r.assessment
    days = (r.due_date - today).days
    note = f"{a.round.year}年度 · 涉及指标：{r.indicator_names} · 整改期限 {r.due_date:%Y-%m-%d}"
    if not answered:
        note += f"，还剩 {days} 天" if days >= 0 else f"，已逾期 {-days} 天"
    return Item(f"{a.unit.short_name or a.unit.name} · {a.title} · {r.problem[:30]}",
                reverse(url_name, args=[a.pk]) + f"#item-{r.pk}", note, urgent=not answered and days < 0)


def _disclosure_sections(user, today) -> list[Section]:
    """The bureau's 公开 duties (issue 16): approved reports waiting for their 公开审核, and units whose
    20-day window (from the 决算批复) has raised its warning while reports are still unpublished."""
    pending = _as_listed(_DISCLOSURE_PENDING.all(user))
    due = register.still_waiting(_WARNED_CLOCKS.all(user))[:ROW_LIMIT]
    link = params.pk_link("assessments:review")
    return [
        Section("disclosure_review", "待公开审核的报告", [
            Item(f"{a.unit_name} · {a.title}", link(a.pk) + "#disclosure-review", f"审核通过于 {timezone.localtime(a.at):%Y-%m-%d %H:%M}")
            for a in pending
        ]),
        Section("disclosure_due", "公开期限预警（决算批复后限期公开）", [
            Item(f"{w['clock'].unit.name} · {w['clock'].round.title}",
                 reverse("assessments:register") + f"?round={w['clock'].round.year}",
                 f"{w['waiting']} 份报告未公开，应于 {w['due']:%Y-%m-%d} 前公开，"
                 + (f"已逾期 {w['overdue']} 天" if w["overdue"] else f"还剩 {w['days_left']} 天"),
                 urgent=w["days_left"] <= 3)
            for w in due
        ]),
    ]


def _locked_accounts() -> Section:
    from axes.models import AccessAttempt

    from .security import policy

    now = timezone.now()
    effective = policy.current()
    locked = list(
        AccessAttempt.objects.filter(failures_since_start__gte=effective.login_failure_limit,
                                     attempt_time__gte=now - timedelta(minutes=effective.lockout_minutes))
        .order_by("-attempt_time")[:ROW_LIMIT]
    )
    return Section("locked", "被锁定的账号", [
        Item(f"{a.username}（{a.ip_address}）", reverse("admin:axes_accessattempt_changelist"),
             f"失败 {a.failures_since_start} 次，最近 {timezone.localtime(a.attempt_time):%Y-%m-%d %H:%M}", urgent=True)
        for a in locked
    ])


def total(user) -> int:
    return sum(s.count for s in sections(user))
