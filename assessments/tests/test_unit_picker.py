"""The dashboard's 单位 filter (issue 17, part 5): a text box that suggests names from the server,
not a list of every unit the reviewer reviews (thousands in a province: most of the page's bytes)."""

import pytest
from django.core.cache import cache, caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.models import Unit

from .test_access_matrix import drive, make_reviewer, valid_assessment

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(unit_a, unit_b, round_2020, alice, bob, reviewer):
    """One submission of A and one of B."""
    return [drive(valid_assessment(unit, round_2020, f"{unit.short_name}项目", user=officer), "submitted",
                  officer=officer, reviewer=reviewer)
            for unit, officer in ((unit_a, alice), (unit_b, bob))]


def more_units(region, n):
    return Unit.objects.bulk_create(Unit(name=f"测试县第{i:03d}局", short_name=f"第{i:03d}局", region=region) for i in range(n))


def dashboard(client, **query):
    response = client.get(reverse("assessments:dashboard"), query)
    assert response.status_code == 200
    return response


def test_the_page_does_not_list_every_unit(client, reviewer, submitted, region):
    client.force_login(reviewer)
    small = dashboard(client).content.decode()
    more_units(region, 300)
    page = dashboard(client).content.decode()
    assert "测试县第" not in page  # no option per unit
    assert len(page) == len(small)  # the page does not grow with the units
    assert ('<input class="form-control form-control-sm" type="search" name="unit_name" id="f-unit" value="" '
            'placeholder="输入单位名称" list="f-unit-options" autocomplete="off" '
            f'data-suggest-url="{reverse("assessments:unit_suggest")}">') in page


def test_the_box_filters_by_name_and_a_link_by_unit(client, reviewer, submitted, unit_a, unit_b):
    client.force_login(reviewer)
    titles = lambda response: sorted(a.unit.short_name for a in response.context["page"])  # noqa: E731
    assert titles(dashboard(client)) == ["岳麓区委政法委", "测试单位"]
    assert titles(dashboard(client, unit_name="政法委员会")) == ["岳麓区委政法委"]  # part of the full name
    assert titles(dashboard(client, unit_name="测试单位")) == ["测试单位"]  # the short name
    assert titles(dashboard(client, unit_name="没有这个单位")) == []
    linked = dashboard(client, unit=unit_b.pk)
    assert titles(linked) == ["测试单位"]
    assert f'id="f-unit" value="{unit_b.name}"' in linked.content.decode()  # shown by name in the box


def test_suggestions_are_the_reviewers_units_containing_what_is_typed(client, reviewer, unit_a, unit_b, region):
    more_units(region, 30)
    client.force_login(reviewer)
    url = reverse("assessments:unit_suggest")
    answer = client.get(url, {"q": "第00"}).json()
    assert answer == {"units": [{"name": f"测试县第00{i}局", "short_name": f"第00{i}局"} for i in range(10)]}
    assert len(client.get(url).json()["units"]) == 20  # at most 20
    assert client.get(url, {"q": "政法委"}).json() == {"units": [
        {"name": "中共长沙市岳麓区委员会政法委员会", "short_name": "岳麓区委政法委"}]}
    carol = make_reviewer("carol", unit_a)  # assigned to A only
    client.force_login(carol)
    assert client.get(url, {"q": "测试"}).json() == {"units": []}
    assert client.get(url).json() == {"units": [{"name": unit_a.name, "short_name": unit_a.short_name}]}


def test_suggestions_cost_the_same_queries_for_1_and_300_units(client, reviewer, unit_a, region):
    client.force_login(reviewer)
    url = reverse("assessments:unit_suggest")
    client.get(url, {"q": "局"})  # session and permission caches warm
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"q": "局"})
    more_units(region, 300)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(url, {"q": "局"}).json()["units"]) == 20
    assert len(many) == len(few)


# --- The public list's 单位 box: the same control, asked of the published units only ------------------

@pytest.fixture
def published(unit_a, unit_b, round_2020, alice, bob, reviewer):
    """A's report published; B's only submitted (so B is not offered to the public)."""
    a = drive(valid_assessment(unit_a, round_2020, "岳麓项目", user=alice), "published", officer=alice, reviewer=reviewer)
    b = drive(valid_assessment(unit_b, round_2020, "测试项目", user=bob), "submitted", officer=bob, reviewer=reviewer)
    return a, b


def public_list(client, **query):
    response = client.get(reverse("disclosure:list"), query)
    assert response.status_code == 200
    return response


def test_the_public_list_does_not_list_every_unit(client, published, region):
    small = public_list(client).content.decode()
    more_units(region, 300)
    cache.clear()  # the list is kept until the next publish: ask for it anew
    caches["public_local"].clear()
    page = public_list(client).content.decode()
    assert "测试县第" not in page  # no option per unit
    assert len(page) == len(small)  # the page does not grow with the units
    assert '<select class="form-select form-select-sm" name="unit"' not in page  # no list of every published unit
    assert ('<input class="form-control form-control-sm" type="search" name="unit_name" id="f-unit" value="" '
            'placeholder="输入单位名称" list="f-unit-options" autocomplete="off" '
            f'data-suggest-url="{reverse("disclosure:unit_suggest")}">') in page
    assert '<script src="/static/js/unit-suggest.js"></script>' in page


def test_the_public_box_filters_by_name_and_a_link_by_unit(client, published, unit_a):
    a, _b = published
    listed = lambda response: [x.pk for x in response.context["page"]]  # noqa: E731
    assert listed(public_list(client, unit_name="岳麓区委员会")) == [a.pk]  # part of the full name
    assert listed(public_list(client, unit_name="岳麓区委政法委")) == [a.pk]  # the short name
    assert listed(public_list(client, unit_name="测试单位")) == []  # nothing published
    linked = public_list(client, unit=unit_a.pk)
    assert listed(linked) == [a.pk]
    assert f'id="f-unit" value="{unit_a.name}"' in linked.content.decode()
    # A full name as suggested, or as the link showed it, is that unit alone: its canonical page.
    exact = client.get(reverse("disclosure:list"), {"year": "2020", "unit_name": unit_a.name, "page": "1"})
    assert (exact.status_code, exact["Location"]) == (302, f"{reverse('disclosure:list')}?year=2020&unit={unit_a.pk}")
    json_list = client.get(reverse("disclosure:list_json"), {"unit_name": "岳麓"}).json()
    assert [r["id"] for r in json_list["results"]] == [a.pk]


def test_public_suggestions_are_published_units_only(client, published, unit_a, region):
    more_units(region, 30)  # no reports: never suggested
    url = reverse("disclosure:unit_suggest")
    assert client.get(url).json() == {"units": [{"name": unit_a.name, "short_name": unit_a.short_name}]}
    assert client.get(url, {"q": "测试"}).json() == {"units": []}
    assert client.get(url, {"q": "岳麓"}).json() == {"units": [{"name": unit_a.name, "short_name": unit_a.short_name}]}
    response = client.get(url, {"q": "岳麓"})
    assert not response.cookies  # a public answer: no session, no CSRF cookie
