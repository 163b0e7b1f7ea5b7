"""The 公开 register (issue 16): 决算批复 dates, the 20-day clock and its one-time warning, the
公开审核 step, and the register per round and 主管部门 (page and xlsx) with its 公开率."""

import datetime
import io
import re
from decimal import ROUND_HALF_UP, Decimal

import openpyxl
import pytest
import time_machine
from django.core import mail
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from assessments import disclosure_review, register, tasks, workflow
from assessments.models import Assessment, DisclosureClock, ExportJob, Round, Unit

from .conftest import make_officer
from .test_access_matrix import drive, make_reviewer, valid_assessment

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture(autouse=True)
def noon_of_today():
    """Each test runs at noon of TODAY (Beijing), the clock ticking from there: TODAY is read when the
    module is collected, and a run that crosses midnight would otherwise count its days from the next
    day (CI failed so once: 还剩 3 天 for 4)."""
    noon = datetime.datetime.combine(TODAY, datetime.time(12), tzinfo=timezone.get_default_timezone())
    with time_machine.travel(noon, tick=True):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def bureau(reviewer):
    reviewer.email = "jixiao@czj.example.cn"
    reviewer.save()
    return reviewer


def clock(unit, round_, days_ago):
    return DisclosureClock.objects.create(unit=unit, round=round_, approved_on=TODAY - datetime.timedelta(days=days_ago))


def backdate(a, days_ago):
    Assessment.objects.filter(pk=a.pk).update(published_at=timezone.now() - datetime.timedelta(days=days_ago))


@pytest.fixture
def season(region, round_2020, bureau):
    """Two 主管部门, five units, one report each in every register situation."""
    units = {
        name: Unit.objects.create(name=f"测试{name}", region=region, supervisor=supervisor)
        for name, supervisor in (("甲", "区委政法委"), ("乙", "区委政法委"), ("丙", "区财政局"), ("丁", "区财政局"), ("戊", "区财政局"))
    }
    officers = {name: make_officer(f"officer-{name}", unit) for name, unit in units.items()}

    def report(name, state, title):
        a = valid_assessment(units[name], round_2020, title, user=officers[name])
        return drive(a, state, officer=officers[name], reviewer=bureau)

    made = {
        "on_time": report("甲", "published", "按时项目"),  # 批复 30 days ago, published 15 days ago: due +20 → on time
        "late": report("乙", "published", "逾期项目"),  # 批复 40 days ago, published 5 days ago: late
        "overdue": report("丙", "approved", "未公开项目"),  # 批复 25 days ago, not published: overdue
        "pending": report("丁", "approved", "待公开项目"),  # 批复 3 days ago: 17 days left
        "withheld": report("戊", "in_review", "不公开项目"),
        "no_clock": report("戊", "published", "未登记项目"),
    }
    from assessments import publishing

    publishing.set_disclosure(bureau, made["withheld"], publisher="unit", document_number="", disclosure="withheld",
                              disclosure_reason="涉及国家安全")
    workflow.perform(bureau, made["withheld"], "approve")
    backdate(made["on_time"], 15)
    backdate(made["late"], 5)
    clock(units["甲"], round_2020, 30)
    clock(units["乙"], round_2020, 40)
    clock(units["丙"], round_2020, 25)
    clock(units["丁"], round_2020, 3)
    return made


def test_the_day_of_publication_is_counted_in_beijing_time(season, round_2020):
    """The due date is a day in 北京时间: published at 23:30 on it is on time, at 00:30 the next day
    (16:30 UTC the same day) it is late. The database works out the day (register.reports)."""
    on_time, late = season["on_time"], season["late"]
    DisclosureClock.objects.filter(unit=on_time.unit).update(approved_on=datetime.date(2020, 6, 10))
    DisclosureClock.objects.filter(unit=late.unit).update(approved_on=datetime.date(2020, 6, 10))  # due 2020-06-30
    Assessment.objects.filter(pk=on_time.pk).update(published_at=datetime.datetime(2020, 6, 30, 15, 30, tzinfo=datetime.UTC))
    Assessment.objects.filter(pk=late.pk).update(published_at=datetime.datetime(2020, 6, 30, 16, 30, tzinfo=datetime.UTC))
    rows = {r.pk: r for r in register.rows(round_2020)}
    assert (rows[on_time.pk].published_on, rows[on_time.pk].due, rows[on_time.pk].status) == (
        datetime.date(2020, 6, 30), datetime.date(2020, 6, 30), "按时公开")
    assert (rows[late.pk].published_on, rows[late.pk].status) == (datetime.date(2020, 7, 1), "逾期公开")
    assert rows[season["overdue"].pk].published_on is None  # approved: its time of publication does not count
    reviewer_rows = register.rows(round_2020, where=~Q(unit=on_time.unit))
    assert on_time.pk not in {r.pk for r in reviewer_rows} and late.pk in {r.pk for r in reviewer_rows}


def test_register_rows_and_rate_equal_a_separate_count(season, round_2020):
    rows = register.rows(round_2020)
    status = {r.title: (r.status, r.reason, r.days_left) for r in rows}
    assert status == {
        "2020年度按时项目绩效自评": ("按时公开", "", None),
        "2020年度逾期项目绩效自评": ("逾期公开", "", None),
        "2020年度未公开项目绩效自评": ("逾期未公开", "", None),
        "2020年度待公开项目绩效自评": ("待公开", "", 17),
        "2020年度不公开项目绩效自评": ("不公开", "不予公开：涉及国家安全", None),
        "2020年度未登记项目绩效自评": ("已公开", "", None),
    }
    groups, total = register.summaries(round_2020)
    assert [(g.supervisor, g.due, g.published, g.on_time, g.late, g.overdue, g.withheld, g.rate) for g in groups] == [
        ("区委政法委", 2, 2, 1, 1, 0, 0, Decimal("100.00")),
        ("区财政局", 3, 1, 0, 0, 1, 1, Decimal("33.33")),
    ]
    # The 公开率 counted apart, straight from the assessments.
    due = Assessment.objects.filter(round=round_2020, state__in=["approved", "published"], confidential=False,
                                    disclosure="active")
    published = due.filter(state="published")
    separate = (Decimal(published.count() * 100) / due.count()).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert (total.due, total.published, total.rate) == (due.count(), published.count(), separate) == (5, 3, Decimal("60.00"))


def test_register_page_and_xlsx(client, season, round_2020, bureau):
    client.force_login(bureau)
    page = client.get(reverse("assessments:register"), {"round": 2020}).content.decode()
    assert '<td class="num" id="register-rate">60.00%</td>' in page
    assert "<td>逾期未公开</td>" in page and "<td>不予公开：涉及国家安全</td>" in page
    response = client.get(reverse("assessments:register_xlsx"), {"round": 2020})
    assert response["Content-Disposition"] == 'attachment; filename="register-2020.xlsx"'
    wb = openpyxl.load_workbook(io.BytesIO(response.content))
    rows = list(wb["公开登记"].iter_rows(min_row=3, values_only=True))
    # (Chinese sort order differs between SQLite and PostgreSQL collations: compared as sets.)
    assert sorted((r[0], r[1], r[6], r[7]) for r in rows) == sorted([
        ("区财政局", "测试丙", "逾期未公开", None), ("区财政局", "测试丁", "待公开", None),
        ("区财政局", "测试戊", "不公开", "不予公开：涉及国家安全"), ("区财政局", "测试戊", "已公开", None),
        ("区委政法委", "测试甲", "按时公开", None), ("区委政法委", "测试乙", "逾期公开", None),
    ])
    on_time = next(r for r in rows if r[1] == "测试甲")
    assert (on_time[3].date(), on_time[4].date()) == (TODAY - datetime.timedelta(days=30), TODAY - datetime.timedelta(days=10))
    summary = list(wb["公开率"].iter_rows(min_row=2, values_only=True))
    assert summary[-1] == ("合计", 5, 3, 1, 1, 1, 1, 60)


def test_the_bureau_records_approval_dates_and_others_may_not(client, season, round_2020, bureau, unit_a):
    reviewer_a = make_reviewer("carol", unit_a)
    client.force_login(reviewer_a)
    assert client.post(reverse("assessments:register"), {"round": 2020, f"approved_on-{unit_a.pk}": "2021-05-10"}).status_code == 403
    client.force_login(bureau)
    response = client.post(reverse("assessments:register"), {"round": 2020, f"approved_on-{unit_a.pk}": "2021-05-10"})
    assert response.status_code == 302
    assert DisclosureClock.objects.get(unit=unit_a, round=round_2020).approved_on == datetime.date(2021, 5, 10)
    client.post(reverse("assessments:register"), {"round": 2020, f"approved_on-{unit_a.pk}": "10/5/2021"})
    assert DisclosureClock.objects.get(unit=unit_a, round=round_2020).approved_on == datetime.date(2021, 5, 10)
    client.post(reverse("assessments:register"), {"round": 2020, f"approved_on-{unit_a.pk}": ""})
    assert not DisclosureClock.objects.filter(unit=unit_a, round=round_2020).exists()


def test_the_20_day_warning_fires_once(unit_a, round_2020, alice, bureau):
    a = drive(valid_assessment(unit_a, round_2020, "综治经费", user=alice), "approved", officer=alice, reviewer=bureau)
    ExportJob.objects.filter(assessment=a).delete()  # the export has not run: still to publish
    c = clock(unit_a, round_2020, 10)  # due in 10 days: not yet
    assert register.warn_due() == 0 and mail.outbox == []
    c.approved_on = TODAY - datetime.timedelta(days=16)  # due in 4 days (≤ 5): warn
    c.save()
    assert tasks.warn_disclosure_deadlines() == 1
    assert register.warn_due() == 0  # once
    assert register.warn_due(TODAY + datetime.timedelta(days=10)) == 0  # even when overdue later
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["jixiao@czj.example.cn"]
    assert message.subject == "【绩效自评】中共长沙市岳麓区委员会政法委员会的自评报告公开期限还剩 4 天"
    due = TODAY + datetime.timedelta(days=4)
    assert f"按规定应于 {due:%Y年%m月%d日} 前公开自评结果，还剩 4 天。" in message.body
    assert "尚未公开：2020年度综治经费绩效自评" in message.body
    todo = register.warned(round_2020)
    assert [(t["clock"].unit_id, t["days_left"], t["waiting"]) for t in todo] == [(unit_a.pk, 4, 1)]
    client = Client()
    client.force_login(bureau)
    dashboard = client.get(reverse("assessments:dashboard"), {"round": round_2020.pk}).content.decode()
    assert "待办：公开期限即将届满（1 个单位）：" in dashboard and "还剩 4 天，1 份未公开" in dashboard
    # A new 决算批复 date re-arms it.
    register.record_approval(bureau, unit_a, round_2020, TODAY - datetime.timedelta(days=19))
    assert register.warn_due() == 1 and len(mail.outbox) == 2


def test_no_warning_when_everything_is_published(unit_a, round_2020, alice, bureau):
    drive(valid_assessment(unit_a, round_2020, "综治经费", user=alice), "published", officer=alice, reviewer=bureau)
    clock(unit_a, round_2020, 18)
    assert register.warn_due() == 0


def test_disclosure_review_step(client, unit_a, round_2020, alice, bureau):
    round_2020.disclosure_review = True
    round_2020.save()
    a = drive(valid_assessment(unit_a, round_2020, "综治经费", user=alice), "approved", officer=alice, reviewer=bureau)
    assert not ExportJob.objects.filter(assessment=a).exists()  # approval waits for 公开审核
    assert register.awaiting_review(a)
    client.force_login(bureau)
    page = client.get(reverse("assessments:review", args=[a.pk])).content.decode()
    assert 'id="disclosure-review"' in page and reverse("assessments:public_preview", args=[a.pk]) in page
    preview = client.get(reverse("assessments:public_preview", args=[a.pk])).content.decode()
    assert "公开预览：以下为该报告公开后的页面（个人信息已按公开规则遮挡），尚未公开。" in preview
    # An assigned (not bureau-wide) reviewer cannot decide it.
    carol = make_reviewer("carol", unit_a)
    with pytest.raises(disclosure_review.ReviewRefused, match="公开审核须由财政局（全部单位）审核人进行。"):
        disclosure_review.review_publish(carol, a)
    response = client.post(reverse("assessments:review", args=[a.pk]), {"action": "disclosure_publish"})
    assert response.status_code == 302
    job = ExportJob.objects.get(assessment=a)
    assert job.requested_by == bureau
    tasks.run_export(job.pk)
    a.refresh_from_db()
    assert a.state == "published"
    assert not register.awaiting_review(a)


def test_disclosure_review_can_withhold_with_a_reason(client, unit_a, round_2020, alice, bureau):
    round_2020.disclosure_review = True
    round_2020.save()
    a = drive(valid_assessment(unit_a, round_2020, "综治经费", user=alice), "approved", officer=alice, reviewer=bureau)
    client.force_login(bureau)
    client.post(reverse("assessments:review", args=[a.pk]), {"action": "disclosure_withhold", "disclosure": "on_request", "reason": ""})
    a.refresh_from_db()
    assert a.disclosure == "active"
    client.post(reverse("assessments:review", args=[a.pk]),
                {"action": "disclosure_withhold", "disclosure": "on_request", "reason": "含企业商业信息"})
    a.refresh_from_db()
    assert (a.disclosure, a.disclosure_reason, a.state) == ("on_request", "含企业商业信息", "approved")
    assert not ExportJob.objects.filter(assessment=a).exists()
    [row] = register.rows(round_2020)
    assert (row.status, row.reason) == ("不公开", "依申请公开：含企业商业信息")


def test_the_bureaus_todo_lists_reports_waiting_for_disclosure_review_and_warned_units(unit_a, unit_b, round_2020,
                                                                                       alice, bob, bureau):
    """The 公开 duties are items of the 待办 page (issue 14) for the bureau, not for assigned reviewers."""
    round_2020.disclosure_review = True
    round_2020.save()
    waiting = drive(valid_assessment(unit_a, round_2020, "综治经费", user=alice), "approved", officer=alice, reviewer=bureau)
    late = drive(valid_assessment(unit_b, round_2020, "普法经费", user=bob), "approved", officer=bob, reviewer=bureau)
    disclosure_review.review_publish(bureau, late)  # decided: queued, not yet exported
    clock(unit_b, round_2020, 22)  # due two days ago
    assert register.warn_due() == 1
    approved_at = waiting.transitions.get(action="approve").at
    client = Client()
    client.force_login(bureau)
    page = client.get(reverse("assessments:todo")).content.decode()
    assert '<section class="card mb-3" id="todo-disclosure_review">' in page
    assert f'href="{reverse("assessments:review", args=[waiting.pk])}#disclosure-review"' in page
    assert f"审核通过于 {timezone.localtime(approved_at):%Y-%m-%d %H:%M}" in page
    assert reverse("assessments:review", args=[late.pk]) + "#disclosure-review" not in page  # already decided
    assert '<section class="card mb-3" id="todo-disclosure_due">' in page
    due = TODAY - datetime.timedelta(days=2)
    assert f"1 份报告未公开，应于 {due:%Y-%m-%d} 前公开，已逾期 2 天" in page
    assert f'href="{reverse("assessments:register")}?round=2020"' in page
    assert client.get(reverse("assessments:todo_count")).json() == {"total": 2}
    carol = make_reviewer("carol", unit_a)  # assigned to A: 复核 yes, 公开审核 no
    client.force_login(carol)
    page = client.get(reverse("assessments:todo")).content.decode()
    assert "todo-disclosure_review" not in page and "todo-disclosure_due" not in page


def test_the_register_pages_its_reports_and_its_dates(client, season, round_2020, bureau, monkeypatch):
    """A province has thousands of reports and units: both lists are paged, the summary and the
    xlsx keep everything, and saving a page of dates comes back to that page."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from assessments.views import register as register_view

    monkeypatch.setattr(register_view, "PER_PAGE", 4)
    client.force_login(bureau)
    url = reverse("assessments:register")
    first = client.get(url, {"round": 2020})
    second = client.get(url, {"round": 2020, "page": 2})
    shown = [len(r.context["rows_page"].object_list) for r in (first, second)]
    assert shown == [4, 2]  # six reports
    assert '<td class="num" id="register-rate">60.00%</td>' in second.content.decode()  # the summary covers all
    assert 'href="?round=2020&amp;page=2" aria-label="第 2 页"' in first.content.decode()
    assert '<nav aria-label="报告分页"' in first.content.decode()  # two paged lists, two named navigations
    units = Unit.objects.count()
    dates = client.get(url, {"round": 2020, "units_page": 2})
    assert len(dates.context["units"]) == min(4, units - 4)
    assert 'name="units_page" value="2"' in dates.content.decode()
    assert 'href="?round=2020&amp;units_page=1"' in dates.content.decode()  # its own page numbers
    assert '<nav aria-label="决算批复日期分页"' in dates.content.decode()
    unit = dates.context["units"][0][0]
    response = client.post(url, {"round": 2020, "page": 2, "units_page": 2, f"approved_on-{unit.pk}": "2021-05-10"})
    assert response["Location"] == f"{url}?round=2020&page=2&units_page=2"
    assert 'name="page" value="1"' in dates.content.decode()
    assert DisclosureClock.objects.get(unit=unit, round=round_2020).approved_on == datetime.date(2021, 5, 10)
    # Each unit of the page is read with its date of the round (one statement, issue 17): the date
    # recorded and its due date shown in its row, another round's date not.
    other = Round.objects.create(year=2019, title="2019年度绩效自评")
    DisclosureClock.objects.create(unit=unit, round=other, approved_on=datetime.date(2020, 1, 2))
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url, {"round": 2020, "units_page": 2})
    clock_reads = [q["sql"] for q in queries.captured_queries if 'FROM "assessments_disclosureclock"' in q["sql"]]
    assert all('"warned_at" IS NOT NULL' in sql for sql in clock_reads), clock_reads  # the warnings' read only
    assert (unit, datetime.date(2021, 5, 10)) in again.context["units"]
    assert (f'name="approved_on-{unit.pk}" value="2021-05-10"></td>\n    <td>'
            f'{datetime.date(2021, 5, 10) + datetime.timedelta(days=round_2020.disclosure_days):%Y-%m-%d}</td>') in again.content.decode()
    assert 'value="2020-01-02"' not in again.content.decode()


def test_register_page_cells_read_as_the_bureau_reads_them(client, season, round_2020, bureau):
    """Each report's row, its 主管部门's summary and a unit's 决算批复 row, cell by cell (the rows are
    a Jinja2 template, ADR 0023): dates as 2021-05-10, links to the 复核 and the public page."""
    client.force_login(bureau)
    page = client.get(reverse("assessments:register"), {"round": 2020}).content.decode()

    def tidy(html):
        return re.sub(r"\s*\n\s*", "", html)

    def row_of(table_id, text):
        body = page.split(f'id="{table_id}"')[1].split("</table>")[0]
        return next(tidy(r.split("</tr>")[0]) + "</tr>" for r in body.split("<tr") if text in r)

    day = lambda days_ago: f"{TODAY - datetime.timedelta(days=days_ago):%Y-%m-%d}"  # noqa: E731
    on_time, pending = season["on_time"], season["pending"]
    assert row_of("register-rows", "按时项目") == (
        f'><td>区委政法委</td><td>测试甲</td><td><a href="/assessments/review/{on_time.pk}/">2020年度按时项目绩效自评</a></td>'
        f'<td>{day(30)}</td><td>{day(10)}</td><td><a href="/disclosure/{on_time.pk}/">{day(15)}</a></td>'
        "<td>按时公开</td><td></td></tr>"
    )
    assert row_of("register-rows", "待公开项目") == (
        f'><td>区财政局</td><td>测试丁</td><td><a href="/assessments/review/{pending.pk}/">2020年度待公开项目绩效自评</a></td>'
        f"<td>{day(3)}</td><td>{day(-17)}</td><td></td><td>待公开（剩 17 天）</td><td></td></tr>"
    )
    no_clock = season["no_clock"]
    assert f'绩效自评</a></td><td>未登记</td><td></td><td><a href="/disclosure/{no_clock.pk}/">' in row_of("register-rows", "未登记项目")
    assert row_of("register-summary", "区财政局") == (
        '><td>区财政局</td><td class="num">3</td><td class="num">1</td><td class="num">0</td><td class="num">0</td>'
        '<td class="num">1</td><td class="num">1</td><td class="num">33.33%</td></tr>'
    )
    ding = Unit.objects.get(name="测试丁")
    assert row_of("approval-dates", f'for="approved-{ding.pk}"') == (
        f'><td>区财政局</td><td><label for="approved-{ding.pk}">测试丁</label></td>'
        f'<td><input class="form-control form-control-sm" type="date" id="approved-{ding.pk}" name="approved_on-{ding.pk}" value="{day(3)}"></td>'
        f"<td>{day(-17)}</td></tr>"
    )


def test_the_register_counts_and_pages_in_the_database_as_its_rows_read(client, season, round_2020, bureau, region,
                                                                          monkeypatch):
    """The summaries are counted by the database from the same classification the rows read
    (`register.classified`): each group's figures are its rows' tally; a unit without 主管部门 is
    listed under （未填主管部门）; the page reads one page of rows, in the groups' order."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from assessments.views import register as register_view

    lone = Unit.objects.create(name="测试己", region=region, supervisor="")
    officer = make_officer("officer-己", lone)
    drive(valid_assessment(lone, round_2020, "无主管项目", user=officer), "published", officer=officer, reviewer=bureau)
    rows = register.rows(round_2020)
    groups, total = register.summaries(round_2020)
    tally = {}
    for row in rows:
        counts = tally.setdefault(row.supervisor, {"due": 0, "published": 0, "on_time": 0, "late": 0, "overdue": 0,
                                                    "withheld": 0})
        if row.status == "不公开":
            counts["withheld"] += 1
            continue
        counts["due"] += 1
        counts["published"] += row.published_on is not None
        counts["on_time"] += row.status == "按时公开"
        counts["late"] += row.status == "逾期公开"
        counts["overdue"] += row.status == "逾期未公开"
    assert {g.supervisor: {k: getattr(g, k) for k in tally[g.supervisor]} for g in groups} == tally
    assert [g.supervisor for g in groups] == ["区委政法委", "区财政局", "（未填主管部门）"]
    assert [r.supervisor for r in rows] == sorted((r.supervisor for r in rows), key=[g.supervisor for g in groups].index)
    assert (total.due, total.published, total.withheld, total.reports) == (6, 4, 1, 7)
    narrowed, _ = register.summaries(round_2020, where=~Q(unit=lone))
    assert [g.supervisor for g in narrowed] == ["区委政法委", "区财政局"]

    client.force_login(bureau)
    monkeypatch.setattr(register_view, "PER_PAGE", 3)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("assessments:register"), {"round": 2020, "page": 3})
    assert [r.title for r in page.context["rows_page"].object_list] == [rows[6].title]
    # The rows of one page (a statement compiled once: LIMIT and OFFSET are its parameters), and no
    # withheld row's reason on this page to read after.
    read = [q["sql"] for q in queries.captured_queries if 'AS "published_on"' in q["sql"] and "GROUP BY" not in q["sql"]]
    assert len(read) == 1 and re.search(r"LIMIT (1|%s|\$\d+|\?) OFFSET (6|%s|\$\d+|\?)$", read[0]), read
    assert not [q for q in queries.captured_queries if '"disclosure_reason"' in q["sql"]]


def test_on_postgresql_the_register_reads_the_reports_from_its_covering_index():
    """Migration 0027's index holds every column the register's two queries read of a report: the
    planner can answer them from the index alone (an index-only scan, issue 17)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a covering index is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'assessment_register_idx'")
        (definition,) = cursor.fetchone()
    assert definition.endswith("(round_id, state) INCLUDE (id, unit_id, confidential, disclosure, published_at, kind, project_name)")
    read = {"round_id", "state", "id", "unit_id", "confidential", "disclosure", "published_at", "kind", "project_name"}
    sql, _ = (register.classified(Round(pk=1, year=2020), datetime.date(2021, 1, 1)).values_list(*register._ROW_FIELDS)
              .query.get_compiler(connection=connection).as_sql())
    columns = set(re.findall(r'"assessments_assessment"\."(\w+)"', sql))
    assert columns <= read, columns - read


def test_the_register_is_in_the_order_of_an_index_of_units(client, season, round_2020, bureau, region):
    """The register's order, 主管部门 as shown (（未填主管部门） for none) then the unit's name, is an
    index of units (migration 0028): its constants are written into the statements, never passed as
    parameters, so that a prepared statement's one plan can walk it (issue 17). The 决算批复 dates list
    the units in the same order."""
    from django.db import connection, transaction

    from assessments import sqlwords
    from assessments.models.units import NO_SUPERVISOR

    lone = Unit.objects.create(name="测试己", region=region, supervisor="")
    sql, params = (register.classified(round_2020, datetime.date(2021, 1, 1)).values_list(*register._ROW_FIELDS)
                   .query.get_compiler(connection=connection).as_sql())
    quoted = connection.ops.quote_name
    assert f"COALESCE(NULLIF({quoted('assessments_unit')}.{quoted('supervisor')}, ''), '{NO_SUPERVISOR}')" in sql
    assert NO_SUPERVISOR not in params and "" not in params
    for hostile in ("x' OR '1'='1", "a\\b", "100%", "a\0b", 7):
        with pytest.raises(ValueError):
            sqlwords.Constant(hostile).as_sql(None, connection)

    client.force_login(bureau)
    units = [u for u, _ in client.get(reverse("assessments:register"), {"round": 2020}).context["units"]]
    labels = [(u.supervisor or NO_SUPERVISOR, u.name) for u in units]
    assert labels == sorted(labels) and units[-1] == lone
    if connection.vendor == "postgresql":  # kept from sorting, the planner reads a page through the index
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql} LIMIT 100", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "unit_register_order_idx" in plan, plan


@pytest.mark.usefixtures("rendered_pages")
def test_the_registers_tables_are_rendered_again_only_when_what_they_show_changed(client, season, round_2020, bureau,
                                                                                    renders):
    """The three tables (per 主管部门, reports, 决算批复 dates) are kept under what they show (issue 17):
    after a write elsewhere the page is made again but not its tables; a date recorded shows at once."""
    import django.template.loader as loader
    from django.core.cache import cache

    from assessments import generations
    from assessments.models import DataGeneration

    rendered = renders(loader)

    def tables():
        return len([name for name in rendered if name == "assessments/review/register_rows.html"])

    def unmasked(html):  # each page carries its own mask of the CSRF secret
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)

    cache.clear()
    client.force_login(bureau)
    url = reverse("assessments:register")
    first = client.get(url, {"round": 2020}).content.decode()
    assert tables() == 3
    generations.renew(DataGeneration)  # something else changed
    again = client.get(url, {"round": 2020}).content.decode()
    assert tables() == 3
    assert unmasked(again) == unmasked(first)
    wu = Unit.objects.get(name="测试戊")
    register.record_approval(bureau, wu, round_2020, TODAY - datetime.timedelta(days=1))
    changed = client.get(url, {"round": 2020}).content.decode()
    assert tables() == 6  # each table shows something of the date
    assert f'name="approved_on-{wu.pk}" value="{TODAY - datetime.timedelta(days=1):%Y-%m-%d}"' in changed


def test_the_counts_are_grouped_by_hashing_not_by_sorting_every_report(season, round_2020):
    """The counts per 主管部门 and status come in the register's order, but PostgreSQL does not sort
    every report of the round to group them: it may group them by hashing and sort the groups (issue 17)."""
    from django.db import connection

    from assessments.models.units import NO_SUPERVISOR

    qs = register._counted(register.classified(round_2020, datetime.date(2021, 1, 1)))
    counted = list(qs)
    labels = [label for label, _, _ in counted]
    assert labels == sorted(labels) and labels
    assert all(label != "" for label in labels) and (NO_SUPERVISOR in labels) == Unit.objects.filter(supervisor="").exists()
    groups, total = register.summaries(round_2020, datetime.date(2021, 1, 1))
    assert [g.supervisor for g in groups] == sorted(set(labels))
    assert total.reports == sum(n for _, _, n in counted)
    # Ordered by the count too: no sort of the reports gives that order, so grouping them by
    # hashing is what the planner weighs (on a province's round it takes it: bench/results/cheaper-pages, thirteenth round).
    sql, _ = qs.query.get_compiler(connection=connection).as_sql()
    assert re.search(r"ORDER BY 1 ASC, 3 ASC$", sql), sql
