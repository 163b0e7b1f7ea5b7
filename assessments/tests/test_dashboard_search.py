"""Reviewers search what they review (issue 12, finding 10): the dashboard's search matches the
name a returned assessment was submitted under, never the officer's unsubmitted draft."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from assessments.models import Assessment, Snapshot

from .helpers import form_data

pytestmark = pytest.mark.django_db

SUBMITTED = "四型平安小区以奖代拨经费"
DRAFT = "草稿中的新名称XJ7Q"


@pytest.fixture
def demo(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", force=True, stdout=io.StringIO())


def found(client, q) -> list[str]:
    response = client.get(reverse("assessments:dashboard"), {"q": q})
    assert response.status_code == 200
    return [a.project_name for a in response.context["page"]]


def test_search_matches_the_submitted_name_not_the_draft(client, demo):
    returned = Assessment.objects.get(project_name=SUBMITTED, state="returned")
    assert Snapshot.objects.filter(assessment=returned).latest("number").data["header"]["project_name"] == SUBMITTED

    # The officer renames the returned assessment in the draft and saves, without resubmitting.
    client.force_login(User.objects.get(username="nanyue"))
    edit = reverse("assessments:edit", args=[returned.pk])
    data = form_data(client.get(edit))
    data["header-project_name"] = DRAFT
    assert client.post(edit, data).status_code == 302
    assert Assessment.objects.get(pk=returned.pk).project_name == DRAFT

    client.force_login(User.objects.get(username="caizheng"))
    assert found(client, "XJ7Q") == []
    assert found(client, DRAFT) == []
    assert found(client, "四型平安") == [SUBMITTED]  # shown under its submitted name, as the row reads
    assert found(client, SUBMITTED) == [SUBMITTED]
    # Other states are searched by their name as before (it cannot change while submitted).
    assert found(client, "综治、平安建设") == ["综治、平安建设经费"]
    assert sorted(found(client, "南岳区委政法")) == sorted(
        a.project_name if a.state != "returned" else SUBMITTED
        for a in Assessment.objects.filter(unit__short_name="南岳区委政法委").exclude(state="draft")
    )


def test_after_resubmission_the_new_name_is_what_is_searched(client, demo, django_capture_on_commit_callbacks):
    returned = Assessment.objects.get(project_name=SUBMITTED, state="returned")
    officer = User.objects.get(username="nanyue")
    client.force_login(officer)
    edit = reverse("assessments:edit", args=[returned.pk])
    data = form_data(client.get(edit))
    data["header-project_name"] = DRAFT
    data["action"] = "submit"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(edit, data).status_code == 302
    assert Assessment.objects.get(pk=returned.pk).state == "submitted"

    client.force_login(User.objects.get(username="caizheng"))
    assert found(client, "XJ7Q") == [DRAFT]
    assert found(client, "四型平安") == []
