"""A deterministic province-sized population, written with bulk_create.

Everything is drawn from one `random.Random(2024)`. Cached fields (self_total, self_grade,
risk_flags, risk_flag_count) are computed exactly as `services.refresh_scores` does — the real
`readmodel.build` + `flags.compute` on the in-memory rows — and each snapshot holds the real
`AssessmentView.to_dict()`. review_total / review_grade of approved and published assessments
equal the self scores (no IndicatorReview rows: the reviewer agreed with every row). The public
JSON document of every published assessment is the real `exporting.json_document` of the real
`PublicReport` (built from the same in-memory rows, masked as `build_public` masks them) and is
written to MEDIA_ROOT; xlsx files are made by the real `exporting.write_files` for a sample only.
"""

import dataclasses
import datetime
import hashlib
import json
import random
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.utils import timezone

from assessments import demo, exporting, flags, readmodel, reviewing, roles, scoring
from assessments.exports.public import CONFIDENTIAL_NOTICE, PublicLine, PublicReport, mask_phone
from assessments.models import (
    Assessment,
    ExportJob,
    FundingRow,
    Goal,
    Indicator,
    Membership,
    ProjectExpense,
    Publication,
    Region,
    ReportSection,
    Review,
    ReviewerAssignment,
    Round,
    Snapshot,
    StructureRow,
    Transition,
    Unit,
)
from assessments.table_templates import latest_version

from . import texts

SEED = 2024
CURRENT_YEAR = 2025
YEARS = (CURRENT_YEAR - 2, CURRENT_YEAR - 1, CURRENT_YEAR)
BATCH = 2000
S = Assessment.State

# Share of each state among a round's assessments.
CURRENT_STATES = {S.DRAFT: 5, S.SUBMITTED: 42, S.IN_REVIEW: 20, S.RETURNED: 7, S.APPROVED: 8, S.PUBLISHED: 18}
PAST_STATES = {S.DRAFT: 1, S.SUBMITTED: 1, S.IN_REVIEW: 1, S.RETURNED: 2, S.APPROVED: 5, S.PUBLISHED: 90}

REVIEWER = "bench_reviewer"
OFFICER = "bench_officer"
PASSWORD = "Bench-Pass-2024"


@dataclass(frozen=True)
class Scale:
    name: str
    cities: int
    districts_per_city: int | None  # None: all of the city's districts
    province_units: int
    city_units: int  # per city
    units: int
    projects: tuple[int, int]
    rows: tuple[int, int]
    chunk_units: int
    xlsx_sample: int


FULL = Scale("full", cities=14, districts_per_city=None, province_units=120, city_units=30, units=3000,
             projects=(1, 4), rows=(15, 40), chunk_units=150, xlsx_sample=40)
TINY = Scale("tiny", cities=2, districts_per_city=1, province_units=1, city_units=1, units=6,
             projects=(1, 1), rows=(15, 18), chunk_units=10, xlsx_sample=2)

# Probe assessments the measurements use (forced content; everything else is random).
PROBE_EDIT = "edit40"      # officer's unit, current round, department, draft, 40 rows
PROBE_SUBMIT = "submit40"  # officer's unit, current round, project, draft, 40 rows, valid
PROBE_SAVE15 = "save15"    # officer's unit, current round, project, draft, 15 rows
PROBE_PUBLIC = "public40"  # another unit, previous round, department, published, 40 rows


def q2(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# --- Text pools from the seeds -----------------------------------------------------------------


@dataclass
class Pools:
    sections: dict[str, list[str]]
    all_sections: list[str]
    goals: list[tuple[str, str]]
    duties: list[str]
    expense_notes: list[str]
    qualitative: list[tuple[str, str, str]]  # name, target, actual

    @classmethod
    def from_seeds(cls) -> "Pools":
        sections: dict[str, list[str]] = {}
        goals, duties, notes, qualitative = [], [], [], []
        for spec in demo.ASSESSMENTS:
            for key, data in spec["sections"].items():
                if data["body"].strip():
                    sections.setdefault(key, []).append(data["body"])
            goals += [(g["target"], g["achieved"]) for g in spec["goals"] if g["target"] and g["achieved"]]
            if spec["header"].get("duties"):
                duties.append(spec["header"]["duties"])
            notes += [p["note"] for p in spec["project_expenses"] if p.get("note")]
            for row in spec["indicators"]:
                if row["name"] and row["actual"] and scoring.parse_value(row["target"]) is None and row["target"]:
                    qualitative.append((row["name"], row["target"], row["actual"]))
        qualitative += texts.QUALITATIVE_TARGETS
        goals += [
            ("完成年度重点工作任务，确保资金安全、规范、有效使用。", "年度重点工作任务全面完成，资金使用规范，未发现违规问题。"),
            ("提升公共服务水平，群众满意度稳步提高。", "公共服务能力明显增强，群众满意度达到预期。"),
        ]
        return cls(sections, [b for bodies in sections.values() for b in bodies], goals, duties or ["负责本部门职能范围内的各项工作。"],
                   notes or ["按预算执行。"], qualitative)


# --- One assessment in memory ------------------------------------------------------------------


@dataclass
class Bundle:
    a: Assessment
    funding: list[FundingRow]
    structure: list[StructureRow]
    goals: list[Goal]
    expenses: list[ProjectExpense]
    indicators: list[Indicator]
    sections: list[ReportSection]
    view: readmodel.AssessmentView | None = None
    probe: str = ""
    children: dict = field(default_factory=dict)


class Generator:
    def __init__(self, scale: Scale, media: Path, log=print):
        self.scale = scale
        self.rng = random.Random(SEED)
        self.pools = Pools.from_seeds()
        self.media = media
        self.log = log
        self.now = timezone.now().replace(microsecond=0)
        self.timings: dict[str, float] = {}
        self.probes: dict[str, int] = {}
        self.repaired_to_draft = 0
        self.published_ids: list[int] = []
        self.json_bytes = 0

    # Reference data.

    def reference(self) -> None:
        rng, scale = self.rng, self.scale
        province = Region.objects.create(name=texts.PROVINCE, level=Region.Level.PROVINCE)
        cities = list(texts.CITIES.items())[: scale.cities]
        city_regions = Region.objects.bulk_create(
            [Region(name=name, level=Region.Level.CITY, parent=province) for name, _ in cities]
        )
        districts = Region.objects.bulk_create(
            [
                Region(name=d, level=Region.Level.DISTRICT, parent=city)
                for (_, ds), city in zip(cities, city_regions, strict=True)
                for d in ds[: scale.districts_per_city]
            ]
        )
        combos = [(d, a) for a in texts.AFFILIATES for d in texts.DEPARTMENTS]
        units: list[Unit] = []

        def add(region: Region, prefix: str, short_prefix: str, count: int) -> None:
            for dept, aff in combos[:count]:
                units.append(Unit(name=f"{prefix}{dept}{aff}"[:100], short_name=f"{short_prefix}{dept}{aff}"[:30],
                                  region=region, supervisor=f"{prefix}人民政府"))

        add(province, texts.PROVINCE, "省", scale.province_units)
        for city in city_regions:
            add(city, city.name, city.name[:2], scale.city_units)
        remaining = scale.units - len(units)
        per_district = [remaining // len(districts) + (1 if i < remaining % len(districts) else 0) for i in range(len(districts))]
        for district, count in zip(districts, per_district, strict=True):
            add(district, f"{district.parent.name}{district.name}", district.name, count)
        self.units = Unit.objects.bulk_create(units, batch_size=BATCH)
        self.district_units = [u for u in self.units if u.region.level == Region.Level.DISTRICT]

        self.rounds = Round.objects.bulk_create(
            [
                Round(year=year, title=f"{year}年度绩效自评",
                      deadline=timezone.localdate() if year == CURRENT_YEAR else datetime.date(year + 1, 3, 31),
                      is_open=year == CURRENT_YEAR)
                for year in YEARS
            ]
        )

        User = get_user_model()
        password = make_password(PASSWORD)
        review_all = Permission.objects.get(content_type__app_label="assessments", codename="review_all")
        self.reviewer = User.objects.create(username=REVIEWER, first_name="财政局绩效科审核人", email="reviewer@bench.invalid",
                                            password=password)
        self.reviewer.user_permissions.add(review_all)
        city_reviewers = User.objects.bulk_create(
            [User(username=f"reviewer_{n:02d}", first_name=f"{c.name}财政局审核人", password=password)
             for n, c in enumerate(city_regions)]
        )
        officers = User.objects.bulk_create(
            [User(username=OFFICER if n == 0 else f"officer{n:04d}", first_name=f"{u.short_name}填报人", password=password)
             for n, u in enumerate(self.district_units + [u for u in self.units if u.region.level != Region.Level.DISTRICT])],
            batch_size=BATCH,
        )
        ordered_units = self.district_units + [u for u in self.units if u.region.level != Region.Level.DISTRICT]
        Membership.objects.bulk_create(
            [Membership(user=o, unit=u, role=Membership.Role.OFFICER, phone="0731-8" + str(rng.randint(1000000, 9999999)))
             for o, u in zip(officers, ordered_units, strict=True)],
            batch_size=BATCH,
        )
        city_of = {}
        for u in self.units:
            r = u.region
            while r.level != Region.Level.CITY and r.parent is not None:
                r = r.parent
            city_of[u.pk] = r.pk if r.level == Region.Level.CITY else None
        by_city = {c.pk: rv for c, rv in zip(city_regions, city_reviewers, strict=True)}
        ReviewerAssignment.objects.bulk_create(
            [ReviewerAssignment(reviewer=by_city[city_of[u.pk]], unit=u) for u in self.units if city_of[u.pk]],
            batch_size=BATCH,
        )
        roles.invalidate()  # bulk_create sends no signal: accounts' cached roles from an earlier population
        self.officer = officers[0]

    # Content.

    def state_for(self, rnd: Round) -> str:
        table = CURRENT_STATES if rnd.year == CURRENT_YEAR else PAST_STATES
        return self.rng.choices(list(table), weights=list(table.values()))[0]

    def version(self, code: str):
        """The latest version of a built-in template, looked up once per run."""
        versions = self.__dict__.setdefault("_versions", {})
        if code not in versions:
            versions[code] = latest_version(code)
        return versions[code]

    def funding(self, table, big: bool) -> tuple[list[FundingRow], Decimal, Decimal]:
        rng = self.rng
        budget = q2(rng.uniform(300, 20000) if big else rng.uniform(10, 3000))
        roll = rng.random()
        rate = Decimal("1") if roll < 0.05 else q2(rng.uniform(0.70, 0.8999)) if roll < 0.13 else q2(rng.uniform(0.90, 0.999))
        actual = q2(budget * rate)
        reason = rng.choice(texts.REASONS) if rate < Decimal("0.9") else ""
        shares = {"total": Decimal("1"), "fiscal": Decimal("0.9"), "carryover": Decimal("0"), "other": Decimal("0.1")}
        rows = []
        for source in table.funding_row_keys:
            share = shares[source]
            b, x = q2(budget * share), q2(actual * share)
            row = FundingRow(source=source, reason=reason if source == "total" else "")
            if "initial_budget" in table.funding_keys:
                row.initial_budget = b
            if "budget" in table.funding_keys:
                row.budget = b
            row.actual = x
            rows.append(row)
        return rows, budget, actual

    def indicators(self, n: int) -> list[Indicator]:
        rng = self.rng
        n_sat = 1 if n < 25 else 2
        n_benefit = max(2, round(n * 0.3))
        n_output = n - n_sat - n_benefit
        out2 = ["数量指标", "质量指标", "时效指标", "成本指标"]
        ben2 = ["经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标"]
        plan = []
        out_counts = [1, 1, 1, 1]
        for _ in range(n_output - 4):
            out_counts[rng.choices(range(4), weights=[5, 3, 1, 1])[0]] += 1
        for l2, c in zip(out2, out_counts, strict=True):
            plan += [(scoring.LEVEL1_OUTPUT, l2)] * c
        ben_counts = [0, 1, 0, 1]
        for _ in range(n_benefit - 2):
            ben_counts[rng.choices(range(4), weights=[2, 5, 1, 1])[0]] += 1
        for l2, c in zip(ben2, ben_counts, strict=True):
            plan += [(scoring.LEVEL1_BENEFIT, l2)] * c
        plan += [(scoring.LEVEL1_SATISFACTION, "服务对象满意度指标")] * n_sat
        weights = scoring.spread_weights([scoring.IndicatorInput(level1=l1) for l1, _ in plan])
        rows = []
        for position, ((level1, level2), weight) in enumerate(zip(plan, weights, strict=True), start=1):
            row = Indicator(key=uuid.UUID(int=rng.getrandbits(128)), position=position, level1=level1, level2=level2,
                            weight=weight, outcome="", score=None, reason="")
            if level1 != scoring.LEVEL1_SATISFACTION and rng.random() < 0.2:
                name, target, actual = rng.choice(self.pools.qualitative)
                row.name, row.target, row.actual = name, target, actual
                if rng.random() < 0.05:
                    row.outcome, row.score, row.reason = scoring.OUTCOME_PARTIAL, q2(weight * Decimal("0.7")), rng.choice(texts.REASONS)
                elif actual.strip() not in scoring.ACHIEVED_WORDS:
                    row.outcome = scoring.OUTCOME_ACHIEVED
            else:
                self.quantitative(row, level2)
            rows.append(row)
        return rows

    def quantitative(self, row: Indicator, level2: str) -> None:
        rng = self.rng
        name, unit, base = rng.choice(texts.QUANT_NAMES[level2])
        row.name = name
        roll = rng.random()
        if unit == "%":
            t = min(100, base)
            op = "≥" if t < 100 else "="
            if roll < 0.06 and t > 60:
                a = t - rng.randint(3, 15)
                row.reason = rng.choice(texts.REASONS)
            elif level2 == "服务对象满意度指标" and roll < 0.16:
                a = 100
            else:
                a = 100 if op == "=" else min(100, round(t * rng.uniform(1.0, 1.05), 1))
            target, actual = f"{op}{t}%", f"{a}%"
            if op == "=" and a == 100 and roll > 0.9:
                actual = target  # written as the target ("=100%"): flagged 完成值照抄指标值
        else:
            t = max(1, round(base * rng.uniform(0.5, 2.0)))
            if unit == "万元" and level2 == "成本指标":
                op = "≤"
                a = q2(t * rng.uniform(0.85, 1.0))
                if roll < 0.05:
                    a = q2(t * rng.uniform(1.02, 1.15))
                    row.reason = rng.choice(texts.REASONS)
            else:
                op = "≥"
                if roll < 0.07:
                    a = max(0, round(t * rng.uniform(0.65, 0.95)))
                    row.reason = rng.choice(texts.REASONS)
                elif roll < 0.10:
                    a = round(t * rng.uniform(1.35, 1.6)) + 1
                    row.reason = rng.choice(texts.REASONS)
                else:
                    a = round(t * rng.uniform(1.0, 1.25))
            target, actual = f"{op}{t}{unit}", f"{a}{unit}"
        row.target, row.actual = target, actual

    def bundle(self, unit: Unit, rnd: Round, kind: str, project_name: str, state: str, n_rows: int,
               probe: str = "") -> Bundle:
        rng, pools = self.rng, self.pools
        layout_code = "department" if kind == Assessment.Kind.DEPARTMENT else rng.choice(["project", "national"])
        version = self.version(layout_code)
        table = version.table
        a = Assessment(unit=unit, round=rnd, kind=kind, template_version=version, state=state, project_name=project_name,
                       created_by=None)
        if kind == Assessment.Kind.DEPARTMENT:
            a.duties = rng.choice(pools.duties)
            a.staff_quota = rng.randint(8, 120)
            a.staff_actual = max(1, a.staff_quota + rng.randint(-5, 3))
        else:
            a.project_leader = rng.choice(texts.LEADERS)
            office = rng.random() < 0.2
            a.leader_phone = f"0731-8{rng.randint(1000000, 9999999)}" if office else f"13{rng.randint(100000000, 999999999)}"
            a.leader_phone_is_office = office
            a.supervisor_name = unit.supervisor
            a.implementer = unit.name
            a.confidential = not probe and rng.random() < 0.02
        funding, budget, actual = self.funding(table, kind == Assessment.Kind.DEPARTMENT)
        structure = []
        if table.structure_rows:
            basic_b, basic_a = q2(budget * Decimal("0.35")), q2(actual * Decimal("0.35"))
            pers_b, pers_a = q2(budget * Decimal("0.28")), q2(actual * Decimal("0.28"))
            values = {"basic": (basic_b, basic_a), "personnel": (pers_b, pers_a),
                      "operating": (basic_b - pers_b, basic_a - pers_a), "project": (budget - basic_b, actual - basic_a)}
            structure = [
                StructureRow(item=row.key, budget=values[row.key][0], actual=values[row.key][1]) for row in table.structure_rows
            ]
        goals = [Goal(position=n, target=t, achieved=x)
                 for n, (t, x) in enumerate(rng.sample(pools.goals, rng.randint(1, min(3, len(pools.goals)))), start=1)]
        expenses = []
        if kind == Assessment.Kind.DEPARTMENT:
            for n, name in enumerate(rng.sample(texts.PROJECT_TOPICS, rng.randint(1, 6)), start=1):
                b = q2(rng.uniform(5, 800))
                expenses.append(ProjectExpense(position=n, name=name, budget=b, actual=q2(b * Decimal(str(rng.uniform(0.8, 1.0)))),
                                               note=rng.choice(pools.expense_notes), confidential=rng.random() < 0.03))
        indicators = self.indicators(n_rows)
        with_report = kind == Assessment.Kind.DEPARTMENT or rng.random() < 0.15
        sections = []
        for key in (section.key for section in table.text_sections):
            body = ""
            if with_report and (kind == Assessment.Kind.DEPARTMENT or key in flags.CORE_SECTIONS["department"]):
                if rng.random() > 0.04:
                    body = rng.choice(pools.sections.get(key) or pools.all_sections)
            sections.append(ReportSection(key=key, title="", body=body))
        b = Bundle(a, funding, structure, goals, expenses, indicators, sections, probe=probe)
        self.score(b)
        return b

    def evaluate(self, b: Bundle) -> readmodel.AssessmentView:
        return readmodel.build(b.a, funding_rows=b.funding, indicators=b.indicators, structure_rows=b.structure,
                               goals=b.goals, expenses=b.expenses, sections=b.sections)

    def score(self, b: Bundle) -> None:
        """Cached fields as `services.refresh_scores` computes them; repair rows a submission would refuse."""
        view = self.evaluate(b)
        for _ in range(3):
            if not view.result.problems:
                break
            for p in view.result.problems:
                if p.section == "indicators" and p.row:
                    ind = b.indicators[p.row - 1]
                    if p.field == "reason":
                        ind.reason = self.rng.choice(texts.REASONS)
                    elif p.field in ("outcome", "score"):
                        ind.outcome, ind.score = scoring.OUTCOME_ACHIEVED, None
                    elif p.field == "actual":
                        ind.actual = ind.target
                elif p.section == "funding" and p.field == "reason":
                    b.funding[0].reason = self.rng.choice(texts.REASONS)
            view = self.evaluate(b)
        if view.result.problems and b.a.state != S.DRAFT:
            self.repaired_to_draft += 1
            b.a.state = S.DRAFT
        codes = flags.compute(view)
        a = b.a
        a.self_total = view.result.total
        a.self_grade = view.result.grade or ""
        a.risk_flags = flags.encode(codes)
        a.risk_flag_count = len(codes)
        b.view = view

    # Workflow history.

    def times(self, b: Bundle) -> None:
        a, rng = b.a, self.rng
        if a.state == S.DRAFT:
            return
        if a.round.year == CURRENT_YEAR:
            hours = rng.uniform(0, 24) if rng.random() < 0.4 else rng.uniform(24, 24 * 14)
            a.submitted_at = self.now - datetime.timedelta(hours=hours)
        else:
            start = datetime.datetime(a.round.year + 1, 2, 1, 9, tzinfo=datetime.UTC)
            a.submitted_at = start + datetime.timedelta(minutes=rng.randint(0, 58 * 24 * 60))
        if a.state in (S.APPROVED, S.PUBLISHED):
            a.review_total, a.review_grade = a.self_total, a.self_grade
        if a.state == S.PUBLISHED:
            later = a.submitted_at + datetime.timedelta(days=rng.uniform(1, 60))
            a.published_at = min(later, self.now - datetime.timedelta(minutes=5))

    def _insert(self, model, rows, batch_size=BATCH) -> None:
        t0 = time.perf_counter()
        if model is Snapshot:
            with values_list_inserts():
                model.objects.bulk_create(rows, batch_size=batch_size)
        else:
            model.objects.bulk_create(rows, batch_size=batch_size)
        key = f"insert_{model.__name__}"
        self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t0

    def create_chunk(self, bundles: list[Bundle]) -> None:
        for b in bundles:
            if b.a.confidential and b.a.state == S.PUBLISHED:
                b.a.state = S.APPROVED
            self.times(b)
        self._insert(Assessment, [b.a for b in bundles])
        children = {FundingRow: [], StructureRow: [], Goal: [], ProjectExpense: [], Indicator: [], ReportSection: []}
        for b in bundles:
            for model, rows in ((FundingRow, b.funding), (StructureRow, b.structure), (Goal, b.goals),
                                (ProjectExpense, b.expenses), (Indicator, b.indicators), (ReportSection, b.sections)):
                for row in rows:
                    row.assessment = b.a
                children[model] += rows
        for model, rows in children.items():
            self._insert(model, rows)

        reviewer = self.reviewer
        transitions, snap_of = [], {}
        for b in bundles:
            a = b.a
            if a.state == S.DRAFT:
                continue
            submit = Transition(assessment=a, action="submit", from_state=S.DRAFT, to_state=S.SUBMITTED, actor=None)
            transitions.append(submit)
            snap_of[a.pk] = submit
            if a.state == S.SUBMITTED:
                continue
            transitions.append(Transition(assessment=a, action="start_review", from_state=S.SUBMITTED, to_state=S.IN_REVIEW,
                                          actor=reviewer))
            if a.state == S.RETURNED:
                transitions.append(Transition(assessment=a, action="return", from_state=S.IN_REVIEW, to_state=S.RETURNED,
                                              actor=reviewer, comment="请补充第3行指标的佐证材料，并说明偏差原因。"))
            if a.state in (S.APPROVED, S.PUBLISHED):
                transitions.append(Transition(assessment=a, action="approve", from_state=S.IN_REVIEW, to_state=S.APPROVED,
                                              actor=reviewer))
            if a.state == S.PUBLISHED:
                transitions.append(Transition(assessment=a, action="publish", from_state=S.APPROVED, to_state=S.PUBLISHED,
                                              actor=None))
        self._insert(Transition, transitions)
        snapshots = []
        t_snap = time.perf_counter()
        by_pk = {b.a.pk: b for b in bundles}
        for pk, submit in snap_of.items():
            b = by_pk[pk]
            # The snapshot is what submit stores: the read model's to_dict().
            snapshots.append(Snapshot(assessment=b.a, number=1, transition=submit, data=b.view.to_dict()))
        self.timings["snapshot_to_dict"] = self.timings.get("snapshot_to_dict", 0.0) + time.perf_counter() - t_snap
        self._insert(Snapshot, snapshots, 500)
        snap_by_pk = {s.assessment_id: s for s in snapshots}
        reviews, jobs, publications = [], [], []
        decision = {S.IN_REVIEW: Review.Decision.PENDING, S.RETURNED: Review.Decision.RETURNED,
                    S.APPROVED: Review.Decision.APPROVED, S.PUBLISHED: Review.Decision.APPROVED}
        for b in bundles:
            a = b.a
            if a.state in decision:
                decided = a.state != S.IN_REVIEW
                reviews.append(Review(assessment=a, snapshot=snap_by_pk[a.pk], number=1, reviewer=reviewer,
                                      decision=decision[a.state],
                                      comment="请补充佐证材料。" if a.state == S.RETURNED else "",
                                      review_total=a.review_total, review_grade=a.review_grade,
                                      decided_at=a.submitted_at + datetime.timedelta(days=3) if decided else None))
            if a.state == S.APPROVED and not a.confidential:
                jobs.append(ExportJob(assessment=a, status=ExportJob.Status.QUEUED, requested_by=reviewer,
                                      dispatched_at=self.now))
            if a.state == S.PUBLISHED:
                jobs.append(ExportJob(assessment=a, status=ExportJob.Status.DONE, attempts=1, requested_by=reviewer,
                                      dispatched_at=a.published_at, started_at=a.published_at, finished_at=a.published_at))
                t_pub = time.perf_counter()
                publications.append(self.publication(b))
                self.timings["public_json_files"] = self.timings.get("public_json_files", 0.0) + time.perf_counter() - t_pub
        self._insert(Review, reviews)
        self._insert(ExportJob, jobs)
        self._insert(Publication, publications, 500)

    def publication(self, b: Bundle) -> Publication:
        """The real public JSON document (as `exporting.write_files` writes it), from the in-memory rows."""
        a = b.a
        public_a = Assessment(**{f.attname: getattr(a, f.attname) for f in Assessment._meta.concrete_fields})
        public_a.unit, public_a.round = a.unit, a.round
        if not public_a.leader_phone_is_office:
            public_a.leader_phone = mask_phone(public_a.leader_phone)
        expenses = [ProjectExpense(name=CONFIDENTIAL_NOTICE, confidential=True) if p.confidential else p for p in b.expenses]
        view = dataclasses.replace(b.view, assessment=public_a, project_expenses=expenses)
        review_view = reviewing.build(view, None)  # the approved review has no rows: review = self
        report = PublicReport(
            view=view,
            lines=[PublicLine(line, review_view.lines[n].result.score) for n, line in enumerate(view.indicators)],
            review_total=review_view.totals.total,
            review_grade=review_view.totals.grade,
            published_at=a.published_at,
        )
        data = exporting.json_document(report)
        folder = f"disclosure/{a.pk}"
        json_name, xlsx_name = f"{folder}/assessment-{a.pk}.json", f"{folder}/assessment-{a.pk}.xlsx"
        path = self.media / json_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.json_bytes += len(data)
        self.published_ids.append(a.pk)
        return Publication(assessment=a, json=json_name, xlsx=xlsx_name, json_sha256=hashlib.sha256(data).hexdigest(),
                           xlsx_sha256="", search_text=report.search_text(), generated_at=a.published_at)

    # The whole population.

    def run(self) -> dict:
        t0 = time.perf_counter()
        with transaction.atomic():
            self.reference()
        self.timings["reference"] = time.perf_counter() - t0

        scale = self.scale
        probe_unit, public_unit = self.district_units[0], self.district_units[1]
        units = list(self.units)
        t_content = t_insert = 0.0
        total = 0
        for start in range(0, len(units), scale.chunk_units):
            t1 = time.perf_counter()
            bundles = []
            for unit in units[start : start + scale.chunk_units]:
                for rnd in self.rounds:
                    bundles += self.unit_round(unit, rnd, probe_unit, public_unit)
            t2 = time.perf_counter()
            with transaction.atomic():
                self.create_chunk(bundles)
            t3 = time.perf_counter()
            t_content += t2 - t1
            t_insert += t3 - t2
            total += len(bundles)
            for b in bundles:
                if b.probe:
                    self.probes[b.probe] = b.a.pk
            self.log(f"  generated {total} assessments ({start + len(units[start:start + scale.chunk_units])}/{len(units)} units), "
                     f"{time.perf_counter() - t0:.0f} s")
        self.timings["content_python"] = t_content
        self.timings["bulk_insert_and_json_files"] = t_insert

        t4 = time.perf_counter()
        sample = self.xlsx_sample()
        for pk in sample:
            exporting.write_files(pk)
        self.timings["xlsx_sample_write_files"] = time.perf_counter() - t4
        t5 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        self.timings["vacuum_analyze"] = time.perf_counter() - t5
        self.timings["total"] = time.perf_counter() - t0
        return {
            "scale": dataclasses.asdict(self.scale),
            "seed": SEED,
            "probes": self.probes,
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "repaired_to_draft": self.repaired_to_draft,
            "published": len(self.published_ids),
            "json_files_bytes": self.json_bytes,
            "xlsx_files": len(sample),
            "counts": counts(),
        }

    def xlsx_sample(self) -> list[int]:
        ids = sorted(self.published_ids)
        keep = [self.probes[PROBE_PUBLIC]] if PROBE_PUBLIC in self.probes else []
        step = max(1, len(ids) // max(1, self.scale.xlsx_sample))
        return sorted(set(keep + ids[::step][: self.scale.xlsx_sample]))

    def unit_round(self, unit: Unit, rnd: Round, probe_unit: Unit, public_unit: Unit) -> list[Bundle]:
        rng, scale = self.rng, self.scale
        current = rnd.year == CURRENT_YEAR
        previous = rnd.year == CURRENT_YEAR - 1
        n_projects = rng.randint(*scale.projects)
        if unit is probe_unit and current:
            n_projects = 2
        names = rng.sample(texts.PROJECT_TOPICS, n_projects)
        out = []
        # Department assessment.
        probe, state, rows = "", self.state_for(rnd), rng.randint(*scale.rows)
        if unit is probe_unit and current:
            probe, state, rows = PROBE_EDIT, S.DRAFT, 40
        elif unit is public_unit and previous:
            probe, state, rows = PROBE_PUBLIC, S.PUBLISHED, 40
        out.append(self.bundle(unit, rnd, Assessment.Kind.DEPARTMENT, "", state, rows, probe))
        for n, name in enumerate(names):
            probe, state, rows = "", self.state_for(rnd), rng.randint(*scale.rows)
            if unit is probe_unit and current:
                probe, state, rows = ((PROBE_SUBMIT, S.DRAFT, 40), (PROBE_SAVE15, S.DRAFT, 15))[n]
            out.append(self.bundle(unit, rnd, Assessment.Kind.PROJECT, name, state, rows, probe))
        return out


def counts() -> dict[str, int]:
    models = [Region, Unit, Round, Assessment, Indicator, FundingRow, StructureRow, Goal, ProjectExpense, ReportSection,
              Transition, Snapshot, Review, ExportJob, Publication, Membership, ReviewerAssignment]
    out = {m.__name__: m.objects.count() for m in models}
    current = Round.objects.get(year=CURRENT_YEAR)
    out["current_round_submissions"] = Assessment.objects.filter(round=current).exclude(state=S.DRAFT).count()
    out["current_round_assessments"] = Assessment.objects.filter(round=current).count()
    out["by_state_current_round"] = dict(
        sorted((s, Assessment.objects.filter(round=current, state=s).count()) for s in S.values)
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        out["database_bytes"] = cursor.fetchone()[0]
    return out


@contextmanager
def values_list_inserts():
    """bulk_create through INSERT … VALUES lists (used for snapshots).

    Django 5.2 inserts on PostgreSQL through UNNEST(array, …), one array parameter per column;
    psycopg quotes each element of such an array in Python, with a regex substitution per quote
    character, so an array of snapshot JSON documents (full of quotes) took two thirds of the
    generation time. With VALUES lists each document is its own parameter and is sent as is.
    """
    if connection.vendor != "postgresql":
        yield
        return
    from django.db.backends.postgresql import compiler as pg
    from django.db.models.sql.compiler import SQLInsertCompiler as Base

    original = pg.SQLInsertCompiler.assemble_as_sql
    pg.SQLInsertCompiler.assemble_as_sql = Base.assemble_as_sql
    try:
        yield
    finally:
        pg.SQLInsertCompiler.assemble_as_sql = original


def generate(scale: Scale, media: Path, log=print) -> dict:
    media.mkdir(parents=True, exist_ok=True)
    gen = Generator(scale, media, log)
    meta = gen.run()
    meta["media_root"] = str(settings.MEDIA_ROOT)
    return meta


def dump(meta: dict, path: Path) -> None:
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
