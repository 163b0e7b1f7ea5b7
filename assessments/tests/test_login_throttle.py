"""Issue 12, finding 8: login throttles per account and address, per address, and site-wide.

Before: 40 logins to 40 usernames from one address were all processed (password spraying), and
5 requests from anywhere locked any account. See `assessments/security/throttle.py`.
"""

import io
import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from assessments.models import AuditEvent
from assessments.security.lockout import ADDRESS_LOCKED_MESSAGE, GLOBAL_LOCKED_MESSAGE, LOCKED_MESSAGE

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
ATTACKER = "203.0.113.7"
HOME = "10.0.0.1"


@pytest.fixture
def password_checks(monkeypatch):
    """How many logins got as far as checking a password."""
    checks = []
    real = ModelBackend.authenticate

    def authenticate(self, request, username=None, password=None, **kwargs):
        checks.append(username)
        return real(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", authenticate)
    return checks


def login(username, password, ip):
    client = Client()
    response = client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)
    return response, client


def status(username, password, ip) -> int:
    return login(username, password, ip)[0].status_code


def lockout_text(response) -> str:
    match = re.search(r'<div class="alert alert-danger" role="alert" id="lockout-message">([^<]*)</div>',
                      response.content.decode())
    return match.group(1) if match else ""


def scopes() -> list[str]:
    return [e.details.get("scope") for e in AuditEvent.objects.filter(action="auth.locked_out").order_by("id")]


def test_password_spraying_from_one_address_stops_after_20_failures(alice, password_checks):
    statuses = [status(f"user{n:02d}", "Spring-2025!", ATTACKER) for n in range(40)]
    assert statuses == [200] * 19 + [429] * 21
    assert len(password_checks) == 20  # the other 20 were refused before any password was checked
    response, _ = login("user99", "Spring-2025!", ATTACKER)
    assert lockout_text(response) == ADDRESS_LOCKED_MESSAGE == (
        "从您所在网络地址登录失败的次数过多，已暂停从该地址登录 15 分钟。如需立即解除，请联系安全管理员。"
    )
    assert scopes() == ["address"] * 22
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 20

    # The address is locked for everyone at it; alice at her own desk is not affected.
    assert status("alice", PASSWORD, ATTACKER) == 429
    assert status("alice", PASSWORD, HOME) == 302


def test_a_stranger_cannot_lock_an_account(alice):
    assert [status("alice", f"guess-{n}", ATTACKER) for n in range(5)] == [200] * 4 + [429]
    assert status("alice", PASSWORD, ATTACKER) == 429  # the guesser's address stays locked for alice
    response, client = login("alice", PASSWORD, HOME)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)
    # Her success cleared only her own (username, address): the guesser's lock stands.
    assert list(AccessAttempt.objects.values_list("username", "ip_address", "failures_since_start")) == [
        ("alice", ATTACKER, 5)
    ]


def test_failures_from_the_users_own_address_still_lock_the_account(alice):
    assert [status("alice", f"typo-{n}", HOME) for n in range(5)] == [200] * 4 + [429]
    response, _ = login("alice", PASSWORD, HOME)
    assert (response.status_code, lockout_text(response)) == (429, LOCKED_MESSAGE)
    assert scopes() == ["account", "account"]


def test_a_successful_login_does_not_reset_the_address_count(alice, password_checks):
    mallory = User.objects.create_user("mallory", password="Mallory-Pass-2024")
    assert [status(f"user{n:02d}", "Spring-2025!", ATTACKER) for n in range(19)] == [200] * 19
    assert status(mallory.username, "Mallory-Pass-2024", ATTACKER) == 302
    assert status("user19", "Spring-2025!", ATTACKER) == 429
    assert status("user20", "Spring-2025!", ATTACKER) == 429
    assert len(password_checks) == 21


def test_global_throttle_spares_users_at_their_usual_address(settings, alice, bob):
    settings.PORTAL_LOGIN_GLOBAL_FAILURE_LIMIT = 10
    assert status("alice", PASSWORD, HOME) == 302  # alice's usual address (audit: auth.login)
    # Spraying from ten addresses, one guess each: the tenth failure site-wide closes the door.
    statuses = [status(f"user{n}", "Spring-2025!", f"198.51.100.{n}") for n in range(1, 11)]
    assert statuses == [200] * 9 + [429]
    response, _ = login("user11", "Spring-2025!", "198.51.100.11")
    assert (response.status_code, lockout_text(response)) == (429, GLOBAL_LOCKED_MESSAGE)
    assert GLOBAL_LOCKED_MESSAGE == "近期全站登录失败次数异常，已暂停从新的网络地址登录，请稍后再试；如需立即登录，请联系安全管理员。"

    assert status("bob", PASSWORD, "10.0.0.2") == 429  # never logged in from there
    assert status("alice", PASSWORD, "10.0.0.3") == 429  # a new address for alice
    assert status("alice", PASSWORD, HOME) == 302  # her usual address
    assert set(scopes()) == {"global"}

    # 15 minutes later the window has passed.
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15))
    assert status("bob", PASSWORD, "10.0.0.2") == 302


def test_known_and_unknown_usernames_get_the_same_address_lock(alice):
    for n in range(20):
        status(f"user{n:02d}", "x", ATTACKER)
    known, _ = login("alice", "x", ATTACKER)
    unknown, _ = login("nobody-here", "x", ATTACKER)
    assert known.status_code == unknown.status_code == 429
    assert lockout_text(known) == lockout_text(unknown) == ADDRESS_LOCKED_MESSAGE


def test_admin_unlocks_an_address(alice):
    for n in range(20):
        status(f"user{n:02d}", "x", ATTACKER)
    assert status("alice", PASSWORD, ATTACKER) == 429
    call_command("axes_reset_ip", ATTACKER, stdout=io.StringIO())
    assert status("alice", PASSWORD, ATTACKER) == 302
