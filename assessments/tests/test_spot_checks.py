"""抽查 (issue 15 §1): reproducible draws, the record, the re-run command, assignments, agreement."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from assessments import sampling, spotchecks
from assessments.models import AuditEvent, FundingRow, Round, SpotCheck, SpotCheckItem, Unit
from assessments.services import create_assessment

from .test_access_matrix import make_reviewer

pytestmark = pytest.mark.django_db

SUPERVISORS = ("甲主管部门", "乙主管部门", "丙主管部门")


# --- the draw itself (pure) -----------------------------------------------------------------------


def members(n=30):
    return [sampling.Member(i, 1 + i % 3, "ABC"[i % 3]) for i in range(1, n + 1)]


def test_same_seed_same_sample_different_seed_different_sample():
    assert sampling.draw(members(), 6, sampling.SIMPLE, 2024) == [6, 7, 10, 16, 19, 24]
    assert sampling.draw(list(reversed(members())), 6, sampling.SIMPLE, 2024) == [6, 7, 10, 16, 19, 24]
    assert sampling.draw(members(), 6, sampling.SIMPLE, 2025) == [3, 6, 16, 18, 21, 27]
    assert sampling.draw(members(), 6, sampling.STRATIFIED, 2024) == [9, 11, 13, 20, 24, 28]
    assert sampling.draw(members(), 6, sampling.RISK_WEIGHTED, 2024) == [4, 13, 17, 18, 20, 23]


def test_sample_size_and_allocation():
    assert sampling.sample_size(33, percent=Decimal("10")) == 3
    assert sampling.sample_size(35, percent=Decimal("10")) == 4  # 3.5 rounds half up
    assert sampling.sample_size(5, count=9) == 5
    assert sampling.allocate({"A": 20, "B": 30, "C": 50}, 10) == {"A": 2, "B": 3, "C": 5}
    # Equal remainders: the strata in name order get the spare places.
    assert sampling.allocate({"A": 7, "B": 7, "C": 7}, 10) == {"A": 4, "B": 3, "C": 3}


def test_stratified_draw_takes_the_stated_share_of_every_stratum():
    population = (
        [sampling.Member(i, 1, "甲") for i in range(1, 21)]
        + [sampling.Member(i, 1, "乙") for i in range(21, 51)]
        + [sampling.Member(i, 1, "丙") for i in range(51, 101)]
    )
    n = sampling.sample_size(len(population), percent=Decimal("10"))
    for seed in range(50):
        sample = sampling.draw(population, n, sampling.STRATIFIED, seed)
        counts = {name: sum(1 for pk in sample if next(m for m in population if m.id == pk).stratum == name)
                  for name in ("甲", "乙", "丙")}
        assert counts == {"甲": 2, "乙": 3, "丙": 5}, seed


def test_risk_weighted_draw_prefers_high_risk_over_many_seeds():
    # 50 members without flags (weight 1) and 50 with three flags (weight 4); 10 drawn, 2,000 seeds.
    population = [sampling.Member(i, 1 if i <= 50 else 4) for i in range(1, 101)]
    low = high = 0
    seeds = 2000
    for seed in range(seeds):
        sample = sampling.draw(population, 10, sampling.RISK_WEIGHTED, seed)
        high += sum(1 for pk in sample if pk > 50)
        low += sum(1 for pk in sample if pk <= 50)
    high_rate, low_rate = high / (50 * seeds), low / (50 * seeds)
    assert high_rate >= low_rate
    # Weight 4 against 1 without replacement: high-risk members are drawn about three times as often.
    assert 2.5 < high_rate / low_rate < 4.5
    # …while a simple draw does not care.
    simple_high = sum(sum(1 for pk in sampling.draw(population, 10, sampling.SIMPLE, s) if pk > 50) for s in range(seeds))
    assert abs(simple_high / (50 * seeds) - 0.1) < 0.01


def test_unknown_method_and_duplicate_ids_are_refused():
    with pytest.raises(ValueError):
        sampling.draw(members(), 3, "lottery", 1)
    with pytest.raises(ValueError):
        sampling.draw(members() + [sampling.Member(1)], 3, sampling.SIMPLE, 1)


# --- against the database -------------------------------------------------------------------------


@pytest.fixture
def round_2024(db):
    return Round.objects.create(year=2024, title="2024年度绩效自评")


def make_population(region, round_, n=30):
    """n submitted project assessments over three units (one per 主管部门); assessment k has
    k % 3 risk flags, a 合计 budget of 10·k 万元 and self/review totals set per k."""
    units = [Unit.objects.create(name=f"抽查测试单位{i}", region=region, supervisor=s) for i, s in enumerate(SUPERVISORS)]
    made = []
    for k in range(1, n + 1):
        a = create_assessment(unit=units[k % 3], round=round_, kind="project", layout="project", project_name=f"项目{k:02d}")
        FundingRow.objects.filter(assessment=a, source="total").update(initial_budget=Decimal(10 * k))
        type(a).objects.filter(pk=a.pk).update(state="approved", risk_flag_count=k % 3)
        made.append(a)
    # One draft: never part of a population.
    create_assessment(unit=units[0], round=round_, kind="project", layout="project", project_name="草稿项目")
    return units, made


def positions(spot_check, made):
    """The sample as positions (1-based) in creation order: ids differ between databases."""
    order = {a.pk: k for k, a in enumerate(made, start=1)}
    return [order[pk] for pk in spot_check.sample]


def test_same_seed_gives_the_same_sample_on_this_database(region, round_2024, reviewer):
    """Run on SQLite and on PostgreSQL: the positions asserted here are the same on both."""
    _, made = make_population(region, round_2024)
    criteria = spotchecks.Criteria()
    first = spotchecks.create(reviewer, round_2024, title="第一次", criteria=criteria, method="simple", seed=2024, count=6)
    again = spotchecks.create(reviewer, round_2024, title="第二次", criteria=criteria, method="simple", seed=2024, count=6)
    other = spotchecks.create(reviewer, round_2024, title="第三次", criteria=criteria, method="simple", seed=2025, count=6)
    assert positions(first, made) == [6, 7, 10, 16, 19, 24]
    assert positions(again, made) == positions(first, made)
    assert positions(other, made) == [3, 6, 16, 18, 21, 27]
    # The record: the population ascending by id with weight 1 + 风险提示数 and the stratum.
    assert first.algorithm == "portal-sampling-v1"
    assert len(first.population) == 30
    assert first.population[:3] == [[made[0].pk, 2, "乙主管部门"], [made[1].pk, 3, "丙主管部门"], [made[2].pk, 1, "甲主管部门"]]
    assert sorted(i.assessment_id for i in SpotCheckItem.objects.filter(spot_check=first)) == first.sample
    event = AuditEvent.objects.filter(action="spot_check.draw").order_by("id").first()
    assert (event.details["seed"], event.details["population"], event.details["sample"]) == (2024, 30, first.sample)


def test_criteria_narrow_the_population(region, round_2024, reviewer):
    _, made = make_population(region, round_2024)
    c = spotchecks.Criteria(supervisor="甲主管部门", amount_min=Decimal("60"), amount_max=Decimal("210"))
    s = spotchecks.create(reviewer, round_2024, title="甲", criteria=c, method="stratified", seed=7, percent=Decimal("50"))
    # 甲 holds k = 3, 6, …; budgets 10·k between 60 and 210: k = 6, 9, 12, 15, 18, 21.
    assert [made.index(next(a for a in made if a.pk == pk)) + 1 for pk, _, _ in s.population] == [6, 9, 12, 15, 18, 21]
    assert len(s.sample) == 3
    assert s.criteria == {"kinds": [], "regions": [], "supervisor": "甲主管部门", "amount_min": "60", "amount_max": "210"}
    with pytest.raises(spotchecks.SpotCheckRefused, match="抽查范围内没有已提交的自评"):
        spotchecks.create(reviewer, round_2024, title="空", criteria=spotchecks.Criteria(kinds=("department",)),
                          method="simple", seed=1, count=1)


def test_stratified_and_weighted_draws_from_the_database(region, round_2024, reviewer):
    _, made = make_population(region, round_2024)
    s = spotchecks.create(reviewer, round_2024, title="分层", criteria=spotchecks.Criteria(), method="stratified",
                          seed=2024, percent=Decimal("20"))
    strata = [item.stratum for item in SpotCheckItem.objects.filter(spot_check=s)]
    assert sorted(strata) == sorted(["甲主管部门"] * 2 + ["乙主管部门"] * 2 + ["丙主管部门"] * 2)
    w = spotchecks.create(reviewer, round_2024, title="加权", criteria=spotchecks.Criteria(), method="risk_weighted",
                          seed=2024, count=6)
    assert positions(w, made) == [4, 13, 17, 18, 20, 23]
    assert positions(s, made) == [8, 12, 13, 21, 23, 28]  # strata in code-point order: 丙, 乙, 甲


def test_assigned_reviewer_draws_only_from_their_units(region, round_2024):
    units, made = make_population(region, round_2024)
    carol = make_reviewer("carol", units[1])
    s = spotchecks.create(carol, round_2024, title="本人负责", criteria=spotchecks.Criteria(), method="simple", seed=3, count=2)
    assert {pk for pk, _, _ in s.population} == {a.pk for a in made if a.unit_id == units[1].pk}


def test_the_command_reruns_the_recorded_draw(region, round_2024, reviewer, capsys):
    _, made = make_population(region, round_2024)
    s = spotchecks.create(reviewer, round_2024, title="复现", criteria=spotchecks.Criteria(), method="risk_weighted",
                          seed=99, percent=Decimal("10"))
    # Today's population changes afterwards: the re-run reads the record, not the database.
    type(made[0]).objects.filter(pk=made[0].pk).update(risk_flag_count=9)
    call_command("spot_check_redraw", str(s.pk))
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"抽查 {s.pk}「复现」：按风险提示加权抽样，算法 portal-sampling-v1，种子 99，总体 30 份，抽取 10.00%",
        "抽中编号：" + " ".join(str(pk) for pk in s.sample),
        "与记录一致。",
    ]
    SpotCheck.objects.filter(pk=s.pk).update(seed=100)
    with pytest.raises(CommandError, match="重新抽取的结果与记录不一致"):
        call_command("spot_check_redraw", str(s.pk))
    with pytest.raises(CommandError, match="抽查记录 987654 不存在"):
        call_command("spot_check_redraw", "987654")


# --- agreement -----------------------------------------------------------------------------------

TOTALS = [
    # (self, self grade, review, review grade)
    ("95.00", "优", "92.00", "优"),
    ("91.00", "优", "84.50", "良"),
    ("88.00", "良", "88.00", "良"),
    ("75.00", "中", "81.00", "良"),
]


def test_agreement_figures(client, region, round_2024, reviewer):
    _, made = make_population(region, round_2024, n=6)
    Assessment = type(made[0])
    s = spotchecks.create(reviewer, round_2024, title="一致性", criteria=spotchecks.Criteria(), method="simple",
                          seed=1, count=6)
    for a, (st, sg, rt, rg) in zip(made, TOTALS, strict=False):
        Assessment.objects.filter(pk=a.pk).update(self_total=Decimal(st), self_grade=sg, review_total=Decimal(rt), review_grade=rg)
    overall, groups = spotchecks.report(s)
    assert (overall.sampled, overall.compared) == (6, 4)
    # |gaps| 3, 6.5, 0, 6 → mean 3.875 → 3.88; signed −3, −6.5, 0, +6 → −0.875 → −0.88 (half up: −0.88)
    assert (overall.mean_gap, overall.mean_signed_gap) == (Decimal("3.88"), Decimal("-0.88"))
    assert (overall.largest_gap, overall.largest_gap_of.pk) == (Decimal("-6.50"), made[1].pk)
    assert (overall.within, overall.within_percent) == (2, Decimal("50.00"))
    assert overall.grade_changes == [("优", "良", 1), ("中", "良", 1)]
    # By 主管部门: k=1 乙, k=2 丙, k=3 甲, k=4 乙 (k % 3 → 0 甲, 1 乙, 2 丙).
    by = {g.label: g for g in groups}
    assert [g.label for g in groups] == sorted(SUPERVISORS)
    assert (by["乙主管部门"].compared, by["乙主管部门"].mean_gap, by["乙主管部门"].grade_changes) == (2, Decimal("4.50"), [("中", "良", 1)])
    assert (by["丙主管部门"].largest_gap, by["丙主管部门"].within_percent) == (Decimal("-6.50"), Decimal("0.00"))
    assert (by["甲主管部门"].compared, by["甲主管部门"].mean_gap, by["甲主管部门"].grade_changes) == (1, Decimal("0.00"), [])
    # The draw's page shows the same figures.
    client.force_login(reviewer)
    page = client.get(reverse("assessments:spot_check", args=[s.pk])).content.decode()
    total = page[page.index('id="agreement-total"'):]
    total = total[:total.index("</tr>")]
    assert "<td data-grade-changes>优→良 1 份；中→良 1 份</td>" in total
    for expected in ('data-mean-gap>3.88<', 'data-mean-signed-gap>-0.88<', f'data-largest-gap>-6.50（编号 {made[1].pk}）<',
                     'data-within>2 / 4（50.00%）<', 'data-compared>4<'):
        assert expected in total, expected


# --- the pages ------------------------------------------------------------------------------------


def test_draw_page_keeps_input_and_names_the_field(client, region, round_2024, reviewer):
    make_population(region, round_2024, n=3)
    client.force_login(reviewer)
    url = reverse("assessments:spot_checks") + f"?round={round_2024.pk}"
    response = client.post(url, {"title": "二〇二四年抽查", "method": "simple", "supervisor": "甲主管部门", "seed": "12"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "抽取数量（份）：抽取数量和抽取比例须填写其中一项。" in page
    assert 'value="二〇二四年抽查"' in page and 'value="甲主管部门"' in page
    response = client.post(url, {"title": "x", "method": "simple", "count": "2", "percent": "10"})
    assert "抽取比例（%）：抽取数量和抽取比例只能填写其中一项。" in response.content.decode()
    response = client.post(url, {"title": "x", "method": "simple", "count": "2", "supervisor": "无此部门"})
    assert response.status_code == 400
    assert "抽查范围内没有已提交的自评，请放宽条件。" in response.content.decode()
    response = client.post(url, {"title": "二〇二四年抽查", "method": "stratified", "count": "2", "seed": "12"})
    s = SpotCheck.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("assessments:spot_check", args=[s.pk])
    assert (s.seed, s.method, s.size_count, len(s.sample)) == (12, "stratified", 2, 2)
    page = client.get(response["Location"]).content.decode()
    assert '<dd class="col-sm-10" id="seed">12</dd>' in page
    assert "portal-sampling-v1" in page
    record = client.get(reverse("assessments:spot_check_record", args=[s.pk])).json()
    assert (record["seed"], record["method"], record["sample"]) == (12, "stratified", s.sample)
    assert [m["id"] for m in record["population"]] == [pk for pk, _, _ in s.population]


def test_assign_reviewer_or_third_party(client, region, round_2024, reviewer):
    units, made = make_population(region, round_2024, n=3)
    carol = make_reviewer("carol", units[1])  # reviews 乙 only
    s = spotchecks.create(reviewer, round_2024, title="安排", criteria=spotchecks.Criteria(), method="simple", seed=1, count=3)
    items = {i.assessment.unit_id: i for i in SpotCheckItem.objects.filter(spot_check=s).select_related("assessment")}
    client.force_login(reviewer)
    url = reverse("assessments:spot_check", args=[s.pk])
    page = client.get(url).content.decode()
    # carol is offered for 乙's assessment only.
    assert page.count(f'<option value="{carol.pk}"') == 1
    response = client.post(url, {"item": items[units[1].pk].pk, "reviewer": carol.pk})
    assert response.status_code == 302
    response = client.post(url, {"item": items[units[0].pk].pk, "reviewer": carol.pk})
    assert response.status_code == 400
    assert "“carol”不能审核该单位的自评，请另选复核人。" in response.content.decode()
    response = client.post(url, {"item": items[units[2].pk].pk, "third_party": "湖南某会计师事务所"})
    assert response.status_code == 302
    response = client.post(url, {"item": items[units[0].pk].pk, "reviewer": reviewer.pk, "third_party": "某所"})
    assert "复核人与委托第三方只能选择其一。" in response.content.decode()
    assert 'value="某所"' in response.content.decode()
    got = {i.assessment.unit_id: (i.reviewer_id, i.third_party) for i in SpotCheckItem.objects.filter(spot_check=s)}
    assert got == {units[0].pk: (None, ""), units[1].pk: (carol.pk, ""), units[2].pk: (None, "湖南某会计师事务所")}
    assert "委托第三方：湖南某会计师事务所" in client.get(url).content.decode()
    # carol finds the assessment given to her on her 抽查 page, though the draw is not hers to open.
    client.force_login(carol)
    page = client.get(reverse("assessments:spot_checks") + f"?round={round_2024.pk}").content.decode()
    a = items[units[1].pk].assessment
    assert "分配给我复核的抽查对象（1 份）" in page
    assert f'<a href="{reverse("assessments:review", args=[a.pk])}">抽查测试单位1 · {a.title}</a>' in page
    assert client.get(url).status_code == 404
    assert AuditEvent.objects.filter(action="spot_check.assign").count() == 2


def test_other_reviewers_do_not_see_a_draw(client, region, round_2024, reviewer):
    units, _ = make_population(region, round_2024, n=3)
    s = spotchecks.create(reviewer, round_2024, title="局内", criteria=spotchecks.Criteria(), method="simple", seed=1, count=1)
    carol = make_reviewer("carol", units[1])
    client.force_login(carol)
    assert client.get(reverse("assessments:spot_check", args=[s.pk])).status_code == 404
    assert client.get(reverse("assessments:spot_check_record", args=[s.pk])).status_code == 404
    assert "局内" not in client.get(reverse("assessments:spot_checks")).content.decode()


def test_strata_and_filter_read_the_supervising_unit_before_the_text(region, round_2024, reviewer):
    """Issue 14's 主管部门 level: a unit with `supervisor_unit` is in that unit's stratum (its name),
    whatever its old free text says; the others keep their text."""
    units, made = make_population(region, round_2024)
    bureau = Unit.objects.create(name="市卫生健康委员会", region=region)
    Unit.objects.filter(pk=units[1].pk).update(supervisor_unit=bureau)  # 乙主管部门 in the text
    s = spotchecks.create(reviewer, round_2024, title="层", criteria=spotchecks.Criteria(), method="stratified",
                          seed=3, count=6)
    assert s.population[:3] == [[made[0].pk, 2, "市卫生健康委员会"], [made[1].pk, 3, "丙主管部门"],
                                [made[2].pk, 1, "甲主管部门"]]
    assert sorted({stratum for _, _, stratum in s.population}) == ["丙主管部门", "市卫生健康委员会", "甲主管部门"]
    assert sorted(SpotCheckItem.objects.filter(spot_check=s).values_list("stratum", flat=True)) == (
        ["丙主管部门"] * 2 + ["市卫生健康委员会"] * 2 + ["甲主管部门"] * 2)
    narrowed = spotchecks.create(reviewer, round_2024, title="卫健", method="simple", seed=1, count=2,
                                 criteria=spotchecks.Criteria(supervisor="市卫生健康委员会"))
    # k % 3 == 1: k = 1, 4, …, 28 (ten assessments).
    assert [p for p, _, _ in narrowed.population] == [made[k - 1].pk for k in range(1, 31, 3)]
    with pytest.raises(spotchecks.SpotCheckRefused, match="抽查范围内没有已提交的自评"):
        spotchecks.create(reviewer, round_2024, title="旧", method="simple", seed=1, count=2,
                          criteria=spotchecks.Criteria(supervisor="乙主管部门"))
    overall, by_supervisor = spotchecks.report(s)
    assert overall.sampled == 6
    assert [g.label for g in by_supervisor] == [
        "丙主管部门", "市卫生健康委员会", "甲主管部门"]
