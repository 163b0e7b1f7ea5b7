"""The dashboard's cards and its list count the same rows: the reviewer's units (never their own),
the selected round; the list is not counted again when only a state is chosen (issue 17)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.models import Assessment, Membership, Snapshot, Transition, Unit
from assessments.table_templates import latest_version

from .test_access_matrix import make_reviewer

pytestmark = pytest.mark.django_db

STATES = {"draft": 3, "submitted": 4, "returned": 2, "approved": 1}


@pytest.fixture
def population(region, round_2020, unit_a, unit_b):
    versions = {kind: latest_version(kind) for kind in ("project", "department")}
    unit_c = Unit.objects.create(name="长沙市岳麓区司法局", short_name="岳麓司法局", region=region)
    for unit in (unit_a, unit_b, unit_c):
        n = 0
        for state, count in STATES.items():
            for _ in range(count):
                n += 1
                Assessment.objects.create(unit=unit, round=round_2020, kind="project", project_name=f"项目{n}", state=state,
                                          template_version=versions["project"])
        Assessment.objects.create(unit=unit, round=round_2020, kind="department", state="submitted",
                                  template_version=versions["department"])
    return unit_c


def listed(client, **query):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("assessments:dashboard"), query)
    assert response.status_code == 200
    page = response.context["page"]
    counted = [q["sql"] for q in queries.captured_queries if 'COUNT(*) AS "__count"' in q["sql"]]
    return page.paginator.count, len(page.object_list), dict((s.value, n) for s, n, _ in response.context["counts"]), counted


def test_the_list_is_the_cards_count_and_is_not_counted_again(client, population, unit_a, round_2020):
    bureau = make_reviewer("caiwu", bureau_wide=True)
    Membership.objects.create(user=bureau, unit=unit_a, role=Membership.Role.OFFICER)  # never their own unit
    client.force_login(bureau)
    total, rows, cards, counted = listed(client)
    assert cards == {"draft": 6, "submitted": 10, "forwarded": 0, "in_review": 0, "returned": 4, "approved": 2,
                     "published": 0}
    assert (total, rows, counted) == (16, 16, [])
    total, rows, _, counted = listed(client, state="submitted")
    assert (total, rows, counted) == (10, 10, [])
    assert listed(client, state="returned")[:2] == (4, 4)
    assert listed(client, state="draft")[:2] == (0, 0)  # counted on its card, never listed
    # Any other filter is counted by the database, and agrees.
    total, rows, _, counted = listed(client, kind="department")
    assert (total, rows, len(counted)) == (2, 2, 1)
    total, rows, _, counted = listed(client, state="submitted", unit_name="司法局")
    assert (total, rows, len(counted)) == (5, 5, 1)


def test_an_assigned_reviewer_counts_their_units_only(client, population, unit_b):
    assigned = make_reviewer("zhipai", unit_b, population)
    Membership.objects.create(user=assigned, unit=population, role=Membership.Role.OFFICER)
    client.force_login(assigned)
    total, rows, cards, counted = listed(client)
    assert (cards["draft"], cards["submitted"], cards["returned"], cards["approved"]) == (3, 5, 2, 1)
    assert (total, rows, counted) == (8, 8, [])


def test_a_returned_row_shows_its_latest_submission(client, population, unit_b):
    """The officer's draft of a returned assessment is not the reviewer's to see: the row shows the
    name, score and flags of the latest snapshot (read as those keys, not whole snapshots)."""
    returned = Assessment.objects.filter(unit=unit_b, state="returned").order_by("pk").first()
    Assessment.objects.filter(pk=returned.pk).update(project_name="草稿中的名称", self_total=Decimal("99.00"))
    for number, (name, total, codes) in enumerate([("第一次提交", "70.00", ["rate_out"]),
                                                  ("第二次提交", "85.50", ["all_full"])], start=1):
        t = Transition.objects.create(assessment=returned, action="submit", from_state="draft", to_state="submitted")
        Snapshot.objects.create(assessment=returned, number=number, transition=t,
                                data={"header": {"project_name": name}, "total_score": total, "risk_flags": codes})
    old = Assessment.objects.filter(unit=unit_b, state="returned").order_by("pk").last()
    t = Transition.objects.create(assessment=old, action="submit", from_state="draft", to_state="submitted")
    Snapshot.objects.create(assessment=old, number=1, transition=t, data={"header": {}, "total_score": None})
    client.force_login(make_reviewer("caiwu", bureau_wide=True))
    rows = {a.pk: a for a in client.get(reverse("assessments:dashboard"), {"state": "returned"}).context["page"]}
    shown = rows[returned.pk]
    assert (shown.project_name, shown.self_total, [f.code for f in shown.flag_list]) == ("第二次提交", Decimal("85.50"), ["all_full"])
    assert (rows[old.pk].project_name, rows[old.pk].self_total) == (old.project_name, None)


def _exists_queries(client, **query):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("assessments:dashboard"), query)
    assert response.status_code == 200
    # Queries of their own asking whether a round has submissions (the rounds' query asks about the
    # side panels with EXISTS, inside it).
    return response, [q["sql"] for q in queries.captured_queries if q["sql"].startswith('SELECT 1 AS "a"')]


def test_the_round_shown_is_the_newest_with_submissions_judged_by_its_counts(client, unit_a, round_2020):
    from assessments.models import Round

    bureau = make_reviewer("caiwu", bureau_wide=True)
    client.force_login(bureau)
    version = latest_version("project")
    newer = Round.objects.create(year=2021, title="2021年度绩效自评")
    Assessment.objects.create(unit=unit_a, round=round_2020, kind="project", project_name="去年的", state="submitted",
                              template_version=version)
    Assessment.objects.create(unit=unit_a, round=newer, kind="project", project_name="草稿", state="draft",
                              template_version=version)
    # The newest round holds only a draft: the round before it is shown, with its own counts.
    response, exists = _exists_queries(client)
    assert response.context["round"] == round_2020
    assert {s.value: n for s, n, _ in response.context["counts"]}["submitted"] == 1
    assert len(exists) == 1  # the older round asked once; the newest judged by its counts
    # Once the newest round has a submission it is shown, without a query asking whether it has one.
    Assessment.objects.create(unit=unit_a, round=newer, kind="project", project_name="今年的", state="submitted",
                              template_version=version)
    response, exists = _exists_queries(client)
    assert response.context["round"] == newer
    cards = {s.value: n for s, n, _ in response.context["counts"]}
    assert (cards["draft"], cards["submitted"]) == (1, 1)
    assert exists == []
    # A round asked for is shown whatever it holds.
    response, exists = _exists_queries(client, round=round_2020.pk)
    assert response.context["round"] == round_2020 and exists == []


def _panel_queries(client):
    """The dashboard, and its queries of their own on the side panels' tables."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("assessments:dashboard"))
    assert response.status_code == 200
    tables = ('FROM "assessments_task"', 'FROM "assessments_disclosureclock"', 'FROM "assessments_rectification"')
    return response, [q["sql"] for q in queries.captured_queries
                      if not q["sql"].startswith('SELECT "assessments_round"') and any(t in q["sql"] for t in tables)]


def test_side_panels_are_asked_with_the_rounds_and_shown_when_they_have_something(client, population, unit_a, unit_b,
                                                                                 round_2020):
    """逾期任务, 公开期限 and 整改 are asked about in the rounds' query (EXISTS): with nothing in them,
    the page runs no query of their own; with something, each is shown, for the reviewer's units."""
    import datetime

    from django.utils import timezone

    from assessments.models import DisclosureClock, Rectification, Task

    assigned = make_reviewer("zhipai", unit_b)
    client.force_login(assigned)
    response, own = _panel_queries(client)
    assert own == []
    assert (response.context["late_tasks"], response.context["disclosure_todo"]) == ([], [])
    assert response.context["rectifications"]["open"] == 0
    html = response.content.decode()
    assert 'id="late-tasks"' not in html and 'id="disclosure-todo"' not in html and 'id="rectification-dashboard"' not in html

    # Something in each panel, for a unit the reviewer does not review first: still nothing shown.
    today = timezone.localdate()
    for unit in (unit_a, unit_b):
        Task.objects.create(round=round_2020, unit=unit, kind="project", project_name=f"{unit.short_name or unit.name}逾期项目",
                            starts_on=today - datetime.timedelta(days=30), due_on=today - datetime.timedelta(days=2))
        DisclosureClock.objects.create(unit=unit, round=round_2020, approved_on=today - datetime.timedelta(days=15),
                                       warned_at=timezone.now())
        submitted = Assessment.objects.filter(unit=unit, state="submitted", kind="project").order_by("pk").first()
        Rectification.objects.create(assessment=submitted, problem=f"{unit.name}的问题", action="整改", due_date=today)
        if unit == unit_a:
            response, _ = _panel_queries(client)
            assert not response.context["late_tasks"] and not response.context["disclosure_todo"]
            assert response.context["rectifications"]["open"] == 0
    response, own = _panel_queries(client)
    html = response.content.decode()
    assert [t.unit_id for t in response.context["late_tasks"]] == [unit_b.pk]
    assert 'id="late-tasks"' in html and f"{unit_b.short_name or unit_b.name}逾期项目" in html
    assert [w["clock"].unit_id for w in response.context["disclosure_todo"]] == [unit_b.pk]
    assert 'id="disclosure-todo"' in html
    assert response.context["rectifications"]["open"] == 1 and 'id="rectification-dashboard"' in html
    assert len(own) >= 3  # each panel now reads its own rows


@pytest.mark.usefixtures("rendered_pages")
def test_the_rows_are_rendered_again_only_when_something_they_show_changed(client, population, unit_a, unit_b, renders):
    """The list's rows are kept under everything they show (ADR 0024): a write elsewhere (an
    officer's draft) leaves them as they were; a change to a listed row (its 复核 score, its
    佐证材料, its export) shows at once."""
    from assessments.models import Evidence, ExportJob
    from assessments.views import review as review_views

    client.force_login(make_reviewer("caiwu", bureau_wide=True))
    rendered = renders(review_views)

    def rows():
        html = client.get(reverse("assessments:dashboard")).content.decode()
        return html.split('<table class="table table-hover')[1].split("</table>")[0]

    first = rows()
    assert rendered.count("assessments/review/dashboard_rows.html") == 1
    draft = Assessment.objects.filter(unit=unit_a, state="draft").order_by("pk").first()
    Assessment.objects.filter(pk=draft.pk).update(project_name="草稿改了名称")  # a write, not listed
    assert rows() == first
    assert rendered.count("assessments/review/dashboard_rows.html") == 1

    listed = Assessment.objects.filter(unit=unit_b, state="submitted", kind="project").order_by("pk").first()
    Assessment.objects.filter(pk=listed.pk).update(review_total=Decimal("88.50"))
    changed = rows()
    assert rendered.count("assessments/review/dashboard_rows.html") == 2
    assert "88.50" in changed and "88.50" not in first
    Evidence.objects.create(assessment=listed, title="会议纪要", file="evidence/k.pdf", original_name="会议纪要.pdf",
                            content_type="application/pdf", size=10, sha256="0" * 64, submitted=True)
    assert "佐证材料 1 个" in rows()
    ExportJob.objects.create(assessment=listed, status="failed")
    assert "导出：" in rows() and rendered.count("assessments/review/dashboard_rows.html") == 4
