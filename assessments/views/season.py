"""The bureau's season pages (issue 14): issue tasks, load approved 绩效目标, cancel, extend and
remind. Reviewers, for the units they review (all of them with the bureau-wide permission)."""

import datetime

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal import jinja2

from .. import pagecache, params, permissions, season, statements
from ..importing import parser, safety, sandbox
from ..importing import targets as target_reading
from ..models import Region, Round, TableTemplate, TargetSet, Task

MAX_UPLOAD = 5 * 1024 * 1024
ISSUE_PARAMS = {
    "source": params.Choice(["targets", "region", "list"]),
    "region": params.Int(),
    "project_name": params.Text(200),
    "list": params.Text(200_000),
    "warn_days": params.Int(0, 60),
}
TASK_PARAMS = {"action": params.Choice(["cancel", "extend", "remind"]), "reason": params.Text(2000)}
STATUS_FILTER = {"status": params.Choice(Task.Status.values), "round": params.Int(), "page": params.PAGE}
TASKS_PER_PAGE = 200


def _require_reviewer(user):
    if not permissions.is_reviewer(user):
        raise PermissionDenied


def _round(request, rounds):
    wanted = params.read(request.GET, {"round": params.Int()}).round
    if wanted is None:
        wanted = params.read(request.POST, {"round": params.Int()}).round
    return next((r for r in rounds if r.pk == wanted), rounds[0] if rounds else None)


def _season_url(round_pk: int) -> str:
    """The season page of a round (the latest round's without ?round=: it is the default)."""
    url = reverse("assessments:season")
    latest = Round.objects.order_by("-year").values_list("pk", flat=True).first()
    return url if round_pk == latest else f"{url}?round={round_pk}"


def _date(value: str | None):
    try:
        return datetime.date.fromisoformat((value or "").strip())
    except ValueError:
        return None


# The round's tasks of the reviewer's units, by a statement compiled once (issue 17: 1.5 ms a page).
_TASKS = permissions.ForReviewer(lambda units, round_id: (
    Task.objects.filter(units(), round_id=round_id)
    .select_related("unit", "assessment", "target_set")
    .annotate(reminder_count=Count("reminders")).order_by("due_on", "unit__name", "kind", "project_name")
), int)


@pagecache.page
def season_home(request):
    """填报任务: the round's tasks with their status, the late ones with 催办, and the issue form."""
    _require_reviewer(request.user)
    rounds = statements.rounds()
    current = _round(request, rounds)
    units = permissions.reviewable_units(request.user)
    if request.method == "POST":
        if current is None:
            messages.error(request, "请先由系统管理员建立评价批次。")
            return redirect("assessments:season")
        return _issue(request, current, units)
    context = {"rounds": rounds, "round": current}
    if current is not None:
        p = params.read(request.GET, STATUS_FILTER)
        tasks = season.annotate(_TASKS.all(request.user, current.pk))
        counts = {s: 0 for s in Task.Status.values}
        for t in tasks:
            counts[t.status] += 1
        shown = [t for t in tasks if p.status is None or t.status == p.status]
        page = Paginator(shown, TASKS_PER_PAGE).get_page(p.page)
        context.update({
            "tasks": page,
            "status": p.status,
            "counts": [(s, counts[s.value]) for s in Task.Status],
            "late": [t for t in tasks if t.status == Task.Status.OVERDUE],
            "target_sets": TargetSet.objects.filter(permissions.reviewed_unit_filter(request.user), round=current).count(),
            "today": timezone.localdate(),
            # The long parts: a Jinja2 template (ADR 0023), rendered when the page reaches them.
            "tasks_html": jinja2.part("assessments/season/parts.html", {
                "part": "tasks", "tasks": page, "task_link": params.pk_link("assessments:season_task"),
                "review_link": params.pk_link("assessments:review")}, request=request),
            "regions_html": jinja2.part("assessments/season/parts.html", {
                "part": "regions", "regions": Region.objects.order_by("id").full_names()}),
        })
    return render(request, "assessments/season/home.html", context)


def _issue(request, current, units):
    p = params.read(request.POST, ISSUE_PARAMS)
    starts_on, due_on = _date(request.POST.get("starts_on")), _date(request.POST.get("due_on"))
    url = _season_url(current.pk)
    problems = []
    if p.source == "targets":
        specs = season.specs_from_targets(current, units)
        if not specs:
            problems.append("本批次还没有载入批复的绩效目标。")
    elif p.source == "region":
        region = Region.objects.filter(pk=p.region).first() if p.region is not None else None
        if region is None:
            messages.error(request, "请选择地区。")
            return redirect(url)
        region_ids = _region_and_below(region)
        specs = season.specs_for_units(units.filter(region_id__in=region_ids).order_by("id"), project_name=p.project_name or "")
        if not specs:
            problems.append(f"{region.full_name}没有您可下达任务的预算单位。")
    elif p.source == "list":
        text = p.list or ""
        upload = request.FILES.get("list_file")
        if upload is not None:
            if upload.size > MAX_UPLOAD:
                messages.error(request, "名单文件过大（超过 5 MB）。")
                return redirect(url)
            raw = upload.read()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gb18030", errors="replace")
        specs, problems = season.specs_from_list(text, units)
    else:
        messages.error(request, "请选择任务来源。")
        return redirect(url)
    for problem in problems[:20]:
        messages.warning(request, problem)
    if problems and p.source == "list":
        messages.error(request, "名单中有无法识别的单位，本次未下达任何任务；请改正后重新提交。")
        return redirect(url)
    if not specs:
        return redirect(url)
    try:
        created, skipped = season.issue_tasks(
            round_=current, specs=specs, starts_on=starts_on, due_on=due_on,
            warn_days=3 if p.warn_days is None else p.warn_days, user=request.user,
        )
    except season.SeasonRefused as exc:
        messages.error(request, str(exc))
        return redirect(url)
    messages.success(request, f"已下达 {len(created)} 项填报任务" + (f"；{skipped} 项已存在，未重复下达" if skipped else "") + "。")
    return redirect(url)


def _region_and_below(region) -> set[int]:
    ids, frontier = {region.pk}, [region.pk]
    while frontier:
        frontier = list(Region.objects.filter(parent_id__in=frontier).values_list("pk", flat=True))
        ids.update(frontier)
    return ids


@require_POST
def season_task(request, pk):
    """Cancel or extend one task (with a reason), or send a 催办 for it now."""
    _require_reviewer(request.user)
    task = (
        Task.objects.filter(pk=pk, unit__in=permissions.reviewable_units(request.user))
        .select_related("unit", "round", "assessment").first()
    )
    if task is None:
        raise Http404
    p = params.read(request.POST, TASK_PARAMS)
    url = _season_url(task.round_id)
    try:
        if p.action == "cancel":
            season.cancel_task(task, p.reason or "", request.user)
            messages.success(request, f"已取消“{task.unit.name} · {task.title}”。")
        elif p.action == "extend":
            season.extend_task(task, _date(request.POST.get("due_on")), p.reason or "", request.user)
            messages.success(request, f"“{task.unit.name} · {task.title}”已延期至 {task.due_on}。")
        elif p.action == "remind":
            reminder = season.send_reminder(task, "manual", user=request.user)
            if reminder is None:
                messages.warning(request, f"“{task.unit.name} · {task.title}”无需催办（已提交、已取消或单位填报人没有电子邮箱）。")
            else:
                messages.success(request, f"已向 {reminder.sent_count} 位填报人发送催办邮件。")
        else:
            messages.error(request, "未知的操作。")
    except season.SeasonRefused as exc:
        messages.error(request, str(exc))
    except OSError:
        messages.error(request, "邮件服务器暂时无法连接，催办未发送，请稍后再试。")
    return redirect(url)


@require_POST
def season_remind_late(request):
    """One click: a 催办 to every late task of the round."""
    _require_reviewer(request.user)
    rounds = statements.rounds()
    current = _round(request, rounds)
    if current is None:
        raise Http404
    sent = 0
    try:
        for task in season.late_tasks(current, permissions.reviewable_units(request.user)):
            if season.send_reminder(task, "manual", user=request.user):
                sent += 1
    except OSError:
        messages.error(request, "邮件服务器暂时无法连接，部分催办未发送，请稍后再试。")
    messages.success(request, f"已催办 {sent} 项逾期任务。")
    return redirect(_season_url(current.pk))


@pagecache.page
def season_targets(request):
    """Load the approved 绩效目标 of a round from the 绩效目标申报表 workbook: the bureau's reviewers
    for the units they review, or a 主管部门's reviewers for the units it supervises."""
    user = request.user
    if permissions.is_reviewer(user):
        units = permissions.reviewable_units(user)
    elif permissions.is_supervisor(user):
        units = permissions.supervised_units(user)
    else:
        raise PermissionDenied
    rounds = statements.rounds()
    current = _round(request, rounds)
    report = None
    if request.method == "POST" and current is not None:
        report = _load_targets(request, current, units)
    return render(request, "assessments/season/targets.html", {
        # The 预算单位 box is typed (suggestions from the server for the bureau's reviewers), not a
        # list of every unit (3,000 in the benchmark's province).
        "rounds": rounds, "round": current, "report": report, "suggest": permissions.is_reviewer(user),
        "unit_name": params.read(request.POST, TARGET_UNIT_PARAMS).unit_name or "" if request.method == "POST" else "",
        "target_sets": TargetSet.objects.filter(round=current, unit__in=units).select_related("unit")
        .annotate(rows=Count("indicators")).order_by("unit__name", "project_name") if current else [],
    }, status=400 if report and report["refused"] else 200)


TARGET_UNIT_PARAMS = {"unit": params.Int(), "unit_name": params.Text(100)}


def _load_targets(request, current, units):
    report = {"refused": "", "loaded": [], "problems": []}
    upload = request.FILES.get("file")
    if upload is None:
        report["refused"] = "请选择要上传的绩效目标申报表（.xlsx）。"
        return report
    if upload.size > MAX_UPLOAD:
        report["refused"] = "文件过大（超过 5 MB）。"
        return report
    p = params.read(request.POST, TARGET_UNIT_PARAMS)
    unit = None
    if p.unit is not None:
        unit = units.filter(pk=p.unit).first()
    elif p.unit_name is not None:
        unit = units.filter(Q(name=p.unit_name) | Q(short_name=p.unit_name)).order_by("pk").first()
        if unit is None:
            report["refused"] = f"预算单位：“{p.unit_name}”不是您可下达的预算单位，请按全称或简称填写（或留空，按各工作表的“实施单位”）。"
            return report
    specs = [t.versions.order_by("-number").first().table for t in TableTemplate.objects.filter(active=True).order_by("id")]
    try:
        results = target_reading.read_target_workbook(upload.read(), specs)
    except (safety.UploadRefused, parser.ParseRefused) as exc:
        report["refused"] = str(exc)
        return report
    except sandbox.ParseFailed:
        report["refused"] = safety.CORRUPT
        return report
    for sheet in season.sheets_from_workbook(results, units, unit):
        report["problems"] += sheet.problems
        if sheet.unit is None or not sheet.rows:
            continue
        try:
            target_set = season.load_target_set(round_=current, sheet=sheet, user=request.user, file_name=upload.name)
        except season.SeasonRefused as exc:
            report["problems"].append(f"工作表“{sheet.sheet}”：{exc}")
            continue
        report["loaded"].append({"sheet": sheet.sheet, "set": target_set, "rows": len(sheet.rows)})
    if not report["loaded"] and not report["problems"]:
        report["refused"] = "工作簿中没有可载入的绩效目标。"
    elif not report["loaded"]:
        report["refused"] = "没有载入任何绩效目标，请按下列提示修改后重新上传。"
    return report

