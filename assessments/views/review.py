"""Reviewer pages: the dashboard of submissions, and the 复核 of one submission."""

import datetime
import hashlib
import time
from decimal import Decimal
from types import SimpleNamespace

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST, require_safe

from portal import jinja2

from .. import (
    audit,
    childrows,
    diff,
    disclosure_review,
    evidence,
    figures,
    flags,
    history,
    pagecache,
    params,
    permissions,
    publishing,
    readmodel,
    rectification,
    register,
    reviewing,
    scoring,
    sealed,
    season,
    statements,
    tasks,
    workflow,
)
from ..consistency import check as check_consistency
from ..exports import dashboard as dashboard_export
from ..forms import DisclosureForm, ReviewDecisionForm, ReviewRowFormSet
from ..models import Assessment, BulkExport, Evidence, ExportJob, Review, Round, Snapshot
from ..models.evidence import INLINE_TYPES
from ..rowforms import RowForms

PAGE_SIZE = 50
LATE_TASKS_SHOWN = 200
# What a row of the dashboard shows (dashboard_rows.html, `_show_submitted_versions`): the rest of
# an assessment's sixty columns is not read for its hundred rows.
LISTED_FIELDS = (*Assessment.TITLE_FIELDS, "state", "submitted_at", "self_total", "review_total", "risk_flags")
CHARTS_SECONDS = 60
SORTS = {
    "unit": "unit__name",
    "kind": "kind",
    "title": "project_name",
    "state": "state",
    "submitted": "submitted_at",
    "self": "self_total",
    "review": "review_total",
    "gap": "gap",
    "flags": "risk_flag_count",
}
SORT_COLUMNS = [
    ("unit", "单位"), ("kind", "类型"), ("title", "名称"), ("state", "状态"), ("submitted", "提交时间"),
    ("self", "自评总分"), ("review", "复核总分"), ("gap", "差值"), ("flags", "风险提示"),
]
VISIBLE_STATES = [s for s in Assessment.State if s != Assessment.State.DRAFT]
DASHBOARD_PARAMS = {
    "round": params.Int(),
    "state": params.Choice(Assessment.State.values),
    "unit": params.Int(),  # a link to one unit's rows (the form sends unit_name)
    "unit_name": params.Text(100),
    "kind": params.Choice(Assessment.Kind.values),
    "flag": params.Choice(flags.FLAGS),
    "q": params.Text(100),
    "sort": params.Sort(SORTS),
    "page": params.PAGE,
}


def _require_reviewer(user):
    if not permissions.is_reviewer(user):
        raise PermissionDenied


# The rounds, each with whether its side panels have anything (a statement compiled once per way
# the reviewer's units are limited: 1 ms a page, issue 17).
_ROUNDS_WITH_PANELS = permissions.ForReviewer(lambda units, today: Round.objects.order_by("-year").annotate(
    any_late_task=Exists(season.late_tasks(OuterRef("pk"), units(), today)),
    any_disclosure_todo=Exists(register.warned_clocks(OuterRef("pk"), units())),
    any_rectification=Exists(rectification.in_progress(units, OuterRef("pk"))),
), datetime.date)
# A round's count of the reviewer's assessments per state.
_STATE_COUNTS = permissions.ForReviewer(lambda units, round_id: Assessment.objects.filter(units(), round_id=round_id)
                                        .order_by().values_list("state").annotate(n=Count("*")), int)


@pagecache.page
def dashboard(request):
    _require_reviewer(request.user)
    units = permissions.reviewable_units(request.user)
    # Whether each side panel of a round has anything, asked with the rounds: most of the time
    # none has, and a query of its own for each cost more than the rest of the panels together.
    # The reviewer's units as a condition, not a join with them: each panel's flag and its rows.
    of_units = permissions.reviewed_unit_filter(request.user)
    rounds = _ROUNDS_WITH_PANELS.all(request.user, timezone.localdate())
    counted = {}

    def counts_of(round_):
        if round_.pk not in counted:
            counted[round_.pk] = dict(_STATE_COUNTS.all(request.user, round_.pk))
        return counted[round_.pk]

    current = _selected_round(request, rounds, request.user, counts=counts_of)
    context = {"rounds": rounds, "round": current, "flags": flags.FLAGS.values(), "states": VISIBLE_STATES}
    if current is None:
        return _dashboard_page(request, context)

    counts = counts_of(current)
    late = season.late_units(request.user, current)
    # Every 填报任务 past its deadline and not handed in (issue 14), whatever its kind.
    late_tasks = list(season.late_tasks(current, of_units)[:LATE_TASKS_SHOWN]) if current.any_late_task else []

    p = params.read(request.GET, DASHBOARD_PARAMS)
    sort = p.sort or "submitted"
    if all(p[name] is None for name in DASHBOARD_PARAMS if name not in ("round", "state", "sort", "page")):
        # Filtered by state alone (or not at all), the list holds what the cards count: not counted
        # again, and each page is read by a statement compiled once. Any other filter (a new one
        # too) is counted by the database and read by the ORM.
        count = sum(n for state, n in counts.items() if state in VISIBLE_STATES and p.state in (None, state))
        shape = ("state",) if p.state is not None else ()
        listed = childrows.Paged(_list_statement(shape, sort).all, request.user, current.pk,
                                 *(p[name] for name in shape), count=count)
    else:
        listed = _filtered_by(request, current, p, sort).only(*LISTED_FIELDS)
    page = Paginator(listed, PAGE_SIZE).get_page(p.page)
    # Export statuses of this page's rows only (a subquery would run for every row before the OFFSET).
    statuses = {}
    ids = [a.pk for a in page]
    for assessment_id, status in _EXPORT_STATUSES.all(ids):
        statuses[assessment_id] = status  # ascending ids: the latest job wins
    # 佐证材料 submitted with each row's latest version (one query for the page).
    evidence_counts = dict(_EVIDENCE_COUNTS.all(ids))
    for a in page:
        a.round = current
        a.flag_list = flags.decode(a.risk_flags)
        a.export_status = statuses.get(a.pk)
        a.evidence_count = evidence_counts.get(a.pk, 0)
    _show_submitted_versions(page)
    charts, charts_drawn = _round_charts(request, current)
    context.update(
        {
            # Each card leads to the list of its state, except drafts: counted, never shown to reviewers.
            "counts": [(s, counts.get(s.value, 0), s in VISIBLE_STATES) for s in Assessment.State],
            "total_count": sum(counts.values()),
            "late": late,
            "late_tasks": late_tasks,
            # 待办 (issue 16): units whose 公开 window is running out, once warned.
            "disclosure_todo": register.warned_for(request.user, current) if current.any_disclosure_todo else [],
            "page": page,
            "rows_html": _dashboard_rows(page),
            "page_range": params.page_range(page),
            "filters": p.as_form(),
            "sort": sort,
            # The 单位 filter is a text box that suggests names as one types (unit_suggest), not a
            # list of every unit: a bureau reviews thousands (issue 17, part 5).
            "unit_name": p.unit_name or (units.filter(pk=p.unit).values_list("name", flat=True).first() or ""
                                         if p.unit is not None else ""),
            "query": params.canonical({**p, "round": current.pk}, without=("page",)),
            "sort_query": params.canonical({**p, "round": current.pk}, without=("page", "sort")),
            "sort_columns": SORT_COLUMNS,
            "charts": charts,
            "charts_drawn": charts_drawn,
            "rectifications": (rectification.awaiting(request.user, current) if current.any_rectification
                               else rectification.NOTHING_AWAITING),
            "charts_seconds": CHARTS_SECONDS,
        }
    )
    return _dashboard_page(request, context)


def _dashboard_rows(page):
    """The list's rows (a Jinja2 template), kept in the cache under everything they show (ADR 0024):
    after a write that left this page's rows as they were (an officer's draft, another round), they
    are not rendered again. A function: the page calls it where the rows go."""
    parts = [(pagecache.row_values(a), pagecache.row_values(a.unit), a.round.year, a.export_status, a.evidence_count,
              a.gap, [f.code for f in a.flag_list]) for a in page]
    return lambda: mark_safe(pagecache.fragment("dashboard-rows", parts, lambda: render_to_string(
        "assessments/review/dashboard_rows.html", {"page": page, "review_link": params.pk_link("assessments:review")},
        using="jinja2")))


def _dashboard_page(request, context):
    """The dashboard: its page is a Jinja2 template inside base.html (ADR 0028), rendered when the
    Django template reaches it; the context stays the view's (tests and the benchmark read it)."""
    context["body_html"] = jinja2.part("assessments/review/dashboard_body.html", context, request=request)
    return render(request, "assessments/review/dashboard.html", context)


UNIT_SUGGESTIONS = 20
UNIT_SUGGEST_PARAMS = {"q": params.Text(100)}


@require_safe
def unit_suggest(request):
    """Names of the units the reviewer reviews that contain `q` (name or short name), for the
    dashboard's 单位 box: at most 20, alphabetical; JSON."""
    _require_reviewer(request.user)
    q = params.read(request.GET, UNIT_SUGGEST_PARAMS).q
    units = permissions.reviewable_units(request.user)
    if q is not None:
        units = units.filter(Q(name__icontains=q) | Q(short_name__icontains=q))
    names = list(units.order_by("name").values_list("name", "short_name")[:UNIT_SUGGESTIONS])
    return JsonResponse({"units": [{"name": name, "short_name": short} for name, short in names]})


EXPORT_LIMIT = 20000


@require_safe
def dashboard_xlsx(request):
    """The dashboard's list as .xlsx: every row the filters select (not one page), same columns."""
    _require_reviewer(request.user)
    rounds = statements.rounds()
    current = _selected_round(request, rounds, request.user)
    if current is None:
        raise Http404
    qs, _p, _sort = _filtered(request, current)
    rows = []
    for start in range(0, EXPORT_LIMIT, 1000):
        chunk = list(qs[start:start + 1000])
        for a in chunk:
            a.flag_list = flags.decode(a.risk_flags)
        _show_submitted_versions(chunk)
        rows += [dashboard_export.values(a) for a in chunk]
        if len(chunk) < 1000:
            break
    body = dashboard_export.to_bytes(SORT_COLUMNS, rows, current.title)
    response = HttpResponse(body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="review-{current.year}-{stamp}.xlsx"'
    return response


def _filtered(request, current):
    """The reviewer's submissions of `current` as the dashboard's filters and sort select them
    (the page and its xlsx export): (queryset, parameters, sort)."""
    p = params.read(request.GET, DASHBOARD_PARAMS)
    sort = p.sort or "submitted"
    return _filtered_by(request, current, p, sort), p, sort


def _filtered_by(request, current, p, sort: str):
    qs = permissions.reviewer_assessments(request.user).filter(round=current).select_related("unit", "round")
    return _narrowed(qs, p, sort)


# What the dashboard shows beside a page of rows, each read by a statement compiled once per number of rows.
_EXPORT_STATUSES = childrows.Statement(lambda ids: ExportJob.objects.filter(assessment_id__in=ids).order_by("id")
                                       .values_list("assessment_id", "status"), childrows.Ids)
_EVIDENCE_COUNTS = childrows.Statement(lambda ids: (
    Evidence.objects.filter(assessment_id__in=ids, submitted=True, removed_at__isnull=True)
    .order_by().values_list("assessment_id").annotate(n=Count("id"))), childrows.Ids)  # no join for Evidence's ordering
_SUBMITTED_VERSIONS = childrows.Statement(lambda ids: (
    Snapshot.objects.filter(assessment_id__in=ids).order_by("assessment_id", "number")
    .values_list("assessment_id", "data__header__project_name", "data__risk_flags", "data__total_score")), childrows.Ids)

# The dashboard's list filtered by state alone (or not at all), in each sort: a statement compiled
# once per filter, sort and way the reviewer's units are limited (1.2 ms a page, issue 17).
_LIST_STATEMENTS: dict = {}


def _list_statement(shape: tuple[str, ...], sort: str) -> permissions.ForReviewer:
    key = (shape, sort)
    if key not in _LIST_STATEMENTS:
        def make(units, round_id, *values):
            given = {name: None for name in DASHBOARD_PARAMS} | dict(zip(shape, values, strict=True))
            qs = Assessment.objects.filter(permissions.reviewer_assessment_condition(units), round_id=round_id)
            # Not the round: the view gives each row the one it lists (50 instances of it a page).
            return _narrowed(qs.select_related("unit"), SimpleNamespace(**given), sort).only(
                *(name for name in LISTED_FIELDS if not name.startswith("round__")))

        _LIST_STATEMENTS[key] = permissions.ForReviewer(make, int, *(str for _ in shape))
    return _LIST_STATEMENTS[key]


def _narrowed(qs, p, sort: str):
    """`qs` narrowed by the dashboard's filters in `p` and in the order of `sort`."""
    if p.state is not None:
        qs = qs.filter(state=p.state)
    if p.unit is not None:
        qs = qs.filter(unit_id=p.unit)
    elif p.unit_name is not None:
        qs = qs.filter(Q(unit__name__icontains=p.unit_name) | Q(unit__short_name__icontains=p.unit_name))
    if p.kind is not None:
        qs = qs.filter(kind=p.kind)
    if p.flag is not None:
        qs = qs.filter(risk_flags__contains=f",{p.flag},")
    if p.q is not None:
        qs = qs.filter(_search(p.q))
    desc = sort.startswith("-")
    key = SORTS[sort.lstrip("-")]
    # The long 职能 text is not shown here: sorting wide rows of a deep page spills to disk.
    qs = qs.annotate(gap=F("review_total") - F("self_total")).defer("duties")
    order = F(key).desc(nulls_last=True) if desc else F(key).asc(nulls_last=True)
    return qs.order_by(order, "id")


def _search(q: str) -> Q:
    """Reviewers search what they review: the unit, and the name as last submitted. A returned
    assessment's live name is the officer's unsubmitted draft, so for those the name is read
    from the latest snapshot instead."""
    latest = Snapshot.objects.filter(assessment=OuterRef("assessment")).order_by("-number").values("number")[:1]
    returned_matches = (
        Snapshot.objects.filter(assessment__state=Assessment.State.RETURNED, number=Subquery(latest))
        .annotate(submitted_name=KT("data__header__project_name"))
        .filter(submitted_name__icontains=q)
        .values("assessment_id")
    )
    return (
        Q(unit__name__icontains=q)
        | Q(unit__short_name__icontains=q)
        | (~Q(state=Assessment.State.RETURNED) & Q(project_name__icontains=q))
        | Q(pk__in=returned_matches)
    )


# The round's charts with their drawings as this process last read or drew them (read-only; at
# most `_CHARTS_HERE_MAX` kinds of reviewer and round at once).
_CHARTS_HERE: dict[str, tuple] = {}
_CHARTS_HERE_MAX = 256


def _keep_charts_here(key: str, entry: tuple) -> None:
    if len(_CHARTS_HERE) >= _CHARTS_HERE_MAX:
        _CHARTS_HERE.clear()
    _CHARTS_HERE[key] = entry


def _round_charts(request, current):
    """Charts of the whole round (not the filters): three aggregate queries over every
    submission, so they are shared for a minute by reviewers who see the same units, with their
    drawings (includes/chart_bars.html): one cache read for both. A page kept whole (ADR 0025) is
    kept no longer than the charts it shows. Returns the charts and a function giving their
    drawings, drawn when the page reaches them the first time."""
    user = request.user
    if permissions.reviews_all_units(user):
        scope = "all"
    else:
        scope = ",".join(str(pk) for pk in sorted(permissions.reviewer_unit_ids(user)))
    scope += "-" + ",".join(str(pk) for pk in sorted(permissions.officer_unit_ids(user)))  # never their own
    # The code and templates that draw them in the key too (pagecache.release): a deployment draws again.
    key = f"dashboard-charts:3:{current.pk}:{hashlib.sha256((scope + pagecache.release()).encode()).hexdigest()[:32]}"
    # This process's copy first, as objects (unpickling the charts cost as much as drawing the
    # page's list); it is used no longer than the shared entry: the minute is in the entry.
    now = time.time()
    found = _CHARTS_HERE.get(key)
    if not (found is not None and found[2] is not None and now - found[0] < CHARTS_SECONDS):
        found = cache.get(key)
    if isinstance(found, tuple) and len(found) == 3 and now - found[0] < CHARTS_SECONDS:
        computed_at, charts, drawings = found
    else:
        computed_at, drawings = now, None
        charts = figures.dashboard(permissions.reviewer_assessments(user).filter(round=current), current.rules)
        cache.set(key, (computed_at, charts, None), CHARTS_SECONDS)
    left = CHARTS_SECONDS - (now - computed_at)
    pagecache.keep_at_most(request, left)
    if drawings is not None:
        _keep_charts_here(key, (computed_at, charts, drawings))

    def drawn():
        nonlocal drawings
        if drawings is None:
            drawings = [render_to_string("includes/chart_bars.html", {"chart": chart}, using="jinja2") for chart in charts]
            cache.set(key, (computed_at, charts, drawings), max(1, int(left)))
            _keep_charts_here(key, (computed_at, charts, drawings))
        return [mark_safe(html) for html in drawings]

    return charts, drawn


def _show_submitted_versions(rows) -> None:
    """A returned assessment is being revised: its live name and score are a draft the reviewer
    must not see. Show what was last submitted instead (one query for the page)."""
    returned = {a.pk: a for a in rows if a.state == Assessment.State.RETURNED}
    if not returned:
        return
    # The keys shown, not whole snapshots; the latest snapshot of each wins (ascending numbers).
    latest = {}
    for pk, name, risk_flags, total in _SUBMITTED_VERSIONS.all(list(returned)):
        latest[pk] = (name, risk_flags, total)
    for pk, (name, risk_flags, total) in latest.items():
        a = returned[pk]
        a.project_name = a.project_name if name is None else name
        if risk_flags is not None:  # snapshots from before the flags were kept in them have none
            a.flag_list = [flags.FLAGS[c] for c in risk_flags if c in flags.FLAGS]
        a.self_total = Decimal(total) if total else None
        a.gap = a.review_total - a.self_total if a.review_total is not None and a.self_total is not None else None


def _selected_round(request, rounds, user, *, counts=None):
    """The round asked for; else the latest round with submissions to review; else the latest.
    `counts(round)` gives a round's state counts (the dashboard shows the chosen round's): the
    newest round is judged by them, without a query of its own."""
    wanted = params.read(request.GET, {"round": params.Int()}).round
    if wanted is None:
        # Newest first, usually one query (the rounds are few; a join sorting every row by its
        # round's year was most of the dashboard's time).
        mine = Assessment.objects.filter(permissions.reviewed_unit_filter(user)).exclude(state=Assessment.State.DRAFT)

        def submitted(r):
            if counts is not None and r is rounds[0]:
                return any(state != Assessment.State.DRAFT for state in counts(r))
            return mine.filter(round=r).exists()

        wanted = next((r.pk for r in rounds if submitted(r)), None)
    for r in rounds:
        if r.pk == wanted:
            return r
    return rounds[0] if rounds else None


@pagecache.page(every_time=reviewing.audit_open_served())
def review_detail(request, pk):
    _require_reviewer(request.user)
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    if request.method == "POST":
        return _post(request, assessment)
    reviewing.audit_open(assessment)
    return _render(request, assessment)


# What the 复核 page reads of one assessment, by statements compiled once (issue 17).
_LAST_TWO_SNAPSHOTS = childrows.Statement(lambda pk: Snapshot.objects.filter(assessment_id=pk).order_by("-number")[:2], int)
_EXPORT_JOB = childrows.Statement(lambda pk: ExportJob.objects.filter(assessment_id=pk)[:1], int)
# An export is queued only for an approved report (its approval, its 公开审核, a reviewer's re-run):
# a submission that was never approved has none, and its page does not ask (issue 17).
_EXPORTED_AFTER = {"approve", "publish", "unpublish", "correct"}


def _export_job(assessment, transitions):
    if assessment.state not in (Assessment.State.APPROVED, Assessment.State.PUBLISHED) and not any(
            t.action in _EXPORTED_AFTER for t in transitions):
        return None
    return next(iter(_EXPORT_JOB.all(assessment.pk)), None)


def _context(request, assessment, *, formset=None, decision=None, review_view=None, errors=None):
    snapshots = _LAST_TWO_SNAPSHOTS.all(assessment.pk)
    # What the version shown is built from, for the cached paper form and checks (ADR 0024): the
    # submitted snapshot (and the assessment's fields it is read with), else the stored rows.
    if snapshots:
        view = readmodel.from_snapshot(assessment, snapshots[0].data)
        stored = pagecache.digest(pagecache.instance_values(assessment), pagecache.row_values(snapshots[0]))
    else:
        live = readmodel.load_content(assessment.pk)
        view = readmodel.build(live)
        stored = pagecache.digest(pagecache.instance_values(live))  # digested once, used twice
    reviews = reviewing.of(assessment)
    review = reviews.pending
    shown = review or reviews.latest_bureau
    open_review, starting = _open_review(request.user, assessment, review)
    if review_view is None:
        # A submission not yet reviewed starts from empty 复核 rows (not the previous round's).
        review_view = reviewing.build(view, None if starting else shown)
    editable = open_review is not None or starting
    if formset is None and editable:
        formset = ReviewRowFormSet(
            prefix="review",
            initial=[
                {
                    "key": line.key,
                    "actual": line.row.actual if line.row else "",
                    "outcome": line.row.outcome if line.row else "",
                    "score": line.row.score if line.row else None,
                    "note": line.row.note if line.row else "",
                }
                for line in review_view.lines
            ],
        )
    pre_review = reviews.latest_pre_review(snapshots[0].number) if snapshots and assessment.unit.supervisor_unit_id else None
    changes = diff.compare(snapshots[1].data, snapshots[0].data, assessment.table) if len(snapshots) == 2 else None
    # 佐证材料 of the version shown (issue 13): beside each row, with what changed since the last one.
    entries = _evidence_entries(assessment, snapshots[0].data if snapshots else {})
    by_row = {}
    for e in entries:
        by_row.setdefault(e["indicator_key"], []).append(e)
    for line in view.indicators:
        line.evidence_items = by_row.get(line.key, [])
    evidence_changes = diff.compare_evidence(snapshots[1].data, snapshots[0].data, view) if len(snapshots) == 2 else []
    year_items = history.history(view)  # flags.compute below marks each item's own flags
    transitions = statements.transitions(assessment)
    rows = _pair_rows(review_view, formset)
    pre_rows = {str(r.indicator_key): r for r in pre_review.rows.all()} if pre_review else {}
    adjustments = season.adjustments_by_key(assessment) if any(line.approved_target for line in view.indicators) else {}
    return {
        "a": view.assessment,  # the submitted version: a returned assessment's live fields are a draft
        "view": view,
        "consistency": pagecache.value("consistency", stored, lambda: check_consistency(view)),
        "paper_html": pagecache.paper_form(view, stored, show_explanations=True),
        "review": review,
        "review_view": review_view,
        "rows": rows,
        # Rendered when the template reaches them (a Jinja2 template, ADR 0023).
        "rows_html": _review_rows(stored, review_view, formset, rows, {
            "rows": rows, "a": view.assessment, "pre_review": pre_review, "pre_rows": pre_rows, "adjustments": adjustments}),
        "formset": formset,
        "decision": decision or ReviewDecisionForm(),
        "editable": editable,
        "starting": starting,
        "changes": changes,
        # Snapshots are numbered 1, 2, … as they are taken (workflow) and never deleted: the count.
        "submission_count": snapshots[0].number if snapshots else 0,
        "past_reviews": [_past_review(r) for r in reviews.decided],
        "transitions": transitions,
        "errors": errors or [],
        # Flags of the version shown (for a returned assessment: the submitted one, not the draft).
        "flag_list": [flags.FLAGS[c] for c in flags.compute(
            view, year_items, evidence=evidence.summary(entries) if snapshots and "evidence" in snapshots[0].data else None)],
        "evidence_entries": entries,
        "evidence_groups": evidence.grouped(view.indicators, entries),
        "evidence_changes": evidence_changes,
        "can_mark_public": permissions.can_review(request.user, assessment) and not assessment.confidential,
        "score_differences": flags.score_differences(view),
        "year_history": history.with_history(year_items),
        "export_job": _export_job(assessment, transitions),
        "can_rerun_export": _can_rerun_export(request.user, assessment),
        "can_unpublish": workflow.allowed(request.user, assessment, "unpublish"),
        # 目标调整 of approved targets (issue 14): the reason beside the approved value.
        # The 主管部门's 初审 of the submission shown (issue 14): its scores beside the bureau's.
        "pre_review": pre_review,
        "pre_rows": pre_rows,
        "can_correct": workflow.allowed(request.user, assessment, "correct"),
        "disclosure_review": register.awaiting_review(assessment),
        "may_review_disclosure": disclosure_review.may_review_disclosure(request.user, assessment),
        "disclosure_form": DisclosureForm(instance=assessment) if assessment.state in publishing.DISCLOSURE_EDITABLE else None,
        **_sealed_context(request, assessment),
    }


def _review_rows(stored: str, review_view, formset, rows, context: dict):
    """The 复核 table's rows, kept under what they show (ADR 0024) as the page opens them: the version
    shown (`stored`), each row's 复核 and its result, the 初审's rows, the approved targets and their
    adjustments, whether they are forms. A write that left them as they were (most are elsewhere)
    does not render them again. Rows of a form sent back with its errors are always rendered."""
    render = jinja2.part("assessments/review/review_rows.html", context)
    if formset is not None and formset.is_bound:
        return render
    shown = (
        stored, formset is not None, context["a"].pk, bool(context["pre_review"]),
        [(r.key, pagecache.row_values(r.row) if r.row else None, r.result.score, r.result.explanation,
          r.line.approved_target, r.line.target_adjusted) for r in review_view.lines],
        sorted((key, pagecache.row_values(row)) for key, row in context["pre_rows"].items()),
        sorted((key, adj.reason) for key, adj in context["adjustments"].items()),
        [[(e["id"], e["title"], e["inline"]) for e in r.line.evidence_items] for r, _ in rows],
    )
    return lambda: mark_safe(pagecache.fragment("review-rows", shown, render))


def _sealed_context(request, assessment) -> dict:
    """The 盖章版 block: only after approval (no query before)."""
    if not sealed.may_upload(assessment):
        return {"sealed_shown": False}
    copies = sealed.history(assessment)
    current = next((c for c in copies if c.replaced_at is None), None)
    return {
        "sealed_shown": True,
        "sealed_copy": current,
        "sealed_status": sealed.status_label(current),
        "sealed_history": [c for c in copies if c is not current],
        "sealed_public": sealed.is_public(current, assessment),
        "sealed_rule": sealed.rule(),
        "can_decide_sealed": current is not None and current.confirmed_at is None and not current.rejected_comment
        and permissions.can_review(request.user, assessment),
    }


def _evidence_entries(assessment, data: dict) -> list[dict]:
    """The snapshot's evidence entries, each with its stored row's public mark and labels."""
    entries = [dict(e) for e in evidence.of_snapshot(data)]
    public = set(Evidence.objects.filter(assessment=assessment, pk__in=[e["id"] for e in entries], public=True)
                 .values_list("pk", flat=True)) if entries else set()
    labels = dict(Evidence.Kind.choices)
    for e in entries:
        e["public"] = e["id"] in public
        e["kind_label"] = labels.get(e["kind"], e["kind"])
        e["inline"] = e["content_type"] in INLINE_TYPES
    return entries


def _can_rerun_export(user, assessment) -> bool:
    """A failed export (or an approved, unpublished report) can be exported again by its reviewer."""
    if assessment.state != Assessment.State.APPROVED or assessment.confidential:
        return False
    if not permissions.can_review(user, assessment):
        return False
    return not ExportJob.objects.filter(
        assessment=assessment, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]
    ).exists()


def _pair_rows(review_view, formset):
    """Each indicator with its form, matched by key. The page as opened (an unbound formset) has
    light rows (`rowforms`: one form built, the other rows written through its fields)."""
    if formset is None:
        return [(line, None) for line in review_view.lines]
    if formset.is_bound:
        forms = formset.forms
    else:
        rows = RowForms(formset)
        forms = [rows.form(i, light_first=True) for i in range(formset.total_form_count())]
    by_key = {}
    for form in forms:
        key = form.cleaned_data.get("key") if hasattr(form, "cleaned_data") else form.initial.get("key")
        by_key.setdefault(key, form)
    return [(line, by_key.get(line.key)) for line in review_view.lines]


def _past_review(review):
    names = {i["key"]: i for i in review.snapshot.data.get("indicators", [])}
    rows = [
        {"name": names.get(str(r.indicator_key), {}).get("name", "（已删除的指标）"),
         "self": names.get(str(r.indicator_key), {}).get("score"), "row": r}
        for r in review.rows.all()
        if r.score is not None or r.note or r.actual
    ]
    return {"review": review, "rows": rows}


def _render(request, assessment, status=200, **kwargs):
    return render(request, "assessments/review/detail.html", _context(request, assessment, **kwargs), status=status)


def _post(request, assessment):
    action = request.POST.get("action", "")
    if action == "start_review":
        try:
            workflow.perform(request.user, assessment, "start_review")
        except workflow.TransitionRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "已开始审核，填报单位在审核期间不能撤回。")
        return redirect("assessments:review", pk=assessment.pk)

    if action == "rerun_export":
        if not _can_rerun_export(request.user, assessment):
            messages.error(request, "当前不能重新导出。")
        else:
            with transaction.atomic():
                tasks.queue_export(assessment, request.user)
            messages.success(request, "已重新排队导出，完成后自动公开。")
        return redirect("assessments:review", pk=assessment.pk)
    if action == "unpublish":
        try:
            workflow.perform(request.user, assessment, "unpublish", params.read(request.POST, {"reason": params.Text(20000)}).reason or "")
        except workflow.TransitionRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "已撤销公开，公开页面和下载链接将答复“已撤销公开”。")
        return redirect("assessments:review", pk=assessment.pk)

    if action == "correct":
        try:
            workflow.perform(request.user, assessment, "correct", params.read(request.POST, {"reason": params.Text(20000)}).reason or "")
        except workflow.TransitionRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "已发起更正，报告已退回填报单位修改；公开页面在新版本公开前继续显示现行版本。")
        return redirect("assessments:review", pk=assessment.pk)
    if action in ("disclosure_publish", "disclosure_withhold"):
        try:
            if action == "disclosure_publish":
                disclosure_review.review_publish(request.user, assessment)
            else:
                p = params.read(request.POST, {"reason": params.Text(500), "disclosure": params.Choice(["withheld", "on_request"])})
                disclosure_review.review_withhold(request.user, assessment, p.reason or "", p.disclosure or "withheld")
        except (disclosure_review.ReviewRefused, publishing.DisclosureRefused) as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "公开审核已通过，正在生成公开文件，完成后自动公开。" if action == "disclosure_publish"
                             else "公开审核：该报告不主动公开，理由已列入公开登记簿。")
        return redirect("assessments:review", pk=assessment.pk)
    if action == "disclosure":
        form = DisclosureForm(request.POST, instance=Assessment(pk=assessment.pk))
        if not form.is_valid():
            messages.error(request, "公开信息未保存：" + "；".join(e for errors in form.errors.values() for e in errors))
            return redirect("assessments:review", pk=assessment.pk)
        try:
            publishing.set_disclosure(request.user, assessment, **{k: form.cleaned_data[k] for k in form.Meta.fields})
        except publishing.DisclosureRefused as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "公开信息已保存。")
        return redirect("assessments:review", pk=assessment.pk)

    if action not in ("save", "return", "approve"):
        messages.error(request, "未知的操作。")
        return redirect("assessments:review", pk=assessment.pk)
    review, starting = _open_review(request.user, assessment, reviewing.pending(assessment))
    if review is None and not starting:
        messages.error(request, f"该自评当前状态为“{assessment.get_state_display()}”，不能保存复核。")
        return redirect("assessments:review", pk=assessment.pk)

    checked = _check(request.POST, assessment, review)
    if checked is None:
        messages.error(request, "页面内容已过期（指标行与当前提交不一致），未保存。请在刷新后的页面重新填写。")
        return redirect("assessments:review", pk=assessment.pk)
    formset, decision, review_view, inputs = checked
    comment = decision.cleaned_data.get("comment", "").strip() if decision.is_valid() else ""
    if action == "return" and decision.is_valid() and not comment:
        decision.add_error("comment", "退回修改须填写审核意见。")
    errors = []
    for n, form in enumerate(formset.forms, start=1):
        for name, field_errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else ""
            errors += [e if e.startswith("第") else f"第{n}行「{label}」：{e}" for e in field_errors]
    errors += [f"审核意见：{e}" for e in decision.errors.get("comment", [])]
    if errors:
        return _render(request, assessment, status=400, formset=formset, decision=decision, review_view=review_view,
                       errors=errors)

    try:
        with transaction.atomic():
            if starting:
                # The first 复核 save starts the review (issue 17): from here the officer can no
                # longer withdraw. The state changes in workflow, in this transaction.
                workflow.perform(request.user, assessment, "start_review")
                review = reviewing.pending(assessment)
            reviewing.save(review, inputs, review_view.totals)
    except (workflow.TransitionRefused, reviewing.ReviewClosed) as exc:  # someone was quicker
        messages.error(request, str(exc))
        return redirect("assessments:review", pk=assessment.pk)
    if action == "save":
        messages.success(request, STARTED_MESSAGE if starting else "复核已保存（草稿），可稍后继续。")
        return redirect("assessments:review", pk=assessment.pk)
    try:
        workflow.perform(request.user, assessment, action, comment)
    except workflow.TransitionRefused as exc:
        messages.error(request, str(exc))
        return redirect("assessments:review", pk=assessment.pk)
    done = {"return": "已退回修改，填报单位将收到审核意见。", "approve": "已审核通过。"}
    messages.success(request, done[action])
    return redirect("assessments:review", pk=assessment.pk)


STARTED_MESSAGE = "复核已保存（草稿），审核已开始：填报单位不能再撤回。"


def _open_review(user, assessment, review: Review | None) -> tuple[Review | None, bool]:
    """(the pending review the user may fill in, whether a first save would start one), from the
    assessment's pending review (`reviewing.pending`)."""
    if review is not None:
        return (review if workflow.allowed(user, assessment, "approve") else None), False
    return None, workflow.allowed(user, assessment, "start_review")


def _check(data, assessment, review):
    """The posted 复核 checked with the scoring code (as saved): (formset, decision, review
    view, inputs by key), the scoring's problems added to the rows' fields; None when the
    posted rows are not the submission's (the page is out of date)."""
    formset = ReviewRowFormSet(data, prefix="review")
    decision = ReviewDecisionForm(data)
    snapshot = Snapshot.objects.filter(assessment=assessment).latest("number")
    view = readmodel.from_snapshot(assessment, snapshot.data)
    formset.is_valid()
    known = {line.key for line in view.indicators}
    posted = [f.cleaned_data.get("key") for f in formset.forms if getattr(f, "cleaned_data", None)]
    if sorted(posted) != sorted(known):
        return None
    inputs = {
        f.cleaned_data["key"]: f.to_input()
        for f in formset.forms
        if getattr(f, "cleaned_data", None) and f.cleaned_data.get("key") in known
    }
    review_view = reviewing.build(view, review, inputs)
    forms_by_key = {f.cleaned_data.get("key"): f for f in formset.forms if getattr(f, "cleaned_data", None)}
    field_of = {"review_score": "score", "review_note": "note", "review_actual": "actual"}
    for line in review_view.lines:
        form = forms_by_key.get(line.key)
        for problem in line.result.problems:
            if form is not None:
                form.add_error(field_of.get(problem.field), problem.message)
    return formset, decision, review_view, inputs


@require_POST
def review_preview(request, pk):
    """复核 scores of what is typed, without saving (the live 复核计分 column and totals): the
    same checks and scoring as a save, so a problem shows while typing, not only on submit."""
    _require_reviewer(request.user)
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    review, starting = _open_review(request.user, assessment, reviewing.pending(assessment))
    if review is None and not starting:
        return JsonResponse({"error": f"该自评当前状态为“{assessment.get_state_display()}”，不能复核。"}, status=409)
    checked = _check(request.POST, assessment, review)
    if checked is None:
        return JsonResponse({"error": "页面内容已过期（指标行与当前提交不一致），请刷新页面。"}, status=409)
    formset, _decision, review_view, _inputs = checked
    forms_by_key = {f.cleaned_data.get("key"): f for f in formset.forms if getattr(f, "cleaned_data", None)}
    totals = review_view.totals
    return JsonResponse(
        {
            "rows": [
                {
                    "key": line.key,
                    "score": scoring.fmt(line.result.score) if line.result.score is not None else "",
                    "explanation": line.result.explanation,
                    "errors": {name: [str(e) for e in errs] for name, errs in forms_by_key[line.key].errors.items()},
                }
                for line in review_view.lines
            ],
            "total": scoring.fmt(totals.total) if totals.total is not None else "",
            "grade": totals.grade or "",
            "gap": scoring.fmt(totals.gap) if totals.gap is not None else "",
            "problem_count": len(totals.problems),
        }
    )


@pagecache.page
def bulk_exports(request):
    """ZIP downloads of all published reports of a round: request one, watch its progress."""
    _require_reviewer(request.user)
    if request.method == "POST":
        round_id = params.read(request.POST, {"round": params.Int()}).round
        rnd = Round.objects.filter(pk=round_id).first() if round_id is not None else None
        if rnd is None:
            messages.error(request, "请选择评价批次。")
        else:
            with transaction.atomic():
                with_evidence = request.POST.get("with_evidence") == "on"
                job = tasks.queue_bulk(rnd, request.user, with_evidence=with_evidence)
                audit.record("bulk.request", obj=job, details={"round": rnd.pk, "year": rnd.year,
                                                               **({"evidence": True} if with_evidence else {})})
            messages.success(request, f"已开始打包“{rnd.title}”的全部公开报告。")
        return redirect("assessments:bulk")
    jobs = list(BulkExport.objects.filter(requested_by=request.user).select_related("round")[:20])
    running = any(j.status in (BulkExport.Status.QUEUED, BulkExport.Status.RUNNING) for j in jobs)
    return render(
        request,
        "assessments/review/bulk.html",
        {"jobs": jobs, "rounds": statements.rounds(), "running": running},
    )


def bulk_download(request, pk):
    _require_reviewer(request.user)
    job = BulkExport.objects.filter(pk=pk, requested_by=request.user, status=BulkExport.Status.DONE).first()
    if job is None or not job.file:
        raise Http404
    audit.record("bulk.download", obj=job, details={"round": job.round_id, "year": job.round.year})
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=f"{job.round.year}年度公开报告.zip")
