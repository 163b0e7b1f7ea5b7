"""Every state × action × role (issue 5, "Exhaustive workflow test").

An action succeeds exactly when the transition table allows it: the assessment is in one of the
action's source states AND the role may do it. Otherwise `workflow.perform` raises
TransitionRefused, the pages answer 403 / 404 / a redirect with the reason, and the database is
exactly as before (assessment row, transitions, snapshots, reviews and their rows, export jobs,
publication).

Each state is reached from a draft through the real workflow; every attempt runs in a savepoint
that is rolled back, so all attempts of one state start from the same database.
"""

import pytest
from django.contrib.messages import get_messages
from django.db import transaction
from django.urls import reverse

from assessments import workflow
from assessments.models import (
    Assessment,
    ExportJob,
    IndicatorReview,
    Publication,
    Review,
    Snapshot,
    Transition,
)

from .test_access_matrix import drive as drive_to
from .test_access_matrix import entry_post, fresh_client, make_reviewer, valid_assessment

pytestmark = [pytest.mark.django_db, pytest.mark.exhaustive]

S = Assessment.State
STATES = ["draft", "submitted", "forwarded", "in_review", "returned", "approved", "published"]
ROLES = ["officer_a", "officer_b", "supervisor", "reviewer_a", "reviewer_x", "bureau", "admin", "sysadmin", "secadmin",
         "auditor", "system"]
# Never an administrator (issue 18): not the superuser ("admin"), not the three administrator roles.
REVIEWERS = {"reviewer_a", "bureau"}
ADMINISTRATORS = {"admin", "sysadmin", "secadmin", "auditor"}

# Two configurations (issue 14): "direct" — the round does not ask for 初审 (unit A has a 主管部门
# all the same: its 主管部门审核人 may do nothing); "supervised" — it does: the 主管部门审核人 of
# unit A returns or forwards a submission, and the bureau reviews only what was forwarded.
CONFIGS = ("direct", "supervised")

# The transition table as the issue and DESIGN state it: action → (sources, target, who).
DIRECT = {
    "submit": ({"draft", "returned"}, "submitted", {"officer_a"}),
    "withdraw": ({"submitted"}, "draft", {"officer_a"}),
    "forward": ({"submitted"}, "forwarded", set()),
    "pre_return": ({"submitted"}, "returned", set()),
    "start_review": ({"submitted"}, "in_review", REVIEWERS),
    "return": ({"in_review"}, "returned", REVIEWERS),
    "approve": ({"in_review"}, "approved", REVIEWERS),
    "publish": ({"approved"}, "published", {"system"}),
    "unpublish": ({"published"}, "approved", REVIEWERS),
    # Issue 16: a published report goes back to its unit for a correction (published as version 2).
    "correct": ({"published"}, "returned", REVIEWERS),
}
SUPERVISED = {
    **DIRECT,
    "forward": ({"submitted"}, "forwarded", {"supervisor"}),
    "pre_return": ({"submitted"}, "returned", {"supervisor"}),
    "start_review": ({"forwarded"}, "in_review", REVIEWERS),
}
TABLES = {"direct": DIRECT, "supervised": SUPERVISED}
TABLE = DIRECT  # the shape of every table (its actions)
# The states each configuration reaches (without 初审 nothing is ever forwarded).
CASES = [("direct", s) for s in STATES if s != "forwarded"] + [("supervised", s) for s in STATES]
COMMENT = "请补充说明。"


def allowed(state, action, role, config="direct") -> bool:
    sources, _, who = TABLES[config][action]
    return state in sources and role in who


def test_the_table_is_the_one_the_workflow_enforces():
    assert set(S.values) == set(STATES)
    declared = {name: (DIRECT[name][0] | SUPERVISED[name][0], DIRECT[name][1]) for name in DIRECT}
    assert {name: ({str(s) for s in a.sources}, str(a.target)) for name, a in workflow.ACTIONS.items()} == declared
    assert workflow.OFFICER_ACTIONS == {"submit", "withdraw"}
    assert workflow.SUPERVISOR_ACTIONS == {"forward", "pre_return"}
    assert workflow.REVIEWER_ACTIONS == {"start_review", "return", "approve", "unpublish", "correct"}
    assert workflow.SYSTEM_ACTIONS == {"publish"}
    assert {n for n, a in workflow.ACTIONS.items() if a.comment_required} == {"return", "pre_return", "unpublish", "correct"}


@pytest.fixture
def roles(settings, tmp_path, unit_a, unit_b, alice, bob, system_admin, security_admin, audit_admin):
    from django.contrib.auth.models import User

    settings.MEDIA_ROOT = tmp_path / "media"
    return {
        "officer_a": alice,
        "officer_b": bob,
        "supervisor": _supervisor(unit_a, unit_b),
        "reviewer_a": make_reviewer("carol", unit_a),
        "reviewer_x": make_reviewer("dave", unit_b),
        "bureau": make_reviewer("bureau", bureau_wide=True),
        "admin": User.objects.create_superuser("root"),
        "sysadmin": system_admin,
        "secadmin": security_admin,
        "auditor": audit_admin,
        "system": None,
    }


def _supervisor(unit_a, unit_b):
    """The 主管部门审核人 of unit A: a member of the unit that supervises A (not B)."""
    from django.contrib.auth.models import User

    from assessments.models import Membership, Unit

    head = Unit.objects.create(name="主管部门（测试）", region=unit_a.region)
    Unit.objects.filter(pk=unit_a.pk).update(supervisor_unit=head)
    user = User.objects.create_user("zhuguan", first_name="主管部门审核人")
    Membership.objects.create(user=user, unit=head, role=Membership.Role.SUPERVISOR)
    return user


@pytest.fixture
def subject(request, roles, unit_a, round_2020):
    """An assessment of unit A, taken to the state of the test through the real workflow, in
    the test's configuration (the round asks for 初审 or not)."""
    config, state = request.param
    round_2020.supervisor_review = config == "supervised"
    round_2020.save()
    a = valid_assessment(unit_a, round_2020, "流转测试项目", user=roles["officer_a"])
    a = drive_to(a, state, officer=roles["officer_a"], reviewer=roles["reviewer_a"],
                 supervisor=roles["supervisor"] if config == "supervised" else None)
    a.config = config
    return a


def db_state(a) -> dict:
    """Everything a transition may write, for before/after comparison."""
    return {
        "assessment": Assessment.objects.filter(pk=a.pk).values().get(),
        "transitions": list(Transition.objects.filter(assessment=a).order_by("id").values()),
        "snapshots": list(Snapshot.objects.filter(assessment=a).order_by("id").values("id", "number", "transition_id")),
        "reviews": list(Review.objects.filter(assessment=a).order_by("id").values()),
        "review_rows": list(IndicatorReview.objects.filter(review__assessment=a).order_by("id").values()),
        "export_jobs": list(ExportJob.objects.filter(assessment=a).order_by("id").values()),
        "publication": list(Publication.objects.filter(assessment=a).values()),
    }


def check_success(a, before, action, role_user, comment):
    """One new transition from the old state to the action's target, by the user, with the comment."""
    after = db_state(a)
    sources, target, _ = TABLE[action]
    new = after["transitions"][len(before["transitions"]):]
    assert [(t["action"], t["from_state"], t["to_state"], t["actor_id"], t["comment"]) for t in new] == [
        (action, before["assessment"]["state"], target, role_user.pk if role_user else None, comment)
    ]
    assert after["transitions"][: len(before["transitions"])] == before["transitions"]
    assert after["assessment"]["state"] == target
    assert after["assessment"]["version"] == before["assessment"]["version"] + 1
    assert len(after["snapshots"]) == len(before["snapshots"]) + (action == "submit")
    assert len(after["reviews"]) == len(before["reviews"]) + (action in ("start_review", "forward", "pre_return"))
    assert len(after["export_jobs"]) == len(before["export_jobs"]) + (action == "approve")
    if action in ("return", "approve", "forward", "pre_return"):
        decided = after["reviews"][-1]
        assert (decided["decision"], decided["comment"]) == (
            {"return": "returned", "approve": "approved", "forward": "approved", "pre_return": "returned"}[action], comment)
        assert decided["level"] == ("supervisor" if action in ("forward", "pre_return") else "bureau")


def attempt(fn):
    """Run `fn` in a savepoint that is always rolled back."""
    with transaction.atomic():
        try:
            return fn()
        finally:
            transaction.set_rollback(True)


# --- workflow.perform --------------------------------------------------------------------------


@pytest.mark.parametrize("subject", CASES, indirect=True, ids=[f"{c}-{s}" for c, s in CASES])
def test_perform_every_action_as_every_role(subject, roles):
    state, config = subject.state, subject.config
    outcomes = {}
    for action in TABLE:
        for role in ROLES:
            user = roles[role]
            for comment in ([COMMENT, ""] if workflow.ACTIONS[action].comment_required else [COMMENT]):

                def run(user=user, action=action, comment=comment):
                    a = Assessment.objects.get(pk=subject.pk)
                    before = db_state(a)
                    may = workflow.allowed(user, a, action)
                    try:
                        workflow.perform(user, a, action, comment)
                    except workflow.TransitionRefused as exc:
                        assert db_state(a) == before, (action, user, comment)
                        return may, "refused", str(exc)
                    check_success(a, before, action, user, comment)
                    return may, "done", a.state

                outcomes[(action, role, bool(comment))] = attempt(run)

    wrong = []
    for (action, role, commented), (may, outcome, detail) in outcomes.items():
        expected = allowed(state, action, role, config) and commented
        if (outcome == "done") != expected or may != allowed(state, action, role, config):
            wrong.append(f"{config} {state} {action} as {role} (comment={commented}): {outcome} {detail}, allowed()={may}")
        if outcome == "refused":
            label = workflow.ACTIONS[action].label
            table = TABLES[config]
            if role not in table[action][2]:
                assert detail == f"您无权对该自评执行“{label}”。", (action, role)
            elif (action, state) == ("withdraw", "in_review"):
                assert detail == workflow.WITHDRAW_IN_REVIEW, (action, role)  # the officer is told why (issue 17)
            elif state not in table[action][0] and action == "start_review" and state == "submitted":
                assert detail == "该自评须先经主管部门初审，转报后才能开始复核。", (action, role)
            elif state not in table[action][0]:
                assert detail == f"当前状态为“{S(state).label}”，不能执行“{label}”。", (action, role)
            else:
                assert detail == f"“{label}”须填写意见。", (action, role)
    assert wrong == []
    assert Assessment.objects.get(pk=subject.pk).state == state


def test_unknown_action_is_refused(roles, unit_a, round_2020):
    a = valid_assessment(unit_a, round_2020, "未知操作", user=roles["officer_a"])
    before = db_state(a)
    with pytest.raises(workflow.TransitionRefused, match="未知的操作。"):
        workflow.perform(roles["admin"], a, "delete")
    assert db_state(a) == before


# --- the pages ---------------------------------------------------------------------------------


def review_post(a, action) -> dict:
    """The review page's form with one empty row per indicator of the latest submission."""
    snapshot = Snapshot.objects.filter(assessment=a).order_by("-number").first()
    keys = [i["key"] for i in snapshot.data["indicators"]] if snapshot else []
    data = {
        "action": action, "comment": COMMENT, "reason": COMMENT,
        "review-TOTAL_FORMS": str(len(keys)), "review-INITIAL_FORMS": str(len(keys)),
        "review-MIN_NUM_FORMS": "0", "review-MAX_NUM_FORMS": "1000",
    }
    for n, key in enumerate(keys):
        data.update({f"review-{n}-key": key, f"review-{n}-actual": "", f"review-{n}-outcome": "",
                     f"review-{n}-score": "", f"review-{n}-note": ""})
    return data


def officer_endpoints(a):
    """(action, url, data) of every page an officer changes the state with."""
    submit_by_form = {**entry_post(a), "action": "submit", "comment": COMMENT}
    return [
        ("submit", reverse("assessments:submit", args=[a.pk]), {"comment": COMMENT}),
        ("withdraw", reverse("assessments:withdraw", args=[a.pk]), {"comment": COMMENT}),
        ("submit", reverse("assessments:edit", args=[a.pk]), submit_by_form),
    ]


def reviewer_endpoints(a):
    url = reverse("assessments:review", args=[a.pk])
    return [(action, url, review_post(a, action)) for action in ("start_review", "return", "approve", "unpublish",
                                                                  "publish")]


def supervisor_endpoints(a):
    url = reverse("assessments:supervise_detail", args=[a.pk])
    return [(action, url, review_post(a, action)) for action in ("forward", "pre_return")]


def expected_page(state, action, role, url, a, config="direct"):
    """(status, Location or None, error message or None) the page should answer."""
    detail = reverse("assessments:detail", args=[a.pk])
    review = reverse("assessments:review", args=[a.pk])
    label = S(state).label
    if "/supervise/" in url:
        if role != "supervisor":
            return 403, None, None  # not a 主管部门审核人
        if state == "draft":
            return 404, None, None  # never a draft
        page = reverse("assessments:supervise_detail", args=[a.pk])
        if allowed(state, action, role, config):
            return 302, page, None
        return 302, page, f"该自评当前状态为“{label}”，不能初审。"
    if "/review/" in url:
        if role in ("officer_a", "officer_b", "supervisor") or role in ADMINISTRATORS:
            return 403, None, None  # not a reviewer
        if role == "reviewer_x" or state == "draft":
            return 404, None, None  # not their unit / reviewers never see drafts
        if action == "publish":
            return 302, review, "未知的操作。"  # only the export job publishes
        if allowed(state, action, role, config):
            return 302, review, None
        if action in ("return", "approve") and allowed(state, "start_review", role, config):
            return 302, review, None  # the first 复核 save starts the review, then decides (issue 17)
        if action in ("return", "approve"):
            return 302, review, f"该自评当前状态为“{label}”，不能保存复核。"
        if action == "start_review" and state == "submitted":
            return 302, review, "该自评须先经主管部门初审，转报后才能开始复核。"
        return 302, review, f"当前状态为“{label}”，不能执行“{workflow.ACTIONS[action].label}”。"
    if role != "officer_a":
        return 404, None, None
    if url.endswith("/edit/") and state not in ("draft", "returned"):
        return 403, None, None  # the form is not editable: the detail page with the reason
    if allowed(state, action, role, config):
        return 302, detail, None
    if (action, state) == ("withdraw", "in_review"):
        return 302, detail, workflow.WITHDRAW_IN_REVIEW
    return 302, detail, f"当前状态为“{label}”，不能执行“{workflow.ACTIONS[action].label}”。"


@pytest.mark.parametrize("subject", CASES, indirect=True, ids=[f"{c}-{s}" for c, s in CASES])
def test_pages_allow_exactly_what_the_table_allows(subject, roles):
    state, config = subject.state, subject.config
    wrong = []
    for role in ROLES:
        if role == "system":
            continue  # no page acts as the system
        user = roles[role]
        for action, url, data in officer_endpoints(subject) + reviewer_endpoints(subject) + supervisor_endpoints(subject):

            def run(user=user, url=url, data=data):
                a = Assessment.objects.get(pk=subject.pk)
                before = db_state(a)
                response = fresh_client(user).post(url, data)
                errors = [str(m) for m in get_messages(response.wsgi_request) if m.level_tag == "error"]
                return response, before, db_state(a), errors

            response, before, after, errors = attempt(run)
            status, location, message = expected_page(state, action, role, url, subject, config)
            got = (response.status_code, response.get("Location"), errors[0] if errors else None)
            if got != (status, location, message):
                wrong.append(f"{state}: POST {url} action={action} as {role}: expected "
                             f"{(status, location, message)}, got {got}")
                continue
            if status == 302 and message is None:
                a = Assessment.objects.get(pk=subject.pk)
                assert after["assessment"]["state"] == TABLES[config][action][1], (action, role)
                # The first 复核 save starts the review, then decides (issue 17): one transition more.
                started = action in ("return", "approve") and allowed(state, "start_review", role, config)
                assert len(after["transitions"]) == len(before["transitions"]) + 1 + started, (action, role)
                assert after["transitions"][-1]["actor_id"] == user.pk
                assert a.state == state  # rolled back
            else:
                if after != before:
                    wrong.append(f"{state}: POST {url} action={action} as {role} changed the database")
                if status == 403 and url.endswith("/edit/"):
                    body = response.content.decode()
                    assert f"该自评当前状态为“{S(state).label}”，不能修改。" in body
    assert wrong == []
