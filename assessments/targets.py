"""Approved 绩效目标 and 填报任务 as a new assessment meets them (issue 14): the few model-level
steps that `services.create_assessment` and `workflow.perform` take. The rest of the season is
season.py, which builds on services; this module imports neither, so neither has a cycle."""

from . import scoring
from .models import Assessment, Goal, Indicator, TargetSet, Task


def target_set_for(*, unit, round_, kind, project_name="") -> TargetSet | None:
    return TargetSet.objects.filter(
        unit=unit, round=round_, kind=kind, project_name=project_name if kind == Assessment.Kind.PROJECT else ""
    ).first()


def start_from_targets(assessment: Assessment, target_set: TargetSet) -> None:
    """Give a new draft the approved goals and indicator rows (locked: see forms.IndicatorForm)."""
    Goal.objects.filter(assessment=assessment).delete()
    goals = [g.strip() for g in (target_set.goals or "").split("\n\n") if g.strip()] or [""]
    Goal.objects.bulk_create(Goal(assessment=assessment, position=n, target=g) for n, g in enumerate(goals, start=1))
    Indicator.objects.filter(assessment=assessment).delete()
    Indicator.objects.bulk_create(
        Indicator(
            assessment=assessment, position=n, level1=r.level1, level2=r.level2, name=r.name, operator=r.operator,
            target=r.target, unit=r.unit, weight=r.weight,
            approved_target=scoring.compose_value(r.operator, r.target, r.unit),
        )
        for n, r in enumerate(target_set.indicators.order_by("position", "id"), start=1)
    )


def link_task(assessment: Assessment) -> Task | None:
    """Tie a new assessment to the task of its unit, round, kind and project (if there is one)."""
    name = assessment.project_name if assessment.kind == Assessment.Kind.PROJECT else ""
    task = Task.objects.filter(
        round_id=assessment.round_id, unit_id=assessment.unit_id, kind=assessment.kind, project_name=name,
        assessment__isnull=True,
    ).first()
    if task is not None:
        Task.objects.filter(pk=task.pk).update(assessment=assessment)
    return task


def submit_refusal(assessment: Assessment) -> str | None:
    """Why the assessment cannot be submitted because of its task (a cancelled task), else None."""
    reason = Task.objects.filter(assessment=assessment, cancelled_at__isnull=False).values_list("cancel_reason", flat=True).first()
    if reason is None:
        return None
    return f"该自评的填报任务已被财政局取消（理由：{reason}），不能提交。"
