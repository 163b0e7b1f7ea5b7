"""Issue 14: the 主管部门 level — 初审 (return or forward) before the bureau's 复核."""

from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments import workflow
from assessments.models import Assessment, Membership, Review, Transition, Unit

from .conftest import PASSWORD, make_officer
from .helpers import without_countdown
from .test_access_matrix import valid_assessment
from .test_workflow_matrix import review_post

pytestmark = pytest.mark.django_db
S = Assessment.State


@pytest.fixture
def supervised(region, round_2020, unit_a, unit_b):
    """主管部门 S supervises A and B; the round asks for 初审."""
    from django.contrib.auth.models import User

    head = Unit.objects.create(name="中共长沙市岳麓区委员会", short_name="岳麓区委", region=region)
    Unit.objects.filter(pk__in=[unit_a.pk, unit_b.pk]).update(supervisor_unit=head)
    round_2020.supervisor_review = True
    round_2020.save()
    user = User.objects.create_user("zhuguan", password=PASSWORD, first_name="区委初审人", email="zhuguan@example.cn")
    Membership.objects.create(user=user, unit=head, role=Membership.Role.SUPERVISOR)
    return user


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def pre_review_post(a, action, comment="", scores=None):
    data = review_post(a, action)
    data["comment"] = comment
    for n, score in (scores or {}).items():
        data[f"review-{n}-score"], data[f"review-{n}-note"] = score, "初审核减"
    return data


def test_the_submission_goes_to_the_supervisor_first(supervised, unit_a, round_2020, alice, reviewer,
                                                     django_capture_on_commit_callbacks):
    alice.email, reviewer.email = "alice@example.cn", "bureau@example.cn"
    alice.save()
    reviewer.save()
    a = valid_assessment(unit_a, round_2020, "综治经费", user=alice)
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).post(reverse("assessments:submit", args=[a.pk]), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["已提交，等待主管部门初审（初审通过后转报财政局复核）。初审开始前可撤回。"]
    assert [m.to for m in mail.outbox] == [["zhuguan@example.cn"]]
    a.refresh_from_db()

    with pytest.raises(workflow.TransitionRefused, match="该自评须先经主管部门初审，转报后才能开始复核。"):
        workflow.perform(reviewer, a, "start_review")

    zhuguan = client_for(supervised)
    url = reverse("assessments:supervise_detail", args=[a.pk])
    assert zhuguan.get(url).status_code == 200
    response = zhuguan.post(url, pre_review_post(a, "pre_return"))
    assert response.status_code == 400
    assert response.context["errors"] == ["初审意见：初审退回须填写初审意见。"]
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        zhuguan.post(url, pre_review_post(a, "pre_return", "请补充宣传活动的佐证材料。", {0: "40"}))
    a.refresh_from_db()
    assert a.state == S.RETURNED
    assert [(m.to, m.subject) for m in mail.outbox] == [(["alice@example.cn"], "【绩效自评】“2020年度综治经费绩效自评”被主管部门初审退回")]
    review = Review.objects.get(assessment=a)
    assert (review.level, review.decision, review.comment, review.reviewer) == ("supervisor", "returned", "请补充宣传活动的佐证材料。", supervised)
    assert [(r.score, r.note) for r in review.rows.all()] == [(Decimal("40.00"), "初审核减")]
    page = client_for(alice).get(reverse("assessments:detail", args=[a.pk])).content.decode()
    assert "主管部门初审退回（区委初审人，" in page and "审核意见：请补充宣传活动的佐证材料。" in page

    # Resubmitted with a change: the 主管部门 sees the diff, forwards; the bureau sees both levels.
    from assessments.models import Indicator

    Indicator.objects.filter(assessment=a, position=1).update(actual="11次")
    workflow.perform(alice, a, "submit")
    response = zhuguan.get(url)
    assert [(c.field, c.before, c.after) for c in response.context["changes"]] == [("全年实际完成值", "10次", "11次")]
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        zhuguan.post(url, pre_review_post(a, "forward", "同意转报。", {0: "45", 1: "30", 2: "10"}))
    a.refresh_from_db()
    assert a.state == S.FORWARDED
    assert [m.to for m in mail.outbox] == [["bureau@example.cn"]]
    assert mail.outbox[0].subject == f"【绩效自评】{unit_a.name}的“2020年度综治经费绩效自评”已通过主管部门初审，请复核"

    workflow.perform(reviewer, a, "start_review")
    bureau = client_for(reviewer)
    with CaptureQueriesContext(connection) as queries:
        response = bureau.get(reverse("assessments:review", args=[a.pk]))
    # The reviews of both levels in one statement (issue 17): the pending 复核, the 初审 of the
    # submission shown, the decided ones listed.
    assert len([q for q in queries if q["sql"].startswith('SELECT "assessments_review"."id"')]) == 1
    assert (response.context["review"].level, response.context["review"].decision) == ("bureau", "pending")
    assert [(p["review"].level, p["review"].decision) for p in response.context["past_reviews"]] == [
        ("supervisor", "approved"), ("supervisor", "returned")]
    assert response.context["pre_review"].comment == "同意转报。"
    assert {k: r.score for k, r in response.context["pre_rows"].items()} == {
        str(i.key): w for i, w in zip(a.indicators.order_by("position"), [Decimal("45.00"), Decimal("30.00"), Decimal("10.00")], strict=True)
    }
    page = response.content.decode()
    assert "主管部门初审：审核通过" in page and "初审意见：同意转报。" in page
    workflow.perform(reviewer, a, "approve")
    a.refresh_from_db()
    assert a.state == S.APPROVED
    assert list(Transition.objects.filter(assessment=a).values_list("action", flat=True)) == [
        "submit", "pre_return", "submit", "forward", "start_review", "approve"]
    assert list(Review.objects.filter(assessment=a).order_by("number").values_list("level", "decision")) == [
        ("supervisor", "returned"), ("supervisor", "approved"), ("bureau", "approved")]


def test_without_the_round_asking_the_bureau_reviews_directly(supervised, unit_a, round_2020, alice, reviewer):
    round_2020.supervisor_review = False
    round_2020.save()
    a = valid_assessment(unit_a, round_2020, "综治经费", user=alice)
    workflow.perform(alice, a, "submit")
    with pytest.raises(workflow.TransitionRefused, match="您无权对该自评执行“初审通过并转报”。"):
        workflow.perform(supervised, a, "forward")
    workflow.perform(reviewer, a, "start_review")
    assert Assessment.objects.get(pk=a.pk).state == S.IN_REVIEW


def test_a_supervisor_sees_only_submissions_of_its_units(supervised, unit_a, round_2020, alice, region):
    other = Unit.objects.create(name="长沙市岳麓区其他单位", region=region)
    officer = make_officer("other", other)
    draft = valid_assessment(unit_a, round_2020, "草稿项目", user=alice)
    theirs = valid_assessment(other, round_2020, "别家项目", user=officer)
    workflow.perform(officer, theirs, "submit")
    zhuguan = client_for(supervised)
    assert zhuguan.get(reverse("assessments:supervise_detail", args=[draft.pk])).status_code == 404
    assert zhuguan.get(reverse("assessments:supervise_detail", args=[theirs.pk])).status_code == 404
    assert client_for(alice).get(reverse("assessments:supervise")).status_code == 403


def _world(region, round_2020, n):
    from django.contrib.auth.models import User

    head = Unit.objects.create(name=f"主管部门{n}", region=region)
    user = User.objects.create_user(f"zhuguan{n}", password=PASSWORD)
    Membership.objects.create(user=user, unit=head, role=Membership.Role.SUPERVISOR)
    for i in range(n):
        unit = Unit.objects.create(name=f"所属单位{n}-{i}", region=region, supervisor_unit=head)
        officer = make_officer(f"o{n}-{i}", unit)
        a = valid_assessment(unit, round_2020, "项目", user=officer)
        workflow.perform(officer, a, "submit")
        valid_assessment(unit, round_2020, "另一个项目", user=officer)
    return user


@pytest.mark.parametrize("page", ["supervise", "todo"])
def test_rollup_and_todo_query_counts_do_not_grow_with_the_units(region, round_2020, page):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    round_2020.supervisor_review = True
    round_2020.save()
    counts, sizes = [], []
    for n in (1, 30):
        client = client_for(_world(region, round_2020, n))
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse(f"assessments:{page}"))
        assert response.status_code == 200
        counts.append(len(ctx))
        if page == "supervise":
            sizes.append((len(response.context["rows"]), response.context["totals"][:2], len(response.context["waiting"])))
        else:
            sizes.append([(s.key, s.count) for s in response.context["sections"]])
    assert counts[0] == counts[1]
    if page == "supervise":
        assert sizes == [(1, [1, 1], 1), (30, [30, 30], 30)]
    else:
        assert sizes == [[("pre_review", 1)], [("pre_review", 30)]]


def test_a_supervisor_lands_on_the_rollup(supervised):
    assert client_for(supervised).get(reverse("home"))["Location"] == reverse("assessments:supervise")


def test_a_supervisor_loads_the_approved_targets_of_its_units(supervised, unit_a, round_2020, region):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from assessments.models import TargetSet

    from .season_helpers import target_workbook

    other = Unit.objects.create(name="长沙市岳麓区其他单位", region=region)
    data = target_workbook([{"title": "甲", "project": "综治经费", "implementer": unit_a.name},
                            {"title": "外", "project": "别家经费", "implementer": other.name}])
    response = client_for(supervised).post(reverse("assessments:season_targets"),
                                           {"round": round_2020.pk, "file": SimpleUploadedFile("目标.xlsx", data)})
    assert response.status_code == 200
    assert list(TargetSet.objects.values_list("unit__name", "project_name")) == [(unit_a.name, "综治经费")]
    assert response.context["report"]["problems"] == [f"工作表“外”：实施单位“{other.name}”不是您可下达的预算单位。"]
    assert client_for(supervised).get(reverse("assessments:season")).status_code == 403


def test_each_opening_of_the_pre_review_page_is_audited_even_when_served_whole(supervised, unit_a, round_2020, alice):
    """The 初审 page is kept whole (ADR 0025); every opening still writes its `review.open` row."""
    from assessments.models import AuditEvent

    a = valid_assessment(unit_a, round_2020, "综治经费", user=alice)
    client_for(alice).post(reverse("assessments:submit", args=[a.pk]))
    zhuguan = client_for(supervised)
    zhuguan.get(reverse("assessments:todo"))  # the CSRF secret is made before the pages compared
    url = reverse("assessments:supervise_detail", args=[a.pk])
    pages = [zhuguan.get(url) for _ in range(3)]
    assert [bool(p.templates) for p in pages] == [True, False, False]
    assert without_countdown(pages[2].content) == without_countdown(pages[1].content)
    opened = list(AuditEvent.objects.filter(action="review.open").order_by("seq", "id")
                  .values_list("actor_id", "unit_id", "object_id", "details"))
    assert opened == [(supervised.pk, unit_a.pk, str(a.pk), {"state": "submitted", "level": "supervisor"})] * 3
