"""Query-count guards from the benchmark (issue 6): the officer's edit page and its save."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.models import Assessment, Indicator

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


@pytest.mark.usefixtures("rendered_pages")
def test_edit_page_of_40_rows_takes_12_queries_then_11(alice_client, department, django_assert_num_queries):
    make_rows(department, 40)
    # session, user, the roles' generation, the account's roles and units, the assessment with its
    # six tables, the indicators' earlier years: 2 + 2 + 7 + 1 (a draft never submitted has no review).
    with django_assert_num_queries(12):
        response = alice_client.get(reverse("assessments:edit", args=[department.pk]))
    assert response.status_code == 200
    # What was rendered (the form in the context is only built when read, ADR 0024).
    rows = re.findall(r'<tr class="formset-row indicator-row" data-prefix="indicators-(\d+)"', response.content.decode())
    assert rows == [str(n) for n in range(40)]
    # Opened again: the account's roles come from the cache (roles.authorization), under the
    # generation read from the database.
    with django_assert_num_queries(11):
        assert alice_client.get(reverse("assessments:edit", args=[department.pk])).status_code == 200


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
    # 24 before issue 12; + 3 for the audit row of the save (chain lock, chain head, insert) and
    # + 2 for the savepoint of the save inside the view's transaction (issue 12); - 2 since the
    # save is one service that opens the only transaction (issue 11). Since ADR 0024 the account's
    # roles are one cached value under a generation read from the database: the same count.
    assert all_40 == one_of_40 == all_5 == 27
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


# ---------------------------------------------------------------- public pages (issue 6)
from unittest import mock  # noqa: E402

from django.core.cache import caches  # noqa: E402

from assessments import exporting  # noqa: E402
from assessments.views import public as public_views  # noqa: E402

from .test_disclosure import demo, media  # noqa: E402,F401  (fixtures)
from .test_export_jobs import listed_ids, publish_copies  # noqa: E402


def test_a_search_counts_its_matches_only_up_to_the_cap(client, demo, monkeypatch):  # noqa: F811
    yuelu = demo["岳麓区委政法委/部门"]
    copies = publish_copies(yuelu, 4)  # 6 published; 5 of them are 岳麓's reports
    monkeypatch.setattr(public_views, "SEARCH_COUNT_CAP", 3)
    monkeypatch.setattr(public_views, "PAGE_SIZE", 2)
    html = client.get(reverse("disclosure:list"), {"q": "岳麓区"}).content.decode()
    assert "第 1 / 2 页，共 3+ 条（检索结果较多，仅列出前 3 条，请增加筛选条件）" in html
    assert listed_ids(client, q="岳麓区") == list(reversed(copies))[:2]
    # Without a search term the list counts everything.
    html = client.get(reverse("disclosure:list")).content.decode()
    assert "第 1 / 3 页，共 6 条</span>" in html


def test_filter_options_are_read_once_per_generation(client, demo, django_assert_num_queries):  # noqa: F811
    url = reverse("disclosure:list")
    client.get(url)
    with django_assert_num_queries(2):  # the page's count and its rows; options come from the cache
        response = client.get(url, {"kind": "department"})
    assert [y for y in response.context["years"]] == [2022, 2020]
    assert "units" not in response.context  # the 单位 box asks the server for names (unit_suggest)


def test_a_cached_public_page_is_served_from_the_process_without_the_shared_cache(client, demo):  # noqa: F811
    url = reverse("disclosure:detail", args=[demo["岳麓区委政法委/部门"].pk])
    first = client.get(url)
    shared = caches["default"]
    with mock.patch.object(shared, "get", side_effect=AssertionError("shared cache read")) as get:
        again = client.get(url)
    assert get.call_count == 0
    assert again.content == first.content
    # A publish elsewhere is seen once the generation is re-read (at most a second later).
    exporting.bump_public_cache()
    with mock.patch.object(shared, "get", wraps=shared.get) as get:
        client.get(url)
    assert get.call_count == 1  # the new generation's copy is not local yet: one shared read (a miss)


def test_whole_portal_lists_are_files_written_after_publish(client, demo, django_capture_on_commit_callbacks):  # noqa: F811
    from assessments import workflow
    from assessments.exports import lists
    from assessments.models import Transition

    from .helpers import as_json, body

    # The demo's publishes rebuilt the lists: served as files, byte for byte what a build makes.
    built = {"json": lists.json_bytes(lists.listed()), "csv": lists.csv_bytes(lists.listed())}
    for name, fmt in (("disclosure:list_json", "json"), ("disclosure:list_csv", "csv")):
        stored = client.get(reverse(name))
        assert stored.streaming and exporting.list_file(fmt) is not None
        assert body(stored) == built[fmt]
        assert body(client.get(reverse(name), {"year": ""})) == built[fmt]  # an empty filter is no filter: the file
    assert as_json(client.get(reverse("disclosure:list_json")))["count"] == 2
    assert client.get(reverse("disclosure:list_csv"))["Content-Disposition"] == 'attachment; filename="disclosure.csv"'

    # Unpublish: the old generation's files are never served again; new ones are written.
    yuelu = demo["岳麓区委政法委/部门"]
    old_json = exporting.list_file("json")
    reviewer = Transition.objects.filter(assessment=yuelu, action="approve").first().actor
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, Assessment.objects.get(pk=yuelu.pk), "unpublish", "数据有误，撤回")
    from django.core.files.storage import default_storage

    assert not default_storage.exists(old_json)
    doc = as_json(client.get(reverse("disclosure:list_json")))
    assert [r["id"] for r in doc["results"]] == [demo["南岳区委政法委/综治、平安建设经费"].pk]


def test_the_first_request_writes_the_lists_when_no_file_was_written(client, demo, settings):  # noqa: F811
    from .helpers import as_json

    exporting.bump_public_cache()  # a publish whose rebuild did not run (broker down)
    assert exporting.list_file("json") is None
    response = client.get(reverse("disclosure:list_json"))
    assert response.streaming and exporting.list_file("json") is not None and exporting.list_file("csv") is not None
    assert as_json(response)["count"] == 2


def test_a_save_validates_by_the_model_only_the_rows_that_changed(alice_client, department, monkeypatch):
    make_rows(department, 40)
    checked = []
    full_clean = Indicator.full_clean

    def counting(self, *args, **kwargs):
        checked.append(self.pk)
        return full_clean(self, *args, **kwargs)

    monkeypatch.setattr(Indicator, "full_clean", counting)
    save_all(alice_client, department, lambda i: i == 7, "{}.5次")
    row8 = department.indicators.order_by("position", "id")[7]
    assert checked == [row8.pk]
    row8.refresh_from_db()
    assert row8.actual == "27.5次"


def _indicator_update_columns(client, assessment, edit):
    """Post the edit page with `edit(data)` applied; the columns the save's UPDATE of the indicator
    rows wrote (None when it wrote none)."""
    url = reverse("assessments:edit", args=[assessment.pk])
    data = form_data(client.get(url))
    edit(data)
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    updates = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('UPDATE "assessments_indicator" SET')]
    assert len(updates) <= 1
    return sorted(re.findall(r'"(\w+)" = \(?(?:CAST\()?CASE', updates[0])) if updates else None


def test_a_save_writes_only_the_columns_it_changed(alice_client, department):
    """One column changed in 40 rows is one column written (the UPDATE has a CASE of 40 branches
    per column it writes); each row still gets its own value, and a move writes the positions."""
    make_rows(department, 40)

    def actual_everywhere(data):
        for i in range(40):
            data[f"indicators-{i}-actual"] = f"{i}次"

    assert _indicator_update_columns(alice_client, department, actual_everywhere) == ["actual"]

    def name_weight_and_score(data):
        data["indicators-3-name"] = "改过的名称"
        data["indicators-5-weight"] = "2.5"
        data["indicators-6-score"] = "0.5"

    assert _indicator_update_columns(alice_client, department, name_weight_and_score) == ["name", "score", "weight"]

    def move(data):
        data["indicators-0-ORDER"], data["indicators-1-ORDER"] = "2", "1"

    assert _indicator_update_columns(alice_client, department, move) == ["position"]
    assert _indicator_update_columns(alice_client, department, lambda data: None) is None
    rows = list(department.indicators.order_by("position", "id").values_list("name", "actual", "weight", "score"))
    assert rows[0] == ("指标2", "1次", Decimal("1.00"), None) and rows[1] == ("指标1", "0次", Decimal("1.00"), None)
    assert rows[3] == ("改过的名称", "3次", Decimal("1.00"), None) and rows[5][2] == Decimal("2.50")
    assert rows[6][3] == Decimal("0.50") and [r[1] for r in rows[7:]] == [f"{i}次" for i in range(7, 40)]


def test_the_officers_list_takes_as_many_queries_for_more_rows(alice_client, alice, unit_a, round_2020):
    """我的绩效自评 reads its assessments and tasks with the columns their rows show (`only`): a
    column the page shows but the query left out would be read row by row."""
    import datetime

    from django.utils import timezone

    from assessments import season
    from assessments.services import create_assessment

    def add(names, state):
        for name in names:
            a = create_assessment(unit=unit_a, round=round_2020, kind="project", layout="project", project_name=name,
                                  user=alice)
            Assessment.objects.filter(pk=a.pk).update(state=state)
        today = timezone.localdate()
        season.issue_tasks(round_=round_2020, specs=[season.TaskSpec(unit_a, "project", name) for name in names],
                           starts_on=today - datetime.timedelta(days=1), due_on=today + datetime.timedelta(days=10),
                           warn_days=3)

    url = reverse("assessments:list")
    add(["项目甲"], Assessment.State.DRAFT)
    alice_client.get(url)  # the roles and the generations read once
    add(["项目戊"], Assessment.State.DRAFT)
    response, few = queries(alice_client, "GET", url)
    add(["项目乙", "项目丙"], Assessment.State.SUBMITTED)
    add(["项目丁"], Assessment.State.RETURNED)
    response, more = queries(alice_client, "GET", url)
    assert more == few
    html = response.content.decode()
    rows = re.findall(r'<tr class="task-row task-(\w+)"', html)
    assert sorted(rows) == ["filling", "filling", "returned", "submitted", "submitted"]
    for name in ("项目甲", "项目乙", "项目丙", "项目丁", "项目戊"):
        assert html.count(name) == 2  # its task and its assessment
    assert html.count("state-submitted") == 2 and html.count("state-returned") == 1 and html.count("state-draft") == 2


def test_the_whole_public_list_is_read_a_page_at_a_time_by_statements_compiled_once(client, demo, monkeypatch):  # noqa: F811
    """Unfiltered, the public list is counted and read by statements compiled once, a page's LIMIT and
    OFFSET written after it as numbers (issue 17; as parameters, PostgreSQL's one plan sorted every
    published report): the same reports, in the same order, as the ORM's list."""
    from assessments.exports import lists
    from assessments.views import public as public_views

    publish_copies(demo["岳麓区委政法委/部门"], 4)
    monkeypatch.setattr(public_views, "PAGE_SIZE", 2)
    expected = list(lists.listed().values_list("pk", flat=True))
    assert len(expected) == 6 and sum(public_views._LISTED_COUNT.all()) == len(expected)
    assert [a.pk for a in public_views._LISTED.all(offset=2, limit=2)] == expected[2:4]
    windows, real = [], public_views._LISTED.all

    def reading(*values, **window):
        windows.append(window)
        return real(*values, **window)

    monkeypatch.setattr(public_views._LISTED, "all", reading)
    with CaptureQueriesContext(connection) as queries:
        shown = listed_ids(client, page=2)
    listed = [q["sql"] for q in queries.captured_queries if '"assessments_publication"' in q["sql"] and "LIMIT" in q["sql"]]
    assert listed[0].endswith(" LIMIT 2 OFFSET 2")
    assert len(listed) == 1 and windows == [{"offset": 2, "limit": 2}]
    assert public_views._LISTED._compiled and None not in public_views._LISTED._compiled.values()
    assert shown == expected[2:4]
