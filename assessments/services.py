"""Creating assessments and keeping their cached scores in step with their content."""

from dataclasses import dataclass

from django.db import transaction

from . import audit, flags, history, readmodel, targets
from .childrows import Ids, Statement
from .models import Assessment, FundingRow, Goal, Indicator, ReportSection, StructureRow, TemplateVersion
from .table_templates import latest_version, version_for_new

# States whose content the unit has handed in; a carry-over prefers these (see previous_assessment).
# Handed in to the finance bureau: its content is what the unit stands by (not a draft, not a
# returned assessment under revision). The same states feed the year-over-year view.
HANDED_IN_STATES = (
    Assessment.State.SUBMITTED, Assessment.State.FORWARDED, Assessment.State.IN_REVIEW, Assessment.State.APPROVED,
    Assessment.State.PUBLISHED,
)


def previous_assessment(*, unit, round, kind, project_name="") -> Assessment | None:
    """The assessment a new one of `unit` in `round` should start from ("start from last year").

    Same unit, same kind, same project name for projects, from an earlier round. Among those the
    latest one handed in (submitted, in review, approved or published) wins; when there is none,
    the latest earlier one in any state.
    """
    qs = Assessment.objects.filter(unit=unit, kind=kind, round__year__lt=round.year).select_related("round")
    if kind == Assessment.Kind.PROJECT:
        qs = qs.filter(project_name=project_name)
    fields = ("id", "state", "round__year", "unit_id", "kind", "project_name", "confidential")
    candidates = list(qs.order_by("-round__year", "-id").only(*fields))
    handed_in = [a for a in candidates if a.state in HANDED_IN_STATES]
    return (handed_in or candidates or [None])[0]


@dataclass(frozen=True)
class CarryCandidate:
    """What the 新建 page says of an assessment a new one would start from."""

    pk: int
    unit: object
    title: str
    state_label: str


_CARRY_ROWS = Statement(
    lambda ids: Assessment.objects.filter(unit_id__in=ids).order_by("unit__name", "kind", "project_name", "-round__year", "-id")
    .values_list("pk", "unit_id", "kind", "project_name", "round__year", "state"), Ids)


def carry_candidates(units) -> list[CarryCandidate]:
    """Per unit, kind and project name, the assessment a new one would start from (one query of
    plain values): shown on the 新建 page so the officer knows what "start from last year" will copy."""
    by_pk = {u.pk: u for u in units}
    rows = _CARRY_ROWS.all(sorted(by_pk))
    chosen: dict[tuple, tuple] = {}
    for row in rows:
        key = (row[1], row[2], row[3])
        best = chosen.get(key)
        if best is None or (best[5] not in HANDED_IN_STATES and row[5] in HANDED_IN_STATES):
            chosen[key] = row
    return [CarryCandidate(pk, by_pk[unit_id], Assessment.title_of(year, kind, project_name), Assessment.State(state).label)
            for pk, unit_id, kind, project_name, year, state in chosen.values()]


def _indicator_identity(indicator) -> tuple[str, str, str]:
    return (indicator.level1, indicator.level2, " ".join((indicator.name or "").split()))


def restore_identities(assessment: Assessment, replaced: list, last_year: list) -> int:
    """Rows that came in new (an Excel import) take back the identity of the same indicator,
    matched by 一级, 二级 and 三级 name (first match wins, each identity used once):

    - a row it replaced in this assessment: its key and lineage, so the reviewer's comments, the
      diff between submissions and the review rows still line up with it;
    - else last year's row: its lineage, so the year-over-year view and flags keep working.

    Returns the number of rows changed."""
    same: dict[tuple, Indicator] = {}
    for row in replaced:
        same.setdefault(_indicator_identity(row), row)
    prior: dict[tuple, object] = {}
    for row in last_year:
        prior.setdefault(_indicator_identity(row), row.lineage)
    used_keys, used_lineages, changed = set(), set(), []
    for row in Indicator.objects.filter(assessment=assessment).order_by("position", "id"):
        identity = _indicator_identity(row)
        old = same.get(identity)
        if old is not None and old.key not in used_keys and old.lineage not in used_lineages:
            row.key, row.lineage = old.key, old.lineage
        else:
            lineage = prior.get(identity)
            if lineage is None or lineage in used_lineages:
                continue
            if row.lineage == lineage:  # linked already
                used_lineages.add(lineage)
                continue
            row.lineage = lineage
        used_keys.add(row.key)
        used_lineages.add(row.lineage)
        changed.append(row)
    Indicator.objects.bulk_update(changed, ["key", "lineage"])
    return len(changed)


class CarryOverRefused(ValueError):
    """The assessment to carry over does not belong with the new one."""


def resolve_version(
    *, kind: str | None = None, layout: str | None = None, template=None, version: TemplateVersion | None = None
) -> TemplateVersion:
    """The template version a new assessment gets: the one given, else the latest of the template
    (or of the template with code `layout`, else the kind's built-in one)."""
    if version is not None:
        return version
    if template is not None:
        return version_for_new(template)
    return latest_version(layout or (kind if kind in ("project", "department") else "department"))


@transaction.atomic
def create_assessment(
    *, unit, round, kind=None, layout=None, template=None, version=None, project_name="", user=None, carry_from=None,
    prefill=True, approved=True,
) -> Assessment:
    """A new draft with the empty rows its 表样 declares (funding rows, 资金结构, texts).

    The template version is `version`, else the latest of `template`, else of the template with
    code `layout`. With `prefill` the project header starts with the unit's own name (实施单位)
    and supervisor (主管部门) where the template has those fields.
    With `carry_from` (an earlier assessment of the same unit and kind, see `previous_assessment`)
    the draft starts from it: goals, indicator rows (levels, names, targets, weights, lineage) and
    report section titles are copied; actual values, scores, outcomes and reasons stay empty.
    With `approved` (the default) a unit whose round holds approved 绩效目标 for this project (or
    its 部门整体) starts from those instead, target cells locked (see season.py), and the
    assessment is tied to its 填报任务 if one was issued.
    """
    version = resolve_version(kind=kind, layout=layout, template=template, version=version)
    spec = version.table
    if kind is not None and kind != spec.kind:
        raise ValueError(f"表样“{spec.name}”不是{kind}类型")
    kind = spec.kind
    if carry_from is not None:
        _check_carry_over(carry_from, unit=unit, round=round, kind=kind)
    header = {}
    if kind == Assessment.Kind.PROJECT and prefill:
        keys = spec.header_keys
        if "implementer" in keys:
            header["implementer"] = unit.name
        if "supervisor_name" in keys:
            header["supervisor_name"] = unit.supervisor
    assessment = Assessment.objects.create(
        unit=unit, round=round, kind=kind, template_version=version, project_name=project_name, created_by=user, **header
    )
    FundingRow.objects.bulk_create(FundingRow(assessment=assessment, source=row.key) for row in spec.funding_rows)
    StructureRow.objects.bulk_create(StructureRow(assessment=assessment, item=row.key) for row in spec.structure_rows)
    titles = {}
    if carry_from is not None:
        titles = dict(ReportSection.objects.filter(assessment=carry_from).values_list("key", "title"))
    ReportSection.objects.bulk_create(
        ReportSection(assessment=assessment, key=section.key, title=titles.get(section.key, "")) for section in spec.text_sections
    )
    target_set = targets.target_set_for(unit=unit, round_=round, kind=kind, project_name=project_name) if approved else None
    if target_set is not None:
        # Approved 绩效目标 come first; the carry-over stays for units without them (issue 14).
        targets.start_from_targets(assessment, target_set)
    elif carry_from is None:
        Goal.objects.create(assessment=assessment, position=1)
    else:
        _carry_over(carry_from, assessment)
    targets.link_task(assessment)
    return assessment


def ensure_rows(assessment: Assessment) -> bool:
    """Create the fixed rows the assessment's 表样 declares and it lacks (funding rows, 资金结构,
    texts), e.g. for data loaded from elsewhere. Reads the prefetched rows; writes only when some
    are missing. Returns True when rows were added (the caller reloads)."""
    spec = assessment.table
    have = {
        "funding": {r.source for r in assessment.funding_rows.all()},
        "structure": {r.item for r in assessment.structure_rows.all()},
        "texts": {r.key for r in assessment.report_sections.all()},
    }
    funding = [FundingRow(assessment=assessment, source=r.key) for r in spec.funding_rows if r.key not in have["funding"]]
    structure = [StructureRow(assessment=assessment, item=r.key) for r in spec.structure_rows if r.key not in have["structure"]]
    texts = [ReportSection(assessment=assessment, key=t.key) for t in spec.text_sections if t.key not in have["texts"]]
    FundingRow.objects.bulk_create(funding)
    StructureRow.objects.bulk_create(structure)
    ReportSection.objects.bulk_create(texts)
    return bool(funding or structure or texts)


def _check_carry_over(previous: Assessment, *, unit, round, kind) -> None:
    # Server-side guard: forms only offer the officer's own unit, but the service must not
    # copy another unit's content whoever calls it.
    if previous.unit_id != unit.pk:
        raise CarryOverRefused("只能沿用本单位的以往自评。")
    if previous.kind != kind:
        raise CarryOverRefused("只能沿用同一类型的以往自评。")
    if previous.round.year >= round.year:
        raise CarryOverRefused("只能沿用以前年度的自评。")


def _carry_over(previous: Assessment, assessment: Assessment) -> None:
    goals = list(Goal.objects.filter(assessment=previous).order_by("position", "id").values_list("target", flat=True))
    Goal.objects.bulk_create(
        Goal(assessment=assessment, position=n, target=target) for n, target in enumerate(goals or [""], start=1)
    )
    Indicator.objects.bulk_create(
        Indicator(
            assessment=assessment,
            position=n,
            lineage=row.lineage,
            level1=row.level1,
            level2=row.level2,
            name=row.name,
            operator=row.operator,
            target=row.target,
            unit=row.unit,
            weight=row.weight,
        )
        for n, row in enumerate(Indicator.objects.filter(assessment=previous).order_by("position", "id"), start=1)
    )
    if previous.confidential:
        # A 涉密 project stays 涉密 unless the officer decides otherwise: never published by default.
        Assessment.objects.filter(pk=assessment.pk).update(confidential=True)
        assessment.confidential = True


def save_draft(entry, expected_version: int, *, user=None) -> "readmodel.AssessmentView":
    """Save a validated entry form (`forms.EntryForm`) as the draft's next version, with its audit
    row, in one transaction; score it once and return that read model (a submit right after it
    reuses it). Raises `forms.StaleDraft` when someone saved since the form was opened."""
    with transaction.atomic():
        entry.write(expected_version)
        view = refresh_scores(entry.assessment)
        audit.record("assessment.save", unit=entry.assessment.unit_id, obj=entry.assessment,
                     details={"version": entry.assessment.version})
    return view


def refresh_scores(assessment: Assessment) -> "readmodel.AssessmentView":
    """Recompute and store the cached total, grade and risk flags from the saved rows; returns
    the fresh read model (so that a save followed by a submit scores once)."""
    # Load afresh: the caller's instance may carry prefetched rows from before the save.
    view = readmodel.load(assessment.pk)
    # The year-over-year flags need the earlier years: one more query (history.history).
    codes = flags.compute(view, history.history(view))
    changes = {
        "self_total": view.result.total,
        "self_grade": view.result.grade or "",
        "risk_flags": flags.encode(codes),
        "risk_flag_count": len(codes),
    }
    Assessment.objects.filter(pk=assessment.pk).update(**changes)
    for name, value in changes.items():
        setattr(assessment, name, value)
        setattr(view.assessment, name, value)
    return view
