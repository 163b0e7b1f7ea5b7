"""The 公开 register of a round (page and xlsx), the 决算批复 dates, and the 公开审核 preview (issue 16)."""

import datetime
import io

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import F, FilteredRelation, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from portal import jinja2

from .. import childrows, pagecache, params, permissions, register, statements
from ..exports.public import build_public
from ..models import Round, Unit
from ..models.units import supervisor_label
from ..readmodel import load_content

REGISTER_PARAMS = {"round": params.Int(1, 9999)}
PAGE_PARAMS = {**REGISTER_PARAMS, "page": params.PAGE, "units_page": params.PAGE}
# A province's round has thousands of reports and units: both lists are paged (the xlsx has all).
PER_PAGE = 100


def _require_reviewer(user):
    if not permissions.is_reviewer(user):
        raise PermissionDenied


def _round(request, rounds=None) -> Round | None:
    p = params.read(request.GET, REGISTER_PARAMS)
    rounds = statements.rounds() if rounds is None else rounds
    if p.round is not None:
        return next((r for r in rounds if r.year == p.round), None)
    return next(iter(rounds), None)


# The units whose 决算批复 dates the bureau records, a page at a time, each with its date of the round
# joined (one per unit and round): statements compiled once (issue 17).
_UNITS = permissions.ForReviewer(lambda units, round_id: (
    Unit.objects.filter(units("pk"))
    .annotate(clock=FilteredRelation("disclosure_clocks", condition=Q(disclosure_clocks__round_id=round_id)),
              approved_on=F("clock__approved_on"))
    .order_by(supervisor_label(), "name")), int)
_UNITS_COUNTED = permissions.ForReviewer(lambda units: childrows.counting(Unit.objects.filter(units("pk"))))


@pagecache.page
def register_page(request):
    """Per 主管部门 and per report: due, on time, late, withheld with the reason, 公开率."""
    _require_reviewer(request.user)
    if request.method == "POST":
        return _record_dates(request)
    rounds = statements.rounds()
    current = _round(request, rounds)
    p = params.read(request.GET, PAGE_PARAMS)
    context = {"rounds": rounds, "round": current}
    if current is not None:
        groups, total = register.summaries_for(request.user, current)
        may_record = permissions.reviews_all_units(request.user)
        # One page of the reports, counted by the summaries: read and classified by the database.
        rows_page = Paginator(register.paged_for(request.user, current, total.reports), PER_PAGE).get_page(p.page)
        rows_page.object_list = register.as_rows(list(rows_page.object_list), current)
        context.update(
            groups=groups, total=total, warned=register.warned_for(request.user, current), may_record=may_record,
            rows_page=rows_page, rows_range=params.page_range(rows_page),
            rows_query=params.canonical(p, without=("page",)) or f"round={current.year}",
        )
        if may_record:
            units_page = _page(childrows.Paged(_UNITS.all, request.user, current.pk,
                                               count=lambda: sum(_UNITS_COUNTED.all(request.user))), p.units_page)
            context.update(
                units=[(u, u.approved_on) for u in units_page], units_page=units_page, units_range=params.page_range(units_page),
                units_query=params.canonical(p, without=("units_page",)) or f"round={current.year}",
            )
    # The long tables' rows: a Jinja2 template (ADR 0023), rendered when the page reaches them, and
    # kept under what they show (ADR 0024): a write that left a table as it was (most do) does not
    # render it again. The three read from the cache in one round trip.
    links = {"review_link": params.pk_link("assessments:review"), "public_link": params.pk_link("disclosure:detail")}
    shown = _shown(context)
    for part in ("groups", "reports", "units"):
        context[f"{part}_html"] = _kept(part, shown[part], {**context, **links, "part": part})
    # The page itself: a Jinja2 template, as the dashboard's (ADR 0028).
    body = {**context, "body_html": None}
    context["body_html"] = jinja2.part("assessments/review/register_body.html", body, request=request)
    with pagecache.prefetching([pagecache.fragment_key(f"register-{part}", shown[part]) for part in shown]):
        return render(request, "assessments/review/register.html", context)


def _shown(context) -> dict:
    """What each of the register's tables shows of its rows (the key of its HTML)."""
    return {
        "groups": [(s.supervisor, s.due, s.published, s.on_time, s.late, s.overdue, s.withheld)
                   for s in context.get("groups", ())],
        "reports": [(r.pk, r.unit_name, r.title, r.supervisor, r.approved_on, r.due, r.published_on, r.status, r.reason,
                     r.days_left) for r in (context["rows_page"] if "rows_page" in context else ())],
        "units": [(u.pk, u.supervisor, u.name, approved_on, context["round"].disclosure_days)
                  for u, approved_on in context.get("units", ())],
    }


def _kept(part: str, shown: list, context: dict):
    render = jinja2.part("assessments/review/register_rows.html", context)
    return lambda: mark_safe(pagecache.fragment(f"register-{part}", shown, render))


def _page(items, number):
    return Paginator(items, PER_PAGE).get_page(number)


def _record_dates(request):
    """The bureau records each unit's 决算批复 date (blank clears it)."""
    if not permissions.reviews_all_units(request.user):
        raise PermissionDenied
    posted = params.read(request.POST, PAGE_PARAMS)
    current = Round.objects.filter(year=posted.round).first()
    if current is None:
        raise Http404
    units = {u.pk: u for u in permissions.reviewable_units(request.user)}
    changed, errors = 0, []
    for key, value in request.POST.items():
        if not key.startswith("approved_on-"):
            continue
        unit = units.get(params.Int()(key.removeprefix("approved_on-")))
        if unit is None:
            continue
        value = value.strip()
        try:
            approved_on = datetime.date.fromisoformat(value) if value else None
        except ValueError:
            errors.append(f"{unit.name}：日期“{value[:20]}”无法识别，请按 2025-03-31 的格式填写。")
            continue
        current_clock = current.disclosure_clocks.filter(unit=unit).first()
        if (current_clock.approved_on if current_clock else None) != approved_on:
            register.record_approval(request.user, unit, current, approved_on)
            changed += 1
    for error in errors:
        messages.error(request, error)
    if changed:
        messages.success(request, f"已登记 {changed} 个单位的决算批复日期。")
    # Back to the pages the form was on (both lists are paged).
    back = "".join(f"&{name}={number}" for name, number in (("page", posted.page), ("units_page", posted.units_page))
                   if number and number > 1)
    return redirect(f"{request.path}?round={current.year}{back}")


@require_safe
def register_xlsx(request):
    _require_reviewer(request.user)
    current = _round(request)
    if current is None:
        raise Http404
    from openpyxl import Workbook
    from openpyxl.styles import Font

    where = permissions.reviewed_unit_filter(request.user)
    rows = register.rows(current, where=where)
    groups, total = register.summaries(current, where=where)
    wb = Workbook()
    ws = wb.active
    ws.title = "公开登记"
    ws.append([f"{current.title} 自评结果公开登记簿"])
    ws.append(["主管部门", "预算单位", "报告", "决算批复日期", "公开期限", "公开日期", "公开情况", "不公开原因", "公开网址"])
    for row in rows:
        ws.append([row.supervisor, row.unit_name, row.title, row.approved_on, row.due, row.published_on, row.status, row.reason,
                   request.build_absolute_uri(row.url) if row.url else ""])
    summary = wb.create_sheet("公开率")
    summary.append(["主管部门", "应公开", "已公开", "按时公开", "逾期公开", "逾期未公开", "不公开", "公开率（%）"])
    for s in [*groups, total]:
        summary.append([s.supervisor, s.due, s.published, s.on_time, s.late, s.overdue, s.withheld,
                        s.rate if s.rate is not None else "—"])
    for sheet in (ws, summary):
        for cell in sheet[1 if sheet is summary else 2]:
            cell.font = Font(bold=True)
        for column in sheet.columns:
            for cell in column:
                if isinstance(cell.value, datetime.date):
                    cell.number_format = "yyyy-mm-dd"
    ws.column_dimensions["A"].width = ws.column_dimensions["B"].width = ws.column_dimensions["C"].width = 30
    wb.properties.creator = "绩效自评门户"
    wb.properties.title = f"{current.title} 自评结果公开登记簿"
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="register-{current.year}.xlsx"'
    return response


@require_safe
def public_preview(request, pk):
    """The public page of an approved report as it would be published (masking included), for 公开审核."""
    _require_reviewer(request.user)
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    if assessment.state not in ("approved", "published") or assessment.confidential:
        raise Http404
    report = build_public(load_content(assessment.pk))
    return render(request, "public/detail.html", {
        "report": report, "view": report.view, "a": report.assessment, "meta": report.meta, "preview": True,
    })
