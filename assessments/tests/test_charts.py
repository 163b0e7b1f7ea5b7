"""Issue 7 §5: chart geometry, the aggregates behind the charts, and the pages that show them."""

import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from assessments import charts, figures, history, readmodel, scoring
from assessments.models import Assessment, FundingRow, Publication, Region
from assessments.services import create_assessment

D = Decimal


# --- Geometry (no database) -------------------------------------------------------------------


def test_num_and_nice_ceiling():
    assert [charts.num(D(x)) for x in ("12.50", "40", "0.04", "-0.04", "342.25")] == ["12.5", "40", "0", "0", "342.3"]
    assert [charts.nice_ceiling(D(x)) for x in ("0", "7", "37", "100", "114.1", "14", "10949.23")] == [
        1, 8, 40, 100, 120, 15, 12000,
    ]


def test_bar_chart_geometry():
    chart = charts.bar_chart(
        "示例", ["甲", "乙"], [charts.Series("A", [D(50), D(100)]), charts.Series("B", [None, D(25)])],
        unit="分", maximum=D(100),
    )
    assert (chart.width, chart.height, chart.plot_left, chart.plot_top, chart.plot_bottom) == (580, 118, 150, 24, 100)
    assert [(b.category, b.series, b.x, b.y, b.width, b.height, b.fill, b.label, b.label_x, b.label_y) for b in chart.bars] == [
        ("甲", "A", "150", "30", "180", "12", "#0d6efd", "50.00", "334", "40"),
        ("甲", "B", "150", "44", "0", "12", "#fd7e14", "—", "154", "54"),
        ("乙", "A", "150", "68", "360", "12", "#0d6efd", "100.00", "514", "78"),
        ("乙", "B", "150", "82", "90", "12", "#fd7e14", "25.00", "244", "92"),
    ]
    assert [(c.label, c.y) for c in chart.category_labels] == [("甲", "47"), ("乙", "85")]
    assert [(t.x, t.label) for t in chart.ticks] == [("150", "0"), ("240", "25"), ("330", "50"), ("420", "75"), ("510", "100")]
    assert [(lg.name, lg.x, lg.text_x) for lg in chart.legend] == [("A", "150", "166"), ("B", "260", "276")]
    assert chart.table_rows == [("甲", ["50.00", "—"]), ("乙", ["100.00", "25.00"])]
    assert chart.summary == "示例（A、B，共 2 项，数据见下表）"


def test_bar_chart_counts_get_whole_number_ticks_and_values_above_the_axis_are_capped():
    counts = charts.bar_chart("份数", ["x", "y"], [charts.Series("n", [D(5), D(0)])], unit="份")
    assert counts.maximum == 8
    assert [t.label for t in counts.ticks] == ["0", "2", "4", "6", "8"]
    assert [(b.width, b.label) for b in counts.bars] == [("225", "5"), ("0", "0")]
    rates = charts.bar_chart("执行率", ["x"], [charts.Series("率", [D("114.10")])], unit="%", maximum=D(100))
    assert [(b.width, b.label) for b in rates.bars] == [("360", "114.10%")]


def test_bar_chart_without_values_is_empty():
    assert charts.bar_chart("空", ["x"], [charts.Series("n", [None])]).is_empty


def trend(*years, name="培训次数"):
    line = SimpleNamespace(name=name, level1="产出指标", level2="数量指标")
    pts = [history.YearPoint(y, t, a, current=(n == len(years) - 1)) for n, (y, t, a) in enumerate(years)]
    return history.IndicatorHistory(line=line, points=pts)


def test_trend_chart_geometry():
    chart = trend((2018, "≥10次", "13次"), (2019, "≥10次", "14次"), (2020, "≥10次", "")).chart
    assert (chart.title, chart.unit, chart.maximum) == ("培训次数（次）", "次", 15)
    assert chart.years == [(2018, "44"), (2019, "165"), (2020, "286")]
    assert [(line.name, line.dashed, line.polyline) for line in chart.lines] == [
        ("指标值", True, "44,44 165,44 286,44"),
        ("实际完成值", False, "44,24.8 165,18.4"),
    ]
    assert chart.ticks == [("108", "0"), ("60", "7.5"), ("12", "15")]
    assert chart.summary == "培训次数（次）。指标值：2018年 ≥10次，2019年 ≥10次，2020年 ≥10次；实际完成值：2018年 13次，2019年 14次"


def test_trend_chart_only_plots_the_latest_unit_and_needs_numbers():
    chart = trend((2019, "≥10次", "10次"), (2020, "≥10个", "")).chart
    assert chart.unit == "个"
    assert [(line.name, line.polyline) for line in chart.lines] == [("指标值", "286,12")]
    assert trend((2019, "满意", "满意"), (2020, "满意", "")).chart is None


# --- Aggregates -------------------------------------------------------------------------------


def put(unit, round_, name, *, state, self_total=None, review_total=None, budget=None, initial=None, actual=None):
    a = create_assessment(unit=unit, round=round_, kind="project", layout="national", project_name=name)
    Assessment.objects.filter(pk=a.pk).update(
        state=state, self_total=self_total, review_total=review_total, submitted_at=timezone.now()
    )
    FundingRow.objects.filter(assessment=a, source="total").update(budget=budget, initial_budget=initial, actual=actual)
    return a


@pytest.fixture
def round_data(unit_a, round_2020):
    put(unit_a, round_2020, "甲", state="submitted", self_total=D(95), review_total=D(92), budget=D(100), actual=D(95))
    put(unit_a, round_2020, "乙", state="approved", self_total=D(85), review_total=D(78), initial=D(200), actual=D(100))
    put(unit_a, round_2020, "丙", state="in_review", self_total=D("59.99"), budget=D(100), actual=D(100))
    put(unit_a, round_2020, "丁", state="submitted", budget=D(100), actual=D("114.1"))
    put(unit_a, round_2020, "戊", state="published", self_total=D(90), review_total=D(90), budget=D(0), actual=D(5))
    put(unit_a, round_2020, "己", state="returned", self_total=D(99), budget=D(100), actual=D(1))  # a draft again
    put(unit_a, round_2020, "庚", state="draft", self_total=D(70), budget=D(100), actual=D(2))
    return Assessment.objects.filter(round=round_2020)


@pytest.mark.django_db
def test_score_distribution(round_data):
    chart = figures.score_distribution(round_data, scoring.DEFAULT_RULES)
    assert chart.table_rows == [
        ("优（≥90）", ["2", "2"]),
        ("良（80–90）", ["1", "0"]),
        ("中（60–80）", ["0", "1"]),
        ("差（<60）", ["1", "0"]),
        ("无总分（未计分 / 未复核）", ["1", "2"]),
    ]
    assert [s.name for s in chart.series] == ["自评总分", "复核总分"]
    assert chart.maximum == 4
    assert [(b.category, b.series, b.width) for b in chart.bars[:2]] == [("优（≥90）", "自评总分", "180"), ("优（≥90）", "复核总分", "180")]


@pytest.mark.django_db
def test_rate_distribution_and_lowest_rates(round_data):
    bands = figures.rate_distribution(round_data)
    assert bands.table_rows == [
        ("低于60%", ["1"]), ("60%–80%", ["0"]), ("80%–90%", ["0"]), ("90%–100%", ["2"]), ("高于100%", ["1"]),
        ("无法计算", ["1"]),
    ]
    lowest = figures.lowest_rates(round_data)
    assert lowest.table_rows == [
        ("岳麓区委政法委 · 乙", ["50.00%"]), ("岳麓区委政法委 · 甲", ["95.00%"]),
        ("岳麓区委政法委 · 丙", ["100.00%"]), ("岳麓区委政法委 · 丁", ["114.10%"]),
    ]
    assert lowest.maximum == 120
    assert [b.width for b in lowest.bars] == ["150", "285", "300", "342.3"]


@pytest.mark.django_db
def test_dashboard_charts_cost_three_queries_whatever_the_number_of_submissions(
    unit_a, round_2020, django_assert_num_queries
):
    qs = Assessment.objects.filter(round=round_2020)
    with django_assert_num_queries(3):
        figures.dashboard(qs, scoring.DEFAULT_RULES)
    for n in range(40):
        put(unit_a, round_2020, f"项目{n}", state="submitted", self_total=D(n + 60), budget=D(100), actual=D(n + 70))
    with django_assert_num_queries(3):
        result = figures.dashboard(qs, scoring.DEFAULT_RULES)
    assert result[0].table_rows[0] == ("优（≥90）", ["10", "0"])
    assert len(result[2].categories) == 10


@pytest.mark.django_db
def test_funding_chart_from_the_read_model(department, django_assert_num_queries):
    FundingRow.objects.filter(assessment=department, source="total").update(budget=D("10949.23"), actual=D("10584.29"))
    FundingRow.objects.filter(assessment=department, source="fiscal").update(budget=D("10949.23"), actual=D("10584.29"))
    FundingRow.objects.filter(assessment=department, source="other").update(budget=D(0), actual=D(0))
    view = readmodel.load(department.pk)
    with django_assert_num_queries(0):
        chart = figures.funding(view)
    assert [s.name for s in chart.series] == ["全年预算数", "执行数"]
    assert chart.table_rows == [
        ("合计", ["10949.23", "10584.29"]), ("（1）财政拨款", ["10949.23", "10584.29"]), ("（2）其他资金", ["0.00", "0.00"]),
    ]
    assert chart.maximum == 12000
    assert [b.width for b in chart.bars[:2]] == ["328.5", "317.5"]


@pytest.mark.django_db
def test_funding_chart_of_a_project_uses_the_initial_budget(project):
    FundingRow.objects.filter(assessment=project, source="total").update(initial_budget=D(36), actual=D("30.64"))
    FundingRow.objects.filter(assessment=project, source="other").update(actual=D(10))
    chart = figures.funding(readmodel.load(project.pk))
    assert [s.name for s in chart.series] == ["年初预算数", "执行数"]
    assert chart.table_rows == [("合计", ["36.00", "30.64"]), ("其他资金", ["—", "10.00"])]
    FundingRow.objects.filter(assessment=project).update(initial_budget=None, actual=None)
    assert figures.funding(readmodel.load(project.pk)) is None


# --- Pages ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dashboard_shows_the_charts_with_tables(client, reviewer, round_data, round_2020):
    client.force_login(reviewer)
    response = client.get(reverse("assessments:dashboard") + f"?round={round_2020.pk}")
    titles = [c.title for c in response.context["charts"]]
    assert titles == ["自评总分与复核总分分布", "预算执行率分布", "执行率最低的10份自评（按单位）"]
    html = response.content.decode()
    assert 'id="round-charts"' in html
    assert '<th scope="row">优（≥90）</th><td class="text-end">2</td><td class="text-end">2</td>' in html
    assert html.count('role="img"') == 3
    assert html.count('class="table table-sm chart-table visually-hidden"') == 3
    assert '<rect class="chart-bar" x="150" y="30" width="180" height="12" fill="#0d6efd">' in html
    assert "style=" not in html.split('id="round-charts"')[1].split("</details>")[0]  # CSP: no inline styles


def publish(a):
    Assessment.objects.filter(pk=a.pk).update(state="published", published_at=timezone.now())
    Publication.objects.create(assessment=a, xlsx="disclosure/x.xlsx", json="disclosure/x.json", xlsx_sha256="0",
                               json_sha256="0", generated_at=timezone.now())


@pytest.mark.django_db
def test_public_list_charts_for_a_region_and_year(client, unit_a, unit_b, round_2020, region):
    a = put(unit_a, round_2020, "甲", state="approved", self_total=D("99.67"), review_total=D("98.50"),
            budget=D("10949.23"), actual=D("10584.29"))
    b = put(unit_b, round_2020, "乙", state="approved", self_total=D(80), initial=D(36), actual=D("30.64"))
    hidden = put(unit_b, round_2020, "丙", state="approved", self_total=D(10), budget=D(1), actual=D(1))
    for x in (a, b, hidden):
        publish(x)
    Assessment.objects.filter(pk=hidden.pk).update(confidential=True)

    assert client.get(reverse("disclosure:list")).context["charts"] == []
    city = Region.objects.get(name="长沙市")
    response = client.get(reverse("disclosure:list") + f"?year=2020&region={city.pk}")
    rate, score = response.context["charts"]
    assert rate.table_rows == [("岳麓区委政法委 · 甲", ["96.67%"]), ("测试单位 · 乙", ["85.11%"])]
    assert score.table_rows == [("岳麓区委政法委 · 甲", ["99.67", "98.50"]), ("测试单位 · 乙", ["80.00", "—"])]
    html = response.content.decode()
    assert 'id="unit-charts"' in html and "丙" not in html.split('id="unit-charts"')[1].split("</section>")[0]
    assert '<caption>各单位预算执行率（单位：%）</caption>' in html


@pytest.mark.django_db
def test_public_detail_has_the_funding_chart_with_its_table(client, department):
    FundingRow.objects.filter(assessment=department, source="total").update(budget=D(100), actual=D(90))
    publish(department)
    html = client.get(reverse("disclosure:detail", args=[department.pk])).content.decode()
    assert 'id="funding-chart"' in html
    assert '<caption>资金情况：预算与执行（单位：万元）</caption>' in html
    assert '<th scope="row">合计</th><td class="text-end">100.00</td><td class="text-end">90.00</td>' in html
    assert 'aria-label="资金情况：预算与执行（全年预算数、执行数，共 1 项，数据见下表）"' in html


@pytest.mark.django_db
def test_public_list_chart_costs_one_query_whatever_the_units(client, unit_a, round_2020, region, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from assessments import exporting

    url = reverse("disclosure:list") + f"?year=2020&region={region.pk}"
    publish(put(unit_a, round_2020, "项目0", state="approved", self_total=D(90), budget=D(10), actual=D(9)))
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(url).context["charts"][0].categories) == 1
    for n in range(1, 35):
        publish(put(unit_a, round_2020, f"项目{n}", state="approved", self_total=D(90), budget=D(10), actual=D(9)))
    exporting.bump_public_cache()
    with django_assert_num_queries(len(one)):
        response = client.get(url)
    rate, _score = response.context["charts"]
    assert len(rate.categories) == figures.PUBLIC_UNITS == 30
    assert rate.note == "仅显示按单位名称排序的前30份报告。"


def test_dashboard_chart_text_is_at_least_12px_with_full_names_on_hover(client, reviewer, round_data, round_2020):
    """Issue 17: labels of 12 px (drawn at natural size, never scaled down), full names on hover."""
    client.force_login(reviewer)
    html = client.get(reverse("assessments:dashboard") + f"?round={round_2020.pk}").content.decode()
    charts = html.split('id="round-charts"')[1].split("</details>")[0]
    sizes = {int(size) for size in re.findall(r'font-size="(\d+)"', charts)}
    assert sizes == {12}
    assert charts.count('class="chart-svg chart-bars"') == 3 and 'width="580"' in charts
    labels = re.findall(r'<text [^>]*text-anchor="end"[^>]*><title>([^<]*)</title>([^<]*)</text>', charts)
    assert ("无总分（未计分 / 未复核）", "无总分（未计分 /...") in labels  # zh-hans truncation text "..."
    assert all(shown == full or (shown.endswith("...") and full.startswith(shown[:-3])) for full, shown in labels)
