"""结果应用 (issue 15 §3): a round's rules map a grade (and optionally a score range) to advice for
next year's budget; the bureau confirms the advice or overrides it with a reason.

The basis is the 复核 result where there is one (复核总分 / 复核等级), else the 自评. Only
approved (or published) assessments get advice: before approval the grade is not final.
"""

import functools
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from . import audit, permissions, sqlwords, supervisors
from .childrows import Paged, Statement, counting
from .models import Advice, ApplicationRule, Assessment, ResultApplication

FINAL_STATES = (Assessment.State.APPROVED, Assessment.State.PUBLISHED)


@dataclass(frozen=True)
class Rule:
    grade: str
    advice: str
    reduce_percent: Decimal | None = None
    score_min: Decimal | None = None
    score_max: Decimal | None = None

    def matches(self, grade: str, score: Decimal | None) -> bool:
        if grade != self.grade:
            return False
        if self.score_min is not None and (score is None or score < self.score_min):
            return False
        return not (self.score_max is not None and (score is None or score >= self.score_max))


# The reading of 财预〔2020〕10号 practice: 优 → 优先保障, 中 → 核减, 差 → 取消 (or 调整).
DEFAULT_RULES = (
    Rule("优", Advice.PRIORITIZE),
    Rule("良", Advice.MAINTAIN),
    Rule("中", Advice.REDUCE, Decimal("10.00")),
    Rule("差", Advice.CANCEL),
)


class ResultRefused(Exception):
    """The confirmation cannot be saved; the message says why, in Chinese."""


# A round's rules, by a statement compiled once (issue 17).
_RULES = Statement(lambda round_id: ApplicationRule.objects.filter(round_id=round_id).order_by("position", "id"), int)


def rules_for(round_) -> tuple[Rule, ...]:
    """The round's rules in order, else the defaults."""
    rows = _RULES.all(round_.pk)
    rules = tuple(Rule(r.grade, r.advice, r.reduce_percent, r.score_min, r.score_max) for r in rows)
    return rules or DEFAULT_RULES


def basis(a: Assessment) -> tuple[str, Decimal | None]:
    """(grade, score) the advice follows: the 复核 result, else the 自评."""
    if a.review_grade:
        return a.review_grade, a.review_total
    return a.self_grade, a.self_total


def suggest(rules, grade: str, score: Decimal | None) -> Rule | None:
    return next((r for r in rules if r.matches(grade, score)), None)


def advice_text(advice: str, percent: Decimal | None) -> str:
    label = Advice(advice).label
    return f"{label} {percent}%" if advice == Advice.REDUCE and percent is not None else label


@dataclass
class ResultRow:
    assessment: Assessment
    grade: str
    score: Decimal | None
    rule: Rule | None
    confirmed: ResultApplication | None

    @property
    def suggested_text(self) -> str:
        return advice_text(self.rule.advice, self.rule.reduce_percent) if self.rule else "（无匹配规则）"

    @property
    def confirmed_text(self) -> str:
        c = self.confirmed
        return advice_text(c.advice, c.reduce_percent) if c else ""


def assessments_for(user, round_):
    """The approved assessments of the round the user reviews, in the list's order."""
    if not permissions.is_reviewer(user):
        return Assessment.objects.none()
    return _listed(functools.partial(permissions.reviewed_unit_filter, user), round_.pk)


def _final(units, round_id: int):
    """The approved assessments of the round of the reviewer's `units(field)` (a ForReviewer condition)."""
    return Assessment.objects.filter(permissions.reviewer_assessment_condition(units), sqlwords.one_of("state", FINAL_STATES),
                                     round_id=round_id)


def _listed(units, round_id: int):
    """`_final` as the list shows them, in its order."""
    return (
        _final(units, round_id)
        .select_related("unit", "round", "result_application__confirmed_by").annotate(supervising=supervisors.name())
        .defer("duties", "extra")  # a round has thousands: not the texts no column shows
        .order_by("unit__name", "kind", "project_name", "pk")
    )


# The list's pages and its count, by statements compiled once (issue 17).
_LISTED = permissions.ForReviewer(_listed, int)
_COUNTED = permissions.ForReviewer(lambda units, round_id: counting(_final(units, round_id)), int)


def paged(user, round_) -> Paged:
    """`assessments_for` as a Paginator's object list: each page read by a statement compiled once."""
    return Paged(_LISTED.all, user, round_.pk, count=lambda: sum(_COUNTED.all(user, round_.pk)))


def rows(user, round_, assessments=None) -> list[ResultRow]:
    """The rows with advice and confirmation, of `assessments` (a page) or of the whole round: one
    read model for the page and the xlsx (two queries and the rules)."""
    rules = rules_for(round_)
    out = []
    for a in assessments_for(user, round_) if assessments is None else assessments:
        grade, score = basis(a)
        confirmed = getattr(a, "result_application", None)
        out.append(ResultRow(a, grade, score, suggest(rules, grade, score), confirmed))
    return out


def confirmed(a: Assessment) -> ResultApplication | None:
    """The confirmed 结果应用 shown to the unit (no query before approval: there is none)."""
    if a.state not in FINAL_STATES:
        return None
    return ResultApplication.objects.filter(assessment=a).first()


def confirm(user, a: Assessment, *, advice: str, reduce_percent: Decimal | None, reason: str) -> ResultApplication:
    """Confirm the rule's advice, or override it (a reason is required); audited."""
    if a.state not in FINAL_STATES:
        raise ResultRefused("审核通过后才能确认结果应用。")
    if not permissions.can_review(user, a):
        raise ResultRefused("您无权确认该自评的结果应用。")
    reason = reason.strip()
    grade, score = basis(a)
    rule = suggest(rules_for(a.round), grade, score)
    suggested = (rule.advice, rule.reduce_percent) if rule else ("", None)
    overridden = (advice, reduce_percent if advice == Advice.REDUCE else None) != (
        suggested[0], suggested[1] if suggested[0] == Advice.REDUCE else None)
    if overridden and not reason:
        raise ResultRefused("确认结果与规则建议不同，须填写调整理由。")
    with transaction.atomic():
        result, _ = ResultApplication.objects.update_or_create(
            assessment=a,
            defaults={
                "suggested": suggested[0], "suggested_percent": suggested[1], "advice": advice,
                "reduce_percent": reduce_percent if advice == Advice.REDUCE else None,
                "reason": reason, "grade": grade, "score": score, "confirmed_by": user, "confirmed_at": timezone.now(),
            },
        )
        audit.record(
            "result.override" if overridden else "result.confirm", actor=user, unit=a.unit_id, obj=a,
            details={"suggested": advice_text(*suggested) if suggested[0] else "", "advice": advice_text(advice, result.reduce_percent),
                     "reason": reason[:500]},
        )
    return result
