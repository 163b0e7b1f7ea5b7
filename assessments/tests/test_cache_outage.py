"""Redis down, or hanging, must not take pages down (issue 12, finding 3): a cache error is a
miss, logged once, never a 500. The cache configuration is the one portal/settings.py builds
from REDIS_URL, pointed at a port where nothing answers (or where nothing ever replies)."""

import importlib.util
import io
import logging
import socket
import threading
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from assessments.models import Assessment

pytestmark = pytest.mark.django_db

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "portal" / "settings.py"


def settings_with(monkeypatch, **env):
    """portal/settings.py evaluated afresh with `env` (as a deployment would start)."""
    monkeypatch.setenv("DJANGO_SECRET_KEY", "test-only")
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("portal_settings_probe", SETTINGS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def dead_port():
    """A port where nothing answers: bound for the test (so no one else takes it), never listening."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    yield held.getsockname()[1]
    held.close()


@pytest.fixture
def demo(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", force=True, stdout=io.StringIO())


def pages():
    published = Assessment.objects.filter(state="published").order_by("id").first()
    returned = Assessment.objects.filter(state="returned").first()
    return [
        (None, reverse("disclosure:list")),
        (None, reverse("disclosure:list") + "?year=2020"),
        (None, reverse("disclosure:detail", args=[published.pk])),
        (None, reverse("disclosure:list_json")),
        (None, reverse("disclosure:list_csv") + "?kind=project"),
        (None, reverse("disclosure:json", args=[published.pk])),
        ("caizheng", reverse("assessments:dashboard")),
        ("caizheng", reverse("assessments:review", args=[returned.pk])),
        ("nanyue", reverse("assessments:list")),
        ("nanyue", reverse("assessments:edit", args=[returned.pk])),
    ]


def visit_all(client) -> list[tuple[str, int]]:
    client.raise_request_exception = False  # a 500 is an answer here, not an exception
    answers = []
    for username, url in pages():
        if username:
            client.force_login(User.objects.get(username=username))
        else:
            client.logout()
        answers.append((url, client.get(url).status_code))
    return answers


def cache_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "cache" in r.getMessage()]


def test_redis_down_pages_answer_and_the_outage_is_logged_once(client, demo, monkeypatch, caplog, dead_port):
    dead = settings_with(monkeypatch, REDIS_URL=f"redis://127.0.0.1:{dead_port}/0")
    caplog.set_level(logging.WARNING)
    with override_settings(CACHES=dead.CACHES):
        answers = visit_all(client) + visit_all(client)
    assert [status for _, status in answers] == [200] * len(answers), answers
    assert len(cache_warnings(caplog)) == 1, cache_warnings(caplog)
    assert cache_warnings(caplog)[0].startswith("cache unavailable, pages are served without it")


def test_a_hanging_redis_costs_one_timeout_not_one_per_request(client, demo, monkeypatch, caplog):
    """A server that accepts connections and never replies (a stuck Redis, a black-holed route)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    # Never hang the test run itself: whatever is still waiting after 20 s gets its connection closed.
    closer = threading.Timer(20, lambda: [c.close() for c in accepted])
    closer.start()
    try:
        stuck = settings_with(monkeypatch, REDIS_URL=f"redis://127.0.0.1:{listener.getsockname()[1]}/0")
        caplog.set_level(logging.WARNING)
        with override_settings(CACHES=stuck.CACHES):
            started = time.monotonic()
            answers = visit_all(client) + visit_all(client)
            elapsed = time.monotonic() - started
    finally:
        closer.cancel()
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert [status for _, status in answers] == [200] * len(answers), answers
    assert len(cache_warnings(caplog)) == 1
    assert elapsed < 10, elapsed  # one 0.5 s timeout, then the cache is left alone for 5 s


def test_cache_and_broker_must_not_share_a_redis_database(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="name the same Redis database"):
        settings_with(monkeypatch, REDIS_URL="redis://redis:6379/0", CELERY_BROKER_URL="redis://redis:6379")
    separate = settings_with(monkeypatch, REDIS_URL="redis://redis:6379/0", CELERY_BROKER_URL="redis://redis:6379/1")
    assert (separate.CACHES["default"]["LOCATION"], separate.CELERY_BROKER_URL) == ("redis://redis:6379/0", "redis://redis:6379/1")
    assert separate.CACHES["default"]["OPTIONS"] == {"socket_connect_timeout": 0.5, "socket_timeout": 0.5, "RETRY_AFTER": 5.0}
