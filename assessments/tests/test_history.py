"""Issue 7 §2–3: start from last year (carry-over), indicator lineage, year-over-year view and flags."""

import importlib
import re
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from django.utils import timezone

from assessments import flags, history, readmodel
from assessments.models import (
    Assessment,
    FundingRow,
    Goal,
    Indicator,
    Publication,
    ReportSection,
    Round,
    Snapshot,
    Transition,
)
from assessments.services import CarryOverRefused, create_assessment, previous_assessment, refresh_scores

pytestmark = pytest.mark.django_db

L_TRAIN, L_PEOPLE, L_SATISFY = (uuid.UUID(int=n) for n in (1, 2, 3))


def rnd(year):
    return Round.objects.get_or_create(year=year, defaults={"title": f"{year}年度绩效自评"})[0]


def make(unit, year, *, state="approved", kind="department", name="", rows=(), confidential=False, goals=(),
         titles=None):
    """An assessment of `unit` for `year` with indicator rows (lineage, target, actual, weight…), put into `state`."""
    a = create_assessment(unit=unit, round=rnd(year), kind=kind, layout=kind, project_name=name)
    Indicator.objects.bulk_create(
        Indicator(assessment=a, position=n, lineage=lineage, level1=l1, level2=l2, name=nm, target=t, actual=ac,
                  weight=None if w is None else Decimal(w), outcome=oc, score=None if sc is None else Decimal(sc),
                  reason=rs)
        for n, (lineage, l1, l2, nm, t, ac, w, oc, sc, rs) in enumerate(rows, start=1)
    )
    if goals:
        Goal.objects.filter(assessment=a).delete()
        Goal.objects.bulk_create(Goal(assessment=a, position=n, target=t, achieved=ach) for n, (t, ach) in enumerate(goals, 1))
    for key, (title, body) in (titles or {}).items():
        ReportSection.objects.filter(assessment=a, key=key).update(title=title, body=body)
    Assessment.objects.filter(pk=a.pk).update(state=state, confidential=confidential)
    refresh_scores(a)
    a.refresh_from_db()
    return a


def row(lineage, name, target, actual, weight="10", level1="产出指标", level2="数量指标", outcome="", score=None, reason=""):
    return (lineage, level1, level2, name, target, actual, weight, outcome, score, reason)


# --- Lineage ----------------------------------------------------------------------------------


def test_new_rows_get_their_own_lineage(department):
    a, b = Indicator.objects.bulk_create(
        [Indicator(assessment=department, level1="产出指标", level2="数量指标") for _ in range(2)]
    )
    assert a.lineage != b.lineage
    assert a.lineage != a.key


def test_migration_gives_existing_rows_their_key_as_lineage(department):
    rows = Indicator.objects.bulk_create(
        [Indicator(assessment=department, level1="产出指标", level2="数量指标", lineage=L_TRAIN) for _ in range(2)]
    )
    migration = importlib.import_module("assessments.migrations.0005_indicator_lineage")
    migration.lineage_from_key(django_apps, None)
    assert {(r.key, r.lineage) for r in Indicator.objects.filter(pk__in=[r.pk for r in rows])} == {
        (r.key, r.key) for r in rows
    }


def test_read_model_and_snapshot_carry_lineage(department):
    Indicator.objects.create(assessment=department, lineage=L_TRAIN, level1="产出指标", level2="数量指标",
                             name="培训次数", target="≥10次", actual="12次")
    data = readmodel.load(department.pk).to_dict()
    assert data["indicators"][0]["lineage"] == str(L_TRAIN)
    assert readmodel.from_snapshot(department, data).indicators[0].lineage == str(L_TRAIN)
    # A snapshot from before lineages existed: the key stands in, as the migration did.
    old = {**data, "indicators": [{k: v for k, v in data["indicators"][0].items() if k != "lineage"}]}
    line = readmodel.from_snapshot(department, old).indicators[0]
    assert line.lineage == line.key == data["indicators"][0]["key"]


def test_saving_the_entry_form_keeps_lineage(alice_client, department):
    Indicator.objects.create(assessment=department, lineage=L_TRAIN, level1="产出指标", level2="数量指标",
                             name="培训次数", target="≥10次")
    response = alice_client.get(reverse("assessments:edit", args=[department.pk]))
    data = response.context["entry"].as_post_data()
    data["indicators-0-actual"] = "12次"
    assert alice_client.post(reverse("assessments:edit", args=[department.pk]), data).status_code == 302
    assert list(Indicator.objects.filter(assessment=department).values_list("lineage", "actual")) == [(L_TRAIN, "12次")]


# --- Start from last year ---------------------------------------------------------------------


def previous_2019(unit, **kwargs):
    return make(
        unit, 2019,
        rows=[
            row(L_TRAIN, "培训次数", "≥10次", "12次", weight="50", reason="多办了两期"),
            row(L_SATISFY, "群众满意度", "满意", "满意", weight="10", level1="满意度指标", level2="服务对象满意度指标",
                outcome="achieved", score="9"),
        ],
        goals=[("全力维护社会稳定", "已完成"), ("提升群众安全感", "安全感提升")],
        titles={"basic_info": ("一、单位概况", "正文一"), "problems": ("存在问题", "正文二")},
        **kwargs,
    )


def test_carry_over_copies_goals_indicators_and_titles_only(unit_a, round_2020):
    before = previous_2019(unit_a)
    a = create_assessment(unit=unit_a, round=round_2020, kind="department", layout="department", carry_from=before)

    assert list(a.goals.order_by("position").values_list("position", "target", "achieved")) == [
        (1, "全力维护社会稳定", ""), (2, "提升群众安全感", ""),
    ]
    rows = list(a.indicators.order_by("position").values_list(
        "position", "lineage", "level1", "level2", "name", "target", "actual", "weight", "outcome", "score", "reason"
    ))
    assert rows == [
        (1, L_TRAIN, "产出指标", "数量指标", "培训次数", "≥10次", "", Decimal("50.00"), "", None, ""),
        (2, L_SATISFY, "满意度指标", "服务对象满意度指标", "群众满意度", "满意", "", Decimal("10.00"), "", None, ""),
    ]
    old_keys = set(before.indicators.values_list("key", flat=True))
    assert not old_keys & set(a.indicators.values_list("key", flat=True))
    sections = dict(a.report_sections.values_list("key", "title"))
    assert (sections["basic_info"], sections["problems"], sections["other"]) == ("一、单位概况", "存在问题", "")
    assert set(a.report_sections.values_list("body", flat=True)) == {""}
    assert (a.state, a.self_total, a.confidential) == ("draft", None, False)
    # The earlier assessment is untouched.
    assert before.indicators.get(lineage=L_TRAIN).actual == "12次"


def test_carry_over_keeps_a_project_confidential(unit_a, round_2020):
    before = make(unit_a, 2019, kind="project", name="维稳经费", confidential=True, rows=[row(L_TRAIN, "培训次数", "≥10次", "12次")])
    a = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="national", project_name="维稳经费",
                          carry_from=before)
    a.refresh_from_db()
    assert a.confidential is True
    assert list(a.indicators.values_list("lineage", "target", "actual")) == [(L_TRAIN, "≥10次", "")]


def test_previous_assessment_rule(unit_a, unit_b):
    published_2018 = make(unit_a, 2018, state="published")
    draft_2019 = make(unit_a, 2019, state="draft")
    make(unit_a, 2021, state="published")  # later: never a "previous"
    make(unit_b, 2019, state="published")  # other unit
    project_2019 = make(unit_a, 2019, kind="project", name="甲项目", state="submitted")
    make(unit_a, 2019, kind="project", name="乙项目", state="published")

    # A handed-in one wins over a later draft; otherwise the latest of any state.
    assert previous_assessment(unit=unit_a, round=rnd(2020), kind="department") == published_2018
    assert previous_assessment(unit=unit_a, round=rnd(2019), kind="department") == published_2018
    assert previous_assessment(unit=unit_a, round=rnd(2018), kind="department") is None
    # Last year's, once handed in, wins over an older published one (it is the "previous" one).
    Assessment.objects.filter(pk=draft_2019.pk).update(state="in_review")
    assert previous_assessment(unit=unit_a, round=rnd(2020), kind="department") == draft_2019
    Assessment.objects.filter(pk=draft_2019.pk).update(state="draft")
    Assessment.objects.filter(pk=published_2018.pk).update(state="returned")
    assert previous_assessment(unit=unit_a, round=rnd(2020), kind="department") == draft_2019
    assert previous_assessment(unit=unit_a, round=rnd(2020), kind="project", project_name="甲项目") == project_2019
    assert previous_assessment(unit=unit_a, round=rnd(2020), kind="project", project_name="丙项目") is None


def test_service_refuses_another_units_or_kinds_or_later_assessment(unit_a, unit_b, round_2020):
    other_unit = make(unit_b, 2019)
    project = make(unit_a, 2019, kind="project", name="甲项目")
    later = make(unit_a, 2021)
    for carry_from, message in ((other_unit, "本单位"), (project, "同一类型"), (later, "以前年度")):
        with pytest.raises(CarryOverRefused, match=message):
            create_assessment(unit=unit_a, round=round_2020, kind="department", layout="department", carry_from=carry_from)
    assert not Assessment.objects.filter(round=round_2020).exists()


def post_create(client, unit, *, carry=True, layout="department", name=""):
    data = {"unit": unit.pk, "round": rnd(2020).pk, "layout": layout, "project_name": name}
    if carry:
        data["carry_over"] = "on"
    return client.post(reverse("assessments:create"), data)


def test_new_page_starts_from_last_year(alice_client, unit_a):
    before = previous_2019(unit_a)
    page = alice_client.get(reverse("assessments:create"))
    assert page.context["form"]["carry_over"].value() is True
    assert "可沿用的以往自评" in page.content.decode()
    assert [a.pk for a in page.context["carry_candidates"]] == [before.pk]

    response = post_create(alice_client, unit_a)
    a = Assessment.objects.get(round__year=2020)
    assert response.status_code == 302
    assert list(a.indicators.order_by("position").values_list("lineage", "target", "actual")) == [
        (L_TRAIN, "≥10次", ""), (L_SATISFY, "满意", ""),
    ]
    follow = alice_client.get(response["Location"])
    assert "沿用了2019年度的年度目标" in follow.content.decode()


def test_new_page_names_per_unit_kind_and_project_the_one_a_new_assessment_starts_from(alice_client, unit_a):
    """The latest handed-in one wins over a later draft; without a handed-in one, the latest."""
    make(unit_a, 2018, state="approved")
    make(unit_a, 2019, state="draft")
    make(unit_a, 2018, kind="project", name="平安建设经费", state="draft")
    make(unit_a, 2019, kind="project", name="平安建设经费", state="returned")
    page = alice_client.get(reverse("assessments:create")).content.decode()
    listed = page[page.index('id="carry-candidates"'):]
    listed = listed[:listed.index("</ul>")]
    assert re.findall(r"<li>(.*?)</li>", listed) == [
        "岳麓区委政法委：2018年度部门整体支出绩效自评（审核通过）",
        "岳麓区委政法委：2019年度平安建设经费绩效自评（退回修改）",
    ]


def test_new_page_without_carry_over_is_blank(alice_client, unit_a):
    previous_2019(unit_a)
    post_create(alice_client, unit_a, carry=False)
    a = Assessment.objects.get(round__year=2020)
    assert (a.indicators.count(), list(a.goals.values_list("target", flat=True))) == (0, [""])


def test_new_page_never_carries_from_another_unit(client, alice, bob, unit_a, unit_b):
    previous_2019(unit_b)
    client.force_login(alice)
    response = post_create(client, unit_b)  # alice posts bob's unit
    assert response.status_code == 200
    assert "unit" in response.context["form"].errors
    assert not Assessment.objects.filter(round__year=2020).exists()
    # Her own unit has nothing to carry from: a blank form, nothing of unit B.
    post_create(client, unit_a)
    a = Assessment.objects.get(round__year=2020)
    assert (a.unit, a.indicators.count()) == (unit_a, 0)
    assert [c.unit for c in client.get(reverse("assessments:create")).context["carry_candidates"]] == [unit_a]


# --- History ----------------------------------------------------------------------------------


def three_years(unit, current_rows, *, states=("published", "approved"), confidential=(False, False)):
    make(unit, 2018, state=states[0], confidential=confidential[0], rows=[
        row(L_TRAIN, "培训次数", "≥10次", "13次"), row(L_PEOPLE, "受益人数", "≥100人", "150人"),
    ])
    make(unit, 2019, state=states[1], confidential=confidential[1], rows=[
        row(L_TRAIN, "培训次数", "≥10次", "14次"), row(L_PEOPLE, "受益人数", "≥120人", "130人"),
    ])
    return make(unit, 2020, state="draft", rows=current_rows)


def points(item):
    return [(p.year, p.target, p.actual, p.current) for p in item.points]


def test_history_per_indicator_and_year(unit_a, django_assert_num_queries):
    current = three_years(unit_a, [
        row(L_TRAIN, "培训次数", "≥10次", ""), row(L_PEOPLE, "受益人数", "≥110人", "140人"),
        row(uuid.uuid4(), "新增指标", "≥1项", "1项"),
    ])
    view = readmodel.load(current.pk)
    with django_assert_num_queries(1):
        items = history.history(view)
    assert [points(h) for h in items] == [
        [(2018, "≥10次", "13次", False), (2019, "≥10次", "14次", False), (2020, "≥10次", "", True)],
        [(2018, "≥100人", "150人", False), (2019, "≥120人", "130人", False), (2020, "≥110人", "140人", True)],
        [(2020, "≥1项", "1项", True)],
    ]
    assert [(p.target_value.number, p.target_value.unit) for p in items[1].points] == [
        (Decimal("100"), "人"), (Decimal("120"), "人"), (Decimal("110"), "人"),
    ]
    assert [p.actual_value for p in items[0].points][2] is None
    assert [h.line.name for h in history.with_history(items)] == ["培训次数", "受益人数"]


def test_history_query_count_does_not_grow_with_years_or_rows(unit_a, django_assert_num_queries):
    many = [row(uuid.UUID(int=100 + n), f"指标{n}", "≥1次", "2次") for n in range(30)]
    for year in range(2010, 2019):
        make(unit_a, year, rows=many)
    view = readmodel.load(make(unit_a, 2019, state="draft", rows=many).pk)
    with django_assert_num_queries(1):
        items = history.history(view)
    assert len(items) == 30
    assert [p.year for p in items[0].points] == [2015, 2016, 2017, 2018, 2019]  # four earlier years at most


def test_internal_history_leaves_out_drafts_and_returned(unit_a):
    current = three_years(unit_a, [row(L_TRAIN, "培训次数", "≥10次", "")], states=("draft", "returned"))
    assert [points(h) for h in history.history(readmodel.load(current.pk))] == [[(2020, "≥10次", "", True)]]


def test_public_history_only_published_and_not_confidential(unit_a):
    current = three_years(unit_a, [row(L_TRAIN, "培训次数", "≥10次", "")], states=("published", "approved"))
    view = readmodel.load(current.pk)
    assert [p.year for p in history.history(view, public=True)[0].points] == [2018, 2020]
    Assessment.objects.filter(round__year=2018).update(confidential=True)
    assert [p.year for p in history.history(view, public=True)[0].points] == [2020]
    assert [p.year for p in history.history(view)[0].points] == [2018, 2019, 2020]


def test_history_stays_within_the_unit(unit_a, unit_b):
    make(unit_b, 2019, rows=[row(L_TRAIN, "培训次数", "≥99次", "99次")])
    current = make(unit_a, 2020, state="draft", rows=[row(L_TRAIN, "培训次数", "≥10次", "")])
    assert [p.year for p in history.history(readmodel.load(current.pk))[0].points] == [2020]


# --- Year-over-year flags ---------------------------------------------------------------------


def yoy(*years):
    """An IndicatorHistory from (year, target, actual) triples, the last one current (no database)."""
    pts = [history.YearPoint(y, t, a, current=(n == len(years) - 1)) for n, (y, t, a) in enumerate(years)]
    return history.IndicatorHistory(line=None, points=pts)


@pytest.mark.parametrize(
    ("years", "expected"),
    [
        # target lowered below last year's actual
        ([(2019, "≥10次", "12次"), (2020, "≥11次", "")], ["target_below_last"]),
        ([(2019, "≥10次", "12次"), (2020, "≥12次", "")], []),
        ([(2019, "≥10次", "12次"), (2020, "12次", "")], []),
        ([(2019, "≥10次", "12次"), (2020, "=11次", "")], ["target_below_last"]),
        ([(2019, "≤5天", "3天"), (2020, "≤4天", "")], []),  # a ceiling: lower is stricter
        ([(2019, "满意", "满意"), (2020, "满意", "")], []),
        # target unchanged for three years while the actual beats it by 30% or more
        ([(2018, "≥10次", "13次"), (2019, "≥10次", "15次"), (2020, "≥10次", "")], ["target_below_last", "target_flat"]),
        ([(2018, "≥100人", "130人"), (2019, "≥100人", "100人"), (2020, "≥100人", "")], []),
        ([(2018, "≥100人", "130人"), (2019, "≥100人", "140人"), (2020, "≥100人", "120人")], ["target_below_last"]),
        ([(2018, "≥100人", "130人"), (2019, "≥100人", "140人"), (2020, "≥100人", "150人")],
         ["target_below_last", "target_flat"]),
        ([(2019, "≥100人", "130人"), (2020, "≥100人", "150人")], ["target_below_last"]),  # two years only
        ([(2018, "≥100人", "130人"), (2019, "≥110人", "140人"), (2020, "≥110人", "150人")], ["target_below_last"]),
        # unit of measure changed
        ([(2019, "≥10次", "10次"), (2020, "≥10个", "")], ["unit_changed"]),
        ([(2019, "=100%", "100%"), (2020, "=36万元", "30万元")], ["unit_changed"]),
        ([(2019, "≥10次", "10次"), (2020, "≥10次", "10个")], ["unit_changed"]),
        ([(2019, "≥10次", "10次"), (2020, "≥10次", "10次")], []),
        ([(2020, "≥10次", "1次")], []),  # no earlier year
    ],
)
def test_history_flags(years, expected):
    item = yoy(*years)
    assert flags.history_codes([item]) == expected
    assert item.flags == expected


def test_cost_indicators_are_not_flagged_for_lower_or_flat_targets():
    line = SimpleNamespace(level1="产出指标", level2="成本指标")
    cheaper = history.IndicatorHistory(line, yoy((2019, "=36万元", "30.64万元"), (2020, "=30万元", "")).points)
    assert flags.history_codes([cheaper]) == []
    flat = yoy((2018, "≥10万元", "13万元"), (2019, "≥10万元", "14万元"), (2020, "≥10万元", ""))
    flat.line = SimpleNamespace(level1="成本指标", level2="经济成本指标")
    assert flags.history_codes([flat]) == []
    changed = history.IndicatorHistory(line, yoy((2019, "=36万元", "30万元"), (2020, "=36元", "")).points)
    assert flags.history_codes([changed]) == ["unit_changed"]


def test_flags_compute_keeps_its_signature(unit_a):
    current = three_years(unit_a, [row(L_TRAIN, "培训次数", "≥10次", "")])
    view = readmodel.load(current.pk)
    without = flags.compute(view)
    assert not {"target_below_last", "target_flat", "unit_changed"} & set(without)
    assert flags.compute(view, history.history(view)) == [*without, "target_below_last", "target_flat"]


def test_refresh_scores_stores_the_new_flags_and_the_dashboard_filters_on_them(client, reviewer, unit_a, unit_b):
    flat = three_years(unit_a, [row(L_TRAIN, "培训次数", "≥10次", "")])
    assert flat.risk_flags.endswith(",target_below_last,target_flat,")
    changed = make(unit_b, 2019, rows=[row(L_PEOPLE, "宣传场次", "≥10次", "10次")])
    changed = make(unit_b, 2020, state="draft", rows=[row(L_PEOPLE, "宣传场次", "≥10场", "12场")])
    assert changed.risk_flags.endswith(",unit_changed,")
    Assessment.objects.filter(pk__in=[flat.pk, changed.pk]).update(state="submitted", submitted_at=timezone.now())

    client.force_login(reviewer)
    url = reverse("assessments:dashboard") + f"?round={rnd(2020).pk}"
    assert [a.pk for a in client.get(url + "&flag=target_flat").context["page"]] == [flat.pk]
    assert [a.pk for a in client.get(url + "&flag=unit_changed").context["page"]] == [changed.pk]
    page = client.get(url).content.decode()
    assert "指标值三年未变" in page and "计量单位变化" in page
    assert flags.FLAGS["target_below_last"].label == "指标值低于上年实际"


# --- Pages ------------------------------------------------------------------------------------


def test_officer_detail_and_edit_show_the_history(alice_client, unit_a):
    current = three_years(unit_a, [row(L_TRAIN, "培训次数", "≥10次", "")])
    for name in ("assessments:detail", "assessments:edit"):
        response = alice_client.get(reverse(name, args=[current.pk]))
        items = response.context["year_history"]
        assert [h.line.name for h in items] == ["培训次数"]
        assert items[0].flags == ["target_below_last", "target_flat"]
        html = response.content.decode()
        assert 'id="year-history"' in html
        assert "<th scope=\"row\">2018</th><td>≥10次</td><td>13次</td>" in html
        assert "指标值三年未变" in html
        assert 'role="img"' in html


def test_review_page_shows_the_submitted_history(client, reviewer, alice, unit_a):
    current = three_years(unit_a, [row(L_TRAIN, "培训次数", "≥10次", "")])
    Indicator.objects.filter(assessment=current).update(actual="15次", reason="超额完成")
    # Submitted as it is now (a snapshot), then edited again: the reviewer sees the snapshot.
    transition = Transition.objects.create(assessment=current, action="submit", from_state="draft",
                                           to_state="submitted", actor=alice)
    Snapshot.objects.create(assessment=current, number=1, transition=transition,
                            data=readmodel.load(current.pk).to_dict())
    Assessment.objects.filter(pk=current.pk).update(state="submitted", submitted_at=timezone.now())
    Indicator.objects.filter(assessment=current).update(actual="99次")
    client.force_login(reviewer)
    response = client.get(reverse("assessments:review", args=[current.pk]))
    assert [points(h) for h in response.context["year_history"]] == [
        [(2018, "≥10次", "13次", False), (2019, "≥10次", "14次", False), (2020, "≥10次", "15次", True)]
    ]
    assert "<th scope=\"row\">2020（本年）</th><td>≥10次</td><td>15次</td>" in response.content.decode()


def publish(a):
    Assessment.objects.filter(pk=a.pk).update(state="published", published_at=timezone.now())
    Publication.objects.create(assessment=a, xlsx="disclosure/x.xlsx", json="disclosure/x.json", xlsx_sha256="0",
                               json_sha256="0", generated_at=timezone.now())


def test_public_page_never_shows_unpublished_or_confidential_years(client, unit_a):
    current = three_years(unit_a, [row(L_TRAIN, "培训次数", "≥10次", "16次")], states=("published", "approved"))
    make(unit_a, 2017, state="published", confidential=True, rows=[row(L_TRAIN, "培训次数", "≥8次", "9次-涉密")])
    publish(current)
    response = client.get(reverse("disclosure:detail", args=[current.pk]))
    html = response.content.decode()
    assert [points(h) for h in response.context["year_history"]] == [
        [(2018, "≥10次", "13次", False), (2020, "≥10次", "16次", True)]
    ]
    assert "14次" not in html  # 2019 is approved, not published
    assert "9次-涉密" not in html and "2017" not in html
    assert "指标值三年未变" not in html  # risk flags are for reviewers only


def test_no_history_section_without_earlier_years(alice_client, department):
    response = alice_client.get(reverse("assessments:detail", args=[department.pk]))
    assert response.context["year_history"] == []
    assert 'id="year-history"' not in response.content.decode()


def test_funding_row_source_labels_unchanged(department):
    # The carry-over does not touch funding: the new draft has its layout's empty rows.
    assert list(FundingRow.objects.filter(assessment=department).values_list("source", "actual")) == [
        ("total", None), ("fiscal", None), ("other", None),
    ]


# --- The demo ---------------------------------------------------------------------------------


def test_demo_officer_starts_2024_from_the_published_2022_table(client, settings, tmp_path, django_capture_on_commit_callbacks):
    """What the README asks a visitor to try: nanyue's 综治、平安建设经费, 2022 (seed 001) → 2024."""
    import io

    from django.core.management import call_command

    settings.DEBUG = True
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=io.StringIO())
    old = Assessment.objects.get(project_name="综治、平安建设经费", round__year=2022)
    assert old.state == "published"
    client.force_login(old.unit.memberships.get().user)
    client.post(reverse("assessments:create"), {
        "unit": old.unit.pk, "round": rnd(2024).pk, "layout": "project", "project_name": "综治、平安建设经费",
        "carry_over": "on",
    })
    new = Assessment.objects.get(project_name="综治、平安建设经费", round__year=2024)
    assert list(new.indicators.order_by("position").values_list("name", "target", "actual")) == [
        ("公众安全感民意调查", "≥10次", ""),
        ("“平安县市区”工作考评", "≥10次", ""),
        ("综治考评合格率", "=100%", ""),
        ("考评完成及时率", "=100%", ""),
        ("综治平安经费", "=36万元", ""),
        ("有助于维护社会秩序", "有所帮助", ""),
        ("全区社会大局和谐稳定，人民群众安全感提升", "有所推升", ""),
        ("人民群众满意度", "≥95%", ""),
    ]
    assert list(new.goals.values_list("target", "achieved")) == [
        ("深化平安建设，维护国家安全和社会大局稳定；\n聚焦平安南岳建设，着力提升人民群众安全感。", "")
    ]
    assert list(new.indicators.values_list("lineage", flat=True).order_by("position")) == list(
        old.indicators.values_list("lineage", flat=True).order_by("position")
    )
    Indicator.objects.filter(assessment=new, name="“平安县市区”工作考评").update(target="≥8次", actual="9次")
    refresh_scores(new)
    assert new.risk_flags == ",weights_not_100,target_below_last,"
    response = client.get(reverse("assessments:detail", args=[new.pk]))
    item = response.context["year_history"][1]
    assert (points(item), item.flags) == (
        [(2022, "≥10次", "10次", False), (2024, "≥8次", "9次", True)], ["target_below_last"]
    )
    # The public page of 2022 has no earlier year: nothing to compare.
    public = client.get(reverse("disclosure:detail", args=[old.pk]))
    assert public.context["year_history"] == []
