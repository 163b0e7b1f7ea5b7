"""Pages after 复核 (issue 15): 抽查 draws with their agreement report, 结果应用, the round's 汇总表
and 汇总分析报告, and 整改 (reviewers open and decide, officers answer)."""

import io

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_safe
from openpyxl import Workbook

from portal import jinja2, storage

from .. import (
    audit,
    evidence,
    pagecache,
    params,
    people,
    permissions,
    rectification,
    sampling,
    spotchecks,
    statements,
    tasks,
)
from .. import results as results_service
from .. import supervisors as supervisor_names
from ..childrows import Statement
from ..followup_forms import AssignForm, RectificationForm, ResultForm, SpotCheckForm
from ..models import (
    Advice,
    Assessment,
    Indicator,
    Rectification,
    RectificationEvent,
    Round,
    RoundReport,
)
from .evidence import serve


def _require_reviewer(user):
    if not permissions.is_reviewer(user):
        raise PermissionDenied


def _round(request, rounds):
    wanted = request.GET.get("round", "")
    for r in rounds:
        if str(r.pk) == wanted:
            return r
    return rounds[0] if rounds else None


@pagecache.page
def spot_checks(request):
    """The draws of a round, and the form for a new one (which keeps its input when refused)."""
    _require_reviewer(request.user)
    rounds = statements.rounds()
    current = _round(request, rounds)
    form = SpotCheckForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if current is None:
            raise Http404
        if form.is_valid():
            c = form.cleaned_data
            try:
                spot_check = spotchecks.create(
                    request.user, current, title=c["title"], criteria=form.criteria(), method=c["method"],
                    seed=c["seed"], count=c["count"], percent=c["percent"],
                )
            except spotchecks.SpotCheckRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, f"已从 {len(spot_check.population)} 份自评中抽取 {len(spot_check.sample)} 份。")
                return redirect("assessments:spot_check", pk=spot_check.pk)
    draws = spotchecks.visible_in(request.user, current) if current else []
    # Sampled assessments given to this reviewer, whoever drew them (they review them the usual way).
    mine = spotchecks.given_to(request.user, current) if current else []
    return render(request, "assessments/review/spot_checks.html", {
        "rounds": rounds, "round": current, "form": form, "draws": draws, "mine": mine,
    }, status=400 if request.method == "POST" else 200)


def _spot_check(user, pk):
    return get_object_or_404(spotchecks.visible(user).select_related("round", "created_by"), pk=pk)


def _candidates(items):
    """Active accounts that may review some sampled unit (bureau-wide or assigned reviewers)."""
    units = {i.assessment.unit_id for i in items}
    return list(
        get_user_model().objects.filter(is_active=True).filter(
            Q(user_permissions__codename="review_all") | Q(groups__permissions__codename="review_all")
            | Q(review_assignments__unit__in=units)
        ).distinct().order_by("username")
    )


@pagecache.page
def spot_check_detail(request, pk):
    _require_reviewer(request.user)
    spot_check = _spot_check(request.user, pk)
    items = list(spot_check.items.select_related("assessment__unit", "assessment__round", "reviewer"))
    candidates = _candidates(items)
    errors = {}
    if request.method == "POST":
        form = AssignForm(request.POST)
        item = None
        if form.is_valid():
            item = next((i for i in items if i.pk == form.cleaned_data["item"]), None)
        if item is None:
            messages.error(request, "抽查对象不存在或页面已过期，请刷新后重试。")
            return redirect("assessments:spot_check", pk=spot_check.pk)
        reviewer = form.reviewer_user()
        if form.cleaned_data.get("reviewer") and reviewer is None:
            errors[item.pk] = "所选复核人不存在或已停用，请另选。"
        else:
            try:
                spotchecks.assign(request.user, item, reviewer=reviewer, third_party=form.cleaned_data["third_party"])
            except spotchecks.SpotCheckRefused as exc:
                errors[item.pk] = str(exc)
            else:
                messages.success(request, f"已保存“{item.assessment.unit.name} · {item.assessment.title}”的复核安排。")
                return redirect("assessments:spot_check", pk=spot_check.pk)
        item.posted = form.cleaned_data
    for item in items:
        item.choices = spotchecks.reviewer_choices(item.assessment, candidates)
        item.error = errors.get(item.pk)
    overall, by_supervisor = spotchecks.report(spot_check)
    return render(request, "assessments/review/spot_check.html", {
        "s": spot_check, "items": items, "overall": overall, "by_supervisor": by_supervisor,
        "description": sampling.DESCRIPTIONS[spot_check.method],
        "population_size": len(spot_check.population),
        "regions": spot_check.criteria.get("regions") or [],
    }, status=400 if errors else 200)


@require_safe
def spot_check_record(request, pk):
    """The draw's record as JSON: enough to re-run it anywhere (sampling.draw)."""
    _require_reviewer(request.user)
    s = _spot_check(request.user, pk)
    audit.record("spot_check.record", obj=s, details={"round": s.round_id})
    response = JsonResponse({
        "id": s.pk, "round": s.round.year, "title": s.title, "criteria": s.criteria, "method": s.method,
        "size_count": s.size_count, "size_percent": None if s.size_percent is None else str(s.size_percent),
        "seed": s.seed, "algorithm": s.algorithm, "algorithm_description": sampling.DESCRIPTIONS[s.method],
        "population": [{"id": pk, "weight": w, "stratum": st} for pk, w, st in s.population],
        "sample": s.sample, "created_at": s.created_at.isoformat(),
    }, json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="spot-check-{s.pk}.json"'
    return response



# --- 结果应用 -------------------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RESULTS_PAGE = 50
RESULT_COLUMNS = ("编号", "预算单位", "主管部门", "自评", "自评总分", "复核总分", "依据等级", "规则建议", "确认结果", "调整理由", "确认人", "确认时间")


@pagecache.page
def results(request):
    """The round's approved assessments with the rule's advice; confirm or override each."""
    _require_reviewer(request.user)
    rounds = statements.rounds()
    current = _round(request, rounds)
    errors, posted = {}, {}
    if request.method == "POST" and current is not None:
        form = ResultForm(request.POST)
        target = None
        if form.is_valid() or "assessment" in form.cleaned_data:
            target = permissions.reviewer_assessments(request.user).filter(
                round=current, pk=form.cleaned_data["assessment"]).select_related("unit", "round").first()
        if target is None:  # another unit's assessment answers like a missing one
            raise Http404
        if form.is_valid():
            c = form.cleaned_data
            try:
                results_service.confirm(request.user, target, advice=c["advice"], reduce_percent=c["reduce_percent"],
                                        reason=c["reason"])
            except results_service.ResultRefused as exc:
                errors[target.pk] = [str(exc)]
            else:
                messages.success(request, f"已确认“{target.unit.name} · {target.title}”的结果应用。")
                page = params.read(request.GET, {"page": params.PAGE}).page or 1
                return redirect(f"{reverse('assessments:results')}?round={current.pk}&page={page}#result-{target.pk}")
        else:
            errors[target.pk] = [f"{form.fields[name].label}：{e}" for name, es in form.errors.items() for e in es]
        posted[target.pk] = request.POST
    assessments = results_service.assessments_for(request.user, current) if current else Assessment.objects.none()
    number = params.read(request.GET, {"page": params.PAGE}).page or 1
    if posted:  # show the page of the refused row, whatever the link said
        pks = assessments.values_list("pk", flat=True)
        number = next((n // RESULTS_PAGE + 1 for n, pk in enumerate(pks) if pk in posted), number)
    # Only the page's rows are read and advised (a province's round has thousands), each page by a
    # statement compiled once.
    listed = results_service.paged(request.user, current) if current else assessments
    page = Paginator(listed, RESULTS_PAGE).get_page(number)
    table = results_service.rows(request.user, current, page.object_list) if current else []
    for row in table:
        row.errors = errors.get(row.assessment.pk, [])
        row.posted = posted.get(row.assessment.pk)
    rows = {"rows": table, "round": current, "page": page, "advice_choices": Advice.choices,
            "review_link": params.pk_link("assessments:review")}
    return render(request, "assessments/review/results.html", {
        "rounds": rounds, "round": current, "rows": table, "page": page,
        "rules": results_service.rules_for(current) if current else (),
        # The rows: a Jinja2 template (ADR 0023), rendered when the page reaches them.
        "rows_html": jinja2.part("assessments/review/results_rows.html", rows, request=request),
    }, status=400 if errors else 200)


@require_safe
def results_xlsx(request):
    """The same rows as the page, as an xlsx (openpyxl write-only: streamed row by row)."""
    _require_reviewer(request.user)
    rounds = statements.rounds()
    current = _round(request, rounds)
    if current is None:
        raise Http404
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("结果应用")
    sheet.append([f"{current.title}结果应用"])
    sheet.append(list(RESULT_COLUMNS))
    for row in results_service.rows(request.user, current):
        a, c = row.assessment, row.confirmed
        sheet.append([
            a.pk, a.unit.name, a.supervising, a.title,
            None if a.self_total is None else float(a.self_total), None if a.review_total is None else float(a.review_total),
            row.grade, row.suggested_text, row.confirmed_text or "（未确认）", c.reason if c else "",
            (people.text(c.confirmed_by) if c.confirmed_by else "（账号已删除）") if c else "",
            timezone.localtime(c.confirmed_at).strftime("%Y-%m-%d %H:%M") if c else "",
        ])
    buffer = io.BytesIO()
    workbook.save(buffer)
    audit.record("result.export", details={"round": current.pk, "year": current.year})
    response = HttpResponse(buffer.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, f"{current.year}年度结果应用.xlsx")
    return response


# --- 汇总表 and 汇总分析报告 ------------------------------------------------------------------------

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pagecache.page
def summaries(request):
    """Request a round's 汇总表 and 汇总分析报告 (optionally for one 主管部门); watch the progress."""
    _require_reviewer(request.user)
    if request.method == "POST":
        posted = params.read(request.POST, {"round": params.Int(), "supervisor": params.Text(100)})
        rnd = Round.objects.filter(pk=posted.round).first() if posted.round is not None else None
        if rnd is None:
            messages.error(request, "评价批次：请选择评价批次。")
        else:
            with transaction.atomic():
                job = tasks.queue_round_report(rnd, request.user, posted.supervisor or "")
                audit.record("summary.request", obj=job, details={"round": rnd.pk, "year": rnd.year,
                                                                  "supervisor": job.supervisor})
            messages.success(request, f"已开始生成“{rnd.title}”的汇总表和汇总分析报告。")
        return redirect("assessments:summaries")
    jobs = list(RoundReport.objects.filter(requested_by=request.user).select_related("round")[:20])
    running = any(j.status in (RoundReport.Status.QUEUED, RoundReport.Status.RUNNING) for j in jobs)
    # Distinct in the database: a few dozen names, not a row per unit (3,000 in a province).
    supervisors = sorted(
        permissions.reviewable_units(request.user).annotate(supervisor_name=supervisor_names.name(""))
        .exclude(supervisor_name="").order_by().values_list("supervisor_name", flat=True).distinct())
    return render(request, "assessments/review/summaries.html", {
        "jobs": jobs, "rounds": statements.rounds(), "running": running, "supervisors": supervisors,
    })


def _summary_file(request, pk, field, suffix, content_type):
    _require_reviewer(request.user)
    job = RoundReport.objects.filter(pk=pk, requested_by=request.user, status=RoundReport.Status.DONE).select_related("round").first()
    if job is None or not getattr(job, field):
        raise Http404
    audit.record(f"summary.download_{suffix}", obj=job, details={"round": job.round_id, "year": job.round.year})
    name = f"{job.round.title}{'自评汇总表' if suffix == 'xlsx' else '汇总分析报告'}{'（' + job.supervisor + '）' if job.supervisor else ''}.{suffix}"
    try:
        stream = storage.open_stream(getattr(job, field).name)
    except FileNotFoundError:
        raise Http404 from None
    return FileResponse(stream, as_attachment=True, filename=name, content_type=content_type)


@require_safe
def summary_xlsx(request, pk):
    return _summary_file(request, pk, "xlsx", "xlsx", XLSX)


@require_safe
def summary_docx(request, pk):
    return _summary_file(request, pk, "docx", "docx", DOCX)


# --- 整改 -----------------------------------------------------------------------------------------


def _items_context(items):
    """Items with their answers and decisions (`history`), each answer with its files (two queries;
    none without items)."""
    if not items:
        return items
    events = {}
    history = list(RectificationEvent.objects.filter(item__in=items).select_related("actor", "on_assessment__round")
                   .prefetch_related("files").order_by("at", "id"))
    for e in history:
        events.setdefault(e.item_id, []).append(e)
    for item in items:
        item.history = events.get(item.pk, [])
    return items


# The page's own queries, by statements compiled once (childrows.Statement).
_ROW_NAMES = Statement(lambda pk: Indicator.objects.filter(assessment_id=pk).order_by("position", "id")
                       .values_list("key", "level1", "level2", "name"), int)
_CLOSED = Statement(lambda pk: Rectification.objects.filter(assessment_id=pk, status=Rectification.Status.CLOSED), int)


@pagecache.page
def review_rectifications(request, pk):
    """整改事项 of a submission for its reviewer: open new ones, accept or reopen answers."""
    _require_reviewer(request.user)
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    choices = [(str(key), f"{level1} / {level2} / {name}") for key, level1, level2, name in _ROW_NAMES.all(assessment.pk)]
    form = RectificationForm(indicator_choices=choices)
    errors = []
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "open":
            form = RectificationForm(request.POST, indicator_choices=choices)
            if form.is_valid():
                c = form.cleaned_data
                try:
                    rectification.open_item(request.user, assessment, problem=c["problem"], indicator_keys=c["indicators"],
                                            action=c["requirement"], due_date=c["due_date"])
                except rectification.RectificationRefused as exc:
                    form.add_error(None, str(exc))
                else:
                    messages.success(request, "已下达整改事项。")
                    return redirect("assessments:review_rectifications", pk=assessment.pk)
        elif action in ("accept", "reopen"):
            item_id = params.read(request.POST, {"item": params.Int()}).item
            item = next((i for i in rectification.carried(assessment) if i.pk == item_id), None)
            if item is None:
                messages.error(request, "该整改事项不存在或已完成，请刷新页面。")
                return redirect("assessments:review_rectifications", pk=assessment.pk)
            try:
                rectification.decide(request.user, item, accept=action == "accept",
                                     comment=params.read(request.POST, {"comment": params.Text(2000)}).comment or "")
            except rectification.RectificationRefused as exc:
                errors.append(str(exc))
            else:
                messages.success(request, "整改事项已审核通过。" if action == "accept" else "已退回重新整改。")
                return redirect("assessments:review_rectifications", pk=assessment.pk)
        else:
            errors.append("未知的操作。")
    items = _items_context(rectification.carried(assessment))
    closed = _items_context(_CLOSED.all(assessment.pk))
    return render(request, "assessments/review/rectifications.html", {
        "a": assessment, "items": items, "closed": closed, "form": form, "errors": errors,
        "file_url": "assessments:review_rectification_file",
        "can_open": assessment.state != Assessment.State.DRAFT,
    }, status=400 if (errors or form.errors) else 200)


@csrf_exempt
@pagecache.page
def officer_rectifications(request, pk):
    """整改事项 that concern the unit's assessment (its own and those carried from earlier years);
    a POST answers one, with files streamed through the 佐证材料 upload handler (installed before
    the CSRF check reads the body, as on the evidence page)."""
    assessment = permissions.get_officer_assessment(request.user, pk)
    if request.method == "POST":
        request.upload_handlers = [evidence.EvidenceUploadHandler(request, remaining_bytes=evidence.max_total_bytes())]
        try:
            request.POST  # noqa: B018 - parse the body now, through the handler above
        except (TooManyFilesSent, TooManyFieldsSent, RequestDataTooBig):
            request.evidence_refusal = evidence.TOO_MANY_AT_ONCE.format(limit=settings.EVIDENCE_MAX_FILES_PER_UPLOAD)
    return _officer_rectifications(request, assessment)


@csrf_protect
def _officer_rectifications(request, assessment):
    errors = {}
    if request.method == "POST":
        posted = params.read(request.POST, {"item": params.Int(), "text": params.Text(5000)})
        item = next((i for i in rectification.carried(assessment) if i.pk == posted.item), None)
        if item is None:
            messages.error(request, "该整改事项不存在或已完成，请刷新页面。")
            return redirect("assessments:rectifications", pk=assessment.pk)
        uploads = request.FILES.getlist("files")
        try:
            refusal = getattr(request, "evidence_refusal", None)
            if refusal:
                raise rectification.RectificationRefused(f"证明材料：{refusal}")
            rectification.answer(request.user, item, posted.text or "", on_assessment=assessment, uploads=uploads)
        except rectification.RectificationRefused as exc:
            errors[item.pk] = str(exc)
        else:
            messages.success(request, "已提交整改情况，等待财政部门审核。")
            return redirect("assessments:rectifications", pk=assessment.pk)
        finally:
            for upload in uploads:
                upload.close()
    items = _items_context(rectification.carried(assessment))
    for item in items:
        item.error = errors.get(item.pk)
        item.posted = request.POST.get("text", "") if item.pk in errors else ""
    return render(request, "assessments/entry/rectifications.html", {
        "a": assessment, "items": items, "accept": evidence.ACCEPT_ATTRIBUTE,
        "max_file_mb": settings.EVIDENCE_MAX_FILE_MB, "max_per_upload": settings.EVIDENCE_MAX_FILES_PER_UPLOAD,
        "file_url": "assessments:rectification_file",
    }, status=400 if errors else 200)


@require_safe
def rectification_file(request, pk, fid):
    """An officer of the unit opens a file of a 整改 answer (from any of the unit's assessments)."""
    assessment = permissions.get_officer_assessment(request.user, pk)
    item = rectification.file_for_unit(assessment.unit_id, fid)
    if item is None:
        raise Http404
    return serve(item)


@require_safe
def review_rectification_file(request, pk, fid):
    """A reviewer of the unit opens a file of a 整改 answer; each time logged."""
    _require_reviewer(request.user)
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    item = rectification.file_for_unit(assessment.unit_id, fid)
    if item is None:
        raise Http404
    audit.record("rectification.file_download", unit=assessment.unit_id, obj=assessment,
                 details={"item": item.event.item_id, "file": item.pk, "filename": item.original_name})
    return serve(item)
