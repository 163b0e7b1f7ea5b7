"""Issue 12, finding 11 (gaps): events that were not logged before.

Draft create and save, import confirm, bulk ZIP request and download, a reviewer opening a
submission, a failed password change and a CSRF failure each write one audit row, with who,
where from, what and the outcome.
"""

import pytest
from django.test import Client
from django.urls import reverse

from assessments import workflow
from assessments.models import Assessment, AuditEvent, BulkExport

from .conftest import PASSWORD
from .helpers import edit_url, form_data
from .test_export_jobs import make_project
from .test_import import import_via_views, new_pk, seed_001_workbook, to_bytes

pytestmark = pytest.mark.django_db

IP = "192.0.2.15"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def client_for(user, ip=IP, **kwargs) -> Client:
    client = Client(REMOTE_ADDR=ip, **kwargs)
    client.force_login(user)
    return client


def rows(action) -> list[tuple]:
    return list(
        AuditEvent.objects.filter(action=action).order_by("id")
        .values_list("actor_username", "ip", "unit_id", "object_type", "object_id", "outcome", "details")
    )


def test_draft_create_and_save(alice, unit_a, round_2020):
    round_2020.is_open = True
    round_2020.save()
    client = client_for(alice)
    response = client.post(reverse("assessments:create"), {
        "unit": unit_a.pk, "round": round_2020.pk, "layout": "project", "project_name": "雪亮工程",
    })
    a = Assessment.objects.get(project_name="雪亮工程")
    assert response["Location"] == edit_url(a)
    assert rows("assessment.create") == [
        ("alice", IP, unit_a.pk, "assessment", str(a.pk), "ok", {"title": "2020年度雪亮工程绩效自评", "carry_from": None}),
    ]

    data = form_data(client.get(edit_url(a)))
    data["leader_phone"] = "0731-84123456"
    assert client.post(edit_url(a), data).status_code == 302
    assert rows("assessment.save") == [("alice", IP, unit_a.pk, "assessment", str(a.pk), "ok", {"version": 2})]
    # A stale save is refused and writes no row.
    assert client.post(edit_url(a), data).status_code == 409
    assert len(rows("assessment.save")) == 1


def test_import_confirm(alice, unit_a):
    from assessments.models import Round

    Round.objects.create(year=2022, title="2022年度绩效自评")
    client = client_for(alice)
    _, confirm = import_via_views(client, to_bytes(seed_001_workbook()))
    pk = new_pk(confirm)
    assert rows("import.confirm") == [
        ("alice", IP, unit_a.pk, "assessment", str(pk), "ok", {"filename": "自评表.xlsx", "created": True}),
    ]


def test_reviewer_opening_a_submission(alice, reviewer, unit_a, round_2020):
    project = make_project(unit_a, round_2020, "雪亮工程")
    bureau = client_for(reviewer, ip="192.0.2.99")
    workflow.perform(alice, project, "submit")
    assert bureau.get(reverse("assessments:review", args=[project.pk])).status_code == 200
    assert rows("review.open") == [
        ("reviewer", "192.0.2.99", unit_a.pk, "assessment", str(project.pk), "ok", {"state": "submitted"}),
    ]


def test_bulk_zip_request_and_download(reviewer, round_2020, django_capture_on_commit_callbacks):
    bureau = client_for(reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        assert bureau.post(reverse("assessments:bulk"), {"round": str(round_2020.pk)}).status_code == 302
    job = BulkExport.objects.get()
    assert job.status == "done"
    assert rows("bulk.request") == [
        ("reviewer", IP, None, "bulkexport", str(job.pk), "ok", {"round": round_2020.pk, "year": 2020}),
    ]
    assert bureau.get(reverse("assessments:bulk_download", args=[job.pk])).status_code == 200
    assert rows("bulk.download") == [
        ("reviewer", IP, None, "bulkexport", str(job.pk), "ok", {"round": round_2020.pk, "year": 2020}),
    ]


@pytest.mark.parametrize(
    "old, new, reason",
    [
        ("Wrong-Old-Pass-1", "Xin-Mima-2025!", "password_incorrect"),
        (PASSWORD, "Qz9!", "password_too_short"),
        (PASSWORD, "ALICE-alice-2025", "password_contains_username"),
    ],
)
def test_failed_password_change(alice, old, new, reason):
    client = client_for(alice)
    response = client.post(reverse("password_change"), {"old_password": old, "new_password1": new, "new_password2": new})
    assert response.status_code == 400
    assert rows("auth.password_change_failed") == [("alice", IP, None, "", "", "failed", {"reason": reason})]
    dump = str(list(AuditEvent.objects.values()))
    assert old not in dump and new not in dump


def test_csrf_failure(alice, project):
    client = client_for(alice, enforce_csrf_checks=True)
    response = client.post(edit_url(project), {"action": "save"})
    assert response.status_code == 403
    assert rows("access.csrf_failed") == [
        ("alice", IP, None, "", "", "denied",
         {"path": edit_url(project), "method": "POST", "reason": "CSRF cookie not set."}),
    ]
    anonymous = Client(REMOTE_ADDR="198.51.100.7", enforce_csrf_checks=True)
    assert anonymous.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 403
    assert rows("access.csrf_failed")[-1] == (
        "", "198.51.100.7", None, "", "", "denied", {"path": "/login/", "method": "POST", "reason": "CSRF cookie not set."},
    )


def test_the_new_events_have_chinese_labels_and_can_be_filtered(alice, reviewer, unit_a, round_2020, audit_admin):
    project = make_project(unit_a, round_2020, "雪亮工程")
    workflow.perform(alice, project, "submit")
    client_for(reviewer).get(reverse("assessments:review", args=[project.pk]))
    page = client_for(audit_admin).get("/audit/", {"action": "review"})
    assert [(e.action, e.action_label) for e in page.context["page"]] == [("review.open", "审核人查看提交")]
    assert '<option value="review.open">审核人查看提交</option>' in page.content.decode()
