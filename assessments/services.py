"""Creating assessments and keeping their cached scores in step with their content."""

from django.db import transaction

from .layouts import STRUCTURE_ITEMS, layout_for
from .models import Assessment, FundingRow, Goal, Indicator, ReportSection, StructureRow
from .readmodel import evaluate


@transaction.atomic
def create_assessment(*, unit, round, kind, layout, project_name="", user=None) -> Assessment:
    """A new draft with the empty rows its layout needs (funding sources, structure, report)."""
    assessment = Assessment.objects.create(
        unit=unit,
        round=round,
        kind=kind,
        layout=layout,
        project_name=project_name,
        implementer=unit.name if kind == Assessment.Kind.PROJECT else "",
        supervisor_name=unit.supervisor if kind == Assessment.Kind.PROJECT else "",
        created_by=user,
    )
    FundingRow.objects.bulk_create(
        FundingRow(assessment=assessment, source=source) for source in layout_for(layout).sources
    )
    if layout_for(layout).has_structure:
        StructureRow.objects.bulk_create(StructureRow(assessment=assessment, item=item) for item in STRUCTURE_ITEMS)
    ReportSection.objects.bulk_create(
        ReportSection(assessment=assessment, key=key) for key in ReportSection.Key.values
    )
    Goal.objects.create(assessment=assessment, position=1)
    return assessment


def refresh_scores(assessment: Assessment) -> None:
    """Recompute and store the cached total and grade from the saved rows."""
    # Query afresh: the caller's instance may carry prefetched rows from before the save.
    result = evaluate(
        assessment,
        FundingRow.objects.filter(assessment=assessment),
        Indicator.objects.filter(assessment=assessment).order_by("position", "id"),
    )
    Assessment.objects.filter(pk=assessment.pk).update(self_total=result.total, self_grade=result.grade or "")
    assessment.self_total, assessment.self_grade = result.total, result.grade or ""
