"""复核: the reviewer's scores beside the officer's, and their totals.

State changes (start review, return, approve) belong to `workflow`; this module reads and
saves the content of a review.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from . import audit, scoring
from .childrows import Statement
from .models import Assessment, IndicatorReview, Review
from .readmodel import AssessmentView, IndicatorLine


def audit_open(assessment, *, level: str | None = None) -> None:
    """A reviewer opened a submission (复核, or 主管部门初审 with `level="supervisor"`): one
    `review.open` row, whether the page was rendered or served whole (ADR 0025)."""
    details = {"state": assessment.state} | ({"level": level} if level else {})
    audit.record("review.open", unit=assessment.unit_id, obj=assessment, details=details)


def audit_open_served(*, level: str | None = None):
    """The `pagecache.page(every_time=…)` hook of a review page: the same row as `audit_open`."""
    def hook(request, pk) -> None:
        audit_open(Assessment.objects.only("unit_id", "state").get(pk=pk), level=level)
    hook.audited = ("review.open",)  # what it writes: a rendering that wrote anything else is not kept
    return hook


class ReviewClosed(Exception):
    """The review was decided (or the assessment left 审核中) before these rows could be saved."""


@dataclass
class ReviewLine:
    line: IndicatorLine
    row: IndicatorReview | None
    result: scoring.ReviewResult

    @property
    def key(self) -> str:
        return self.line.key


@dataclass
class ReviewView:
    review: Review | None
    lines: list[ReviewLine]
    totals: scoring.ReviewTotals

    @property
    def problems(self) -> list[scoring.Problem]:
        return self.totals.problems


# The bureau's reviews of an assessment, newest first: the pending one, the latest one (statements
# compiled once, issue 17).
_PENDING = Statement(lambda pk: Review.objects.filter(assessment_id=pk, decision=Review.Decision.PENDING,
                                                      level=Review.Level.BUREAU).order_by("-number")[:1], int)
_LATEST = Statement(lambda pk: Review.objects.filter(assessment_id=pk, level=Review.Level.BUREAU).order_by("-number")[:1], int)


def pending(assessment) -> Review | None:
    """The bureau's 复核 in progress (not yet decided), if any."""
    return next(iter(_PENDING.all(assessment.pk)), None)


def latest_bureau(assessment) -> Review | None:
    """The bureau's latest 复核, decided or not."""
    return next(iter(_LATEST.all(assessment.pk)), None)


# Every review of an assessment, newest first, with its reviewer, snapshot and rows: the 复核 page
# reads what it shows of them in one statement (issue 17).
_ALL = Statement(lambda pk: (Review.objects.filter(assessment_id=pk).select_related("reviewer", "snapshot")
                             .prefetch_related("rows").order_by("-number")), int)


@dataclass(frozen=True)
class Reviews:
    """An assessment's reviews of both levels (`of`), newest first: the ones `pending`,
    `latest_bureau` and `latest_pre_review` read, without a statement each."""

    newest_first: list[Review]

    @property
    def pending(self) -> Review | None:
        return next((r for r in self.newest_first
                     if r.level == Review.Level.BUREAU and r.decision == Review.Decision.PENDING), None)

    @property
    def latest_bureau(self) -> Review | None:
        return next((r for r in self.newest_first if r.level == Review.Level.BUREAU), None)

    @property
    def decided(self) -> list[Review]:
        return [r for r in self.newest_first if r.decision != Review.Decision.PENDING]

    def latest_pre_review(self, snapshot_number: int) -> Review | None:
        return next((r for r in self.newest_first
                     if r.level == Review.Level.SUPERVISOR and r.snapshot.number == snapshot_number), None)


def of(assessment) -> Reviews:
    return Reviews(_ALL.all(assessment.pk))


def latest_pre_review(assessment) -> Review | None:
    """The 主管部门's latest 初审, with its rows (that of one submission: `Reviews.latest_pre_review`)."""
    return (assessment.reviews.filter(level=Review.Level.SUPERVISOR).select_related("reviewer")
            .prefetch_related("rows").order_by("-number").first())


def record_pre_review(assessment, user, action: str, comment: str, inputs: dict[str, scoring.ReviewInput]) -> Review:
    """The 主管部门's 初审 as a decided review beside the bureau's (called by `workflow.perform`
    inside its transaction, for "forward" and "pre_return")."""
    from .models import Snapshot
    from .readmodel import from_snapshot

    snapshot = Snapshot.objects.filter(assessment=assessment).latest("number")
    decision = Review.Decision.APPROVED if action == "forward" else Review.Decision.RETURNED
    review = Review.objects.create(
        assessment=assessment, level=Review.Level.SUPERVISOR, snapshot=snapshot, reviewer=user, decision=decision,
        comment=comment, decided_at=timezone.now(),
        number=Review.objects.filter(assessment=assessment).count() + 1,
    )
    known = {line.key for line in from_snapshot(assessment, snapshot.data).indicators}
    rows = [
        IndicatorReview(review=review, indicator_key=key, actual=value.actual, outcome=value.outcome or "",
                        score=value.score, note=value.note)
        for key, value in inputs.items()
        if key in known and (value.score is not None or value.note or value.actual or value.outcome)
    ]
    IndicatorReview.objects.bulk_create(rows)
    if rows:
        totals = build(from_snapshot(assessment, snapshot.data), review, inputs).totals
        if not totals.problems:
            Review.objects.filter(pk=review.pk).update(review_total=totals.total, review_grade=totals.grade or "")
    return review


def latest_decided(assessment) -> Review | None:
    """The latest decided review of either level (初审 or 复核): what the officer was told."""
    return (
        assessment.reviews.exclude(decision=Review.Decision.PENDING)
        .select_related("reviewer")
        .prefetch_related("rows")
        .order_by("-number")
        .first()
    )


def build(view: AssessmentView, review: Review | None, inputs: dict[str, scoring.ReviewInput] | None = None) -> ReviewView:
    """Pair each indicator with its review row; `inputs` (by key) overrides the saved rows."""
    saved = {str(r.indicator_key): r for r in review.rows.all()} if review else {}
    reviews = []
    for line in view.indicators:
        if inputs is not None and line.key in inputs:
            reviews.append(inputs[line.key])
        elif line.key in saved:
            reviews.append(saved[line.key].to_input())
        else:
            reviews.append(scoring.ReviewInput())
    rows = [line.indicator.to_input() for line in view.indicators]
    totals = scoring.review_assessment(view.result, rows, reviews, view.assessment.round.rules)
    lines = [
        ReviewLine(line, saved.get(line.key), result) for line, result in zip(view.indicators, totals.rows, strict=True)
    ]
    return ReviewView(review, lines, totals)


def lock_open(review: Review) -> None:
    """Lock the assessment's row and check that `review` is still open; call inside a transaction.

    `workflow.perform` takes the same row lock before it reads the review rows to approve or
    return, so rows saved here either commit before the decision (and are the ones it decides
    on) or wait for it and are refused. On SQLite, where FOR UPDATE does not exist, write
    transactions are serialised by BEGIN IMMEDIATE (settings) and the check alone suffices.
    """
    state = (
        Assessment.objects.select_for_update().filter(pk=review.assessment_id).values_list("state", flat=True).first()
    )
    if state != Assessment.State.IN_REVIEW:
        label = Assessment.State(state).label if state else "已删除"
        raise ReviewClosed(f"该自评当前状态为“{label}”，不能保存复核。")
    if not Review.objects.filter(pk=review.pk, decision=Review.Decision.PENDING).exists():
        raise ReviewClosed("该轮复核已有结论，不能再保存，请刷新页面后再操作。")


@transaction.atomic
def save(review: Review, inputs: dict[str, scoring.ReviewInput], totals: scoring.ReviewTotals) -> None:
    """Store the review rows as typed (the caller has checked them) and the running total.

    Raises ReviewClosed, saving nothing, if the review was decided in the meantime."""
    lock_open(review)
    existing = {str(r.indicator_key): r for r in review.rows.all()}
    to_create, to_update = [], []
    for key, value in inputs.items():
        row = existing.get(key) or IndicatorReview(review=review, indicator_key=key)
        row.actual, row.outcome, row.score, row.note = value.actual, value.outcome or "", value.score, value.note
        (to_update if row.pk else to_create).append(row)
    IndicatorReview.objects.bulk_create(to_create)
    IndicatorReview.objects.bulk_update(to_update, ["actual", "outcome", "score", "note"])
    Review.objects.filter(pk=review.pk).update(review_total=totals.total, review_grade=totals.grade or "")
    audit.record(
        "review.save", unit=review.assessment.unit_id, obj=review,
        details={"assessment": review.assessment_id, "rows": len(inputs), "review_total": totals.total},
    )
