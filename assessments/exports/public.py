"""The public read model: what anyone may see of a published assessment.

Phone numbers are masked unless marked as an office line; personal data typed into any text
(phone numbers, ID numbers, e-mail addresses, bank cards) is masked (`redaction.public_view`);
涉密 projects in a department's project list are replaced by the standard notice. The HTML page, the xlsx workbook, the JSON
document and the CSV rows are all rendered from `PublicReport`, so they cannot disagree.
"""

import copy
import re
from dataclasses import dataclass
from decimal import Decimal

from .. import personal_data, publishing, reviewing
from ..childrows import Relation, Statement
from ..document import document
from ..models import Assessment, ProjectExpense, Review
from ..readmodel import AssessmentView, IndicatorLine, build, from_snapshot, load_content
from . import redaction

CONFIDENTIAL_NOTICE = "项目为涉密项目，不作公开评价"


def mask_phone(phone: str) -> str:
    """138****9408: keep the first three and last four digits of a mobile-length number."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return ""
    if len(digits) >= 11:
        return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    if len(digits) > 4:
        return f"{'*' * (len(digits) - 4)}{digits[-4:]}"
    return "*" * len(digits)


@dataclass
class PublicLine:
    line: IndicatorLine
    review_score: Decimal | None


@dataclass
class PublicReport:
    view: AssessmentView
    lines: list[PublicLine]
    review_total: Decimal | None
    review_grade: str | None
    published_at: object
    meta: publishing.Metadata | None = None  # the 公开 metadata block (None outside publication)
    # 更正说明 of this version: {"reason", "changes": [{"section", "row", "field", "before", "after"}]}
    correction: dict | None = None

    @property
    def assessment(self) -> Assessment:
        return self.view.assessment

    @property
    def phone(self) -> str:
        return self.assessment.leader_phone

    def to_json(self) -> dict:
        """The open-data document (document.py): keys per DESIGN.md's public contract, then the
        公开 metadata under DCAT-style names and, from version 2 on, the correction note."""
        doc = document(
            self.view,
            review_scores=[p.review_score for p in self.lines],
            review_total=self.review_total,
            review_grade=self.review_grade,
            published_at=self.published_at,
        )
        if self.meta is not None:
            doc.update(self.meta.to_json())
        if self.correction:
            doc["correction"] = self.correction
        return doc

    @property
    def byline(self) -> str:
        """地区 and 表样 under the title of the PDF and Word copies."""
        a, spec = self.assessment, self.view.table
        version = a.template_version.number if a.template_version_id else None
        return f"{a.unit.region.full_name} · 表样：{spec.name}" + (f"（第 {version} 版）" if version else "")

    def search_text(self) -> str:
        """What the public list's search looks through."""
        view = self.view
        parts = [self.assessment.title, self.assessment.unit.name, self.assessment.unit.short_name, self.assessment.project_name]
        parts += [line.name for line in view.indicators]
        parts += [g.target for g in view.goals]
        parts += [s.title + "\n" + s.body for s in view.texts]
        return personal_data.mask("\n".join(p for p in parts if p))


# The latest approving 复核 and its rows, by statements compiled once (issue 17).
_APPROVED = Statement(lambda pk: Review.objects.filter(assessment_id=pk, decision=Review.Decision.APPROVED)
                      .order_by("-number")[:1], int)
_REVIEW_ROWS = Relation(Review, "rows", ("id",))


def build_public(assessment: Assessment, meta: publishing.Metadata | None = None, correction: dict | None = None) -> PublicReport:
    """The public read model of an approved or published assessment (loaded with `with_content`);
    its metadata is read from its publication unless given (the export job gives the new one)."""
    a = copy.copy(assessment)
    if not a.leader_phone_is_office:
        a.leader_phone = mask_phone(a.leader_phone)
    expenses = [
        ProjectExpense(name=CONFIDENTIAL_NOTICE, confidential=True) if p.confidential else p
        for p in assessment.project_expenses.all()
    ]
    view = redaction.public_view(build(a, expenses=expenses))  # personal data masked (issue 12)
    approved = next(iter(_APPROVED.all(assessment.pk)), None)
    if approved is not None:
        _REVIEW_ROWS.attach(approved)
    review_view = reviewing.build(view, approved) if approved else None
    lines = [
        PublicLine(line, review_view.lines[n].result.score if review_view else None)
        for n, line in enumerate(view.indicators)
    ]
    return PublicReport(
        view=view,
        lines=lines,
        review_total=review_view.totals.total if review_view else None,
        review_grade=review_view.totals.grade if review_view else None,
        published_at=assessment.published_at,
        meta=meta if meta is not None else publishing.metadata(assessment),
        correction=correction,
    )


def from_document(assessment: Assessment, doc: dict, *, now_published: bool = False) -> PublicReport:
    """The public read model of a version as it was published (its stored public document):
    earlier versions, and the last one while a correction is under way, render from this.

    `now_published`: the version the report is published as now (its permalink), read from its
    document rather than built again from its rows (issue 17), as `build_public` would give it:
    personal data masked by today's rules (a document keeps the masking of its day), the metadata
    of the assessment's publication."""
    view = from_snapshot(assessment, doc)
    if now_published:
        view = redaction.public_view(view)
    scores = [_dec(i.get("review_score")) for i in doc.get("indicators", [])]
    lines = [PublicLine(line, scores[n] if n < len(scores) else None) for n, line in enumerate(view.indicators)]
    return PublicReport(
        view=view,
        lines=lines,
        review_total=_dec(doc.get("review_total_score")) if doc.get("review_total_score") is not None else None,
        review_grade=doc.get("grade") if doc.get("review_total_score") is not None else None,
        published_at=assessment.published_at,
        meta=publishing.metadata(assessment) if now_published else publishing.metadata_from_document(doc),
        correction=doc.get("correction"),
    )


def _dec(value) -> Decimal | None:
    return None if value in (None, "") else Decimal(value)


def load_public(pk: int) -> PublicReport:
    return build_public(load_content(pk))
