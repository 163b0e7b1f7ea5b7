"""Several machines (issue 13, part 5): two web servers that share nothing but PostgreSQL, Redis
and the S3 bucket, and one Celery worker.

Web A and web B are two gunicorn instances on different ports, each with its own empty media
folder (as two machines without a shared disk behind a load balancer); the worker has a third.
Evidence uploaded through A is opened by a reviewer through B; a report approved through A is
exported by the worker and downloaded (xlsx, JSON, whole-portal CSV) through B; a report
unpublished through B is answered 410 by A within a second. No file is ever written to any of
the three media folders: every file is in the bucket.

Runs in the PostgreSQL pass of scripts/test.sh, which sets STORAGE_S3_* (SeaweedFS started by
scripts/services.sh); skipped without PostgreSQL or without S3.
"""

import hashlib
import json
import os
import signal
import socket
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from assessments import exporting, workflow
from assessments.models import Assessment, AuditEvent, Evidence, ExportJob, FundingRow, Indicator, Publication
from portal import storage

from .test_evidence import pdf
from .test_resilience import (
    WORKER_OPTIONS,
    database_url,
    kill_group,
    needs_postgresql_and_redis,
    start_group,
    wait_for,
)

BROKER_DB = 9  # a Redis database of its own (load/ uses 10 and 11, resilience 12, bench 13 and 14, test_worker 15)


class FormFields(HTMLParser):
    """The fields a browser would post from the first form holding a field called `marker`."""

    def __init__(self, marker: str):
        super().__init__(convert_charrefs=True)
        self.marker, self.forms, self.current = marker, [], None
        self.select = self.textarea = None
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.current = []
            self.forms.append(self.current)
            return
        if self.current is None:
            return
        name = a.get("name")
        if tag == "input" and name and a.get("type", "text") not in ("submit", "button", "file", "image"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.current.append((name, a.get("value") or ("on" if a.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self.select = [name, None, None]
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            self.select[2] = value if self.select[2] is None else self.select[2]
            if "selected" in a:
                self.select[1] = value
        elif tag == "textarea" and name:
            self.textarea, self.text = name, ""

    def handle_endtag(self, tag):
        if self.current is None:
            return
        if tag == "form":
            self.current = None
        elif tag == "select" and self.select is not None:
            name, chosen, first = self.select
            self.current.append((name, chosen if chosen is not None else (first or "")))
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            self.current.append((self.textarea, self.text.removeprefix("\n")))
            self.textarea = None

    def handle_data(self, data):
        if self.textarea is not None:
            self.text += data

    @classmethod
    def of(cls, html: str, marker: str) -> dict:
        parser = cls(marker)
        parser.feed(html)
        for fields in parser.forms:
            if any(name == marker for name, _ in fields):
                return dict(fields)
        raise AssertionError(f"no form with a field {marker}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_for(user):
    """A requests session logged in as `user` (the session row is in the shared database, so the
    cookie is good on every web machine, as behind a load balancer without sticky sessions)."""
    import requests

    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set(django_settings.SESSION_COOKIE_NAME, client.cookies[django_settings.SESSION_COOKIE_NAME].value)
    return session


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.django_db(transaction=True)
def test_two_web_machines_and_a_worker_share_only_the_database_redis_and_the_bucket(
        alice, reviewer, department, producer_to, tmp_path):
    needs_postgresql_and_redis()
    if not django_settings.STORAGE_S3_BUCKET:
        pytest.skip("needs S3 (STORAGE_S3_BUCKET; the PostgreSQL run of scripts/test.sh sets it): without shared "
                    "storage two web machines cannot serve each other's files")
    assert connection.vendor == "postgresql"
    import redis
    import requests

    broker = f"redis://127.0.0.1:6379/{BROKER_DB}"
    redis.Redis.from_url(broker).flushdb()
    producer_to(broker)
    media = {name: tmp_path / f"media-{name}" for name in ("a", "b", "worker")}
    for folder in media.values():
        folder.mkdir()
    log = tmp_path / "servers.log"
    # STORAGE_S3_* (with this test's own prefix, conftest._own_storage_prefix) come from os.environ.
    base_env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_DEBUG", "DJANGO_MEDIA_ROOT")}
    base_env.update(DATABASE_URL=database_url(), REDIS_URL=django_settings.REDIS_URL or "redis://127.0.0.1:6379/0",
                    CELERY_BROKER_URL=broker, DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
                    DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "test-only-not-secret"))
    ports = {"a": free_port(), "b": free_port()}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    processes = []
    try:
        for name in ("a", "b"):
            processes.append(start_group(
                [sys.executable, "-m", "gunicorn", "portal.wsgi", "--workers", "1", "--timeout", "120",
                 "-b", f"127.0.0.1:{ports[name]}"], dict(base_env, DJANGO_MEDIA_ROOT=str(media[name])), log))
        processes.append(start_group([sys.executable, "-m", "celery", "-A", "portal", "worker", *WORKER_OPTIONS],
                                     dict(base_env, DJANGO_MEDIA_ROOT=str(media["worker"])), log))

        def up(name):
            try:
                return requests.get(f"{url[name]}/healthz", timeout=5).status_code == 200
            except requests.ConnectionError:
                return False

        for name in ("a", "b"):
            wait_for(lambda name=name: up(name), 60, f"web {name.upper()} to answer", log)

        # The report: a department assessment with three rows, in draft.
        FundingRow.objects.filter(assessment=department, source="total").update(budget=100, actual=95)
        for position, (level1, level2, name, target, actual, weight) in enumerate([
                ("产出指标", "数量指标", "培训次数", "≥10次", "10次", 50),
                ("效益指标", "社会效益指标", "社会稳定", "有所帮助", "有所帮助", 30),
                ("满意度指标", "服务对象满意度指标", "群众满意度", "≥95%", "96%", 10)], start=1):
            Indicator.objects.create(assessment=department, position=position, level1=level1, level2=level2, name=name,
                                     target=target, actual=actual, weight=weight)

        # 1. The officer uploads evidence through A (multipart, streamed into the bucket).
        officer = browser_for(alice)
        page = officer.get(f"{url['a']}{reverse('assessments:evidence', args=[department.pk])}", timeout=30)
        assert page.status_code == 200
        fields = FormFields.of(page.text, "title")
        fields.update(kind="evidence", title="培训签到表", note="", indicator="")
        data = pdf(b"/Lang (zh-CN) ")
        response = officer.post(f"{url['a']}{reverse('assessments:evidence', args=[department.pk])}", data=fields,
                                files=[("files", ("签到表.pdf", data, "application/pdf"))], allow_redirects=False, timeout=60)
        assert response.status_code == 302, response.text[-2000:]
        item = Evidence.objects.get(assessment=department)
        assert (item.original_name, item.size, item.sha256) == ("签到表.pdf", len(data), hashlib.sha256(data).hexdigest())

        workflow.perform(alice, department, "submit")
        workflow.perform(reviewer, department, "start_review")

        # 2. A reviewer opens it through B, which never saw the upload.
        bureau = browser_for(reviewer)
        served = bureau.get(f"{url['b']}{reverse('assessments:review_evidence_file', args=[department.pk, item.pk])}",
                            timeout=30)
        assert served.status_code == 200 and served.content == data
        assert served.headers["Content-Type"] == "application/pdf"
        assert AuditEvent.objects.filter(action="evidence.download", actor=reviewer).count() == 1

        # 3. Approved through A: the worker exports and publishes.
        review_url = reverse("assessments:review", args=[department.pk])
        page = bureau.get(f"{url['a']}{review_url}", timeout=30)
        assert page.status_code == 200
        fields = FormFields.of(page.text, "review-TOTAL_FORMS")
        fields.update(action="approve", comment="同意。")
        response = bureau.post(f"{url['a']}{review_url}", data=fields, allow_redirects=False, timeout=60)
        assert response.status_code == 302, response.text[-3000:]
        wait_for(lambda: Assessment.objects.get(pk=department.pk).state == Assessment.State.PUBLISHED, 90,
                 "the worker to export and publish", log)
        # The job is marked done just after the publish commits (as in test_resilience): wait for it too.
        wait_for(lambda: ExportJob.objects.get(assessment=department).status == ExportJob.Status.DONE, 30,
                 "the export job to be marked done", log)
        publication = Publication.objects.get(assessment=department)

        def lists_written():
            exporting.forget_public_cache_generation()
            return exporting.list_file("csv")

        listed = wait_for(lists_written, 60, "the worker to write the whole-portal lists", log)

        # 4. Downloaded through B: the worker's files, byte for byte.
        xlsx = requests.get(f"{url['b']}{reverse('disclosure:xlsx', args=[department.pk])}", timeout=30)
        assert xlsx.status_code == 200 and hashlib.sha256(xlsx.content).hexdigest() == publication.xlsx_sha256
        as_json = requests.get(f"{url['b']}{reverse('disclosure:json', args=[department.pk])}", timeout=30)
        assert as_json.status_code == 200 and hashlib.sha256(as_json.content).hexdigest() == publication.json_sha256
        assert department.unit.name in json.dumps(as_json.json(), ensure_ascii=False)
        listing = requests.get(f"{url['b']}{reverse('disclosure:list_csv')}", timeout=30)
        assert listing.status_code == 200 and listing.content == storage.read_bytes(listed)  # the worker's file
        rows = listing.content.decode("utf-8-sig").splitlines()
        assert [row.split(",")[8] for row in rows[1:]] == ["培训次数", "社会稳定", "群众满意度"]

        # 5. Unpublished through B: A, which has the page cached, answers 410 within a second.
        detail = reverse("disclosure:detail", args=[department.pk])
        assert [requests.get(f"{url['a']}{detail}", timeout=30).status_code for _ in range(3)] == [200] * 3
        assert requests.get(f"{url['a']}{reverse('disclosure:xlsx', args=[department.pk])}", timeout=30).status_code == 200
        page = bureau.get(f"{url['b']}{review_url}", timeout=30)
        fields = FormFields.of(page.text, "reason")
        fields.update(action="unpublish", reason="数据有误，撤回")
        response = bureau.post(f"{url['b']}{review_url}", data=fields, allow_redirects=False, timeout=60)
        assert response.status_code == 302
        unpublished_at = time.monotonic()
        assert Assessment.objects.get(pk=department.pk).state == Assessment.State.APPROVED
        first_410 = None
        while time.monotonic() - unpublished_at < 5:
            asked_at = time.monotonic()
            if requests.get(f"{url['a']}{detail}", timeout=30).status_code == 410:
                first_410 = asked_at - unpublished_at
                break
            time.sleep(0.02)
        assert first_410 is not None and first_410 <= exporting.GENERATION_READ_EVERY + 0.05, first_410
        for path in (detail, reverse("disclosure:xlsx", args=[department.pk]), reverse("disclosure:json", args=[department.pk])):
            assert requests.get(f"{url['a']}{path}", timeout=30).status_code == 410, path
        print(f"web A answered 410 {first_410:.3f} s after the unpublish through web B")
    finally:
        for process in processes:
            kill_group(process, signal.SIGTERM)
        redis.Redis.from_url(broker).flushdb()

    # No machine kept a file of its own: everything is in the bucket.
    assert {name: files_in(folder) for name, folder in media.items()} == {"a": [], "b": [], "worker": []}

