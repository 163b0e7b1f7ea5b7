"""The 主管部门's pages (issue 14): the roll-up of its units, and the 初审 of a submission
(return with comments, or forward to the finance bureau's 复核)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Avg, Count, Q
from django.shortcuts import redirect, render
from django.utils import timezone

from .. import diff, pagecache, params, permissions, readmodel, reviewing, statements, workflow
from ..forms import ReviewDecisionForm, ReviewRowFormSet
from ..models import Assessment, Snapshot, Task

UNITS_PER_PAGE = 100
S = Assessment.State


def _require_supervisor(user):
    if not permissions.is_supervisor(user):
        raise PermissionDenied


@pagecache.page
def rollup(request):
    """Each supervised unit: its assessments by state, average scores, late tasks (one round)."""
    _require_supervisor(request.user)
    rounds = statements.rounds()
    wanted = params.read(request.GET, {"round": params.Int(), "page": params.PAGE})
    current = next((r for r in rounds if r.pk == wanted.round), rounds[0] if rounds else None)
    units = permissions.supervised_units(request.user).select_related("region").order_by("name", "id")
    page = Paginator(units, UNITS_PER_PAGE).get_page(wanted.page)
    rows, totals, waiting = [], {s.value: 0 for s in S}, []
    if current is not None:
        ids = [u.pk for u in page]
        states = {}
        for unit_id, state, n in (
            Assessment.objects.filter(round=current, unit_id__in=ids).values_list("unit_id", "state").annotate(n=Count("id"))
            .order_by()
        ):
            states.setdefault(unit_id, {})[state] = n
        scores = {
            row["unit_id"]: row
            for row in Assessment.objects.filter(round=current, unit_id__in=ids).exclude(state__in=[S.DRAFT, S.RETURNED])
            .values("unit_id").annotate(self_avg=Avg("self_total"), review_avg=Avg("review_total")).order_by()
        }
        today = timezone.localdate()
        late = dict(
            Task.objects.filter(round=current, unit_id__in=ids, cancelled_at__isnull=True, due_on__lt=today)
            .filter(Q(assessment__isnull=True) | Q(assessment__state__in=[S.DRAFT, S.RETURNED]))
            .values_list("unit_id").annotate(n=Count("id")).order_by()
        )
        for unit in page:
            by_state = states.get(unit.pk, {})
            for state, n in by_state.items():
                totals[state] += n
            score = scores.get(unit.pk, {})
            rows.append({
                "unit": unit, "states": [by_state.get(s.value, 0) for s in S], "late": late.get(unit.pk, 0),
                "self_avg": score.get("self_avg"), "review_avg": score.get("review_avg"),
            })
        waiting = list(
            permissions.supervisor_assessments(request.user)
            .filter(round=current, state=S.SUBMITTED, round__supervisor_review=True)
            .select_related("unit", "round").order_by("submitted_at", "id")[:200]
        )
    return render(request, "assessments/supervise/rollup.html", {
        "rounds": rounds, "round": current, "page": page, "rows": rows, "states": list(S),
        "totals": [totals[s.value] for s in S], "waiting": waiting,
    })


@pagecache.page(every_time=reviewing.audit_open_served(level="supervisor"))
def detail(request, pk):
    """初审 of one submission of a supervised unit."""
    _require_supervisor(request.user)
    assessment = permissions.get_supervisor_assessment(request.user, pk)
    if request.method == "POST":
        return _decide(request, assessment)
    reviewing.audit_open(assessment, level="supervisor")
    return _render(request, assessment)


def _context(request, assessment, *, formset=None, decision=None, errors=None):
    snapshots = list(Snapshot.objects.filter(assessment=assessment).order_by("-number")[:2])
    view = readmodel.from_snapshot(assessment, snapshots[0].data) if snapshots else None
    editable = workflow.allowed(request.user, assessment, "forward")
    if formset is None and editable and view is not None:
        formset = ReviewRowFormSet(prefix="review", initial=[{"key": line.key} for line in view.indicators])
    forms = {f.initial.get("key") or (f.cleaned_data.get("key") if hasattr(f, "cleaned_data") else None): f
             for f in (formset.forms if formset else [])}
    return {
        "a": view.assessment if view else assessment,
        "view": view,
        "rows": [(line, forms.get(line.key)) for line in view.indicators] if view else [],
        "formset": formset,
        "decision": decision or ReviewDecisionForm(),
        "editable": editable,
        "changes": diff.compare(snapshots[1].data, snapshots[0].data, assessment.table) if len(snapshots) == 2 else None,
        "pre_review": reviewing.latest_pre_review(assessment),
        "transitions": statements.transitions(assessment),
        "errors": errors or [],
    }


def _render(request, assessment, status=200, **kwargs):
    return render(request, "assessments/supervise/detail.html", _context(request, assessment, **kwargs), status=status)


def _decide(request, assessment):
    action = request.POST.get("action", "")
    if action not in workflow.SUPERVISOR_ACTIONS:
        messages.error(request, "未知的操作。")
        return redirect("assessments:supervise_detail", pk=assessment.pk)
    if not workflow.allowed(request.user, assessment, action):
        messages.error(request, f"该自评当前状态为“{assessment.get_state_display()}”，不能初审。")
        return redirect("assessments:supervise_detail", pk=assessment.pk)
    snapshot = Snapshot.objects.filter(assessment=assessment).latest("number")
    view = readmodel.from_snapshot(assessment, snapshot.data)
    formset = ReviewRowFormSet(request.POST, prefix="review")
    decision = ReviewDecisionForm(request.POST)
    formset.is_valid()
    known = {line.key for line in view.indicators}
    inputs = {
        f.cleaned_data["key"]: f.to_input()
        for f in formset.forms
        if getattr(f, "cleaned_data", None) and f.cleaned_data.get("key") in known
    }
    comment = decision.cleaned_data.get("comment", "").strip() if decision.is_valid() else ""
    errors = []
    for n, form in enumerate(formset.forms, start=1):
        for name, field_errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else ""
            errors += [f"第{n}行「{label}」：{e}" for e in field_errors]
    if action == "pre_return" and decision.is_valid() and not comment:
        decision.add_error("comment", "初审退回须填写初审意见。")
    errors += [f"初审意见：{e}" for e in decision.errors.get("comment", [])]
    if errors:
        return _render(request, assessment, status=400, formset=formset, decision=decision, errors=errors)
    try:
        workflow.perform(request.user, assessment, action, comment, rows=inputs)
    except workflow.TransitionRefused as exc:
        messages.error(request, str(exc))
        return redirect("assessments:supervise_detail", pk=assessment.pk)
    done = {"forward": "初审通过，已转报财政局复核。", "pre_return": "已退回修改，填报单位将收到初审意见。"}
    messages.success(request, done[action])
    return redirect("assessments:supervise_detail", pk=assessment.pk)
