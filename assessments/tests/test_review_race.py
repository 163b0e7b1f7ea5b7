"""Issue 12, finding 6: review rows cannot change after the review is decided.

Reviewer A approves while reviewer B saves 复核 scores. Before the fix B's rows committed after
the approval, so the approved review's rows held B's scores while `Review.review_total` and
`Assessment.review_total` held the ones A approved. Saving rows now takes the row lock that
approve/return take (`reviewing.lock_open`, `workflow.perform`) and checks the state inside it.
"""

import threading
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.urls import reverse

from assessments import audit, reviewing, scoring, workflow
from assessments.models import Assessment, AuditEvent, IndicatorReview, Review, Snapshot
from assessments.readmodel import from_snapshot

from .conftest import PASSWORD
from .test_review import make_submission, review_data

D = Decimal
POSTGRESQL_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite serialises write transactions (BEGIN IMMEDIATE): no interleaving"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # an approval exports files


@pytest.fixture
def second_reviewer(db):
    user = User.objects.create_user("reviewer2", password=PASSWORD)
    user.user_permissions.add(Permission.objects.get(codename="review_all"))
    return user


def in_review(alice, reviewer, unit_a, round_2020) -> Assessment:
    a = make_submission(unit_a, round_2020, name="复核竞态项目", state="draft")
    workflow.perform(alice, a, "submit")
    workflow.perform(reviewer, a, "start_review")
    return a


def lower_first_row(a) -> tuple[Review, dict, scoring.ReviewTotals]:
    """Reviewer B's 复核: the first indicator (培训次数, 50 points) scored 45 with a note."""
    review = reviewing.pending(a)
    view = from_snapshot(a, Snapshot.objects.filter(assessment=a).latest("number").data)
    first = view.indicators[0].key
    inputs = {line.key: scoring.ReviewInput() for line in view.indicators}
    inputs[first] = scoring.ReviewInput(score=D("45"), note="培训记录不全，扣5分")
    return review, inputs, reviewing.build(view, review, inputs).totals


def decided(a) -> tuple:
    """The assessment's state (an approval followed by its export reads as approved), its review
    total, the review's decision and total, and the scores of the review rows."""
    a.refresh_from_db()
    review = Review.objects.get(assessment=a)
    rows = sorted(str(s) for s in IndicatorReview.objects.filter(review=review).values_list("score", flat=True))
    state = "approved" if a.state == "published" else a.state
    return state, a.review_total, review.decision, review.review_total, rows


# --- both databases: the calls interleaved by hand ------------------------------------------------


def test_rows_saved_after_the_approval_are_refused(alice, reviewer, second_reviewer, unit_a, round_2020):
    a = in_review(alice, reviewer, unit_a, round_2020)
    review, inputs, totals = lower_first_row(a)  # B has loaded and checked the form...
    assert totals.total == D("91.50")
    workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "approve")  # ...A approves...
    with pytest.raises(reviewing.ReviewClosed) as refused:
        reviewing.save(review, inputs, totals)  # ...then B's save arrives
    assert str(refused.value) == "该自评当前状态为“审核通过”，不能保存复核。"
    assert decided(a) == ("approved", D("96.50"), "approved", D("96.50"), [])
    assert not AuditEvent.objects.filter(action="review.save").exists()


def test_rows_saved_for_a_decided_review_are_refused_after_a_new_round_started(
    alice, reviewer, second_reviewer, unit_a, round_2020
):
    a = in_review(alice, reviewer, unit_a, round_2020)
    review, inputs, totals = lower_first_row(a)
    workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "return", "请补充材料")
    workflow.perform(alice, Assessment.objects.get(pk=a.pk), "submit")
    workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "start_review")  # in review again, new round
    with pytest.raises(reviewing.ReviewClosed) as refused:
        reviewing.save(review, inputs, totals)
    assert str(refused.value) == "该轮复核已有结论，不能再保存，请刷新页面后再操作。"
    assert IndicatorReview.objects.count() == 0


def test_save_through_the_page_after_another_reviewer_approved(alice, reviewer, second_reviewer, unit_a, round_2020,
                                                                monkeypatch):
    """B's request passed the view's checks; A's approval commits before B's save."""
    a = in_review(alice, reviewer, unit_a, round_2020)
    b = Client()
    b.force_login(second_reviewer)
    url = reverse("assessments:review", args=[a.pk])
    data = review_data(b.get(url))
    data["review-0-score"], data["review-0-note"] = "45", "培训记录不全，扣5分"

    real_build, approved = reviewing.build, []

    def build_then_a_approves(*args, **kwargs):
        result = real_build(*args, **kwargs)
        if not approved:  # once: A's approval calls build too
            approved.append(True)
            workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "approve")
        return result

    monkeypatch.setattr(reviewing, "build", build_then_a_approves)
    response = b.post(url, data, follow=True)
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["该自评当前状态为“审核通过”，不能保存复核。"]
    assert decided(a) == ("approved", D("96.50"), "approved", D("96.50"), [])


# --- PostgreSQL: two connections at once ----------------------------------------------------------


def _run(target, outcomes, name):
    def body():
        try:
            target()
            outcomes[name] = "ok"
        except (workflow.TransitionRefused, reviewing.ReviewClosed) as exc:
            outcomes[name] = str(exc)
        finally:
            connection.close()

    return threading.Thread(target=body, name=name)


@POSTGRESQL_ONLY
@pytest.mark.django_db(transaction=True)
def test_approval_waits_for_rows_being_saved_and_decides_on_them(alice, reviewer, second_reviewer, unit_a, round_2020,
                                                                 monkeypatch):
    a = in_review(alice, reviewer, unit_a, round_2020)
    review, inputs, totals = lower_first_row(a)
    b_inside, release_b = threading.Event(), threading.Event()
    real_record = audit.record

    def record(action, **kwargs):
        event = real_record(action, **kwargs)
        if action == "review.save":  # B has written its rows and holds its transaction open
            b_inside.set()
            release_b.wait(10)
        return event

    monkeypatch.setattr(audit, "record", record)
    outcomes = {}
    saver = _run(lambda: reviewing.save(review, inputs, totals), outcomes, "save")
    approver = _run(lambda: workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "approve"), outcomes, "approve")
    saver.start()
    assert b_inside.wait(10)
    approver.start()
    approver.join(1.0)
    waited = approver.is_alive()  # the approval waits for the lock B holds
    release_b.set()
    saver.join(20)
    approver.join(20)
    assert waited is True
    assert outcomes == {"save": "ok", "approve": "ok"}
    # The approval decided on B's rows: the rows, the review and the assessment agree.
    assert decided(a) == ("approved", D("91.50"), "approved", D("91.50"), ["45.00"] + ["None"] * 2)


@POSTGRESQL_ONLY
@pytest.mark.django_db(transaction=True)
def test_rows_being_saved_during_an_approval_wait_and_are_refused(alice, reviewer, second_reviewer, unit_a, round_2020,
                                                                   monkeypatch):
    a = in_review(alice, reviewer, unit_a, round_2020)
    review, inputs, totals = lower_first_row(a)
    a_inside, release_a = threading.Event(), threading.Event()

    def hold(sender, *, transition, **kwargs):
        if transition.action == "approve":  # A has approved and holds its transaction open
            a_inside.set()
            release_a.wait(10)

    # A receiver of the transition runs inside the approval's transaction: it holds it open.
    workflow.transitioned.connect(hold, dispatch_uid="test-hold-approval")
    try:
        outcomes = {}
        approver = _run(lambda: workflow.perform(reviewer, Assessment.objects.get(pk=a.pk), "approve"), outcomes, "approve")
        saver = _run(lambda: reviewing.save(review, inputs, totals), outcomes, "save")
        approver.start()
        assert a_inside.wait(10)
        saver.start()
        saver.join(1.0)
        waited = saver.is_alive()
        release_a.set()
        approver.join(20)
        saver.join(20)
    finally:
        workflow.transitioned.disconnect(dispatch_uid="test-hold-approval")
    assert waited is True
    assert outcomes == {"approve": "ok", "save": "该自评当前状态为“审核通过”，不能保存复核。"}
    assert decided(a) == ("approved", D("96.50"), "approved", D("96.50"), [])
