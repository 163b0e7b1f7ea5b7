"""The JSON document of an assessment: one shape, one serialiser.

The submission snapshot, the public open-data document (`/disclosure/<id>.json`), the lists and
the diff between submissions all use `document()`; `readmodel.from_snapshot` reads it back.
Keys are part of the public contract (DESIGN.md): added freely, never renamed. Amounts are
strings as typed ("12.345", "10949.23"), scores strings with two decimals ("9.67"), null where
the form leaves them blank. The template's own columns and header fields are under "extra".
"""

from . import columns, scoring

SCHEMA_VERSION = 2


def _score(value):
    return None if value is None else scoring.fmt(value)


def document(view, *, review_scores=None, review_total=None, review_grade=None, published_at=None) -> dict:
    """The document of a read model (`readmodel.AssessmentView`); with the approved review's
    scores (per indicator, in order), its total and grade when there is one."""
    a, spec = view.assessment, view.table
    version = a.template_version
    funding_columns = {c.key: c for c in spec.funding_columns}
    indicator_columns = {c.key: c for c in spec.indicator_columns}
    review_scores = review_scores or [None] * len(view.indicators)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "id": a.pk,
        "kind": a.kind,
        "layout": spec.code,
        "template": {"code": spec.code, "name": spec.name, "version": version.number if version else None},
        "year": a.round.year,
        "unit": {"name": a.unit.name, "region": a.unit.region.full_name},
        "title": a.title,
        "published_at": published_at.isoformat() if published_at else None,
        "header": {
            "project_name": a.project_name,
            "project_leader": a.project_leader,
            "leader_phone": a.leader_phone,
            "leader_phone_is_office": a.leader_phone_is_office,
            "supervisor": a.supervisor_name,
            "implementer": a.implementer,
            "confidential": a.confidential,
            "duties": a.duties,
            "staff_quota": a.staff_quota,
            "staff_actual": a.staff_actual,
            "extra": {f.key: (a.extra or {}).get(f.key, "") for f in spec.header if f.key not in HEADER_KNOWN},
        },
        "funding": [
            {
                "source": f.source,
                "label": f.label,
                "initial_budget": columns.amount_text(f.initial_budget) or None,
                "budget": columns.amount_text(f.budget) or None,
                "actual": columns.amount_text(f.actual) or None,
                "rate": _score(f.rate),
                "weight": _score(f.weight),
                "score": _score(f.score),
                "suggested_score": _score(f.suggested),
                "score_entered": _score(f.score) if f.entered else None,
                "reason": f.reason,
                "extra": _extra(f, funding_columns, "funding"),
            }
            for f in view.funding
        ],
        "structure": [
            {"item": s.item, "label": s.label, "budget": columns.amount_text(s.budget) or None,
             "actual": columns.amount_text(s.actual) or None}
            for s in view.structure
        ],
        "project_expenses": [
            {"name": p.name, "budget": columns.amount_text(p.budget) or None, "actual": columns.amount_text(p.actual) or None,
             "note": p.note, "confidential": p.confidential}
            for p in view.project_expenses
        ],
        "goals": [{"target": g.target, "achieved": g.achieved} for g in view.goals],
        "indicators": [
            {
                "key": i.key,
                "lineage": i.lineage,
                "level1": i.level1,
                "level2": i.level2,
                "name": i.name,
                "operator": i.operator,
                "target": i.target,
                "unit": i.unit,
                "actual": i.actual,
                "target_text": i.target_text,
                "actual_text": i.actual_text,
                "weight": _score(i.weight),
                "outcome": i.result.outcome,
                "score": _score(i.score),
                "suggested_score": _score(i.suggested),
                "score_entered": _score(i.score) if i.result.entered else None,
                "review_score": _score(review),
                "reason": i.reason,
                "extra": _extra(i, indicator_columns, "indicators"),
                # The approved 指标值 (issue 14), only on rows from approved 绩效目标.
                **({"approved_target": i.approved_target} if i.approved_target else {}),
            }
            for i, review in zip(view.indicators, review_scores, strict=True)
        ],
        "total_score": _score(view.total),
        "review_total_score": _score(review_total),
        "grade": review_grade or view.grade,
        "self_grade": view.grade,
        "blocks": [{"key": s.key, "title": s.title, "body": s.body} for s in view.blocks],
        "report": [{"key": s.key, "title": s.title, "body": s.body} for s in view.sections],
    }
    if a.kind == "project":
        doc["project"] = {
            "name": a.project_name,
            "leader": a.project_leader,
            "phone": a.leader_phone,
            "supervisor": a.supervisor_name,
            "implementer": a.implementer,
        }
    else:
        doc["department"] = {"duties": a.duties, "staff_quota": a.staff_quota, "staff_actual": a.staff_actual}
    return doc


HEADER_KNOWN = {
    "project_name", "project_leader", "leader_phone", "leader_and_phone", "supervisor_name", "implementer", "unit_name",
    "duties", "staff_quota", "staff_actual",
}


def _extra(line, known_columns: dict, table: str) -> dict:
    """The template's own columns of a row ({key: value as shown})."""
    out = {}
    for key, column in known_columns.items():
        if key in columns.FUNDING_KINDS or key in columns.INDICATOR_KINDS:
            continue
        out[key] = columns.json_value(line, column, table)
    return out
