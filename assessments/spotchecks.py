"""抽查 (issue 15): define a population, draw a reproducible sample, assign it, report agreement.

The draw itself is `sampling.draw` (pure Python); this module reads the population from the
database, records everything the draw read (ids, weights, strata, seed, method, algorithm) and
re-runs a record.
"""

import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import DecimalField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from . import audit, permissions, sampling, supervisors
from .childrows import Statement
from .models import Assessment, FundingRow, SpotCheck, SpotCheckItem

TWO = Decimal("0.01")
AGREEMENT_POINTS = Decimal("5")
# Handed in: drafts are not submissions, so they are never in a population.
SUBMITTED_STATES = [s for s in Assessment.State.values if s != Assessment.State.DRAFT]
MAX_SEED = 2**63 - 1


class SpotCheckRefused(Exception):
    """The draw or the assignment cannot be done; the message says why, in Chinese."""


@dataclass(frozen=True)
class Criteria:
    kinds: tuple[str, ...] = ()
    regions: tuple[int, ...] = ()
    supervisor: str = ""
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None

    def to_json(self) -> dict:
        return {
            "kinds": list(self.kinds),
            "regions": list(self.regions),
            "supervisor": self.supervisor,
            "amount_min": None if self.amount_min is None else str(self.amount_min),
            "amount_max": None if self.amount_max is None else str(self.amount_max),
        }


def amount_of_total_row():
    """The 合计 row's 全年预算数, else its 年初预算数 (the amount the execution rate divides by)."""
    total = FundingRow.objects.filter(assessment=OuterRef("pk"), source=FundingRow.TOTAL)
    return Coalesce(
        Subquery(total.values("budget")[:1]), Subquery(total.values("initial_budget")[:1]),
        output_field=DecimalField(max_digits=18, decimal_places=4),
    )


def population_queryset(user, round_, criteria: Criteria):
    """The handed-in assessments of the round that the user reviews and that meet the criteria."""
    qs = permissions.reviewer_assessments(user).filter(round=round_, state__in=SUBMITTED_STATES)
    if criteria.kinds:
        qs = qs.filter(kind__in=criteria.kinds)
    if criteria.regions:
        ids = list(criteria.regions)
        qs = qs.filter(
            Q(unit__region__in=ids) | Q(unit__region__parent__in=ids) | Q(unit__region__parent__parent__in=ids)
        )
    if criteria.supervisor:
        qs = qs.annotate(supervising=supervisors.name()).filter(supervising=criteria.supervisor)
    if criteria.amount_min is not None or criteria.amount_max is not None:
        qs = qs.annotate(amount=amount_of_total_row())
        if criteria.amount_min is not None:
            qs = qs.filter(amount__gte=criteria.amount_min)
        if criteria.amount_max is not None:
            qs = qs.filter(amount__lte=criteria.amount_max)
    return qs


def population(user, round_, criteria: Criteria) -> list[sampling.Member]:
    """The members in id order, with weight 1 + 风险提示数 and the unit's 主管部门 as stratum."""
    rows = (population_queryset(user, round_, criteria).annotate(stratum=supervisors.name()).order_by("pk")
            .values_list("pk", "risk_flag_count", "stratum"))
    return [sampling.Member(pk, 1 + flags, supervisor or "") for pk, flags, supervisor in rows]


def new_seed() -> int:
    return secrets.randbelow(2**31)


def create(user, round_, *, title: str, criteria: Criteria, method: str, seed: int | None = None,
           count: int | None = None, percent: Decimal | None = None) -> SpotCheck:
    """Read the population, draw, record the draw and its items (one transaction, audited)."""
    if method not in sampling.METHODS:
        raise SpotCheckRefused("请选择抽样方法。")
    if (count is None) == (percent is None):
        raise SpotCheckRefused("抽取数量和抽取比例须填写其中一项。")
    seed = new_seed() if seed is None else seed
    if not 0 <= seed <= MAX_SEED:
        raise SpotCheckRefused("随机种子须为 0 至 9223372036854775807 之间的整数。")
    with transaction.atomic():
        members = population(user, round_, criteria)
        if not members:
            raise SpotCheckRefused("抽查范围内没有已提交的自评，请放宽条件。")
        n = sampling.sample_size(len(members), count=count, percent=percent)
        if n == 0:
            raise SpotCheckRefused(f"按所填数量或比例，从 {len(members)} 份自评中抽取 0 份，请增大数量或比例。")
        sample = sampling.draw(members, n, method, seed)
        spot_check = SpotCheck.objects.create(
            round=round_, title=title, criteria=criteria.to_json(), method=method, size_count=count,
            size_percent=percent, seed=seed, algorithm=sampling.ALGORITHM,
            population=[[m.id, m.weight, m.stratum] for m in members], sample=sample, created_by=user,
        )
        by_id = {m.id: m for m in members}
        SpotCheckItem.objects.bulk_create(
            SpotCheckItem(spot_check=spot_check, assessment_id=pk, stratum=by_id[pk].stratum, weight=by_id[pk].weight)
            for pk in sample
        )
        audit.record(
            "spot_check.draw", actor=user, obj=spot_check,
            details={"round": round_.pk, "method": method, "seed": seed, "population": len(members), "sample": sample},
        )
    return spot_check


def redraw(spot_check: SpotCheck) -> list[int]:
    """The sample the record gives when drawn again (from the recorded population, not today's)."""
    if spot_check.algorithm != sampling.ALGORITHM:
        raise SpotCheckRefused(f"记录使用的算法“{spot_check.algorithm}”不是本系统的“{sampling.ALGORITHM}”，不能重新抽取。")
    members = [sampling.Member(pk, weight, stratum) for pk, weight, stratum in spot_check.population]
    n = sampling.sample_size(len(members), count=spot_check.size_count, percent=spot_check.size_percent)
    return sampling.draw(members, n, spot_check.method, spot_check.seed)


def _scope(user) -> str | None:
    """Which spot checks the user may open: "all" (bureau-wide reviewers), "own" (other reviewers:
    those they drew) or None."""
    if not permissions.is_reviewer(user):
        return None
    return "all" if permissions.reviews_all_units(user) else "own"


def visible(user):
    """Spot checks the user may open (`_scope`)."""
    scope = _scope(user)
    if scope is None:
        return SpotCheck.objects.none()
    return SpotCheck.objects.all() if scope == "all" else SpotCheck.objects.filter(created_by=user)


# The draws of a round a user may open (`visible`), by statements compiled once (childrows.Statement).
_DRAWS = Statement(lambda round_id: SpotCheck.objects.filter(round_id=round_id).select_related("created_by"), int)
_OWN_DRAWS = Statement(
    lambda round_id, user_id: SpotCheck.objects.filter(round_id=round_id, created_by_id=user_id).select_related("created_by"),
    int, int)
_GIVEN = Statement(
    lambda round_id, user_id: SpotCheckItem.objects.filter(reviewer_id=user_id, spot_check__round_id=round_id)
    .select_related("assessment__unit", "assessment__round", "spot_check").order_by("assessment__unit__name", "pk"),
    int, int)


def visible_in(user, round_) -> list[SpotCheck]:
    """`visible(user)`'s spot checks of one round, with who drew them."""
    scope = _scope(user)
    if scope is None:
        return []
    return _DRAWS.all(round_.pk) if scope == "all" else _OWN_DRAWS.all(round_.pk, user.pk)


def given_to(user, round_) -> list[SpotCheckItem]:
    """The sampled assessments of a round given to this reviewer, whoever drew them."""
    return _GIVEN.all(round_.pk, user.pk)


def reviewer_choices(assessment: Assessment, candidates) -> list:
    """The candidates who may review this assessment (the workflow's own check)."""
    return [u for u in candidates if permissions.can_review(u, assessment)]


def assign(user, item: SpotCheckItem, *, reviewer=None, third_party: str = "") -> None:
    """Give a sampled assessment to a reviewer who may review it, or to a third-party firm."""
    third_party = third_party.strip()
    if reviewer is not None and third_party:
        raise SpotCheckRefused("复核人与委托第三方只能选择其一。")
    if reviewer is not None and not permissions.can_review(reviewer, item.assessment):
        raise SpotCheckRefused(f"“{reviewer.get_full_name() or reviewer.username}”不能审核该单位的自评，请另选复核人。")
    with transaction.atomic():
        SpotCheckItem.objects.filter(pk=item.pk).update(reviewer=reviewer, third_party=third_party)
        audit.record(
            "spot_check.assign", actor=user, unit=item.assessment.unit_id, obj=item.assessment,
            details={"spot_check": item.spot_check_id, "reviewer": reviewer.username if reviewer else "",
                     "third_party": third_party},
        )


# --- agreement of 自评 and 复核 ------------------------------------------------------------------


def _mean(values) -> Decimal | None:
    values = list(values)
    return (sum(values, Decimal(0)) / len(values)).quantize(TWO, rounding=ROUND_HALF_UP) if values else None


def _percent(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) * 100 / whole).quantize(TWO, rounding=ROUND_HALF_UP) if whole else None


@dataclass
class Agreement:
    """自评 vs 复核 over the assessments that have both totals."""

    label: str
    sampled: int = 0
    compared: int = 0
    mean_gap: Decimal | None = None  # mean of |复核 − 自评|
    mean_signed_gap: Decimal | None = None  # mean of 复核 − 自评
    largest_gap: Decimal | None = None
    largest_gap_of: Assessment | None = None
    within: int = 0
    within_percent: Decimal | None = None
    grade_changes: list[tuple[str, str, int]] = field(default_factory=list)  # (自评等级, 复核等级, n), changed only


def agreement(label: str, assessments) -> Agreement:
    assessments = list(assessments)
    result = Agreement(label=label, sampled=len(assessments))
    pairs = [a for a in assessments if a.self_total is not None and a.review_total is not None]
    result.compared = len(pairs)
    if not pairs:
        return result
    gaps = [(a.review_total - a.self_total, a) for a in pairs]
    result.mean_gap = _mean(abs(g) for g, _ in gaps)
    result.mean_signed_gap = _mean(g for g, _ in gaps)
    largest, of = max(gaps, key=lambda pair: (abs(pair[0]), -pair[1].pk))
    result.largest_gap, result.largest_gap_of = largest, of
    result.within = sum(1 for g, _ in gaps if abs(g) <= AGREEMENT_POINTS)
    result.within_percent = _percent(result.within, result.compared)
    changes = Counter((a.self_grade, a.review_grade) for a in pairs if a.self_grade != a.review_grade)
    order = {g: n for n, g in enumerate(("优", "良", "中", "差", ""))}
    result.grade_changes = [
        (old, new, n) for (old, new), n in sorted(changes.items(), key=lambda kv: (order.get(kv[0][0], 9), order.get(kv[0][1], 9)))
    ]
    return result


def report(spot_check: SpotCheck) -> tuple[Agreement, list[Agreement]]:
    """The whole sample's agreement and the same by 主管部门 (the stratum recorded at the draw)."""
    items = list(spot_check.items.select_related("assessment"))
    overall = agreement("全部抽查对象", [i.assessment for i in items])
    groups = defaultdict(list)
    for item in items:
        groups[item.stratum].append(item.assessment)
    return overall, [agreement(name or "（未填写主管部门）", groups[name]) for name in sorted(groups)]
