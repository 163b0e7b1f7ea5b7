"""Export jobs as the reviewer and the public meet them (Celery eager in tests).

A failed export is visible on the review page and can be run again; the outbox sweep re-sends
only queued jobs; unpublishing from the review page; the reviewer's ZIP of a round; and the
public list: pagination, filters, search, titles, print stylesheet and cache headers.
"""

import csv
import io
import json
import re
import zipfile
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

import openpyxl
import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from assessments import exporting, tasks, workflow
from assessments.models import (
    Assessment,
    BulkExport,
    ExportJob,
    FundingRow,
    Indicator,
    Publication,
    Region,
    ReviewerAssignment,
    Round,
    Transition,
    Unit,
)
from assessments.services import create_assessment, refresh_scores

from .conftest import PASSWORD
from .helpers import as_json, body, stored, stored_names

pytestmark = pytest.mark.django_db

D = Decimal
LIST = "/disclosure/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Every test here may export: keep the files out of the repository."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def bureau(reviewer):
    c = Client()
    c.force_login(reviewer)
    return c


@pytest.fixture
def second_reviewer(db):
    user = User.objects.create_user("reviewer2", password=PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="review_all"))
    return user


# --- helpers ----------------------------------------------------------------------------------


def review_url(assessment) -> str:
    return reverse("assessments:review", args=[assessment.pk])


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


ROWS = [
    ("产出指标", "数量指标", "培训次数", "≥10次", "12次", "50"),
    ("效益指标", "社会效益指标", "受益人数", "≥100人", "120人", "30"),
    ("满意度指标", "服务对象满意度指标", "群众满意度", "≥95%", "96%", "10"),
]


def make_project(unit, round_, name) -> Assessment:
    """A complete project draft (scores 100) that can be submitted as it is."""
    a = create_assessment(unit=unit, round=round_, kind="project", layout="project", project_name=name)
    FundingRow.objects.filter(assessment=a, source="total").update(budget=D("100"), actual=D("95"))
    Indicator.objects.bulk_create(
        Indicator(assessment=a, position=n, level1=l1, level2=l2, name=nm, target=t, actual=ac, weight=D(w))
        for n, (l1, l2, nm, t, ac, w) in enumerate(ROWS, start=1)
    )
    refresh_scores(a)
    a.refresh_from_db()
    return a


def approve(officer, reviewer, a) -> Assessment:
    """Submit, start the review, approve. The caller decides whether after-commit work runs."""
    workflow.perform(officer, a, "submit")
    workflow.perform(reviewer, a, "start_review")
    workflow.perform(reviewer, a, "approve")
    a.refresh_from_db()
    return a


def publish(officer, reviewer, a, capture) -> Assessment:
    with capture(execute=True):
        approve(officer, reviewer, a)
    a.refresh_from_db()
    assert a.state == Assessment.State.PUBLISHED
    return a


def actions(a) -> list[tuple]:
    return list(Transition.objects.filter(assessment=a).order_by("id").values_list("action", "actor__username", "comment"))


# --- 1. a failed export is visible and can be run again ----------------------------------------


def test_failed_export_is_visible_and_can_be_rerun(
    monkeypatch, client, bureau, alice, reviewer, unit_a, round_2020, django_capture_on_commit_callbacks
):
    from assessments.exports import xlsx

    original = xlsx.to_bytes
    calls = []

    def disk_full(report):
        calls.append(report.assessment.pk)
        raise OSError("磁盘已满")

    monkeypatch.setattr(xlsx, "to_bytes", disk_full)
    a = make_project(unit_a, round_2020, "综治、平安建设经费")
    with django_capture_on_commit_callbacks(execute=True):
        approve(alice, reviewer, a)

    # Bounded retries, then FAILED with the error text; the approval itself stands.
    job = ExportJob.objects.get(assessment=a)
    assert job.status == ExportJob.Status.FAILED
    assert job.attempts == tasks.EXPORT_RETRIES + 1 == 6
    assert len(calls) == tasks.EXPORT_RETRIES + 1
    assert job.error == "OSError: 磁盘已满"
    assert job.finished_at is not None
    a.refresh_from_db()
    assert a.state == Assessment.State.APPROVED
    assert not Publication.objects.filter(assessment=a).exists()
    assert [t[0] for t in actions(a)] == ["submit", "start_review", "approve"]
    assert client.get(reverse("disclosure:detail", args=[a.pk])).status_code == 404
    assert client.get(reverse("disclosure:json", args=[a.pk])).status_code == 404
    assert client.get(reverse("disclosure:xlsx", args=[a.pk])).status_code == 404
    assert as_json(client.get(reverse("disclosure:list_json")))["count"] == 0

    # The reviewer sees the failure, its error, and the button to run it again.
    page = bureau.get(review_url(a))
    assert page.status_code == 200
    assert page.context["export_job"] == job
    assert page.context["can_rerun_export"] is True
    html = page.content.decode()
    assert '<span class="badge text-bg-danger">失败</span>' in html
    assert "（第 6 次尝试，" in html
    assert '<div class="small text-danger pre">OSError: 磁盘已满</div>' in html
    assert '<button class="btn btn-sm btn-outline-primary" type="submit" name="action" value="rerun_export">重新导出并公开</button>' in html
    dashboard = bureau.get(reverse("assessments:dashboard"), {"round": round_2020.pk}).content.decode()
    assert '<div class="small text-body-secondary export-failed">导出：<span class="text-danger">失败</span></div>' in dashboard

    # Disk freed: re-run from the review page; a new job exports and publishes.
    monkeypatch.setattr(xlsx, "to_bytes", original)
    with django_capture_on_commit_callbacks(execute=True):
        response = bureau.post(review_url(a), {"action": "rerun_export"})
    assert response.status_code == 302 and response["Location"] == review_url(a)
    page = bureau.get(review_url(a))
    assert messages_of(page) == ["已重新排队导出，完成后自动公开。"]
    first, second = ExportJob.objects.filter(assessment=a).order_by("id")
    assert first.pk == job.pk and first.status == ExportJob.Status.FAILED  # the failure stays on record
    assert (second.status, second.attempts, second.error, second.requested_by) == ("done", 1, "", reviewer)
    a.refresh_from_db()
    assert a.state == Assessment.State.PUBLISHED
    assert actions(a)[-1] == ("publish", None, "")
    assert Publication.objects.filter(assessment=a).count() == 1
    assert client.get(reverse("disclosure:detail", args=[a.pk])).status_code == 200  # the cached 404 is gone
    assert as_json(client.get(reverse("disclosure:list_json")))["count"] == 1
    assert page.context["export_job"] == second
    assert page.context["can_rerun_export"] is False
    assert 'value="rerun_export"' not in page.content.decode()
    assert '<span class="badge text-bg-success">已完成</span>' in page.content.decode()

    # Published now: a second re-run is refused and queues nothing.
    with django_capture_on_commit_callbacks(execute=True):
        response = bureau.post(review_url(a), {"action": "rerun_export"}, follow=True)
    assert messages_of(response) == ["当前不能重新导出。"]
    assert ExportJob.objects.filter(assessment=a).count() == 2
    assert [t[0] for t in actions(a)].count("publish") == 1


def test_rerun_is_refused_while_a_job_is_queued(
    monkeypatch, bureau, alice, reviewer, unit_a, round_2020, django_capture_on_commit_callbacks
):
    """Broker down at approval: the approval succeeds, the job stays queued; no second job meanwhile."""

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.export_assessment, "apply_async", broker_down)
    a = make_project(unit_a, round_2020, "综治、平安建设经费")
    with django_capture_on_commit_callbacks(execute=True):
        approve(alice, reviewer, a)
    a.refresh_from_db()
    assert a.state == Assessment.State.APPROVED
    job = ExportJob.objects.get(assessment=a)
    assert (job.status, job.attempts, job.dispatched_at) == ("queued", 0, None)

    page = bureau.get(review_url(a))
    assert page.context["can_rerun_export"] is False
    assert '<span class="badge text-bg-secondary">排队中</span>' in page.content.decode()
    assert 'value="rerun_export"' not in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = bureau.post(review_url(a), {"action": "rerun_export"}, follow=True)
    assert messages_of(response) == ["当前不能重新导出。"]
    assert ExportJob.objects.filter(assessment=a).count() == 1

    # Still down: the sweep sends nothing. Back up: the sweep sends it, and it publishes.
    assert tasks.dispatch_pending() == 0
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.dispatch_pending() == 1
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 1)
    a.refresh_from_db()
    assert a.state == Assessment.State.PUBLISHED


def test_running_one_job_twice_publishes_once(alice, reviewer, unit_a, round_2020, media):
    a = approve(alice, reviewer, make_project(unit_a, round_2020, "综治、平安建设经费"))  # after-commit never runs
    job = ExportJob.objects.get(assessment=a)
    assert job.status == ExportJob.Status.QUEUED

    tasks.run_export(job.pk)
    json_bytes = stored(Publication.objects.get(assessment=a).json.name)
    tasks.run_export(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 1)  # a done job is not run again
    assert Publication.objects.filter(assessment=a).count() == 1
    assert Transition.objects.filter(assessment=a, action="publish").count() == 1

    # Redelivered after a crash between publishing and marking the job done (acks_late):
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING)
    tasks.run_export(job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 2)
    assert Publication.objects.filter(assessment=a).count() == 1
    assert Transition.objects.filter(assessment=a, action="publish").count() == 1
    assert stored(Publication.objects.get(assessment=a).json.name) == json_bytes
    a.refresh_from_db()
    assert a.state == Assessment.State.PUBLISHED
    assert stored_names(f"disclosure/{a.pk}") == [
        f"assessment-{a.pk}.json", f"assessment-{a.pk}.xlsx",
    ]


def test_failed_export_sets_no_publication_date(
    monkeypatch, client, alice, reviewer, unit_a, round_2020, django_capture_on_commit_callbacks
):
    """公开时间 is when the report became public, not when an export that failed was first tried."""
    from assessments.exports import xlsx

    original = xlsx.to_bytes
    monkeypatch.setattr(xlsx, "to_bytes", lambda report: (_ for _ in ()).throw(OSError("磁盘已满")))
    a = make_project(unit_a, round_2020, "综治、平安建设经费")
    with django_capture_on_commit_callbacks(execute=True):
        approve(alice, reviewer, a)
    failed = ExportJob.objects.get(assessment=a)
    assert failed.status == ExportJob.Status.FAILED
    a.refresh_from_db()
    assert a.state == Assessment.State.APPROVED
    assert a.published_at is None  # not public, so no 公开时间

    monkeypatch.setattr(xlsx, "to_bytes", original)
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            tasks.queue_export(a, reviewer)
    a.refresh_from_db()
    assert a.state == Assessment.State.PUBLISHED
    assert a.published_at >= failed.finished_at
    doc = json.loads(body(client.get(reverse("disclosure:json", args=[a.pk]))))
    assert doc["published_at"] == a.published_at.isoformat()


# --- 2. the outbox sweep -------------------------------------------------------------------------


def test_dispatch_pending_sends_only_unsent_or_stale_queued_jobs(monkeypatch, unit_a, round_2020):
    sent = []
    monkeypatch.setattr(
        tasks.export_assessment, "apply_async", lambda args=None, **kwargs: sent.append(args[0])
    )
    now = timezone.now()
    projects = [create_assessment(unit=unit_a, round=round_2020, kind="project", layout="project",
                                  project_name=f"项目{n}") for n in range(6)]

    def job(n, status, dispatched_at):
        j = ExportJob.objects.create(assessment=projects[n], status=status)
        ExportJob.objects.filter(pk=j.pk).update(dispatched_at=dispatched_at)
        return j.pk

    never = job(0, "queued", None)
    stale = job(1, "queued", now - timedelta(minutes=11))
    recent = job(2, "queued", now - timedelta(minutes=5))
    running = job(3, "running", None)
    failed = job(4, "failed", None)
    done = job(5, "done", now - timedelta(hours=1))

    assert tasks.dispatch_pending() == 2
    assert sorted(sent) == sorted([never, stale])
    dispatched = dict(ExportJob.objects.values_list("pk", "dispatched_at"))
    for pk in (never, stale):
        assert now <= dispatched[pk] <= timezone.now()
    assert now - timedelta(minutes=6) < dispatched[recent] < now - timedelta(minutes=4)
    assert dispatched[running] is None and dispatched[failed] is None
    assert set(ExportJob.objects.values_list("status", flat=True)) == {"queued", "running", "failed", "done"}

    # Just sent: nothing is due again; the periodic task says the same.
    sent.clear()
    assert tasks.dispatch_pending() == 0
    assert tasks.dispatch_pending_exports.apply().get() == 0
    assert sent == []

    # Ten minutes later without being picked up, both are sent again (the recent one too, by then).
    ExportJob.objects.filter(pk__in=[never, stale, recent]).update(dispatched_at=now - timedelta(minutes=10, seconds=1))
    assert tasks.dispatch_pending_exports.apply().get() == 3
    assert sorted(sent) == sorted([never, stale, recent])
    assert ExportJob.objects.get(pk=done).dispatched_at == now - timedelta(hours=1)


def test_sweep_does_not_resend_a_job_waiting_for_its_retry(monkeypatch, alice, reviewer, unit_a, round_2020):
    """Sent 11 minutes ago, picked up late (busy worker), failed once: its retry is already scheduled."""
    from celery.exceptions import Retry

    from assessments.exports import xlsx

    a = approve(alice, reviewer, make_project(unit_a, round_2020, "综治、平安建设经费"))  # after-commit never runs
    job = ExportJob.objects.get(assessment=a)
    ExportJob.objects.filter(pk=job.pk).update(dispatched_at=timezone.now() - timedelta(minutes=11))
    monkeypatch.setattr(xlsx, "to_bytes", lambda report: (_ for _ in ()).throw(OSError("磁盘已满")))
    scheduled = []

    def retry_later(exc=None, countdown=None, **kwargs):  # what a worker does: re-queue with a countdown
        scheduled.append(countdown)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(tasks.export_assessment, "retry", retry_later)
    tasks.export_assessment.apply(args=[job.pk])
    assert scheduled == [10]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("queued", 1, "OSError: 磁盘已满")

    sent = []
    monkeypatch.setattr(tasks.export_assessment, "apply_async", lambda args=None, **kwargs: sent.append(args[0]))
    assert tasks.dispatch_pending() == 0  # it was picked up; its own retry runs in 10 s
    assert sent == []


# --- 3. unpublish from the review page ----------------------------------------------------------


def test_unpublish_from_the_review_page(
    client, bureau, alice, reviewer, unit_a, round_2020, django_capture_on_commit_callbacks
):
    a = publish(alice, reviewer, make_project(unit_a, round_2020, "综治、平安建设经费"), django_capture_on_commit_callbacks)
    detail = reverse("disclosure:detail", args=[a.pk])
    # Cached public answers before the unpublish must not outlive it.
    assert client.get(detail).status_code == 200
    assert f'href="{detail}"' in client.get(LIST).content.decode()
    assert as_json(client.get(reverse("disclosure:list_json")))["count"] == 1

    page = bureau.get(review_url(a))
    assert page.context["can_unpublish"] is True
    assert 'name="action" value="unpublish">撤销公开</button>' in page.content.decode()

    for reason in (None, "   "):
        data = {"action": "unpublish"} if reason is None else {"action": "unpublish", "reason": reason}
        with django_capture_on_commit_callbacks(execute=True):
            response = bureau.post(review_url(a), data, follow=True)
        assert messages_of(response) == ["“撤销公开”须填写意见。"]
        a.refresh_from_db()
        assert a.state == Assessment.State.PUBLISHED
    assert client.get(detail).status_code == 200

    reason = "数据有误，待更正后重新公开"
    with django_capture_on_commit_callbacks(execute=True):
        response = bureau.post(review_url(a), {"action": "unpublish", "reason": reason})
    assert response.status_code == 302
    page = bureau.get(review_url(a))
    assert messages_of(page) == ["已撤销公开，公开页面和下载链接将答复“已撤销公开”。"]
    a.refresh_from_db()
    assert a.state == Assessment.State.APPROVED
    t = Transition.objects.filter(assessment=a).latest("id")
    assert (t.action, t.from_state, t.to_state, t.comment, t.actor) == ("unpublish", "published", "approved", reason, reviewer)
    assert [tr.action for tr in page.context["transitions"]][-2:] == ["publish", "unpublish"]
    assert reason in page.content.decode()

    for name in ("detail", "xlsx", "json"):
        response = client.get(reverse(f"disclosure:{name}", args=[a.pk]))
        assert response.status_code == 410, name
        assert "该报告已撤销公开" in body(response).decode(), name
    html = client.get(LIST).content.decode()
    assert f'href="{detail}"' not in html and "没有符合条件的公开报告。" in html
    assert as_json(client.get(reverse("disclosure:list_json"))) == {"count": 0, "results": []}
    rows = list(csv.reader(io.StringIO(body(client.get(reverse("disclosure:list_csv"))).decode("utf-8-sig"))))
    assert len(rows) == 1  # the header only


def test_officer_cannot_unpublish(
    client, alice, reviewer, unit_a, round_2020, django_capture_on_commit_callbacks
):
    a = publish(alice, reviewer, make_project(unit_a, round_2020, "综治、平安建设经费"), django_capture_on_commit_callbacks)
    client.force_login(alice)
    # An officer is no reviewer at all: refused before the assessment is even looked up.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(review_url(a), {"action": "unpublish", "reason": "不想公开"}).status_code == 403
    # Even when also assigned as a reviewer, never for an assessment of the officer's own unit.
    ReviewerAssignment.objects.create(reviewer=alice, unit=unit_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(review_url(a), {"action": "unpublish", "reason": "不想公开"}).status_code == 404
    with pytest.raises(workflow.TransitionRefused, match="您无权对该自评执行“撤销公开”。"):
        workflow.perform(alice, a, "unpublish", "不想公开")
    a.refresh_from_db()
    assert a.state == Assessment.State.PUBLISHED
    assert not Transition.objects.filter(assessment=a, action="unpublish").exists()
    assert Client().get(reverse("disclosure:detail", args=[a.pk])).status_code == 200


# --- 4. the ZIP of a round ------------------------------------------------------------------------


def test_bulk_zip_of_a_round(
    client, bureau, alice, bob, reviewer, second_reviewer, unit_a, unit_b, round_2020, media,
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    jia = publish(alice, reviewer, make_project(unit_a, round_2020, "综治、平安建设经费"), capture)
    yi = publish(bob, reviewer, make_project(unit_b, round_2020, "雪亮工程"), capture)
    approve(alice, reviewer, make_project(unit_a, round_2020, "尚未导出项目"))  # approved, export never ran
    secret = make_project(unit_b, round_2020, "涉密项目")
    Assessment.objects.filter(pk=secret.pk).update(confidential=True)
    secret.refresh_from_db()
    with capture(execute=True):
        approve(bob, reviewer, secret)
    make_project(unit_a, round_2020, "草稿项目")
    other_round = Round.objects.create(year=2021, title="2021年度绩效自评")
    publish(alice, reviewer, make_project(unit_a, other_round, "其他年度项目"), capture)

    with capture(execute=True):
        response = bureau.post(reverse("assessments:bulk"), {"round": str(round_2020.pk)})
    assert response.status_code == 302 and response["Location"] == reverse("assessments:bulk")
    job = BulkExport.objects.get()
    assert (job.status, job.total, job.done, job.requested_by, job.error) == ("done", 2, 2, reviewer, "")
    assert job.file.name == f"bulk/round-2020-{job.pk}.zip"
    assert job.finished_at is not None

    page = bureau.get(reverse("assessments:bulk"))
    assert messages_of(page) == ["已开始打包“2020年度绩效自评”的全部公开报告。"]
    html = page.content.decode()
    assert '<div class="progress-bar bulk-100">2/2</div>' in html
    download = reverse("assessments:bulk_download", args=[job.pk])
    assert f'<a href="{download}">下载 ZIP</a>' in html
    assert 'http-equiv="refresh"' not in html  # done: the page stops reloading itself

    response = bureau.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''" + quote("2020年度公开报告.zip")
    archive = zipfile.ZipFile(io.BytesIO(body(response)))
    expected = sorted(
        f"{a.pk:05d}-{a.unit.short_name}-{a.title}.{ext}" for a in (jia, yi) for ext in ("xlsx", "json")
    )
    assert sorted(archive.namelist()) == expected
    assert f"{jia.pk:05d}-岳麓区委政法委-2020年度综治、平安建设经费绩效自评.json" in expected
    assert f"{yi.pk:05d}-测试单位-2020年度雪亮工程绩效自评.xlsx" in expected
    for a in (jia, yi):
        stem = f"{a.pk:05d}-{a.unit.short_name}-{a.title}"
        pub = Publication.objects.get(assessment=a)
        assert archive.read(f"{stem}.json") == stored(pub.json.name)
        assert archive.read(f"{stem}.xlsx") == stored(pub.xlsx.name)
        openpyxl.load_workbook(io.BytesIO(archive.read(f"{stem}.xlsx")))

    # Someone else's ZIP: not found, not listed.
    other = Client()
    other.force_login(second_reviewer)
    assert other.get(download).status_code == 404
    assert "尚无打包记录。" in other.get(reverse("assessments:bulk")).content.decode()
    # Officers: forbidden, whatever they try.
    client.force_login(alice)
    assert client.get(reverse("assessments:bulk")).status_code == 403
    assert client.post(reverse("assessments:bulk"), {"round": str(round_2020.pk)}).status_code == 403
    assert client.get(download).status_code == 403
    assert BulkExport.objects.count() == 1

    # No round chosen: refused with a message, nothing queued.
    response = bureau.post(reverse("assessments:bulk"), {"round": "abc"}, follow=True)
    assert messages_of(response) == ["请选择评价批次。"]
    assert BulkExport.objects.count() == 1


# --- 5. the public list ----------------------------------------------------------------------------


@pytest.fixture
def demo(media, django_capture_on_commit_callbacks):
    """The demo data, with its two public documents (岳麓 2020, 南岳 2022 综治) published."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", force=True, stdout=io.StringIO())
    yuelu = Assessment.objects.get(unit__short_name="岳麓区委政法委", kind="department", round__year=2020)
    zongzhi = Assessment.objects.get(project_name="综治、平安建设经费")
    assert (yuelu.state, zongzhi.state) == ("published", "published")
    return yuelu, zongzhi


def publish_copies(source, n, first_year=2030) -> list[int]:
    """Clone a published assessment into n new rounds, with its publication (as TestQueryCounts does)."""
    ids = []
    for i in range(n):
        rnd = Round.objects.create(year=first_year + i, title=f"{first_year + i}年度绩效自评")
        a = Assessment.objects.get(pk=source.pk)
        pub = Publication.objects.get(assessment=a)
        a.pk = None
        a.round = rnd
        a.published_at = a.published_at + timedelta(days=i + 1)  # published later, year by year
        a.index_number = None  # unique: a copy is another report
        a.save()
        pub.pk = None
        pub.assessment = a
        pub.save()
        ids.append(a.pk)
    exporting.bump_public_cache()
    return ids


def listed_ids(client, **params) -> list[int]:
    response = client.get(LIST, params)
    assert response.status_code == 200
    html = response.content.decode()
    table = html[html.index('id="published"'):html.index("</table>", html.index('id="published"'))]
    return [int(pk) for pk in re.findall(r'<td><a href="/disclosure/(\d+)/">', table)]


def test_list_paginates_at_20_and_keeps_the_filters(client, demo):
    yuelu, zongzhi = demo
    copies = publish_copies(yuelu, 20)  # 22 published: 21 department reports, 1 project

    first = client.get(LIST)
    html = first.content.decode()
    page1 = listed_ids(client)
    assert len(page1) == 20
    assert page1 == list(reversed(copies))  # newest publication first: 2049 … 2030
    assert "第 1 / 2 页，共 22 条" in html
    assert 'href="?&page=2">下一页</a>' in html and "上一页" not in html
    page2 = listed_ids(client, page=2)
    yuelu.refresh_from_db()
    zongzhi.refresh_from_db()
    assert yuelu.published_at > zongzhi.published_at  # the demo publishes 南岳 first
    assert page2 == [yuelu.pk, zongzhi.pk]
    assert sorted(page1 + page2) == sorted(copies + [yuelu.pk, zongzhi.pk])
    html2 = client.get(LIST, {"page": 2}).content.decode()
    assert "第 2 / 2 页，共 22 条" in html2
    assert 'href="?&page=1">上一页</a>' in html2 and "下一页" not in html2
    assert listed_ids(client, page=99) == page2  # past the end: the last page

    # A filtered list paginates within the filter, and the page links keep it.
    html = client.get(LIST, {"kind": "department"}).content.decode()
    assert "第 1 / 2 页，共 21 条" in html
    assert 'href="?kind=department&page=2">下一页</a>' in html
    assert listed_ids(client, kind="department", page=2) == [yuelu.pk]
    # One page only: no pager.
    html = client.get(LIST, {"year": "2020"}).content.decode()
    assert 'aria-label="分页"' not in html


def test_list_filters_by_region_unit_kind_year_and_searches_the_report(client, demo):
    yuelu, zongzhi = demo
    region = {r.name: str(r.pk) for r in Region.objects.all()}
    unit = {u.short_name: str(u.pk) for u in Unit.objects.all()}

    assert sorted(listed_ids(client)) == sorted([yuelu.pk, zongzhi.pk])
    # A city includes its districts; the province includes everything below it.
    assert listed_ids(client, region=region["长沙市"]) == [yuelu.pk]
    assert listed_ids(client, region=region["岳麓区"]) == [yuelu.pk]
    assert listed_ids(client, region=region["衡阳市"]) == [zongzhi.pk]
    assert listed_ids(client, region=region["南岳区"]) == [zongzhi.pk]
    assert sorted(listed_ids(client, region=region["湖南省"])) == sorted([yuelu.pk, zongzhi.pk])
    assert listed_ids(client, region=region["株洲市"]) == []
    assert listed_ids(client, region=region["望城区"]) == []
    assert listed_ids(client, unit=unit["南岳区委政法委"]) == [zongzhi.pk]
    assert listed_ids(client, unit=unit["岳麓区委政法委"]) == [yuelu.pk]
    assert listed_ids(client, unit=unit["渌口区委政法委"]) == []  # has a draft only
    assert listed_ids(client, kind="department") == [yuelu.pk]
    assert listed_ids(client, kind="project") == [zongzhi.pk]
    assert listed_ids(client, year="2020") == [yuelu.pk]
    assert listed_ids(client, year="2022") == [zongzhi.pk]
    assert listed_ids(client, year="2024") == []
    assert listed_ids(client, year="2022", region=region["长沙市"]) == []
    assert listed_ids(client, year="2020", kind="department", region=region["长沙市"], unit=unit["岳麓区委政法委"]) == [yuelu.pk]
    # Nonsense filter values are ignored, not errors.
    assert sorted(listed_ids(client, year="abc", region="x", unit="-1", kind="secret")) == sorted([yuelu.pk, zongzhi.pk])

    # Search looks through the report text too, not only titles and indicators.
    assert listed_ids(client, q="星城园丁") == [yuelu.pk]  # in 岳麓's report section only
    assert sorted(listed_ids(client, q="平安建设")) == sorted([yuelu.pk, zongzhi.pk])
    assert listed_ids(client, q="平安建设", year="2020") == [yuelu.pk]
    assert listed_ids(client, q="没有这样的文字") == []
    assert "没有符合条件的公开报告。" in client.get(LIST, {"q": "没有这样的文字"}).content.decode()

    # The form shows what was chosen; only what has public reports is offered.
    html = client.get(LIST, {"year": "2020", "region": region["长沙市"], "q": "平安建设"}).content.decode()
    assert '<option value="2020" selected>2020年度</option>' in html
    assert f'<option value="{region["长沙市"]}" selected>长沙市</option>' in html
    assert 'name="q" id="f-q" value="平安建设"' in html
    years = re.findall(r'<option value="(\d{4})"', html[html.index('id="f-year"'):html.index("</select>", html.index('id="f-year"'))])
    assert years == ["2022", "2020"]
    # The 单位 box suggests, from the server, only units with public reports.
    assert 'name="unit_name" id="f-unit" value=""' in html
    units = [u["name"] for u in client.get(reverse("disclosure:unit_suggest")).json()["units"]]
    assert "中共长沙市岳麓区委员会政法委员会" in units and "中共株洲市渌口区委政法委员会" not in units
    # The CSV/JSON links carry the same filters.
    assert f'href="/disclosure.csv?year=2020&amp;region={region["长沙市"]}&amp;q=' in html


def test_public_titles_open_graph_and_print_stylesheet(client, demo):
    yuelu, zongzhi = demo
    name = "中共长沙市岳麓区委员会政法委员会2020年度部门整体支出绩效自评"

    html = client.get(LIST).content.decode()
    assert "<title>绩效自评公开 · 绩效自评门户</title>" in html
    assert '<meta property="og:title" content="预算绩效自评结果公开">' in html
    assert '<meta property="og:type" content="website">' in html

    detail = reverse("disclosure:detail", args=[yuelu.pk])
    page = client.get(detail).content.decode()
    assert f"<title>{name} · 预算绩效自评结果公开</title>" in page
    assert f'<meta property="og:title" content="{name}">' in page
    assert '<meta property="og:type" content="article">' in page
    assert f'<meta property="og:url" content="{detail}"><link rel="canonical" href="{detail}">' in page
    assert f'<a class="btn btn-outline-secondary" href="{detail}" rel="bookmark">永久链接</a>' in page

    for html in (client.get(LIST).content.decode(), page):
        # The print stylesheet applies to print only, and what it hides is marked on the page.
        links = re.findall(r'<link rel="stylesheet" href="([^"]+)"( media="print")?>', html)
        assert [href for href, media in links if media] == ["/static/css/print.css"]
        assert '<nav class="navbar navbar-dark portal-nav no-print">' in html
        assert '<footer class="site-footer text-center text-body-secondary small py-3 no-print" id="site-footer">' in html
    assert '<div class="btn-group flex-wrap no-print" role="group" aria-label="下载" id="download-bar">' in page
    assert '<div class="small text-body-secondary no-print"><a href="/disclosure/">公开列表</a>' in page
    html = client.get(LIST).content.decode()
    assert '<form method="get" class="row g-2 align-items-end mb-3 no-print" id="filters" role="search">' in html

    css = open(finders.find("css/print.css"), encoding="utf-8").read()
    assert "@page { size: A4 landscape;" in css
    assert re.search(r"\.no-print, nav, footer \{ display: none !important; \}", css)

    # The 410 page of a withdrawn report is titled as such.
    yuelu.refresh_from_db()
    reviewer_user = User.objects.get(username="caizheng")
    workflow.perform(reviewer_user, yuelu, "unpublish", "数据有误")
    exporting.bump_public_cache()
    gone = client.get(detail)
    assert gone.status_code == 410
    assert "<title>已撤销公开 · 预算绩效自评结果公开</title>" in gone.content.decode()


def test_public_responses_are_cookieless_and_publicly_cacheable(client, demo):
    yuelu, zongzhi = demo
    urls = [
        LIST,
        LIST + "?year=2020",
        reverse("disclosure:detail", args=[yuelu.pk]),
        reverse("disclosure:list_json"),
        reverse("disclosure:list_csv"),
        reverse("disclosure:json", args=[yuelu.pk]),
        reverse("disclosure:xlsx", args=[yuelu.pk]),
    ]
    for url in urls:
        for attempt in ("rendered", "from cache"):
            response = client.get(url)
            assert response.status_code == 200, (url, attempt)
            assert "Set-Cookie" not in response.headers, (url, attempt)
            assert response.cookies == {}, (url, attempt)
            assert response["Cache-Control"] == "public, no-cache", (url, attempt)
            assert "Cookie" not in response.get("Vary", ""), (url, attempt)
    assert client.cookies == {}

    csv_response = client.get(reverse("disclosure:list_csv"))  # a cache hit keeps the download name
    assert csv_response["Content-Disposition"] == 'attachment; filename="disclosure.csv"'
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"

    stem = "2020-岳麓区委政法委-2020年度部门整体支出绩效自评"
    xlsx = client.get(reverse("disclosure:xlsx", args=[yuelu.pk]))
    assert xlsx["Content-Disposition"] == "attachment; filename*=utf-8''" + quote(f"{stem}.xlsx")
    assert xlsx["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    js = client.get(reverse("disclosure:json", args=[yuelu.pk]))
    assert js["Content-Disposition"] == "inline; filename*=utf-8''" + quote(f"{stem}.json")
    assert js["Content-Type"] == "application/json; charset=utf-8"

    zz = client.get(reverse("disclosure:xlsx", args=[zongzhi.pk]))
    assert zz["Content-Disposition"] == "attachment; filename*=utf-8''" + quote(
        "2022-南岳区委政法委-2022年度综治、平安建设经费绩效自评.xlsx"
    )


def test_staff_visiting_public_pages_gets_no_session_cookie_either(demo):
    """A logged-in reviewer reading the public pages is served the same cacheable answer."""
    yuelu, _ = demo
    staff = Client()
    staff.force_login(User.objects.get(username="caizheng"))
    for url in (LIST, reverse("disclosure:detail", args=[yuelu.pk])):
        response = staff.get(url)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
        assert response["Cache-Control"] == "public, no-cache"
        assert "caizheng" not in response.content.decode()


def test_a_submission_never_approved_does_not_ask_for_an_export(bureau, alice, reviewer, unit_a, round_2020,
                                                                 django_capture_on_commit_callbacks):
    """An export is queued only for an approved report: the 复核 page of a submission never approved
    reads no export job (issue 17); one sent back for correction after its publication still shows it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a = make_project(unit_a, round_2020, "综治、平安建设经费")
    workflow.perform(alice, a, "submit")
    with CaptureQueriesContext(connection) as queries:
        page = bureau.get(review_url(a))
    assert page.status_code == 200 and page.context["export_job"] is None
    assert not [q for q in queries.captured_queries if "assessments_exportjob" in q["sql"]]
    assert 'id="export-status"' not in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, a, "start_review")
        workflow.perform(reviewer, a, "approve")
    a.refresh_from_db()
    assert a.state == Assessment.State.PUBLISHED
    workflow.perform(reviewer, a, "correct", "培训次数填报有误。")
    workflow.perform(alice, Assessment.objects.get(pk=a.pk), "submit")
    page = bureau.get(review_url(a))
    assert page.context["export_job"] == ExportJob.objects.get(assessment=a)
    assert '<span class="badge text-bg-success">已完成</span>' in page.content.decode()
