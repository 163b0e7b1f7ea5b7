"""The 公开 register of a round (issue 16): per report and per 主管部门, what was due, what was
published on time or late, what was withheld and why, and the 公开率; the 20-day clock from each
unit's 决算批复 and its one-time warning; the 公开审核 step a round can require.

Definitions (docs/adr/0018):
- 应公开: approved or published reports of the round that are 主动公开 and not 涉密.
- 已公开: of those, the ones published now; 按时 when published on or before the due date
  (决算批复 + the round's `disclosure_days`), 逾期 after it (or with no 决算批复 recorded: 已公开).
- 不公开: 涉密 reports and those the bureau marked 依申请公开 or 不予公开, with the public reason.
- 公开率 = 已公开 / 应公开 (two decimals, in %), None when nothing is due.
"""

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncDate
from django.urls import reverse
from django.utils import timezone

from . import audit, permissions, sqlwords
from .childrows import Paged
from .models import Assessment, DisclosureClock, ExportJob, Round, Transition
from .models.units import supervisor_label

S = Assessment.State


class Status:
    ON_TIME = "按时公开"
    LATE = "逾期公开"
    PUBLISHED = "已公开"  # no 决算批复 recorded: no due date to compare with
    OVERDUE = "逾期未公开"
    PENDING = "待公开"
    WITHHELD = "不公开"


@dataclass(slots=True)
class Row:
    pk: int  # the report (an Assessment)
    unit_name: str
    title: str
    supervisor: str
    approved_on: datetime.date | None
    due: datetime.date | None
    published_on: datetime.date | None
    status: str
    reason: str = ""
    days_left: int | None = None

    @property
    def url(self) -> str:
        """The public page of a published report (worked out when shown: a register lists thousands)."""
        return reverse("disclosure:detail", args=[self.pk]) if self.published_on else ""

    @property
    def due_counted(self) -> bool:
        return self.status != Status.WITHHELD


@dataclass
class Summary:
    supervisor: str
    due: int = 0
    published: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    withheld: int = 0

    @property
    def reports(self) -> int:
        return self.due + self.withheld

    @property
    def rate(self) -> Decimal | None:
        if not self.due:
            return None
        return (Decimal(self.published * 100) / self.due).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def due_date(clock: DisclosureClock | None, round_: Round) -> datetime.date | None:
    return clock.approved_on + datetime.timedelta(days=round_.disclosure_days) if clock else None


def classified(round_: Round, today: datetime.date | None = None, *, where: Q | None = None):
    """The reports of the register: approved or published in the round (`where`, a condition such
    as permissions.reviewed_unit_filter, narrows them), each annotated by the database with its
    决算批复 date (`approved_on`), due date (`due`, `due_date`'s rule), day of publication in the portal's time zone
    (`published_on`, published reports only), 主管部门 as shown (`supervisor_label`) and `status`:
    the rules of the module's note, written once, here. In the register's order."""
    return _classified(round_.pk, round_.disclosure_days, today or timezone.localdate(), where)


def _classified(round_id: int, disclosure_days: int, today: datetime.date, where: Q | None):
    qs = Assessment.objects.filter(sqlwords.one_of("state", [S.APPROVED, S.PUBLISHED]), round_id=round_id)
    if where is not None:
        qs = qs.filter(where)
    # The unit's clock of this round, joined (one per unit and round): not a subquery per report.
    qs = qs.annotate(
        clock=FilteredRelation("unit__disclosure_clocks", condition=Q(unit__disclosure_clocks__round_id=round_id)),
        approved_on=F("clock__approved_on"),
        published_on=Case(When(state=S.PUBLISHED, then=TruncDate("published_at", tzinfo=timezone.get_current_timezone())),
                          output_field=DateField()),
        supervisor_label=supervisor_label("unit__"),
    ).annotate(
        due=Cast(ExpressionWrapper(F("approved_on") + datetime.timedelta(days=disclosure_days),
                                   output_field=DateTimeField()), DateField()),
    )
    # Published (a day of publication) without that day worked out: converting each report's time to
    # the portal's time zone is most of what classifying thousands of reports costs (issue 17).
    published = Q(state=S.PUBLISHED, published_at__isnull=False)
    qs = qs.annotate(status=Case(
        When(confidential=True, then=Value(Status.WITHHELD)),
        When(~Q(disclosure=Assessment.Disclosure.ACTIVE), then=Value(Status.WITHHELD)),
        When(published & Q(approved_on__isnull=True), then=Value(Status.PUBLISHED)),
        When(published & Q(published_on__lte=F("due")), then=Value(Status.ON_TIME)),
        When(published, then=Value(Status.LATE)),
        When(due__lt=today, then=Value(Status.OVERDUE)),
        default=Value(Status.PENDING), output_field=CharField(),
    ))
    return qs.order_by("supervisor_label", "unit__name", "kind", "project_name", "pk")


# A row's columns, read as plain values (a province's round has thousands: no model instances, no
# texts). All of them are in the register's index (migration 0027: PostgreSQL reads the round's
# reports from it alone); the reason a report is withheld is read after, for the rows that show one.
_ROW_FIELDS = ("pk", "kind", "project_name", "confidential", "disclosure", "unit__name",
               "supervisor_label", "approved_on", "due", "published_on", "status")


def as_rows(found: list[tuple], round_: Round, today: datetime.date | None = None) -> list[Row]:
    """`classified` reports' `_ROW_FIELDS` (all, or a page of them) as the register's rows."""
    today = today or timezone.localdate()
    withheld = [r[0] for r in found if r[-1] == Status.WITHHELD and not r[3]]
    reasons = dict(Assessment.objects.filter(pk__in=withheld).values_list("pk", "disclosure_reason")) if withheld else {}
    out = []
    for (pk, kind, project_name, confidential, disclosure, unit_name, supervisor, approved_on, due,
         published_on, status) in found:
        reason = ""
        if status == Status.WITHHELD:
            reason = "涉密项目，不予公开" if confidential else f"{Assessment.Disclosure(disclosure).label}：{reasons.get(pk, '')}"
        out.append(Row(
            pk=pk, unit_name=unit_name, title=Assessment.title_of(round_.year, kind, project_name), supervisor=supervisor,
            approved_on=approved_on, due=due, published_on=published_on, status=status, reason=reason,
            days_left=(due - today).days if status == Status.PENDING and due is not None else None,
        ))
    return out


def rows(round_: Round, today: datetime.date | None = None, *, where: Q | None = None) -> list[Row]:
    """Every row of the register (the xlsx)."""
    return as_rows(list(classified(round_, today, where=where).values_list(*_ROW_FIELDS)), round_, today)


def _counted(reports):
    """(主管部门 as shown, status, number of reports) of `classified` reports, by the database, in
    the register's order. Ordered by the count too, which grouping by a sort cannot give: PostgreSQL
    then groups by hashing and sorts the few groups, not every report by its 主管部门 (a province's
    2,676 reports: 2.8 → 2.1 ms; issue 17)."""
    return (reports.order_by().values_list("supervisor_label", "status").annotate(n=Count("*"))
            .order_by("supervisor_label", "n"))


def summaries(round_: Round, today: datetime.date | None = None, *, where: Q | None = None) -> tuple[list[Summary], Summary]:
    """Per 主管部门 (in the register's order) and the total, counted by the database."""
    # Reports per 主管部门 and status (each report classified once), summed here.
    return _tally(_counted(classified(round_, today, where=where)))


def _tally(counted) -> tuple[list[Summary], Summary]:
    by, total = {}, Summary("合计")
    for supervisor, status, n in counted:
        for summary in (by.setdefault(supervisor, Summary(supervisor)), total):
            if status == Status.WITHHELD:
                summary.withheld += n
                continue
            summary.due += n
            summary.published += n if status in (Status.ON_TIME, Status.LATE, Status.PUBLISHED) else 0
            summary.on_time += n if status == Status.ON_TIME else 0
            summary.late += n if status == Status.LATE else 0
            summary.overdue += n if status == Status.OVERDUE else 0
    return list(by.values()), total


# The register's page for a reviewer: its counts and a page of its rows by statements compiled once
# per number of days a round gives (written into the statement), way the reviewer's units are
# limited and number of units (issue 17: 5 ms a page to compile).
_PAGE_STATEMENTS: dict[int, tuple[permissions.ForReviewer, permissions.ForReviewer]] = {}


def _statements(disclosure_days: int):
    if disclosure_days not in _PAGE_STATEMENTS:
        def reports(units, round_id, today):
            return _classified(round_id, disclosure_days, today, units())

        _PAGE_STATEMENTS[disclosure_days] = (
            permissions.ForReviewer(lambda *values: _counted(reports(*values)), int, datetime.date),
            permissions.ForReviewer(lambda *values: reports(*values).values_list(*_ROW_FIELDS), int, datetime.date),
        )
    return _PAGE_STATEMENTS[disclosure_days]


def summaries_for(user, round_: Round, today: datetime.date | None = None) -> tuple[list[Summary], Summary]:
    """`summaries` of the reports of the units `user` reviews."""
    counted, _ = _statements(round_.disclosure_days)
    return _tally(counted.all(user, round_.pk, today or timezone.localdate()))


def paged_for(user, round_: Round, count: int, today: datetime.date | None = None) -> Paged:
    """`rows` of the units `user` reviews as a Paginator's object list of `_ROW_FIELDS` (`as_rows`
    makes a page's rows of them), `count` of them (`summaries_for` counted them)."""
    _, listed = _statements(round_.disclosure_days)
    return Paged(listed.all, user, round_.pk, today or timezone.localdate(), count=count)


# --- 决算批复 dates ---------------------------------------------------------------------------------


def record_approval(user, unit, round_: Round, approved_on: datetime.date | None) -> None:
    """Record (or clear, with None) a unit's 决算批复 date in a round; a new date re-arms the warning."""
    with transaction.atomic():
        if approved_on is None:
            DisclosureClock.objects.filter(unit=unit, round=round_).delete()
        else:
            DisclosureClock.objects.update_or_create(
                unit=unit, round=round_, defaults={"approved_on": approved_on, "warned_at": None, "recorded_by": user},
            )
        audit.record("disclosure.clock", actor=user, unit=unit.pk, object_type="unit", object_id=unit.pk,
                     details={"round": round_.year, "approved_on": approved_on.isoformat() if approved_on else None})


# --- The warning ----------------------------------------------------------------------------------


def pending_clocks(today: datetime.date):
    """Clocks with a report still to publish whose window ends within DISCLOSURE_WARN_DAYS."""
    for clock in DisclosureClock.objects.filter(warned_at__isnull=True).select_related("unit", "round"):
        due = due_date(clock, clock.round)
        if (due - today).days > settings.DISCLOSURE_WARN_DAYS:
            continue
        waiting = Assessment.objects.filter(
            unit=clock.unit_id, round=clock.round_id, confidential=False, disclosure=Assessment.Disclosure.ACTIVE,
        ).exclude(state=S.PUBLISHED).filter(~Q(state=S.DRAFT))
        if waiting.exists():
            yield clock, due, list(waiting.order_by("pk"))


def warn_due(today: datetime.date | None = None) -> int:
    """Warn the bureau once per unit and round that its 公开 window is running out: the clock's
    `warned_at` is set by compare-and-set (a second run, or a second worker, sends nothing), then
    an e-mail goes to the bureau-wide reviewers. The 待办 is the register's and the dashboard's
    list of warned clocks. Returns the number of warnings sent."""
    today = today or timezone.localdate()
    sent = 0
    for clock, due, waiting in pending_clocks(today):
        if not DisclosureClock.objects.filter(pk=clock.pk, warned_at__isnull=True).update(warned_at=timezone.now()):
            continue
        left = (due - today).days
        when = f"还剩 {left} 天" if left >= 0 else f"已逾期 {-left} 天"
        titles = "、".join(a.title for a in waiting)
        recipients = bureau_emails()
        if recipients:
            send_mail(
                f"【绩效自评】{clock.unit.name}的自评报告公开期限{when}",
                f"{clock.unit.name}（{clock.round.title}）的决算批复日期为 {clock.approved_on:%Y年%m月%d日}，"
                f"按规定应于 {due:%Y年%m月%d日} 前公开自评结果，{when}。\n\n尚未公开：{titles}\n\n"
                f"公开登记簿：{settings.PORTAL_BASE_URL.rstrip('/')}{reverse('assessments:register')}?round={clock.round.year}\n\n"
                "—— 绩效自评门户（系统邮件，请勿回复）",
                None, recipients,
            )
        audit.record("disclosure.warned", system=True, unit=clock.unit_id, object_type="unit", object_id=clock.unit_id,
                     details={"round": clock.round.year, "due": due.isoformat(), "reports": [a.pk for a in waiting]})
        sent += 1
    return sent


def bureau_emails() -> list[str]:
    users = get_user_model().objects.filter(
        Q(user_permissions__codename="review_all") | Q(groups__permissions__codename="review_all"), is_active=True,
    ).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def warned_clocks(round_, units=None):
    """The clocks `warned` starts from: warned, of one round (an `OuterRef` too) or (None) of every
    open round, of `units` (units, or a condition on the clock's unit_id)."""
    qs = DisclosureClock.objects.filter(warned_at__isnull=False)
    qs = qs.filter(round=round_) if round_ is not None else qs.filter(round__is_open=True)
    if units is None:
        return qs
    return qs.filter(units if isinstance(units, Q) else Q(unit__in=units))


def listed_clocks(round_, units=None):
    """`warned_clocks` as the 待办 lists them: with their unit and round, the earliest 决算批复 first."""
    return warned_clocks(round_, units).select_related("unit", "round").order_by("approved_on", "unit__name")


_WARNED_IN_ROUND = permissions.ForReviewer(lambda units, round_id: listed_clocks(round_id, units()), int)


def warned_for(user, round_: Round) -> list[dict]:
    """`warned` of one round, of the units `user` reviews (a statement compiled once)."""
    return still_waiting(_WARNED_IN_ROUND.all(user, round_.pk))


def warned(round_: Round | None, units=None) -> list[dict]:
    """The 待办: warned clocks whose reports are still not all published, of one round or (None) of
    every open round (two queries)."""
    return still_waiting(list(listed_clocks(round_, units)))


def still_waiting(clocks: list[DisclosureClock]) -> list[dict]:
    """Of warned `clocks` (with their unit and round), those whose reports are still not all
    published, each with its due date and the days left or overdue (one query, none without clocks)."""
    today = timezone.localdate()
    if not clocks:
        return []
    waiting = {
        (unit, round_id): n
        for unit, round_id, n in Assessment.objects.filter(
            unit__in={c.unit_id for c in clocks}, round__in={c.round_id for c in clocks}, confidential=False,
            disclosure=Assessment.Disclosure.ACTIVE,
        ).exclude(state__in=[S.PUBLISHED, S.DRAFT]).values_list("unit", "round").annotate(n=Count("id"))
    }
    out = []
    for clock in clocks:
        if waiting.get((clock.unit_id, clock.round_id)):
            due = due_date(clock, clock.round)
            left = (due - today).days
            out.append({"clock": clock, "due": due, "days_left": left, "overdue": max(-left, 0),
                        "waiting": waiting[(clock.unit_id, clock.round_id)]})
    return out


# --- 公开审核 ---------------------------------------------------------------------------------------


def awaiting_review_in(assessments):
    """Of `assessments`, those approved in a round with 公开审核, to be published, and not sent to
    the export since their last approval (annotated with `approved_at`)."""
    # The code's words written into the statement (sqlwords): with them as parameters, PostgreSQL
    # planned the 待办's statement again on every request (issue 17).
    last_approval = Transition.objects.filter(sqlwords.equals("action", "approve"), assessment=OuterRef("pk")).order_by("-at", "-id")
    return (
        assessments.filter(sqlwords.equals("state", S.APPROVED), sqlwords.equals("disclosure", Assessment.Disclosure.ACTIVE),
                           round__disclosure_review=True, confidential=False)
        .annotate(approved_at=Subquery(last_approval.values("at")[:1]))
        .filter(approved_at__isnull=False)
        .exclude(Exists(ExportJob.objects.filter(assessment=OuterRef("pk"), created_at__gte=OuterRef("approved_at"))))
    )


def awaiting_review(assessment: Assessment) -> bool:
    """`assessment` waits for its 公开审核 (see `awaiting_review_in`)."""
    if not (assessment.state == S.APPROVED and assessment.round.disclosure_review and not assessment.confidential
            and assessment.disclosure == Assessment.Disclosure.ACTIVE):
        return False
    return awaiting_review_in(Assessment.objects.filter(pk=assessment.pk)).exists()
