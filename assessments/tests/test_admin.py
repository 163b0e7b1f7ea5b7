"""The 系统管理员 manages units, people, reviewer assignments and rounds in the Django admin; the
assessments themselves are the business roles' (issue 18)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from assessments.models import ReviewerAssignment, Round, TableTemplate

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, system_admin):
    client.force_login(system_admin)
    return client


@pytest.mark.parametrize(
    "model, status",
    [
        ("region", 200), ("unit", 200), ("membership", 200), ("round", 200), ("scoringruleset", 200),
        ("reviewerassignment", 200), ("tabletemplate", 200),
        # Assessment content, reviews and submissions: not the 系统管理员's.
        ("assessment", 403), ("review", 403), ("snapshot", 403), ("auditevent", 403),
    ],
)
def test_admin_lists_open(admin_client, unit_a, department, model, status):
    response = admin_client.get(reverse(f"admin:assessments_{model}_changelist"))
    assert response.status_code == status


def test_superuser_sees_the_assessments_in_an_emergency(client, department):
    client.force_login(User.objects.create_superuser("root", "root@example.gov.cn", "Admin-Pass-2024"))
    for model in ("assessment", "review", "snapshot"):
        assert client.get(reverse(f"admin:assessments_{model}_changelist")).status_code == 200


def test_admin_pages_in_chinese(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "单位、人员、评价批次与安全策略管理" in html
    assert "审核分工" in html


def test_admin_assigns_a_unit_to_a_reviewer(admin_client, unit_a, reviewer):
    response = admin_client.post(
        reverse("admin:assessments_reviewerassignment_add"), {"reviewer": reviewer.pk, "unit": unit_a.pk}
    )
    assert response.status_code == 302
    assert list(ReviewerAssignment.objects.values_list("reviewer__username", "unit__name")) == [
        ("reviewer", "中共长沙市岳麓区委员会政法委员会")
    ]


def test_admin_opens_a_round_and_assigns_its_project_template(admin_client):
    provincial = TableTemplate.objects.get(code="provincial-project")
    response = admin_client.post(
        reverse("admin:assessments_round_add"),
        {
            "year": "2024", "title": "2024年度绩效自评", "deadline": "2025-03-31", "is_open": "on",
            "disclosure_days": "20",  # 公开时限 (issue 16), as the form offers it
            "template_assignments-TOTAL_FORMS": "1", "template_assignments-INITIAL_FORMS": "0",
            "template_assignments-0-kind": "project", "template_assignments-0-region": "",
            "template_assignments-0-template": str(provincial.pk),
            # 结果应用规则 (issue 15): one rule; without rules the defaults apply.
            "application_rules-TOTAL_FORMS": "1", "application_rules-INITIAL_FORMS": "0",
            "application_rules-0-position": "1", "application_rules-0-grade": "中",
            "application_rules-0-advice": "reduce", "application_rules-0-reduce_percent": "15",
        },
    )
    assert response.status_code == 302
    round_ = Round.objects.get()
    assert list(round_.application_rules.values_list("grade", "advice", "reduce_percent")) == [("中", "reduce", Decimal("15.00"))]
    assert round_.title == "2024年度绩效自评"
    assert list(round_.template_assignments.values_list("kind", "region", "template__code")) == [
        ("project", None, "provincial-project")
    ]


def test_assessment_content_is_read_only_in_admin(client, department):
    client.force_login(User.objects.create_superuser("root", "root@example.gov.cn", "Admin-Pass-2024"))
    response = client.post(reverse("admin:assessments_assessment_change", args=[department.pk]), {"state": "approved"})
    assert response.status_code == 403
    department.refresh_from_db()
    assert department.state == "draft"


def test_officer_cannot_open_admin(client, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
