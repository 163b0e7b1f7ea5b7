"""Issue 17, part 1: the entry table shows every rule that blocks submit while typing and when
reopened, the 一级 sums against the template's weights, and neutral 待填 hints until a submit is
refused."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from assessments import scoring
from assessments.models import Indicator

from .test_access_matrix import valid_assessment
from .test_review import element

pytestmark = pytest.mark.django_db


def test_level1_sums_follow_the_template_groups():
    rows = [
        scoring.IndicatorInput(level1="产出指标", level2="数量指标", name="a", target="≥1次", actual="1次", weight=Decimal("45")),
        scoring.IndicatorInput(level1="成本指标", level2="经济成本指标", name="b", target="≤5万元", actual="5万元", weight=Decimal("5")),
        scoring.IndicatorInput(level1="效益指标", level2="社会效益指标", name="c", target="有所帮助", actual="有所帮助", weight=Decimal("20")),
    ]
    table = scoring.TableRules(level1_groups=(
        ("产出指标", Decimal("50"), ("产出指标", "成本指标")), ("效益指标", Decimal("30"), ("效益指标",)),
        ("满意度指标", Decimal("10"), ("满意度指标",)),
    ))
    assert scoring.level1_sums(rows, table) == [
        ("产出指标", Decimal("50"), Decimal("50")), ("效益指标", Decimal("20"), Decimal("30")),
        ("满意度指标", Decimal("0"), Decimal("10")),
    ]


@pytest.fixture
def off_weights(alice, unit_a, round_2020):
    a = valid_assessment(unit_a, round_2020, "分值不对的项目", user=alice)
    Indicator.objects.filter(assessment=a, level1="效益指标").update(weight=Decimal("20"))
    Indicator.objects.filter(assessment=a, level1="满意度指标").update(actual="")
    return a


def test_reopened_page_shows_the_blocking_rules_and_sums(alice_client, off_weights):
    html = alice_client.get(reverse("assessments:edit", args=[off_weights.pk])).content.decode()
    rules = element(html, "live-rules")
    assert 'hidden' not in rules.split(">")[0]
    assert re.findall(r"<li>([^<]*)</li>", rules) == [
        "效益指标分值合计 20，应为 30", "分值合计 90（预算执行率 10 + 绩效指标 80），应为 100",
    ]
    sums = element(html, "live-level1-sums")
    assert re.sub(r"<[^>]+>", "", sums) == "产出指标 50 / 50效益指标 20 / 30满意度指标 10 / 10"
    assert '<span class="level1-sum off">效益指标 <strong>20</strong> / 30</span>' in sums
    # The row that lacks its actual: a neutral hint, not an error, before any submit.
    row = element(html, "indicator-3")
    assert '<div class="explain live-problems pending"><div><span class="pending-tag">待填</span>' in row
    assert "explain bad" not in row


def test_after_a_refused_submit_the_rows_are_errors(alice_client, off_weights):
    response = alice_client.post(reverse("assessments:submit", args=[off_weights.pk]))
    assert response.status_code == 400
    response = alice_client.post(reverse("assessments:edit", args=[off_weights.pk]),
                                 {**_form(alice_client, off_weights), "action": "submit"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-attempted="1"' in html
    assert '<div class="explain live-problems bad"><div>' in element(html, "indicator-3")


def _form(client, a):
    from .helpers import form_data

    return form_data(client.get(reverse("assessments:edit", args=[a.pk])))


def test_preview_answers_rules_and_sums(alice_client, off_weights):
    data = _form(alice_client, off_weights)
    body = alice_client.post(reverse("assessments:preview", args=[off_weights.pk]), data).json()
    assert body["rules"] == ["效益指标分值合计 20，应为 30", "分值合计 90（预算执行率 10 + 绩效指标 80），应为 100"]
    assert body["level1_sums"][1] == {"name": "效益指标", "total": "20", "expected": "30", "ok": False}
    n = next(k.split("-")[1] for k, v in data.items() if k.endswith("-level1") and v == "效益指标")
    data[f"indicators-{n}-weight"] = "30"
    body = alice_client.post(reverse("assessments:preview", args=[off_weights.pk]), data).json()
    assert body["rules"] == []
    assert [g["ok"] for g in body["level1_sums"]] == [True, True, True]


def test_officer_list_has_page_numbers(alice_client, alice, unit_a, round_2020, monkeypatch):
    from assessments.views import entry

    monkeypatch.setattr(entry, "PAGE_SIZE", 1)
    for n in range(3):
        valid_assessment(unit_a, round_2020, f"分页项目{n}", user=alice)
    html = alice_client.get(reverse("assessments:list"), {"year": "2020", "page": "2"}).content.decode()
    assert ('<li class="page-item"><a class="page-link" href="?year=2020&amp;page=1" aria-label="第 1 页">1</a></li>'
            '<li class="page-item active" aria-current="page"><span class="page-link">2</span></li>'
            '<li class="page-item"><a class="page-link" href="?year=2020&amp;page=3" aria-label="第 3 页">3</a></li>') in html
