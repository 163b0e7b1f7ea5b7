"""Query-count guards from the benchmark (issue 6): the officer's edit page and its save."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.models import Indicator

from .helpers import form_data

pytestmark = pytest.mark.django_db


def make_rows(assessment, n):
    Indicator.objects.bulk_create(
        Indicator(assessment=assessment, position=i + 1, level1="产出指标", level2="数量指标", name=f"指标{i + 1}",
                  target="≥10次", actual="10次", weight=Decimal("1"))
        for i in range(n)
    )


def queries(client, method, url, data=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(url, data) if method == "POST" else client.get(url)
    return response, len(ctx)


def test_edit_page_of_40_rows_takes_12_queries(alice_client, department, django_assert_num_queries):
    make_rows(department, 40)
    # session, user, memberships, the assessment with its six tables, the indicators' earlier
    # years, the navigation's roles: 2 + 1 + 7 + 1 + 1 (a draft never submitted has no review).
    with django_assert_num_queries(12):
        response = alice_client.get(reverse("assessments:edit", args=[department.pk]))
    assert response.status_code == 200
    assert len(response.context["entry"].indicators.forms) == 40


def save_all(client, assessment, change, value="{}次"):
    url = reverse("assessments:edit", args=[assessment.pk])
    data = form_data(client.get(url))
    n = int(data["indicators-TOTAL_FORMS"])
    for i in range(n):
        if change(i):
            data[f"indicators-{i}-actual"] = value.format(i + 20)
    response, count = queries(client, "POST", url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return count


def test_save_query_count_does_not_grow_with_the_rows(alice_client, department, project):
    make_rows(department, 40)
    make_rows(project, 5)
    all_40 = save_all(alice_client, department, lambda i: True)
    one_of_40 = save_all(alice_client, department, lambda i: i == 7, "{}.5次")
    all_5 = save_all(alice_client, project, lambda i: True)
    # One statement per table at most: the same count whatever the number of rows changed.
    assert all_40 == one_of_40 == all_5 == 24
    actuals = list(department.indicators.order_by("position").values_list("actual", flat=True))
    assert actuals[:3] == ["20次", "21次", "22次"] and actuals[7] == "27.5次" and actuals[39] == "59次"


def test_bulk_save_deletes_adds_and_reorders_in_one_post(alice_client, project):
    make_rows(project, 4)
    url = reverse("assessments:edit", args=[project.pk])
    data = form_data(alice_client.get(url))
    keys = list(project.indicators.order_by("position").values_list("key", flat=True))
    data["indicators-1-DELETE"] = "on"
    data["indicators-0-ORDER"], data["indicators-3-ORDER"] = "4", "1"
    data["indicators-2-name"] = "改名"
    data.update({
        "indicators-TOTAL_FORMS": "5",
        "indicators-4-level1": "效益指标", "indicators-4-level2": "社会效益指标", "indicators-4-name": "新增",
        "indicators-4-target": "有所提升", "indicators-4-actual": "有所提升", "indicators-4-weight": "2",
        "indicators-4-ORDER": "2",
    })
    response = alice_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    rows = list(project.indicators.order_by("position").values_list("position", "name", "key"))
    assert [(p, n) for p, n, _ in rows] == [(1, "指标4"), (2, "新增"), (3, "改名"), (4, "指标1")]
    assert [k for _, _, k in rows][0] == keys[3] and rows[2][2] == keys[2] and rows[3][2] == keys[0]
    assert keys[1] not in [k for _, _, k in rows]
