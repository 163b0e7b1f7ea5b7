"""Public caching after the attack run (issue 12): junk query strings make no cache entries and
no rebuilds (finding 2); a withdrawn report is gone from every process and downstream cache at
once (finding 4)."""

import http.client
import io
import os
import signal
import socket
import sys
import threading
import time
from unittest import mock

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from assessments import exporting, workflow
from assessments.exports import lists
from assessments.models import Assessment
from assessments.views import public

from .helpers import as_json, body

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", force=True, stdout=io.StringIO())
    published = Assessment.objects.filter(state="published").select_related("unit").order_by("id")
    return {a.unit.short_name + "/" + (a.project_name or "部门"): a for a in published}


def yuelu(demo):
    return demo["岳麓区委政法委/部门"]


def cache_keys(alias="default") -> list[str]:
    """Every key in a cache (local memory, or the Redis database of the PostgreSQL run)."""
    backend = caches[alias]
    if isinstance(backend, LocMemCache):
        return list(backend._cache)
    client = backend._cache.get_client(None)
    return sorted(k.decode() for k in client.keys("*"))


def page_keys(alias="default") -> list[str]:
    return [k for k in cache_keys(alias) if ":public:" in k or ":disclosure:" in k]


class Builds:
    """Counts the builds of the whole-portal lists' bodies."""

    def __init__(self, monkeypatch):
        self.csv = self.json = 0
        real_csv, real_json = lists.csv_bytes, lists.json_bytes

        def csv_bytes(*args, **kwargs):
            self.csv += 1
            return real_csv(*args, **kwargs)

        def json_bytes(*args, **kwargs):
            self.json += 1
            return real_json(*args, **kwargs)

        monkeypatch.setattr(lists, "csv_bytes", csv_bytes)
        monkeypatch.setattr(lists, "json_bytes", json_bytes)


# --- Finding 2: junk query strings -----------------------------------------------------------------


def test_junk_parameters_on_the_whole_portal_lists_make_no_entry_and_no_build(client, demo, monkeypatch):
    builds = Builds(monkeypatch)
    before = cache_keys()
    for n in range(30):
        for name in ("disclosure:list_csv", "disclosure:list_json"):
            response = client.get(reverse(name), {"rt": str(n)})
            assert response.status_code == 200
            assert response.streaming  # the file written after the last publish
    assert (builds.csv, builds.json) == (0, 0)
    assert cache_keys() == before
    assert page_keys("public_local") == []
    # Empty or refused filter values are no filter either: still the file.
    for query in ({"year": ""}, {"year": "²"}, {"region": "99999999999999999999999"}, {"kind": "secret", "page": "2"}):
        assert client.get(reverse("disclosure:list_csv"), query).streaming, query
    assert (builds.csv, builds.json) == (0, 0)


def test_a_missing_list_file_is_built_once_whatever_the_query_string(client, demo, monkeypatch):
    exporting.bump_public_cache()  # a publish whose rebuild did not run (broker down)
    builds = Builds(monkeypatch)
    for n in range(30):
        response = client.get(reverse("disclosure:list_csv"), {"rt": str(n)})
        assert response.status_code == 200 and response.streaming
    assert (builds.csv, builds.json) == (1, 1)  # both files, once
    assert body(client.get(reverse("disclosure:list_csv"))) == lists.csv_bytes(lists.listed())


def test_while_another_process_builds_the_lists_readers_are_asked_to_come_back(client, demo):
    exporting.bump_public_cache()
    # As write_lists holds the lock in another process: from another thread (its own database
    # connection for the advisory lock of the S3 run, its own open folder for the local disk's flock).
    taken, release, done = threading.Event(), threading.Event(), threading.Event()

    def hold():
        try:
            with exporting.lists_lock():
                taken.set()
                release.wait(30)
        finally:
            connection.close()
            done.set()

    threading.Thread(target=hold, daemon=True).start()
    assert taken.wait(30)
    try:
        response = client.get(reverse("disclosure:list_json"), {"rt": "1"})
    finally:
        release.set()
        done.wait(30)
    assert (response.status_code, response["Retry-After"]) == (503, "10")
    assert response.content.decode() == "公开清单正在生成，请稍后再试。"
    assert set(response["Cache-Control"].split(", ")) == {"max-age=0", "no-cache", "no-store", "must-revalidate", "private"}
    assert page_keys() == []
    assert client.get(reverse("disclosure:list_json")).status_code == 200  # the lock is free: built now


def test_junk_parameters_on_pages_share_one_entry(client, demo):
    detail = reverse("disclosure:detail", args=[yuelu(demo).pk])
    first = client.get(detail)
    for n in range(30):
        again = client.get(detail, {"rt": str(n), "utm_source": "x" * n})
        assert again.status_code == 200 and again.content == first.content
    assert len(page_keys()) == 1

    client.get(reverse("disclosure:list"), {"year": "2020"})
    for n in range(30):
        assert client.get(reverse("disclosure:list"), {"rt": str(n), "year": "2020"}).status_code == 200
        assert client.get(reverse("disclosure:list"), {"year": "2020", "region": "²", "page": "1"}).status_code == 200
    assert len(page_keys()) == 2


def test_searches_and_values_not_offered_are_answered_but_not_kept(client, demo):
    keys = len(page_keys())
    for n in range(10):
        assert client.get(reverse("disclosure:list"), {"q": f"检索{n}"}).status_code == 200
        assert client.get(reverse("disclosure:list_json"), {"q": f"检索{n}"}).status_code == 200
        assert client.get(reverse("disclosure:list"), {"year": str(1990 + n)}).status_code == 200
        assert client.get(reverse("disclosure:list"), {"unit": str(10**12 + n)}).status_code == 200
        assert client.get(reverse("disclosure:list"), {"page": str(99 + n)}).status_code == 200  # the last page
        assert client.get(reverse("disclosure:detail", args=[10**12 + n])).status_code == 404
    assert len(page_keys()) == keys
    assert as_json(client.get(reverse("disclosure:list_json"), {"year": "1990"})) == {
        "count": 0, "results": [], "page": 1, "next": None}


def test_filtered_lists_are_served_a_bounded_page_at_a_time(client, demo, monkeypatch):
    monkeypatch.setattr(public, "LIST_PAGE_SIZE", 1)
    first = client.get(reverse("disclosure:list_json"), {"q": "平安建设", "rt": "1"})
    doc = as_json(first)
    assert (doc["count"], doc["page"], doc["next"]) == (1, 1, "/disclosure.json?q=%E5%B9%B3%E5%AE%89%E5%BB%BA%E8%AE%BE&page=2")
    second = as_json(client.get(doc["next"]))
    assert (second["count"], second["page"], second["next"]) == (1, 2, None)
    assert {doc["results"][0]["id"], second["results"][0]["id"]} == {a.pk for a in demo.values()}
    assert client.get(reverse("disclosure:list_json"), {"q": "平安建设", "page": "3"}).status_code == 404

    csv = client.get(reverse("disclosure:list_csv"), {"kind": "department", "year": "2020", "region": "²"})
    assert csv.status_code == 200 and not csv.streaming
    assert csv["Content-Disposition"] == 'attachment; filename="disclosure.csv"'
    assert not csv.has_header("Link")  # one report: no next page
    csv = client.get(reverse("disclosure:list_csv"), {"q": "平安建设"})
    assert csv["Link"] == '</disclosure.csv?q=%E5%B9%B3%E5%AE%89%E5%BB%BA%E8%AE%BE&page=2>; rel="next"'


def test_large_pages_are_not_copied_into_each_process(client, demo, monkeypatch):
    monkeypatch.setattr(public, "LOCAL_ENTRY_MAX_BYTES", 1000)
    assert client.get(reverse("disclosure:detail", args=[yuelu(demo).pk])).status_code == 200
    assert len(page_keys()) == 1 and page_keys("public_local") == []


# --- Finding 4: withdrawn reports -----------------------------------------------------------------


class Process:
    """What one web process keeps to itself: its default cache (local memory unless REDIS_URL is
    set), its copy of public pages and its memory of the public cache generation."""

    def __init__(self, name):
        self.caches = {
            "default": LocMemCache(f"process-{name}-default", {}),
            "public_local": LocMemCache(f"process-{name}-pages", {}),
        }
        self.generation = {"value": None, "read_at": 0.0}

    def activate(self):
        for alias, backend in self.caches.items():
            caches[alias] = backend
        exporting._generation = self.generation
        if hasattr(public, "local_cache"):  # a module-level copy of caches["public_local"]
            public.local_cache = self.caches["public_local"]


@pytest.fixture
def processes():
    """Three simulated web processes sharing the database (and nothing else)."""
    saved = {alias: caches[alias] for alias in ("default", "public_local")}
    saved_generation, saved_local = exporting._generation, getattr(public, "local_cache", None)
    yield [Process(name) for name in "ABC"]
    for alias, backend in saved.items():
        caches[alias] = backend
    exporting._generation = saved_generation
    if saved_local is not None:
        public.local_cache = saved_local


def test_unpublish_is_effective_on_every_process(client, demo, processes, django_capture_on_commit_callbacks):
    a = yuelu(demo)
    detail = reverse("disclosure:detail", args=[a.pk])
    for process in processes:  # every process has the page cached
        process.activate()
        assert client.get(detail).status_code == 200
        assert client.get(detail).status_code == 200
        assert a.pk in [r["id"] for r in as_json(client.get(reverse("disclosure:list_json")))["results"]]

    processes[0].activate()  # the reviewer's request lands on process A
    reviewer = User.objects.get(username="caizheng")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "unpublish", "数据有误，撤回")
    assert client.get(detail).status_code == 410

    time.sleep(exporting.GENERATION_READ_EVERY)  # the longest any process may keep its generation
    for process in processes:
        process.activate()
        assert client.get(detail).status_code == 410
        assert a.pk not in [r["id"] for r in as_json(client.get(reverse("disclosure:list_json")))["results"]]
        assert client.get(reverse("disclosure:json", args=[a.pk])).status_code == 410


def test_downstream_caches_must_revalidate_and_learn_of_a_withdrawal(client, demo, django_capture_on_commit_callbacks):
    a = yuelu(demo)
    urls = {
        "detail": reverse("disclosure:detail", args=[a.pk]),
        "json": reverse("disclosure:json", args=[a.pk]),
        "xlsx": reverse("disclosure:xlsx", args=[a.pk]),
        "list": reverse("disclosure:list"),
        "list_json": reverse("disclosure:list_json"),
    }
    tags = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, name
        assert response["Cache-Control"] == "public, no-cache", name
        tags[name] = response["ETag"]
        body(response)  # read (and so close) a stored file
        again = client.get(url, HTTP_IF_NONE_MATCH=tags[name])
        assert (again.status_code, again["ETag"], again["Cache-Control"]) == (304, tags[name], "public, no-cache"), name
        assert again.content == b""
    publication = Assessment.objects.get(pk=a.pk).publication
    assert (tags["json"], tags["xlsx"]) == (f'"{publication.json_sha256}"', f'"{publication.xlsx_sha256}"')

    reviewer = User.objects.get(username="caizheng")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "unpublish", "数据有误，撤回")
    for name in ("detail", "json", "xlsx"):
        response = client.get(urls[name], HTTP_IF_NONE_MATCH=tags[name])
        assert (response.status_code, response["Cache-Control"]) == (410, "public, no-cache"), name
    for name in ("list", "list_json"):
        response = client.get(urls[name], HTTP_IF_NONE_MATCH=tags[name])
        assert response.status_code == 200 and response["ETag"] != tags[name], name
        body(response)


def test_the_generation_is_read_from_the_database_not_a_cache(client, demo):
    """A cache flush (or eviction) and a second process's empty cache see the same generation."""
    generation = exporting.public_cache_generation()
    caches["default"].clear()
    exporting.forget_public_cache_generation()
    assert exporting.public_cache_generation() == generation
    with mock.patch.object(caches["default"], "get", side_effect=AssertionError("cache read")):
        exporting.forget_public_cache_generation()
        assert exporting.public_cache_generation() == generation


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.unix_path)


def fetch(sock_path: str, path: str) -> int:
    conn = UnixHTTPConnection(sock_path)
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_unpublish_on_three_gunicorn_workers_with_the_default_cache(settings, tmp_path):
    """The attack run's setting: gunicorn with three workers and no REDIS_URL (each worker its own
    local-memory cache). Every worker answers 410 a second after the unpublish."""
    from django.db import connection

    from .test_resilience import database_url, kill_group, start_group, wait_for

    if connection.vendor != "postgresql":
        pytest.skip("needs the PostgreSQL test database (the gunicorn workers are other processes)")
    settings.MEDIA_ROOT = tmp_path / "media"
    call_command("seed_demo", force=True, stdout=io.StringIO())
    a = Assessment.objects.filter(state="published").select_related("unit").get(unit__short_name="岳麓区委政法委")
    detail = reverse("disclosure:detail", args=[a.pk])
    sock, log = str(tmp_path / "gunicorn.sock"), tmp_path / "gunicorn.log"
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DATABASE_URL=database_url(), DJANGO_SECRET_KEY="test-only", DJANGO_MEDIA_ROOT=str(settings.MEDIA_ROOT),
               DJANGO_ALLOWED_HOSTS="localhost")
    server = start_group([sys.executable, "-m", "gunicorn", "portal.wsgi", "--workers", "3", "-b", f"unix:{sock}"], env, log)
    try:
        wait_for(lambda: os.path.exists(sock), 20, "gunicorn to listen", log)
        before = [fetch(sock, detail) for _ in range(60)]  # every worker has the page cached by now
        assert before == [200] * 60
        reviewer = User.objects.get(username="caizheng")
        workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "unpublish", "数据有误，撤回")
        time.sleep(exporting.GENERATION_READ_EVERY)
        after = [fetch(sock, detail) for _ in range(60)]
    finally:
        kill_group(server, signal.SIGTERM)
    assert after == [410] * 60, f"{after.count(200)} of 60 answers still 200"
