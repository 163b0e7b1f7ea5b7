"""Approval → export → public pages, and what the public may never see."""

import csv
import io
import json
import re
from decimal import Decimal

import openpyxl
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from assessments import exporting, workflow
from assessments.models import Assessment, ExportJob, Publication, Transition

from .helpers import as_json, body, stored, stored_names

pytestmark = pytest.mark.django_db

PUBLIC_KEYS = {
    "id", "kind", "year", "unit", "title", "published_at", "funding", "goals", "indicators",
    "total_score", "review_total_score", "grade", "report",
}


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def demo(media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", force=True, stdout=io.StringIO())
    return {a.unit.short_name + "/" + (a.project_name or "部门"): a for a in Assessment.objects.select_related("unit")}


def yuelu(demo):
    return demo["岳麓区委政法委/部门"]


def test_demo_publishes_yuelu_2020_and_zongzhi(demo):
    states = {key: Assessment.objects.get(pk=a.pk).state for key, a in demo.items()}
    assert states["岳麓区委政法委/部门"] == "published"
    assert states["南岳区委政法委/综治、平安建设经费"] == "published"
    assert states["南岳区委政法委/四型平安小区以奖代拨经费"] == "returned"
    assert states["渌口区委政法委/部门"] == "draft"
    a = Assessment.objects.get(pk=yuelu(demo).pk)
    assert [t.action for t in a.transitions.order_by("id")] == ["submit", "start_review", "approve", "publish"]
    assert a.transitions.get(action="publish").actor is None
    assert ExportJob.objects.get(assessment=a).status == "done"


def test_public_json_of_seed_004(client, demo):
    a = yuelu(demo)
    response = client.get(reverse("disclosure:json", args=[a.pk]))
    assert response.status_code == 200
    doc = json.loads(b"".join(response.streaming_content))
    assert PUBLIC_KEYS <= set(doc)
    assert (doc["kind"], doc["year"], doc["title"]) == ("department", 2020, "2020年度部门整体支出绩效自评")
    assert doc["unit"] == {"name": "中共长沙市岳麓区委员会政法委员会", "region": "湖南省长沙市岳麓区"}
    total = doc["funding"][0]
    assert {k: total[k] for k in ("source", "budget", "actual", "rate", "weight", "score")} == {
        "source": "total", "budget": "10949.23", "actual": "10584.29", "rate": "96.67", "weight": "10.00", "score": "9.67",
    }
    assert doc["structure"][0] == {"item": "basic", "label": "（1）基本支出", "budget": None, "actual": "1379.15"}
    assert len(doc["indicators"]) == 13
    assert doc["indicators"][0]["weight"] == "5.00" and doc["indicators"][0]["score"] == "5.00"
    assert doc["indicators"][0]["review_score"] == "5.00"
    assert (doc["total_score"], doc["review_total_score"], doc["grade"]) == ("99.67", "99.67", "优")
    assert [s["key"] for s in doc["report"]][:2] == ["basic_info", "general_budget"]


def test_xlsx_holds_every_value_of_the_json(client, demo):
    a = yuelu(demo)
    doc = json.loads(b"".join(client.get(reverse("disclosure:json", args=[a.pk])).streaming_content))
    response = client.get(reverse("disclosure:xlsx", args=[a.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    values = {str(c.value) for c in cells}
    numbers = {Decimal(str(c.value)).quantize(Decimal("0.01")) for c in cells if isinstance(c.value, (int, float, Decimal))}
    assert Decimal("10949.23") in numbers and Decimal("10584.29") in numbers and Decimal("9.67") in numbers
    assert Decimal("99.67") in numbers
    assert any(isinstance(c.value, (int, float, Decimal)) and abs(float(c.value) - 0.9667) < 1e-9 and c.number_format == "0.00%"
               for c in cells)
    for row in doc["indicators"]:
        assert row["name"] in values
        assert row["target"] in values
    ws = book.worksheets[0]
    merged = [str(r) for r in ws.merged_cells.ranges]
    assert any(ws[r.split(":")[0]].value == "产出指标" for r in merged)
    assert any(ws[r.split(":")[0]].value == "绩效指标" for r in merged)


def test_export_twice_is_byte_identical_json_and_one_set_of_files(demo, media):
    a = yuelu(demo)
    first = stored(Publication.objects.get(assessment=a).json.name)
    exporting.write_files(a.pk)
    exporting.write_files(a.pk)
    assert stored(Publication.objects.get(assessment=a).json.name) == first
    assert Publication.objects.filter(assessment=a).count() == 1
    files = stored_names(f"disclosure/{a.pk}")
    assert files == [f"assessment-{a.pk}.json", f"assessment-{a.pk}.xlsx"]


def test_csv_has_one_row_per_published_indicator(client, demo):
    response = client.get(reverse("disclosure:list_csv"))
    text = body(response).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["编号", "年度", "地区"]
    assert len(rows) - 1 == 13 + 8  # 岳麓 2020 (13 rows) + 综治、平安建设经费 (8 rows)
    assert {r[5] for r in rows[1:]} == {"2020年度部门整体支出绩效自评", "2022年度综治、平安建设经费绩效自评"}


def test_list_json_and_filters(client, demo):
    doc = as_json(client.get(reverse("disclosure:list_json")))
    assert doc["count"] == 2
    assert {r["title"] for r in doc["results"]} == {"2020年度部门整体支出绩效自评", "2022年度综治、平安建设经费绩效自评"}
    assert client.get(reverse("disclosure:list_json"), {"year": "2022"}).json()["count"] == 1
    assert client.get(reverse("disclosure:list_json"), {"kind": "department"}).json()["results"][0]["year"] == 2020
    assert client.get(reverse("disclosure:list_json"), {"q": "平安建设"}).json()["count"] == 2
    assert client.get(reverse("disclosure:list_json"), {"q": "扫黑除恶专项斗争取得新的成效"}).json()["count"] == 1


def test_public_pages_are_anonymous_cached_and_cookieless(client, demo):
    a = yuelu(demo)
    for url in (reverse("disclosure:list"), reverse("disclosure:detail", args=[a.pk])):
        response = client.get(url)
        assert response.status_code == 200
        assert response.cookies == {}
        assert response["Cache-Control"] == "public, no-cache"
        assert "Cookie" not in response.get("Vary", "")
    html = client.get(reverse("disclosure:detail", args=[a.pk])).content.decode()
    assert '<meta property="og:title" content="中共长沙市岳麓区委员会政法委员会2020年度部门整体支出绩效自评">' in html
    assert '<td class="num fw-bold" id="total-score">99.67</td>' in html
    assert f'href="/disclosure/{a.pk}.xlsx"' in html


def test_phone_is_masked_everywhere_public(client, demo):
    zongzhi = demo["南岳区委政法委/综治、平安建设经费"]
    for url in (
        reverse("disclosure:detail", args=[zongzhi.pk]),
        reverse("disclosure:json", args=[zongzhi.pk]),
        reverse("disclosure:list_csv"),
        reverse("disclosure:list_json"),
    ):
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"13875709408" not in body
    html = client.get(reverse("disclosure:detail", args=[zongzhi.pk])).content.decode()
    assert "刘雄 138****9408" in html
    book = openpyxl.load_workbook(io.BytesIO(b"".join(client.get(reverse("disclosure:xlsx", args=[zongzhi.pk])).streaming_content)))
    values = " ".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert "13875709408" not in values and "138****9408" in values


def test_office_phone_is_shown(client, demo):
    zongzhi = demo["南岳区委政法委/综治、平安建设经费"]
    Assessment.objects.filter(pk=zongzhi.pk).update(leader_phone="0734-5661234", leader_phone_is_office=True)
    exporting.write_files(zongzhi.pk)
    exporting.bump_public_cache()
    assert "0734-5661234" in client.get(reverse("disclosure:detail", args=[zongzhi.pk])).content.decode()


def test_unpublish_answers_410_and_is_recorded(client, demo, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import User

    a = Assessment.objects.get(pk=yuelu(demo).pk)
    client.get(reverse("disclosure:detail", args=[a.pk]))  # cached now
    reviewer = User.objects.get(username="caizheng")
    with pytest.raises(workflow.TransitionRefused, match="须填写意见"):
        workflow.perform(reviewer, a, "unpublish", "")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, a, "unpublish", "数据有误，待更正后重新公开")
    for name in ("detail", "xlsx", "json"):
        response = client.get(reverse(f"disclosure:{name}", args=[a.pk]))
        assert response.status_code == 410
    assert "该报告已撤销公开" in client.get(reverse("disclosure:detail", args=[a.pk])).content.decode()
    assert as_json(client.get(reverse("disclosure:list_json")))["count"] == 1
    t = Transition.objects.filter(assessment=a).latest("id")
    assert (t.action, t.comment, t.actor) == ("unpublish", "数据有误，待更正后重新公开", reviewer)
    assert client.get(reverse("disclosure:detail", args=[999999])).status_code == 404


MARKER = "泄露标记XJ7Q"


def test_unpublished_states_and_confidential_never_public(client, demo):
    """A marker planted in drafts, submissions, returned, approved-not-exported and 涉密 never appears."""
    from django.contrib.auth.models import User

    for a in Assessment.objects.exclude(state="published"):
        Assessment.objects.filter(pk=a.pk).update(duties=MARKER, project_leader=MARKER)
    reviewer = User.objects.get(username="caizheng")
    # 涉密 project, approved: reviewed as usual, never exported
    secret = Assessment.objects.get(pk=demo["南岳区委政法委/综治、平安建设经费"].pk)
    Assessment.objects.filter(pk=secret.pk).update(project_leader=MARKER, confidential=True)
    exporting.bump_public_cache()
    urls = [reverse("disclosure:list"), reverse("disclosure:list_json"), reverse("disclosure:list_csv")]
    for a in Assessment.objects.all():
        urls += [reverse(f"disclosure:{n}", args=[a.pk]) for n in ("detail", "xlsx", "json")]
    for url in urls:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert MARKER.encode() not in body, url
    assert as_json(client.get(reverse("disclosure:list_json")))["count"] == 1
    assert client.get(reverse("disclosure:list_json"), {"q": MARKER}).json()["count"] == 0  # search finds nothing
    assert client.get(reverse("disclosure:json", args=[secret.pk])).status_code == 404
    del reviewer


def test_confidential_approval_queues_no_export(demo, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import User

    sixing = Assessment.objects.get(pk=demo["南岳区委政法委/四型平安小区以奖代拨经费"].pk)
    nanyue = User.objects.get(username="nanyue")
    Assessment.objects.filter(pk=sixing.pk).update(confidential=True)
    sixing.refresh_from_db()
    reviewer = User.objects.get(username="caizheng")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(nanyue, sixing, "submit")
        workflow.perform(reviewer, sixing, "start_review")
        workflow.perform(reviewer, sixing, "approve")
    sixing.refresh_from_db()
    assert sixing.state == "approved"
    assert not ExportJob.objects.filter(assessment=sixing).exists()
    with pytest.raises(exporting.ExportRefused):
        exporting.write_files(sixing.pk)


def test_confidential_project_in_department_list(client, demo, django_capture_on_commit_callbacks):
    from assessments.exports.public import load_public

    lusong = Assessment.objects.get(pk=demo["芦淞区委政法委/部门"].pk)
    report = load_public(lusong.pk)
    names = [p.name for p in report.view.project_expenses]
    assert "项目为涉密项目，不作公开评价" in names and "反邪项目" not in names
    doc = report.to_json()
    secret = [p for p in doc["project_expenses"] if p["confidential"]]
    assert secret == [{"name": "项目为涉密项目，不作公开评价", "budget": None, "actual": None, "note": "", "confidential": True}]


class TestQueryCounts:
    def publish_copies(self, source, n, media):
        """Clone a published assessment n times (different rounds) with its publication."""
        from assessments.models import Round

        ids = []
        for i in range(n):
            rnd = Round.objects.create(year=2030 + i, title=f"{2030 + i}年度绩效自评")
            a = Assessment.objects.get(pk=source.pk)
            pub = Publication.objects.get(assessment=a)
            a.pk = None
            a.round = rnd
            a.index_number = None  # unique: a copy is another report
            a.save()
            pub.pk = None
            pub.assessment = a
            pub.save()
            ids.append(a.pk)
        return ids

    def count(self, client, url):
        exporting.bump_public_cache()
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    def test_list_queries_do_not_grow(self, client, demo, media, django_assert_num_queries):
        Assessment.objects.filter(state="published").exclude(pk=yuelu(demo).pk).update(state="approved")
        one = self.count(client, reverse("disclosure:list"))
        self.publish_copies(yuelu(demo), 29, media)
        exporting.bump_public_cache()
        with django_assert_num_queries(one):
            client.get(reverse("disclosure:list"))

    def test_detail_queries_do_not_depend_on_the_number_of_reports(self, client, demo, media, django_assert_num_queries):
        a = yuelu(demo)
        one = self.count(client, reverse("disclosure:detail", args=[a.pk]))
        self.publish_copies(a, 29, media)
        exporting.bump_public_cache()
        with django_assert_num_queries(one):
            client.get(reverse("disclosure:detail", args=[a.pk]))

    def test_cached_detail_issues_no_query(self, client, demo, django_assert_num_queries):
        url = reverse("disclosure:detail", args=[yuelu(demo).pk])
        client.get(url)
        with django_assert_num_queries(0):
            assert client.get(url).status_code == 200


def test_the_html_list_shows_each_report_and_the_regions_offered(client, demo):
    """The list's rows and its 地区 options (a Jinja2 part, ADR 0023): every cell of a report, the
    region asked for selected, and a search that finds nothing said so."""
    from assessments.models import Region

    a = yuelu(demo)
    html = client.get(reverse("disclosure:list")).content.decode()
    row = re.search(rf'<tr>\s*<td>2020</td>\s*<td><a href="/disclosure/{a.pk}/">(.*?)</tr>', html, re.S).group(0)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    a.refresh_from_db()
    assert cells == ["2020", "2020年度部门整体支出绩效自评", a.unit.name, a.unit.region.full_name, "部门整体支出",
                     f"{a.self_total:.2f}", f"{a.review_total:.2f}" if a.review_total is not None else "—",
                     a.review_grade or a.self_grade or "—", timezone.localtime(a.published_at).strftime("%Y-%m-%d"),
                     "xlsx · JSON"]
    assert f'<a href="/disclosure/{a.pk}.xlsx">xlsx</a> · <a href="/disclosure/{a.pk}.json">JSON</a>' in row
    region = a.unit.region
    html = client.get(reverse("disclosure:list"), {"region": region.pk}).content.decode()
    assert f'<option value="{region.pk}" selected>{region.name}</option>' in html
    others = Region.objects.filter(level__in=["city", "district"]).exclude(pk=region.pk)
    assert all(f'<option value="{r.pk}" >{r.name}</option>' in html for r in others)
    html = client.get(reverse("disclosure:list"), {"q": "没有这样的词语"}).content.decode()
    assert "没有符合条件的公开报告。" in html


def test_the_published_state_is_written_into_the_statement_not_passed_as_a_parameter():
    """PostgreSQL keeps one plan for a prepared statement only if the partial index's condition
    (state = 'published') can be read from the statement itself (issue 17: the public list was
    planned again on every request). The word is checked before it is written."""
    from django.db import connection

    from assessments import sqlwords
    from assessments.exports import lists

    sql, params = lists.listed().query.get_compiler(connection=connection).as_sql()
    quoted = connection.ops.quote_name
    assert f"{quoted('assessments_assessment')}.{quoted('state')} = 'published'" in sql
    assert "published" not in [str(p) for p in params]
    with pytest.raises(ValueError):
        sqlwords.Word("published' OR 1=1 --").as_sql(None, connection)
    # The waiting states alike (the 待办's list, `assessment_waiting_idx`).
    from assessments.models import WAITING_STATES

    waiting = Assessment.objects.filter(sqlwords.one_of("state", WAITING_STATES))
    sql, params = waiting.query.get_compiler(connection=connection).as_sql()
    assert "IN ('submitted', 'forwarded', 'in_review')" in sql and not params
