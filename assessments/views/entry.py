"""Officer pages: list, create, fill in, submit and withdraw the unit's assessments."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST, require_safe

from portal import jinja2

from .. import (
    audit,
    history,
    pagecache,
    params,
    permissions,
    readmodel,
    rectification,
    results,
    reviewing,
    roles,
    scoring,
    season,
    services,
    statements,
    table_templates,
    workflow,
)
from ..childrows import Ids, Statement
from ..consistency import check as check_consistency
from ..exports import redaction
from ..forms import CreateForm, EntryForm, StaleDraft, live_forms
from ..importing import paste
from ..models import Assessment, Indicator, Task, Unit
from ..rowforms import RowForms, RowStencils
from ..services import create_assessment, refresh_scores

PAGE_SIZE = 20
ADD_ROWS = 3
LIST_PARAMS = {"year": params.Int(1, 9999), "page": params.PAGE}
# The 表样 code is checked against the templates offered by the form itself.
CREATE_PARAMS = {"layout": params.Text(40), "round": params.Int()}
# Empty rows added to the form on request ("add 3 rows" after a save), at most 50 at a time.
EXTRA_ROWS_PARAMS = {f"add_{name}": params.Int(0, 50, clamp=True) for name in ("indicators", "goals", "expenses")}
COMMENT = params.Text(20000)
# The buttons of the edit page; anything else saves.
EDIT_POST_PARAMS = {
    "action": params.Choice(["save", "submit", "spread_weights", *EXTRA_ROWS_PARAMS]),
    "comment": COMMENT,
}


@require_safe
def home(request):
    user = request.user
    if permissions.is_officer(user):
        return redirect("assessments:list")
    if permissions.is_reviewer(user):
        return redirect("assessments:dashboard")
    if permissions.is_supervisor(user):
        return redirect("assessments:supervise")
    if permissions.can_audit(user):
        return redirect("audit")
    return render(request, "home.html", {"is_staff": user.is_staff, "admin_roles": roles.admin_roles(user)})


# The columns the list's rows show (list_rows.html), not an assessment's sixty (issue 17, part 5).
LISTED_FIELDS = (*Assessment.TITLE_FIELDS, "state", "self_total", "self_grade", "updated_at")
# The list's other queries, by statements compiled once (childrows.Statement).
_UNITS = Statement(lambda ids: Unit.objects.filter(pk__in=ids).order_by("id"), Ids)
_OPEN_TASKS = Statement(
    lambda ids: Task.objects.filter(unit_id__in=ids, round__is_open=True).select_related("round", "unit", "assessment")
    .only(*season.TASK_SHOWN).order_by("cancelled_at", "due_on", "unit_id", "kind", "project_name"), Ids)
_DEPARTMENTS_STARTED = Statement(
    lambda ids: Assessment.objects.filter(unit__in=ids, kind=Assessment.Kind.DEPARTMENT).values_list("unit_id", "round_id"),
    Ids)


@pagecache.page
def assessment_list(request):
    unit_ids = permissions.officer_unit_ids(request.user)
    if not unit_ids:
        return redirect("home")
    qs = (
        permissions.officer_assessments(request.user)
        .select_related("unit", "round").only(*LISTED_FIELDS)
        .order_by("-round__year", "unit_id", "kind", "project_name", "id")
    )
    rounds = statements.rounds()  # a handful: the year filter and the open ones
    years = sorted({r.year for r in rounds}, reverse=True)
    p = params.read(request.GET, LIST_PARAMS)
    if p.year is not None:
        qs = qs.filter(round__year=p.year)
    page = Paginator(qs, PAGE_SIZE).get_page(p.page)
    unit_ids = sorted(unit_ids)
    units = _UNITS.all(unit_ids)
    # Tasks first (issue 14): every task of an open round, the ones still to do on top.
    tasks = season.annotate(_OPEN_TASKS.all(unit_ids))
    order = {Task.Status.OVERDUE: 0, Task.Status.RETURNED: 1, Task.Status.NOT_STARTED: 2, Task.Status.FILLING: 3,
             Task.Status.SUBMITTED: 4, Task.Status.CANCELLED: 5}
    tasks.sort(key=lambda t: (order[t.status], t.due_on))
    # Without tasks, the open rounds a unit has not started (the page shows one or the other).
    due = [] if tasks else _due_rounds(units, [r for r in rounds if r.is_open])
    return render(
        request,
        "assessments/entry/list.html",
        {"page": page, "years": years, "year": p.as_form()["year"], "units": units, "due": due, "tasks": tasks,
         # Rendered when the template reaches them (a Jinja2 template, ADR 0023).
         "rows_html": jinja2.part("assessments/entry/list_rows.html",
                                  {"page": page, "detail_link": params.pk_link("assessments:detail")}),
         "page_range": params.page_range(page),
         "query": params.canonical(p, without=("page",))},
    )


@require_POST
def task_start(request, pk):
    """新建 from a task (or open the assessment already started for it)."""
    task = Task.objects.filter(pk=pk, unit_id__in=permissions.officer_unit_ids(request.user)).select_related(
        "round", "unit", "assessment").first()
    if task is None:
        raise Http404
    had = task.assessment_id
    try:
        assessment = season.start_task(request.user, task)
    except season.SeasonRefused as exc:
        messages.error(request, str(exc))
        return redirect("assessments:list")
    if not had:
        source = "批复的绩效目标（指标值已锁定）" if task.target_set_id or assessment.indicators.exclude(approved_target="").exists() else None
        messages.success(request, f"已按任务创建“{assessment.title}”" + (f"，绩效指标来自{source}" if source else "") + "，请填写。")
    return redirect("assessments:edit", pk=assessment.pk)


@require_POST
def adjust_target(request, pk):
    """目标调整: change an approved 指标值, with a reason. The button sits beside the entry form and
    posts it whole: what was typed in the table is saved first (as 保存草稿), so nothing is lost; a
    form that cannot be saved comes back with its errors, the 目标调整 not made and still typed."""
    assessment = permissions.get_officer_assessment(request.user, pk, content=True)
    if not permissions.can_edit(request.user, assessment):
        messages.error(request, f"该自评当前状态为“{assessment.get_state_display()}”，不能调整目标。")
        return redirect("assessments:detail", pk=pk)
    key = params.read(request.POST, {"key": params.Text(40)}).key or ""
    # The boxes of the row whose button was pressed (each row has its own, all inside the form).
    typed = params.read(request.POST, {f"adjust-{key}-{name}": params.Text(2000) for name in ("target", "reason")})
    target, reason = typed[f"adjust-{key}-target"] or "", typed[f"adjust-{key}-reason"] or ""
    page = {"adjust_typed": {key: {"target": target, "reason": reason}}}
    _, refused = _save_posted(request, assessment, errors=["目标调整未提交：请先更正上述错误。"], **page)
    if refused:
        return refused
    try:
        adj = season.adjust_target(request.user, assessment, key, target, reason)
    except (season.SeasonRefused, ValidationError) as exc:
        view = readmodel.load(assessment.pk)
        return _render_edit(request, EntryForm(view.assessment), view, status=400, errors=[
            "草稿已保存，目标调整未提交：" + (exc.messages[0] if isinstance(exc, ValidationError) else str(exc))], **page)
    messages.success(request, f"草稿已保存。已将“{adj.indicator_name}”的指标值由“{adj.previous_target}”调整为“{adj.new_target}”"
                              f"（批复值“{adj.approved_target}”），审核人将看到调整理由。")
    return redirect("assessments:edit", pk=pk)


def _due_rounds(units, open_rounds):
    """Of the open rounds (newest first), those in which a unit has not started its department
    assessment yet."""
    started = set(_DEPARTMENTS_STARTED.all([u.pk for u in units])) if open_rounds else set()
    return [(unit, rnd) for rnd in open_rounds for unit in units if (unit.pk, rnd.pk) not in started]


def _offered(request, units, round_pk):
    """The open rounds and the templates offered on the 新建 page: per kind, the one the round
    assigns to the unit's region, else every active one."""
    rounds = [r for r in statements.rounds() if r.is_open]
    # The posted round is matched as text against the open rounds (the form validates it).
    wanted = request.POST.get("round") or (str(round_pk) if round_pk else "")
    chosen_round = next((r for r in rounds if str(r.pk) == wanted), None)
    round_ = chosen_round or (rounds[0] if rounds else None)
    offered = table_templates.offered_templates(round_, units[0])
    return rounds, offered["department"] + offered["project"]


@pagecache.page
def assessment_create(request):
    # With the regions the offered templates are chosen by (the nearest assigned region wins).
    units = Unit.objects.filter(pk__in=permissions.officer_unit_ids(request.user)).select_related(
        "region__parent__parent").order_by("id")
    if not units:
        return redirect("home")
    p = params.read(request.GET, CREATE_PARAMS)
    rounds, templates = _offered(request, units, p.round)
    initial = {"layout": p.layout or "department", "round": p.round}
    form = CreateForm(request.POST or None, units=units, templates=templates, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        template = data["template"]
        kind = template.kind
        project_name = data["project_name"] if kind == Assessment.Kind.PROJECT else ""
        # The unit was validated against the officer's own units, so the carry-over can only
        # ever come from the officer's own unit (and the service checks that again).
        previous = None
        if data.get("carry_over"):
            previous = services.previous_assessment(
                unit=data["unit"], round=data["round"], kind=kind, project_name=project_name
            )
        with transaction.atomic():
            assessment = create_assessment(
                unit=data["unit"],
                round=data["round"],
                template=template,
                project_name=project_name,
                user=request.user,
                carry_from=previous,
            )
            audit.record("assessment.create", unit=assessment.unit_id, obj=assessment,
                         details={"title": assessment.title, "carry_from": previous.pk if previous else None})
        if previous is not None:
            messages.success(
                request,
                f"已创建“{assessment.title}”，并沿用了{previous.round.year}年度的年度目标、绩效指标（指标值、分值）"
                "和报告章节标题；实际完成值、得分和原因请按本年度填写。",
            )
        else:
            messages.success(request, f"已创建“{assessment.title}”，请填写。")
        return redirect("assessments:edit", pk=assessment.pk)
    return render(
        request, "assessments/entry/create.html",
        {"form": form, "form_html": _create_form_html(form, units, rounds, templates),
         "carry_candidates": services.carry_candidates(units)},
    )


def _create_form_html(form, units, rounds, templates):
    """The 新建 form as crispy renders it, when the page template reaches it. Unbound, it is the same
    HTML for as long as the units, the open rounds, the offered 表样 and the initial choices are: it
    is kept in the cache under them (ADR 0024; crispy costs most of the page's rendering)."""
    def render():
        return mark_safe(render_to_string("assessments/entry/create_form.html", {"form": form}))

    if form.is_bound:
        return render
    parts = ([pagecache.row_values(u) for u in units], [pagecache.row_values(r) for r in sorted(rounds, key=lambda r: r.pk)],
             [pagecache.row_values(t) for t in templates], sorted(form.initial.items()))
    return lambda: mark_safe(pagecache.fragment("create-form", parts, render))


@pagecache.page
def assessment_detail(request, pk):
    view = readmodel.build(permissions.get_officer_assessment(request.user, pk, content=True))
    return render(request, "assessments/entry/detail.html", _detail_context(request, view))


def _returned_review(assessment):
    """The review that sent the assessment back, while the officer is revising it."""
    if assessment.state not in (Assessment.State.RETURNED, Assessment.State.DRAFT):
        return None, {}
    if assessment.submitted_at is None:  # never submitted, so never reviewed: no query
        return None, {}
    review = reviewing.latest_decided(assessment)
    if review is None or review.decision != review.Decision.RETURNED:
        return None, {}
    return review, {str(r.indicator_key): r for r in review.rows.all() if r.note or r.score is not None}


def _detail_context(request, view, **extra):
    a = view.assessment
    returned_review, row_comments = _returned_review(a)
    transitions = statements.transitions(a)
    # Every caller builds the view from the stored assessment (readmodel.with_content): what it shows
    # is what the assessment's rows hold, so its checks, paper form and personal-data notice are kept
    # under their digest (digested once: the assessment with its rows is long to digest).
    stored = pagecache.digest(pagecache.instance_values(a))
    return {
        "returned_review": returned_review,
        "row_comments": row_comments,
        "view": view,
        "a": a,
        "consistency": pagecache.value("consistency", stored, lambda: check_consistency(view)),
        "paper_html": pagecache.paper_form(view, stored, show_explanations=True, row_comments=row_comments),
        "personal_data": pagecache.value("personal-data", stored, lambda: redaction.changes(view)),
        "can_edit": permissions.can_edit(request.user, a),
        "can_submit": workflow.allowed(request.user, a, "submit"),
        "can_withdraw": workflow.allowed(request.user, a, "withdraw"),
        "transitions": transitions,
        # Once a reviewer has saved a 复核 the officer can no longer withdraw: say so, and since when.
        "review_started": next((t for t in reversed(transitions) if t.action == "start_review"), None)
        if a.state == Assessment.State.IN_REVIEW else None,
        "year_history": history.for_page(view),
        "result_application": results.confirmed(a),
        "rectifications": rectification.carried(a, lineages=[line.lineage for line in view.indicators if line.lineage]),
        **extra,
    }


@pagecache.page
def assessment_edit(request, pk):
    assessment = permissions.get_officer_assessment(request.user, pk, content=True)
    if permissions.can_edit(request.user, assessment) and services.ensure_rows(assessment):
        assessment = permissions.get_officer_assessment(request.user, pk, content=True)
    if not permissions.can_edit(request.user, assessment):
        message = f"该自评当前状态为“{assessment.get_state_display()}”，不能修改。"
        if assessment.state == Assessment.State.SUBMITTED:
            message += "如需修改，请先撤回（审核开始前可撤回）。"
        if request.method == "POST":
            view = readmodel.build(assessment)
            return render(request, "assessments/entry/detail.html", _detail_context(request, view, refused=message), status=403)
        messages.warning(request, message)
        return redirect("assessments:detail", pk=pk)

    if request.method != "POST":
        return _render_opened(request, assessment, _extra_rows(request, assessment))

    saved, refused = _save_posted(request, assessment)
    if refused:
        return refused

    posted = params.read(request.POST, EDIT_POST_PARAMS)
    action = posted.action or "save"
    if action == "submit":
        try:
            # The read model the save just scored is what gets submitted: scored once.
            workflow.perform(request.user, assessment, "submit", posted.comment or "", view=saved)
        except workflow.SubmissionInvalid as exc:
            view = readmodel.load(assessment.pk)
            entry = EntryForm(view.assessment)
            messages.info(request, "草稿已保存。")
            return _render_edit(request, entry, view, problems=exc.problems, status=400)
        except workflow.TransitionRefused as exc:
            messages.error(request, str(exc))
            return redirect("assessments:detail", pk=pk)
        messages.success(request, _submitted_message(assessment))
        return redirect("assessments:detail", pk=pk)
    if action == "spread_weights":
        _spread_default_weights(assessment)
        messages.success(request, "已按默认分值平均分配到各指标，请核对后保存。")
        return redirect("assessments:edit", pk=pk)
    messages.success(request, "草稿已保存。")
    url = reverse("assessments:edit", kwargs={"pk": pk})
    if action.startswith("add_"):
        return redirect(f"{url}?{action}={ADD_ROWS}#{action[4:]}")
    return redirect(url)


def _save_posted(request, assessment, **page):
    """Save the posted entry form as 保存草稿 does: (the saved read model, None), or (None, the edit
    page with what was typed and why it was not saved: 400 for bad cells, 409 for a stale form).
    `page` goes to the page (e.g. the 目标调整 typed beside the form)."""
    more_errors = page.pop("errors", [])
    entry = EntryForm(assessment, request.POST)
    if not entry.is_valid():
        funding, indicators = entry.preview_rows()
        view = readmodel.build(assessment, funding_rows=funding, indicators=indicators)
        return None, _render_edit(request, entry, view, errors=entry.error_list() + more_errors, status=400, **page)
    try:
        return services.save_draft(entry, _posted_version(request)), None
    except StaleDraft:
        funding, indicators = entry.preview_rows()
        view = readmodel.build(assessment, funding_rows=funding, indicators=indicators)
        saved = readmodel.load(assessment.pk)
        return None, _render_edit(
            request, entry, view, status=409, conflict=saved,
            errors=["本次未保存：您打开此页面后，该自评已在别处被保存或提交。您填写的内容仍在下方表单中，"
                    "页面底部并列显示了当前已保存的版本。请核对合并；确认以本页内容为准时，再次点击“保存草稿”。",
                    *more_errors],
            **page,
        )


def _submitted_message(assessment) -> str:
    if permissions.needs_supervisor_review(assessment):
        return "已提交，等待主管部门初审（初审通过后转报财政局复核）。初审开始前可撤回。"
    return "已提交，等待财政局审核。审核开始前可撤回。"


def _posted_version(request) -> int:
    version = params.read(request.POST, {"version": params.Int(0)}).version
    return -1 if version is None else version


def _extra_rows(request, assessment):
    p = params.read(request.GET, EXTRA_ROWS_PARAMS)
    extra = {
        "extra_indicators": p.add_indicators or 0,
        "extra_goals": p.add_goals or 0,
        "extra_expenses": p.add_expenses or 0,
    }
    # A new assessment opens with a few empty indicator rows ready to type into.
    if not assessment.indicators.all():
        extra["extra_indicators"] = max(extra["extra_indicators"], 5)
    return extra


def _spread_default_weights(assessment):
    indicators = list(assessment.indicators.order_by("position", "id"))
    weights = scoring.spread_weights([i.to_input() for i in indicators], assessment.table.table_rules)
    for indicator, weight in zip(indicators, weights, strict=True):
        indicator.weight = weight
    Indicator.objects.bulk_update(indicators, ["weight"])
    refresh_scores(assessment)


# The entry form's sections in order: templates/jinja2/assessments/entry/section_<name>.html.
ENTRY_SECTIONS = ("header", "funding", "structure", "goals", "indicators", "expenses", "report")
# Fields of the assessment that no section but the indicators' shows and the report's checks do not
# read: a save renews them all (the version, the time, the stored total, grade and risk flags), so
# the other sections and the checks are kept in the cache without them (`_around`; test_page_cache
# proves the sections do not show them and the checks do not read them).
NOT_IN_SECTIONS = ("version", "updated_at", "self_total", "self_grade", "risk_flags", "risk_flag_count")
# Where the HTML of what was rendered apart goes (user text is escaped, so it cannot hold this).
SPLICE = mark_safe("<!--portal:splice-->")


def tables_context(entry, view, *, indicator_rows=None) -> dict:
    """What templates/assessments/entry/tables.html needs (the entry page and the 表样 preview).
    `indicator_rows`: the indicator rows' HTML, already rendered (`_cached_indicator_rows`)."""
    funding_lines = {line.source: line for line in view.funding}
    if indicator_rows is None:
        indicator_lines = dict(zip([f.prefix for f in live_forms(entry.indicators)], view.indicators, strict=False))
        indicator_pairs = [(f, indicator_lines.get(f.prefix)) for f in entry.indicators.forms]
    else:
        indicator_pairs = []
    return {
        "entry": entry,
        "view": view,
        "a": entry.assessment,
        "table": entry.table,
        "funding_pairs": [(f, funding_lines.get(f.instance.source)) for f in entry.funding.forms],
        "indicator_pairs": indicator_pairs,
        "indicator_rows": indicator_rows,
        **_row_layout(entry.table),
        "level2_lists": [(level.name, level.level2) for level in entry.table.level1],
        "entry_sections": ENTRY_SECTIONS,
        "apart": (),
        "splice": SPLICE,
    }


def _row_layout(table) -> dict:
    """What an indicator row (indicator_row.html) reads of its 表样 besides `table` itself."""
    return {
        "indicator_has_weight": "weight" in table.indicator_keys,
        "indicator_has_score": "score" in table.indicator_keys,
        # The line under each indicator row (explanation, problems, notes) spans every column but
        # 顺序 and 删除: the template's columns, 完成情况 and 规则计算得分.
        "indicator_note_span": len(table.indicator_columns) + 2,
    }


def _cached_indicator_rows(assessment, view, *, extra_rows, row_comments) -> list[str]:
    """The indicator rows of the form as opened. The rows' forms (the unbound form's indicator rows,
    `extra_rows` empty ones after them) are light (`rowforms`: no form per row) and a light row is
    written from a stencil of its shape (ADR 0031), with prototypes and stencils kept in the process
    (`rowforms.KITS`): cheaper than reading it from the cache. The rows the template renders (an
    approved row, a row with a review note) are each kept in the cache under a digest of what they
    show: their stored values, scoring line, review note, position, the 表样 version and the code
    (ADR 0024). Lines follow the stored rows in order, as in `tables_context`."""
    rows = list(assessment.indicators.all())  # prefetched, in the formset's order (forms._OrderedFormSet)
    # The formset alone costs little (its forms are built one by one, below) and counts its forms
    # as the whole form does (at most max_num of them).
    formset = EntryForm.indicator_formset(assessment, extra=extra_rows)
    lines = view.indicators
    layout = _row_layout(assessment.table)
    # Digested once: the 表样 version holds its whole declaration, too long to digest with each row.
    shared = pagecache.digest(pagecache.row_values(assessment.template_version), sorted(layout.items()))

    def parts(i):
        row = rows[i] if i < len(rows) else None
        line = line_of[i]
        comment = row_comments.get(str(line.key)) if line is not None else None
        return (shared, i, pagecache.row_values(row) if row is not None else None, repr(line),
                pagecache.row_values(comment) if comment is not None else None)

    # The rows' prototypes and stencils are kept in the process under the 表样 version and layout
    # (`shared`): the next page of that 表样 writes its rows from them (`rowforms.Kits`).
    row_forms = RowForms(formset, kit=shared)

    def template(form, line):
        context = {"form": form, "line": line, "table": assessment.table, "attempted": False,
                   "row_comments": row_comments, **layout}
        return render_to_string("assessments/entry/indicator_row.html", context, using="jinja2")

    # A light row is written from a stencil of its shape (ADR 0031); one with a review note (the
    # stencil has no stand-in for it) is rendered.
    stencils = RowStencils(template, jinja2.escape_as_django, name="entry-row")
    forms = [row_forms.form(i, light_first=True) for i in range(formset.total_form_count())]
    line_of = [lines[i] if i < len(rows) and i < len(lines) else None for i in range(len(forms))]
    out = [stencils.html(form, line) if line is None or str(line.key) not in row_comments else None
           for form, line in zip(forms, line_of, strict=True)]
    rendered = [i for i, html in enumerate(out) if html is None]
    kept = pagecache.fragments("entry-row", [parts(i) for i in rendered],
                               lambda j: template(forms[rendered[j]], line_of[rendered[j]]))
    for i, html in zip(rendered, kept, strict=True):
        out[i] = html
    return [mark_safe(html) for html in out]


def _tables_html(entry, view, *, attempted, row_comments, indicator_rows=None, apart=(), section=None) -> str:
    """The entry form's tables (a Jinja2 template, ADR 0023), escaped as rendered. Each section named
    in `apart` leaves `SPLICE` in its place; `section` renders that one section alone."""
    context = {**tables_context(entry, view, indicator_rows=indicator_rows), "attempted": attempted,
               "row_comments": row_comments,
               "paste_enabled": True,  # 从Excel粘贴 (the 表样 preview renders the same tables without it)
               "apart": apart}
    name = "assessments/entry/tables.html" if section is None else f"assessments/entry/section_{section}.html"
    return mark_safe(render_to_string(name, context))


def _cached_tables(assessment, entry, view, extra, row_comments, parts) -> str:
    """The tables of the form as opened, from the cache in three kinds of parts (ADR 0024, 0026):
    - every section but the indicators', under what they are made of (`around`, `_around`);
    - the indicators' section around its rows, under the 表样, the number of rows and the two facts
      of the read model it shows;
    - each indicator row (`_cached_indicator_rows`).
    So a save that changed one indicator renders that row and nothing else of the tables. `parts`
    are `_table_parts`'."""
    before, after = pagecache.fragment("entry-sections", parts["entry-sections"], lambda: _tables_html(
        entry, view, attempted=False, row_comments=row_comments, apart=("indicators",), indicator_rows=[])).split(SPLICE)
    head, tail = pagecache.fragment("entry-indicators", parts["entry-indicators"], lambda: _tables_html(
        entry, view, attempted=False, row_comments=row_comments, section="indicators", indicator_rows=[SPLICE])).split(SPLICE)
    rows = _cached_indicator_rows(assessment, view, extra_rows=extra["extra_indicators"], row_comments=row_comments)
    return mark_safe("".join([before, head, *rows, tail, after]))


def _table_parts(assessment, view, extra, around) -> dict:
    """What the tables' two section fragments are kept under (`_cached_tables`), by fragment name."""
    shared = (pagecache.row_values(assessment.template_version), sorted(extra.items()))
    return {"entry-sections": (shared, around), "entry-indicators": (shared, _indicator_facts(assessment, view))}


def _indicator_facts(assessment, view) -> tuple:
    """What the indicators' section shows around its rows besides the 表样 and the extra rows asked
    for: the row layout, the number of stored rows (its management form), and whether weights are
    entered (the 平均分配 button) and any row is there."""
    return (sorted(_row_layout(assessment.table).items()), len(assessment.indicators.all()),
            bool(view.weights_used), bool(view.indicators))


def _render_opened(request, assessment, extra):
    """The edit page as opened (nothing typed yet). Its tables are the same HTML for as long as the
    assessment, its 表样, its rules and the returned review's notes are: they are kept in the cache
    whole under a digest of all of these, and below that in parts (`_cached_tables`, ADR 0024,
    0026), so the forms are built and rendered only for what changed."""
    view = readmodel.build(assessment)
    returned = _returned_review(assessment)
    row_comments = returned[1]
    # Built only when something of the tables is rendered (or a test reads the page's context).
    entry = SimpleLazyObject(lambda: EntryForm(assessment, **extra))
    stored = pagecache.digest(pagecache.instance_values(assessment))  # digested once, used twice
    whole = (stored, sorted(extra.items()), sorted((key, pagecache.row_values(row)) for key, row in row_comments.items()))
    around = _around(assessment, view)
    parts = _table_parts(assessment, view, extra, around)
    # Everything the page may take from the cache, read in one round trip.
    with pagecache.prefetching([pagecache.fragment_key("entry-tables", whole),
                                *(pagecache.fragment_key(name, p) for name, p in parts.items()),
                                pagecache.value_key("consistency", around), pagecache.value_key("personal-data", stored)]):
        return _render_edit(request, entry, view, returned=returned,
                            tables=lambda: mark_safe(pagecache.fragment(
                                "entry-tables", whole, lambda: _cached_tables(assessment, entry, view, extra, row_comments, parts))),
                            consistency=pagecache.value("consistency", around, lambda: check_consistency(view)),
                            personal_data=pagecache.value("personal-data", stored, lambda: redaction.changes(view)))


def _around(assessment, view) -> str:
    """A digest of what the sections around the indicators show and the report's checks read
    (`consistency.check` compares the report with the funding, structure and expense tables): the
    assessment without `NOT_IN_SECTIONS` and without its indicator rows, and the funding lines as
    scored. A save that changed only indicators leaves it as it was (ADR 0026)."""
    return pagecache.digest(
        pagecache.instance_values(assessment, without_fields=NOT_IN_SECTIONS, without_rows=("indicators",)),
        repr(view.funding), repr(view.result.funding))


def _render_edit(request, entry, view, *, errors=None, problems=None, status=200, conflict=None, adjust_typed=None,
                 tables=None, returned=None, consistency=None, personal_data=None):
    """The edit page; `entry` is the bound or unbound EntryForm. `tables` gives the tables' HTML
    (`_render_opened` passes its cached ones, with the returned review it read); by default they
    are rendered from `entry`. Either way they are rendered when the page template reaches them
    (the template calls the function), so the page's own context is the first one rendered."""
    a = view.assessment
    returned_review, row_comments = returned or _returned_review(a)
    # After a refused submit the rows' problems are errors; before, neutral 待填 hints.
    attempted = bool(problems)
    if tables is None:
        def tables():
            return _tables_html(entry, view, attempted=attempted, row_comments=row_comments)
    return render(
        request,
        "assessments/entry/edit.html",
        {
            "entry": entry,
            "view": view,
            "a": a,
            "table": a.table,
            "tables_html": tables,
            "consistency": check_consistency(view) if consistency is None else consistency,
            # What publishing will mask (includes/personal_data.html computes it when not given).
            "personal_data": personal_data,
            "errors": errors or [],
            "problems": problems or [],
            "attempted": attempted,
            "rules": blocking_rules(view.result),
            "returned_review": returned_review,
            "row_comments": row_comments,
            # After a conflict the saved version is shown beside what was typed; saving again is
            # then a deliberate choice, so the form carries the saved version's number.
            "conflict": conflict,
            "form_version": conflict.assessment.version if conflict else a.version,
            "year_history": history.for_page(view),
            "locked_rows": _locked_rows(a, view, adjust_typed or {}),
        },
        status=status,
    )


def _locked_rows(assessment, view, typed):
    """The approved (locked) rows of the edit page, each with its latest 目标调整 and what was typed
    into its 目标调整 boxes when the page comes back from a refused one."""
    lines = [line for line in view.indicators if line.approved_target and line.indicator is not None and line.indicator.pk]
    if not lines:
        return []
    adjustments = season.adjustments_by_key(assessment)
    return [
        {"key": line.key, "name": line.name, "approved_target": line.approved_target, "current": line.target_text,
         "adjustment": adjustments.get(line.key), "typed": typed.get(str(line.key), {})}
        for line in lines
    ]


@require_POST
def assessment_preview(request, pk):
    """Scores of what is typed, without saving: feeds the live score column."""
    assessment = permissions.get_officer_assessment(request.user, pk, content=True)
    entry = EntryForm(assessment, request.POST)
    entry.is_valid()
    funding, indicators = entry.preview_rows()
    view = readmodel.build(assessment, funding_rows=funding, indicators=indicators)
    kept = [form.prefix for form in live_forms(entry.indicators)]
    r = view.result
    return JsonResponse(
        {
            "funding": {
                "rate": scoring.fmt(r.funding.rate),
                "score": scoring.fmt(r.funding.score),
                "suggested": scoring.fmt(r.funding.suggested),
                "weight": scoring.fmt_weight(r.funding.weight),
                "explanation": r.funding.explanation,
            },
            "funding_rows": [
                {"source": line.source, "rate": scoring.fmt(line.rate)} for line in view.funding
            ],
            "indicators": [
                {
                    "prefix": prefix,
                    "number": line.number,
                    "kind": line.result.kind,
                    "score": scoring.fmt(line.score),
                    "suggested": scoring.fmt(line.suggested),
                    "differs": line.result.differs,
                    "explanation": line.result.explanation,
                    "flags": line.result.flags,
                    "problems": [p.message for p in view.problems_by_row.get(line.number, [])],
                    "warnings": [p.message for p in view.warnings_by_row.get(line.number, [])],
                }
                for prefix, line in zip(kept, view.indicators, strict=True)
            ],
            "total": scoring.fmt(r.total),
            "grade": r.grade or "",
            "status": r.status,
            "weight_total": scoring.fmt_weight(r.weight_total),
            "problems": [p.message for p in r.problems],
            "warnings": [p.message for p in r.warnings],
            # Issue 17: the rules that block submit, live (not only when submitting), and the 一级 sums.
            "rules": [p.message for p in blocking_rules(r)],
            "level1_sums": [
                {"name": name, "total": scoring.fmt_weight(total), "expected": scoring.fmt_weight(expected),
                 "ok": total == expected}
                for name, total, expected in r.level1_sums
            ],
        }
    )


# 从Excel粘贴: the first row index the page offers for the pasted rows. The text itself is read
# raw (params.Text strips, and a leading tab is an empty first cell); paste.read_tsv checks it.
PASTE_PARAMS = {"start": params.Int(0, 10_000, clamp=True)}


@require_POST
def assessment_paste(request, pk):
    """从Excel粘贴 (issue 17): the indicator rows of a pasted block as entry-form values, read by the
    assessment's 表样. Nothing is saved: the page fills its rows, the officer saves as usual."""
    assessment = permissions.get_officer_assessment(request.user, pk, content=True)
    if not permissions.can_edit(request.user, assessment):
        return JsonResponse({"error": f"该自评当前状态为“{assessment.get_state_display()}”，不能修改。"}, status=403)
    p = params.read(request.POST, PASTE_PARAMS)
    try:
        pasted = paste.read(request.POST.get("text", ""), assessment.table, assessment.round.rules)
    except paste.PasteRefused as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    start, rows = paste.form_rows(EntryForm(assessment), pasted, p.start or 0)
    return JsonResponse({
        "start": start,
        "rows": rows,
        "total_forms": start + len(rows),
        "header_added": pasted.header_added,
        "warnings": pasted.warnings,
        "message": f"已粘贴 {len(rows)} 行，请核对后保存草稿。",
    })


def blocking_rules(result) -> list:
    """What blocks submit beyond a single row (分值 sums, funding, goals, report): shown above the
    table while typing and whenever the page is opened; a row's own problems stay in its row."""
    return [p for p in result.problems if p.row is None]


@require_POST
def assessment_transition(request, pk, action):
    assessment = permissions.get_officer_assessment(request.user, pk)
    if action not in workflow.OFFICER_ACTIONS:
        return HttpResponseNotAllowed(["POST"])
    try:
        workflow.perform(request.user, assessment, action, params.read(request.POST, {"comment": COMMENT}).comment or "")
    except workflow.SubmissionInvalid as exc:
        view = readmodel.load(assessment.pk)
        return render(
            request, "assessments/entry/detail.html", _detail_context(request, view, problems=exc.problems), status=400
        )
    except workflow.TransitionRefused as exc:
        messages.error(request, str(exc))
        return redirect("assessments:detail", pk=pk)
    done = {"submit": _submitted_message(assessment), "withdraw": "已撤回，可继续修改后再提交。"}
    messages.success(request, done[action])
    return redirect("assessments:detail", pk=pk)
