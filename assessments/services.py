"""Creating assessments and keeping their cached scores in step with their content."""

from django.db import transaction

from . import flags, readmodel
from .layouts import STRUCTURE_ITEMS, layout_for
from .models import Assessment, FundingRow, Goal, ReportSection, StructureRow


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
    """Recompute and store the cached total, grade and risk flags from the saved rows."""
    # Load afresh: the caller's instance may carry prefetched rows from before the save.
    view = readmodel.load(assessment.pk)
    codes = flags.compute(view)
    changes = {
        "self_total": view.result.total,
        "self_grade": view.result.grade or "",
        "risk_flags": flags.encode(codes),
        "risk_flag_count": len(codes),
    }
    Assessment.objects.filter(pk=assessment.pk).update(**changes)
    for name, value in changes.items():
        setattr(assessment, name, value)
