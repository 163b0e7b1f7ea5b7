"""Reviewer pages: the dashboard of submissions, and the 复核 of one submission."""

import hashlib
from decimal import Decimal

from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.fields.json import KT
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from .. import (
    audit,
    diff,
    evidence,
    figures,
    flags,
    history,
    params,
    permissions,
    readmodel,
    reviewing,
    sealed,
    tasks,
    workflow,
)
from ..consistency import check as check_consistency
from ..forms import ReviewDecisionForm, ReviewRowFormSet
from ..models import Assessment, BulkExport, Evidence, ExportJob, Review, Round, Snapshot
from ..models.evidence import INLINE_TYPES

PAGE_SIZE = 50
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
    "unit": params.Int(),
    "kind": params.Choice(Assessment.Kind.values),
    "flag": params.Choice(flags.FLAGS),
    "q": params.Text(100),
    "sort": params.Sort(SORTS),
    "page": params.PAGE,
}


def _require_reviewer(user):
    if not permissions.is_reviewer(user):
        raise PermissionDenied


def dashboard(request):
    _require_reviewer(request.user)
    rounds = list(Round.objects.order_by("-year"))
    units = permissions.reviewable_units(request.user)
    current = _selected_round(request, rounds, units)
    context = {"rounds": rounds, "round": current, "flags": flags.FLAGS.values(), "states": VISIBLE_STATES}
    if current is None:
        return render(request, "assessments/review/dashboard.html", context)

    counts = dict(
        Assessment.objects.filter(round=current, unit__in=units).values_list("state").annotate(n=Count("id"))
    )
    late = []
    if current.deadline and timezone.localdate() > current.deadline:
        done = Assessment.objects.filter(
            round=current,
            kind=Assessment.Kind.DEPARTMENT,
            state__in=[s for s in VISIBLE_STATES if s != Assessment.State.RETURNED],
        ).values("unit_id")
        late = list(units.exclude(pk__in=done).order_by("name"))

    qs = permissions.reviewer_assessments(request.user).filter(round=current).select_related("unit", "round")
    p = params.read(request.GET, DASHBOARD_PARAMS)
    if p.state is not None:
        qs = qs.filter(state=p.state)
    if p.unit is not None:
        qs = qs.filter(unit_id=p.unit)
    if p.kind is not None:
        qs = qs.filter(kind=p.kind)
    if p.flag is not None:
        qs = qs.filter(risk_flags__contains=f",{p.flag},")
    if p.q is not None:
        qs = qs.filter(_search(p.q))
    sort = p.sort or "submitted"
    desc = sort.startswith("-")
    key = SORTS[sort.lstrip("-")]
    # The long 职能 text is not shown here: sorting wide rows of a deep page spills to disk.
    qs = qs.annotate(gap=F("review_total") - F("self_total")).defer("duties")
    order = F(key).desc(nulls_last=True) if desc else F(key).asc(nulls_last=True)
    qs = qs.order_by(order, "id")
    page = Paginator(qs, PAGE_SIZE).get_page(p.page)
    # Export statuses of this page's rows only (a subquery would run for every row before the OFFSET).
    statuses = {}
    for assessment_id, status in (
        ExportJob.objects.filter(assessment_id__in=[a.pk for a in page]).order_by("id").values_list("assessment_id", "status")
    ):
        statuses[assessment_id] = status  # ascending ids: the latest job wins
    # 佐证材料 submitted with each row's latest version (one query for the page).
    evidence_counts = dict(
        Evidence.objects.filter(assessment_id__in=[a.pk for a in page], submitted=True, removed_at__isnull=True)
        .values_list("assessment_id").annotate(n=Count("id"))
    )
    for a in page:
        a.flag_list = flags.decode(a.risk_flags)
        a.export_status = statuses.get(a.pk)
        a.evidence_count = evidence_counts.get(a.pk, 0)
    _show_submitted_versions(page)
    context.update(
        {
            "counts": [(s, counts.get(s.value, 0)) for s in Assessment.State],
            "total_count": sum(counts.values()),
            "late": late,
            "page": page,
            "filters": p.as_form(),
            "sort": sort,
            "units": units.order_by("name"),
            "query": params.canonical({**p, "round": current.pk}, without=("page",)),
            "sort_query": params.canonical({**p, "round": current.pk}, without=("page", "sort")),
            "sort_columns": SORT_COLUMNS,
            "charts": _round_charts(request.user, current),
            "charts_seconds": CHARTS_SECONDS,
        }
    )
    return render(request, "assessments/review/dashboard.html", context)


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


def _round_charts(user, current):
    """Charts of the whole round (not the filters): three aggregate queries over every
    submission, so they are shared for a minute by reviewers who see the same units."""
    if permissions.reviews_all_units(user):
        scope = "all"
    else:
        scope = ",".join(str(pk) for pk in sorted(permissions.reviewer_unit_ids(user)))
    scope += "-" + ",".join(str(pk) for pk in sorted(permissions.officer_unit_ids(user)))  # never their own
    key = f"dashboard-charts:{current.pk}:{hashlib.sha256(scope.encode()).hexdigest()[:32]}"
    charts = cache.get(key)
    if charts is None:
        charts = figures.dashboard(permissions.reviewer_assessments(user).filter(round=current), current.rules)
        cache.set(key, charts, CHARTS_SECONDS)
    return charts


def _show_submitted_versions(rows) -> None:
    """A returned assessment is being revised: its live name and score are a draft the reviewer
    must not see. Show what was last submitted instead (one query for the page)."""
    returned = {a.pk: a for a in rows if a.state == Assessment.State.RETURNED}
    if not returned:
        return
    latest = {}
    for pk, data in (
        Snapshot.objects.filter(assessment_id__in=returned).order_by("assessment_id", "number").values_list("assessment_id", "data")
    ):
        latest[pk] = data
    for pk, data in latest.items():
        a = returned[pk]
        a.project_name = data.get("header", {}).get("project_name", a.project_name)
        if "risk_flags" in data:  # snapshots from before the flags were kept in them have none
            a.flag_list = [flags.FLAGS[c] for c in data["risk_flags"] if c in flags.FLAGS]
        total = data.get("total_score")
        a.self_total = Decimal(total) if total else None
        a.gap = a.review_total - a.self_total if a.review_total is not None and a.self_total is not None else None


def _selected_round(request, rounds, units):
    """The round asked for; else the latest round with submissions to review; else the latest."""
    wanted = params.read(request.GET, {"round": params.Int()}).round
    if wanted is None:
        wanted = (
            Assessment.objects.filter(unit__in=units)
            .exclude(state=Assessment.State.DRAFT)
            .order_by("-round__year")
            .values_list("round_id", flat=True)
            .first()
        )
    for r in rounds:
        if r.pk == wanted:
            return r
    return rounds[0] if rounds else None


def review_detail(request, pk):
    _require_reviewer(request.user)
    assessment = permissions.get_reviewer_assessment(request.user, pk)
    if request.method == "POST":
        return _post(request, assessment)
    audit.record("review.open", unit=assessment.unit_id, obj=assessment, details={"state": assessment.state})
    return _render(request, assessment)


def _context(request, assessment, *, formset=None, decision=None, review_view=None, errors=None):
    snapshots = list(Snapshot.objects.filter(assessment=assessment).order_by("-number")[:2])
    view = readmodel.from_snapshot(assessment, snapshots[0].data) if snapshots else readmodel.build(
        readmodel.with_content(Assessment.objects).get(pk=assessment.pk)
    )
    review = reviewing.pending(assessment)
    shown = review or Review.objects.filter(assessment=assessment).order_by("-number").first()
    if review_view is None:
        review_view = reviewing.build(view, shown)
    editable = review is not None and workflow.allowed(request.user, assessment, "approve")
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
    past = (
        Review.objects.filter(assessment=assessment)
        .exclude(decision=Review.Decision.PENDING)
        .select_related("reviewer", "snapshot")
        .prefetch_related("rows")
        .order_by("-number")
    )
    return {
        "a": view.assessment,  # the submitted version: a returned assessment's live fields are a draft
        "view": view,
        "consistency": check_consistency(view),
        "review": review,
        "review_view": review_view,
        "rows": _pair_rows(review_view, formset),
        "formset": formset,
        "decision": decision or ReviewDecisionForm(),
        "editable": editable,
        "can_start": workflow.allowed(request.user, assessment, "start_review"),
        "changes": changes,
        "submission_count": Snapshot.objects.filter(assessment=assessment).count(),
        "past_reviews": [_past_review(r) for r in past],
        "transitions": assessment.transitions.select_related("actor").order_by("at", "id"),
        "errors": errors or [],
        # Flags of the version shown (for a returned assessment: the submitted one, not the draft).
        "flag_list": [flags.FLAGS[c] for c in flags.compute(
            view, year_items, evidence=evidence.summary(entries) if snapshots and "evidence" in snapshots[0].data else None)],
        "evidence_entries": entries,
        "evidence_groups": evidence.grouped(view, entries),
        "evidence_changes": evidence_changes,
        "can_mark_public": permissions.can_review(request.user, assessment) and not assessment.confidential,
        "score_differences": flags.score_differences(view),
        "year_history": history.with_history(year_items),
        "export_job": ExportJob.objects.filter(assessment=assessment).first(),
        "can_rerun_export": _can_rerun_export(request.user, assessment),
        "can_unpublish": workflow.allowed(request.user, assessment, "unpublish"),
        **_sealed_context(request, assessment),
    }


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
    """Each indicator with its form, matched by key."""
    if formset is None:
        return [(line, None) for line in review_view.lines]
    by_key = {}
    for form in formset.forms:
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

    if action not in ("save", "return", "approve"):
        messages.error(request, "未知的操作。")
        return redirect("assessments:review", pk=assessment.pk)
    review = reviewing.pending(assessment)
    if review is None or not workflow.allowed(request.user, assessment, "approve"):
        messages.error(request, f"该自评当前状态为“{assessment.get_state_display()}”，不能保存复核。")
        return redirect("assessments:review", pk=assessment.pk)

    formset = ReviewRowFormSet(request.POST, prefix="review")
    decision = ReviewDecisionForm(request.POST)
    snapshot = Snapshot.objects.filter(assessment=assessment).latest("number")
    view = readmodel.from_snapshot(assessment, snapshot.data)
    formset.is_valid()
    known = {line.key for line in view.indicators}
    posted = [f.cleaned_data.get("key") for f in formset.forms if getattr(f, "cleaned_data", None)]
    if sorted(posted) != sorted(known):
        messages.error(request, "页面内容已过期（指标行与当前提交不一致），未保存。请在刷新后的页面重新填写。")
        return redirect("assessments:review", pk=assessment.pk)
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
        reviewing.save(review, inputs, review_view.totals)
    except reviewing.ReviewClosed as exc:  # decided by someone else since the checks above
        messages.error(request, str(exc))
        return redirect("assessments:review", pk=assessment.pk)
    if action == "save":
        messages.success(request, "复核已保存（草稿），可稍后继续。")
        return redirect("assessments:review", pk=assessment.pk)
    try:
        workflow.perform(request.user, assessment, action, comment)
    except workflow.TransitionRefused as exc:
        messages.error(request, str(exc))
        return redirect("assessments:review", pk=assessment.pk)
    done = {"return": "已退回修改，填报单位将收到审核意见。", "approve": "已审核通过。"}
    messages.success(request, done[action])
    return redirect("assessments:review", pk=assessment.pk)


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
        {"jobs": jobs, "rounds": Round.objects.order_by("-year"), "running": running},
    )


def bulk_download(request, pk):
    _require_reviewer(request.user)
    job = BulkExport.objects.filter(pk=pk, requested_by=request.user, status=BulkExport.Status.DONE).first()
    if job is None or not job.file:
        raise Http404
    audit.record("bulk.download", obj=job, details={"round": job.round_id, "year": job.round.year})
    return FileResponse(job.file.open("rb"), as_attachment=True, filename=f"{job.round.year}年度公开报告.zip")
