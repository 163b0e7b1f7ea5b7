"""Issue 12, finding 14: notification e-mail leaves the request.

Before, the mail of a transition was sent inside the request that made it (after commit, but in the
same web worker), with a 10-second SMTP timeout and no second try. Now the transition's commit
queues a Celery task that sends it, and the task retries with a growing delay when the mail server
fails. Without a broker (the embedded default) the task runs in-process once, as before.
"""

import logging
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import transaction
from django.test import Client
from django.urls import reverse

from assessments import notifications, tasks, workflow
from assessments.models import Transition
from portal.celery import app

from .test_review import UNIT_A, make_submission

pytestmark = pytest.mark.django_db

TITLE = "2020年度综治经费绩效自评"
SUBJECT = f"【绩效自评】{UNIT_A}提交了“{TITLE}”，请审核"


class FlakyBackend(EmailBackend):
    """The locmem backend behind a mail server that drops the first `failures` connections."""

    failures = 0
    attempts = 0

    def send_messages(self, messages):
        type(self).attempts += 1
        if type(self).attempts <= type(self).failures:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed (test)")
        return super().send_messages(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    FlakyBackend.attempts = 0
    FlakyBackend.failures = 0
    mail.outbox = []
    return FlakyBackend


@pytest.fixture
def reviewer_with_mail(reviewer):
    reviewer.email = "shenhe@czj.example.cn"
    reviewer.save()
    return reviewer


@pytest.fixture
def with_broker(monkeypatch):
    """As with Redis configured: tasks are sent, not run; the calls to the broker are recorded."""
    sent = []
    monkeypatch.setattr(tasks.send_notification, "apply_async",
                        lambda args=None, kwargs=None, **options: sent.append((list(args), options)))
    app.conf.update(task_always_eager=False)
    yield sent
    app.conf.update(task_always_eager=True)


def submit(alice, unit_a, round_2020, capture):
    a = make_submission(unit_a, round_2020, name="综治经费", state="draft")
    client = Client()
    client.force_login(alice)
    with capture(execute=True):
        response = client.post(reverse("assessments:submit", args=[a.pk]))
    assert response.status_code == 302
    return Transition.objects.get(assessment=a, action="submit")


def test_the_request_only_queues_the_mail(alice, reviewer_with_mail, unit_a, round_2020, flaky, with_broker,
                                          django_capture_on_commit_callbacks):
    transition = submit(alice, unit_a, round_2020, django_capture_on_commit_callbacks)

    assert (flaky.attempts, mail.outbox) == (0, [])  # no SMTP in the request
    assert with_broker == [([transition.pk], {"retry": False})]

    # The worker's side: the task sends it.
    assert tasks.send_notification.apply(args=[transition.pk]).get() == 1
    assert [(m.subject, m.to) for m in mail.outbox] == [(SUBJECT, ["shenhe@czj.example.cn"])]


def test_nothing_is_queued_when_the_transition_rolls_back(alice, reviewer_with_mail, unit_a, round_2020, with_broker,
                                                          django_capture_on_commit_callbacks):
    a = make_submission(unit_a, round_2020, name="综治经费", state="draft")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            workflow.perform(alice, a, "submit")
            raise RuntimeError("rolled back")
    assert (callbacks, with_broker) == ([], [])


def test_a_broker_outage_does_not_fail_the_transition(alice, reviewer_with_mail, unit_a, round_2020, monkeypatch, caplog,
                                                      django_capture_on_commit_callbacks):
    from kombu.exceptions import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6391. Connection refused.")

    monkeypatch.setattr(tasks.send_notification, "apply_async", refuse)
    app.conf.update(task_always_eager=False)
    try:
        with caplog.at_level(logging.WARNING, logger="assessments.notifications"):
            transition = submit(alice, unit_a, round_2020, django_capture_on_commit_callbacks)
    finally:
        app.conf.update(task_always_eager=True)
    assert transition.assessment.state == "submitted"
    assert [r.getMessage() for r in caplog.records if r.name == "assessments.tasks"] == [
        f"notification for transition {transition.pk} not queued, broker unavailable: "
        "Error 111 connecting to 127.0.0.1:6391. Connection refused."
    ]


def test_the_task_retries_when_the_mail_server_fails(alice, reviewer_with_mail, unit_a, round_2020, flaky, with_broker,
                                                     django_capture_on_commit_callbacks):
    transition = submit(alice, unit_a, round_2020, django_capture_on_commit_callbacks)
    flaky.failures = 2

    # apply() runs the task and its retries in this process (countdowns skipped).
    assert tasks.send_notification.apply(args=[transition.pk]).get() == 1
    assert flaky.attempts == 3
    assert [m.subject for m in mail.outbox] == [SUBJECT]


def test_the_task_gives_up_after_its_retries_and_says_so(alice, reviewer_with_mail, unit_a, round_2020, flaky, with_broker,
                                                         caplog, django_capture_on_commit_callbacks):
    transition = submit(alice, unit_a, round_2020, django_capture_on_commit_callbacks)
    flaky.failures = 100

    with caplog.at_level(logging.ERROR, logger="assessments.tasks"):
        assert tasks.send_notification.apply(args=[transition.pk]).get() == 0
    assert flaky.attempts == tasks.NOTIFY_RETRIES + 1 == 6
    assert mail.outbox == []
    assert [r.getMessage() for r in caplog.records if r.name == "assessments.tasks"] == [
        f"notification for transition {transition.pk} not sent, attempt 6 of 6 failed: "
        "SMTPServerDisconnected: Connection unexpectedly closed (test)"
    ]


def test_retry_delays_grow_and_stay_below_the_visibility_timeout():
    assert [tasks.notify_countdown(n) for n in range(tasks.NOTIFY_RETRIES)] == [30, 60, 120, 240, 480]


def test_embedded_mode_sends_once_in_process(alice, reviewer_with_mail, unit_a, round_2020, flaky, caplog,
                                             django_capture_on_commit_callbacks):
    # No broker: the task runs eagerly after commit; a failing mail server costs one attempt, not six.
    flaky.failures = 100
    with caplog.at_level(logging.ERROR, logger="assessments.tasks"):
        transition = submit(alice, unit_a, round_2020, django_capture_on_commit_callbacks)
    assert transition.assessment.state == "submitted"
    assert flaky.attempts == 1
    assert [r.getMessage() for r in caplog.records if r.name == "assessments.tasks"] == [
        f"notification for transition {transition.pk} not sent, attempt 1 of 1 failed: "
        "SMTPServerDisconnected: Connection unexpectedly closed (test)"
    ]

    flaky.failures = 0
    submit_again = make_submission(unit_a, round_2020, name="另一项目", state="draft")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(alice, submit_again, "submit")
    assert [m.subject for m in mail.outbox] == [f"【绩效自评】{UNIT_A}提交了“2020年度另一项目绩效自评”，请审核"]


def test_a_deleted_transition_sends_nothing(flaky):
    assert tasks.send_notification.apply(args=[987654]).get() == 0
    assert flaky.attempts == 0


def test_after_transition_queues_only_mailed_actions():
    assert sorted(notifications.TEMPLATES) == ["approve", "correct", "forward", "pre_return", "return", "submit"]
