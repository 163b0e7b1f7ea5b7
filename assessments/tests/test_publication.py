"""Publishing as a government site does (issue 16): the 公开 metadata and its 索引号, versions with
a public correction note, and the metadata in every public format."""

import csv
import io
import json
import re
import threading

import openpyxl
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from assessments import exporting, publishing, tasks, workflow
from assessments.models import Assessment, ExportJob, Indicator, Publication, PublishedVersion
from assessments.services import refresh_scores

from .helpers import body
from .test_access_matrix import drive, make_reviewer, valid_assessment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def coded(unit_a, region):
    region.code = "430104"
    region.save()
    unit_a.code = "ZFW"
    unit_a.save()
    return unit_a


@pytest.fixture
def carol(unit_a):
    return make_reviewer("carol", unit_a)


def published(unit, round_, name, officer, reviewer):
    a = valid_assessment(unit, round_, name, user=officer)
    return drive(a, "published", officer=officer, reviewer=reviewer)


def export_again(a):
    """The reviewer's 重新导出 (or the sweep) of an approved or published report."""
    with_job = tasks.queue_export(Assessment.objects.get(pk=a.pk))
    tasks.run_export(with_job.pk)
    a.refresh_from_db()
    return a


# --- 索引号 -------------------------------------------------------------------------------------


def test_index_number_by_the_default_rule_counts_per_unit_and_year_and_never_changes(coded, round_2020, alice, carol):
    first = published(coded, round_2020, "综治经费", alice, carol)
    second = published(coded, round_2020, "平安建设经费", alice, carol)
    assert first.index_number == "430104-ZFW-YSJX-2020-00001"
    assert second.index_number == "430104-ZFW-YSJX-2020-00002"
    export_again(first)  # a re-run
    workflow.perform(carol, first, "unpublish", "数据有误，撤销公开。")
    export_again(first)  # published again after 撤销公开
    first.refresh_from_db()
    assert first.state == "published"
    assert first.index_number == "430104-ZFW-YSJX-2020-00001"
    assert Publication.objects.get(assessment=first).version == 1


def test_index_number_rule_is_configurable_and_units_without_codes_use_their_ids(settings, unit_a, round_2020, alice, carol):
    settings.DISCLOSURE_INDEX_RULE = "{region}/{year}-{serial:04d}"
    a = published(unit_a, round_2020, "综治经费", alice, carol)
    assert a.index_number == f"{unit_a.region.pk:06d}/2020-0001"
    assert publishing.index_scope(a) == f"region={unit_a.region.pk:06d}|year=2020"


POSTGRESQL_ONLY = pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")


@POSTGRESQL_ONLY
@pytest.mark.django_db(transaction=True)
def test_index_numbers_are_unique_under_concurrent_publishing(coded, round_2020, alice):
    reports = [valid_assessment(coded, round_2020, f"并发项目{n}", user=alice) for n in range(8)]
    start = threading.Barrier(len(reports))
    given, errors = {}, []

    def publish(a):
        try:
            start.wait()
            given[a.pk] = publishing.assign_index_number(Assessment.objects.select_related("unit__region", "round").get(pk=a.pk))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(a,)) for a in reports]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(given.values()) == [f"430104-ZFW-YSJX-2020-{n:05d}" for n in range(1, 9)]
    assert dict(Assessment.objects.filter(pk__in=given).values_list("pk", "index_number")) == given


# --- Metadata in every public format ---------------------------------------------------------------


def test_metadata_in_json_csv_xlsx_page_and_meta_tags(client, coded, round_2020, alice, carol, settings):
    settings.DISCLOSURE_BUREAU = "长沙市岳麓区财政局"
    a = valid_assessment(coded, round_2020, "综治经费", user=alice)
    drive(a, "in_review", officer=alice, reviewer=carol)
    publishing.set_disclosure(carol, a, publisher="bureau", document_number="岳财绩〔2021〕3号", disclosure="active",
                              disclosure_reason="")
    workflow.perform(carol, a, "approve")
    tasks.run_export(ExportJob.objects.get(assessment=a, status="queued").pk)
    a.refresh_from_db()
    publication = Publication.objects.get(assessment=a)
    issued = a.published_at.isoformat()

    doc = json.loads(body(client.get(reverse("disclosure:json", args=[a.pk]))))
    assert {k: doc[k] for k in ("identifier", "publisher", "issued", "modified", "theme", "document_number",
                                "access_rights", "access_reason", "version", "snapshot_sha256")} == {
        "identifier": "430104-ZFW-YSJX-2020-00001",
        "publisher": "长沙市岳麓区财政局",
        "issued": issued,
        "modified": issued,
        "theme": "财政/预算绩效",
        "document_number": "岳财绩〔2021〕3号",
        "access_rights": "主动公开",
        "access_reason": None,
        "version": 1,
        "snapshot_sha256": publishing.snapshot_hash(a),
    }
    assert len(doc["snapshot_sha256"]) == 64 and publication.snapshot_sha256 == doc["snapshot_sha256"]

    rows = list(csv.DictReader(io.StringIO(body(client.get(reverse("disclosure:list_csv"))).decode("utf-8-sig"))))
    assert [(r["三级指标"], r["索引号"], r["版本"]) for r in rows] == [
        ("培训次数", "430104-ZFW-YSJX-2020-00001", "1"),
        ("社会稳定", "430104-ZFW-YSJX-2020-00001", "1"),
        ("群众满意度", "430104-ZFW-YSJX-2020-00001", "1"),
    ]
    listed = json.loads(body(client.get(reverse("disclosure:list_json"))))["results"]
    assert [(r["identifier"], r["version"]) for r in listed] == [("430104-ZFW-YSJX-2020-00001", 1)]

    wb = openpyxl.load_workbook(io.BytesIO(body(client.get(reverse("disclosure:xlsx", args=[a.pk])))))
    assert (wb.properties.identifier, wb.properties.subject, wb.properties.version, wb.properties.keywords) == (
        "430104-ZFW-YSJX-2020-00001", "财政/预算绩效", "1", "长沙市岳麓区财政局",
    )

    page = client.get(reverse("disclosure:detail", args=[a.pk])).content.decode()
    assert '<meta name="dcterms.identifier" content="430104-ZFW-YSJX-2020-00001">' in page
    assert '<meta name="dcterms.publisher" content="长沙市岳麓区财政局">' in page
    assert '<meta name="dcterms.subject" content="财政/预算绩效">' in page
    assert '<meta name="ContentSource" content="长沙市岳麓区财政局">' in page
    for label, text in (("索引号", "430104-ZFW-YSJX-2020-00001"), ("发布机构", "长沙市岳麓区财政局"),
                        ("文号", "岳财绩〔2021〕3号"), ("公开属性", "主动公开"), ("版本", "第 1 版"),
                        ("主题分类", "财政/预算绩效")):
        assert f'<tr><th scope="row">{label}</th><td>{text}</td></tr>' in page


def test_withheld_reports_are_not_exported_and_the_reason_is_required(client, unit_a, round_2020, alice, carol):
    a = drive(valid_assessment(unit_a, round_2020, "涉敏经费", user=alice), "in_review", officer=alice, reviewer=carol)
    c = client
    c.force_login(carol)
    response = c.post(reverse("assessments:review", args=[a.pk]), {"action": "disclosure", "publisher": "unit",
                                                                   "disclosure": "withheld", "disclosure_reason": ""})
    assert response.status_code == 302
    a.refresh_from_db()
    assert a.disclosure == "active"  # refused: no reason
    c.post(reverse("assessments:review", args=[a.pk]), {"action": "disclosure", "publisher": "unit", "document_number": "",
                                                       "disclosure": "withheld", "disclosure_reason": "涉及国家秘密事项"})
    a.refresh_from_db()
    assert (a.disclosure, a.disclosure_reason) == ("withheld", "涉及国家秘密事项")
    workflow.perform(carol, a, "approve")
    assert not ExportJob.objects.filter(assessment=a).exists()
    a.refresh_from_db()
    assert a.state == "approved"
    # The officer of the unit cannot set it (the review page is the bureau's).
    c.force_login(alice)
    assert c.post(reverse("assessments:review", args=[a.pk]), {"action": "disclosure", "disclosure": "active"}).status_code == 403


def test_published_reports_keep_their_metadata(unit_a, round_2020, alice, carol):
    a = published(unit_a, round_2020, "综治经费", alice, carol)
    with pytest.raises(publishing.DisclosureRefused, match="已公开的报告不能再修改公开信息；如需修改，请发起更正。"):
        publishing.set_disclosure(carol, a, publisher="unit", document_number="x", disclosure="active", disclosure_reason="")


# --- Versions and corrections ----------------------------------------------------------------------


def test_a_correction_publishes_version_2_with_a_note_and_keeps_version_1_reachable(client, unit_a, round_2020, alice, carol):
    a = published(unit_a, round_2020, "综治经费", alice, carol)
    first_published = a.published_at
    v1_json = json.loads(body(client.get(reverse("disclosure:json", args=[a.pk]))))
    assert v1_json["version"] == 1 and "correction" not in v1_json

    workflow.perform(carol, a, "correct", "培训次数填报有误。")
    # While the unit corrects, the permalink shows version 1, marked; the files stay downloadable.
    page = client.get(reverse("disclosure:detail", args=[a.pk])).content.decode()
    assert "该报告正在更正，更正后的版本公开后将替换本页。以下为第 1 版" in page
    assert json.loads(body(client.get(reverse("disclosure:json", args=[a.pk]))))["version"] == 1

    Indicator.objects.filter(assessment=a, name="培训次数").update(actual="12次")
    refresh_scores(a)
    a.refresh_from_db()
    for action, actor in (("submit", alice), ("start_review", carol), ("approve", carol)):
        workflow.perform(actor, a, action)
    tasks.run_export(ExportJob.objects.get(assessment=a, status="queued").pk)
    a.refresh_from_db()
    assert a.state == "published"
    assert a.published_at == first_published  # 发布日期 stays the first publication's

    v1, v2 = PublishedVersion.objects.filter(assessment=a).order_by("number")
    assert (v1.number, v2.number) == (1, 2)
    assert v1.superseded_at == v2.published_at and v2.superseded_at is None
    assert v2.correction_reason == "培训次数填报有误。"
    assert v2.correction == [
        {"section": "绩效指标", "row": "培训次数", "field": "全年实际完成值", "before": "10次", "after": "12次"},
    ]

    doc = json.loads(body(client.get(reverse("disclosure:json", args=[a.pk]))))
    assert doc["version"] == 2
    assert doc["issued"] == first_published.isoformat() and doc["modified"] == v2.published_at.isoformat()
    assert doc["correction"] == {"reason": "培训次数填报有误。", "changes": v2.correction}
    assert [i["actual"] for i in doc["indicators"]][0] == "12次"

    page = client.get(reverse("disclosure:detail", args=[a.pk])).content.decode()
    assert "<h2 class=\"h5\">更正说明</h2>" in page
    assert "更正原因：培训次数填报有误。" in page
    assert '<tr><td>绩效指标</td><td>培训次数</td><td>全年实际完成值</td><td class="pre">10次</td><td class="pre">12次</td></tr>' in page
    # The page shows the date in the portal's time zone (between 16:00 and 24:00 UTC, the next day).
    assert f'第 1 版（{timezone.localtime(v1.published_at):%Y-%m-%d}，已被更正）' in page

    old = client.get(reverse("disclosure:version", args=[a.pk, 1])).content.decode()
    assert "本页为第 1 版，已于" in old and "被更正，不再是现行版本。" in old
    assert '<td class="">10次</td>' in old or ">10次<" in old
    assert client.get(reverse("disclosure:version_json", args=[a.pk, 1])).json() == v1_json
    current = client.get(reverse("disclosure:version", args=[a.pk, 2])).content.decode()
    assert "本页为第 2 版，即现行版本。" in current
    assert client.get(reverse("disclosure:version", args=[a.pk, 3])).status_code == 404

    # The CSV list carries the version.
    rows = list(csv.DictReader(io.StringIO(body(client.get(reverse("disclosure:list_csv"))).decode("utf-8-sig"))))
    assert {(r["三级指标"], r["实际完成值"], r["版本"]) for r in rows} >= {("培训次数", "12次", "2")}

    # Unpublishing keeps the 410, for the permalink and every version.
    workflow.perform(carol, a, "unpublish", "数据有误，撤销公开。")
    for url in (reverse("disclosure:detail", args=[a.pk]), reverse("disclosure:version", args=[a.pk, 1]),
                reverse("disclosure:version_json", args=[a.pk, 2]), reverse("disclosure:json", args=[a.pk])):
        assert client.get(url).status_code == 410, url


def test_re_exporting_the_same_content_adds_no_version(unit_a, round_2020, alice, carol):
    a = published(unit_a, round_2020, "综治经费", alice, carol)
    export_again(a)
    exporting.write_files(a.pk)
    assert list(PublishedVersion.objects.filter(assessment=a).values_list("number", flat=True)) == [1]


def test_re_exporting_the_same_version_stores_the_document_its_files_hold(client, unit_a, round_2020, alice, carol):
    """An export of the version again keeps its number and stores what its files hold now: the
    permalink is read from that document (issue 17)."""
    a = published(unit_a, round_2020, "综治经费", alice, carol)
    Assessment.objects.filter(pk=a.pk).update(leader_phone="0734-5661234", leader_phone_is_office=True)
    exporting.write_files(a.pk)
    version = PublishedVersion.objects.get(assessment=a)
    assert version.number == 1
    assert version.document == json.loads(body(client.get(reverse("disclosure:json", args=[a.pk]))))
    assert version.document["header"]["leader_phone"] == "0734-5661234"


def test_the_permalink_is_read_from_the_document_of_the_version_now_published(client, unit_a, round_2020, alice, carol):
    """The permalink's page is made from the document its version was published as (what its files
    hold), not built again from the report's rows and scored again (issue 17): the same page, none
    of the rows read. Personal data is masked by today's rules, which a document of an earlier day
    may not have masked. A report published before versions were kept is built from its rows."""
    from django.test.utils import CaptureQueriesContext

    a = published(unit_a, round_2020, "综治经费", alice, carol)
    url = reverse("disclosure:detail", args=[a.pk])

    def page():
        exporting.bump_public_cache()
        with CaptureQueriesContext(connection) as queries:
            html = client.get(url).content.decode()
        return re.sub(r'nonce="[^"]*"', "", html), " ".join(q["sql"] for q in queries.captured_queries)

    from_document, read = page()
    for table in ("fundingrow", "structurerow", "goal", "projectexpense", "reportsection"):
        assert f"assessments_{table}" not in read, table

    version = PublishedVersion.objects.get(assessment=a)
    document = version.document
    document["goals"][0]["target"] += "（联系人电话13875709408）"
    PublishedVersion.objects.filter(pk=version.pk).update(document=document)
    masked, _ = page()
    assert "（联系人电话138****9408）" in masked and "13875709408" not in masked

    PublishedVersion.objects.filter(assessment=a).delete()
    from_rows, read = page()
    assert "assessments_goal" in read
    assert from_rows == from_document


def test_correct_is_a_reviewers_action_with_a_reason(unit_a, round_2020, alice, carol):
    a = published(unit_a, round_2020, "综治经费", alice, carol)
    with pytest.raises(workflow.TransitionRefused, match="您无权对该自评执行“发起更正”。"):
        workflow.perform(alice, a, "correct", "x")
    with pytest.raises(workflow.TransitionRefused, match="“发起更正”须填写意见。"):
        workflow.perform(carol, a, "correct", "")
    a.refresh_from_db()
    assert a.state == "published"


def test_correct_mails_the_unit(unit_a, round_2020, alice, carol, django_capture_on_commit_callbacks):
    from django.core import mail

    alice.email = "alice@yuelu.example.cn"
    alice.save()
    a = published(unit_a, round_2020, "综治经费", alice, carol)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(carol, a, "correct", "培训次数填报有误。")
    [message] = mail.outbox
    assert message.to == ["alice@yuelu.example.cn"]
    assert message.subject == "【绩效自评】已公开的“2020年度综治经费绩效自评”需要更正"
    assert "更正原因：\n培训次数填报有误。" in message.body
