"""Separation of duties (issue 18, 三员分立).

系统管理员, 安全管理员 and 审计管理员 are groups with fixed permissions; no administrator (the
emergency superuser included) reviews or approves; the 审计管理员 reads, exports and verifies the
audit log and changes nothing; no account holds two administrator roles or one with a business
role; the 安全策略 tightens the settings; the admin pages answer an allow-list; administrators
confirm their logins with a TOTP code when PORTAL_ADMIN_REQUIRE_OTP is on; every superuser login
is on the audit page.

The access matrix (test_access_matrix.py) and the workflow matrix (test_workflow_matrix.py) cover
every URL and every transition for the three roles too.
"""

import csv
import io
from base64 import b32encode
from html.parser import HTMLParser

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib.auth import password_validation
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from assessments import audit, roles, workflow
from assessments.models import (
    Assessment,
    AuditEvent,
    Membership,
    Review,
    ReviewerAssignment,
    SecurityPolicy,
    Transition,
)
from assessments.security import policy

from .conftest import PASSWORD
from .test_access_matrix import (  # noqa: F401 - fixtures
    MATRIX,
    POST_DATA,
    admin_url_args,
    call,
    cast,
    drive,
    media,
    url_of,
    valid_assessment,
    walk,
    world,
)

pytestmark = pytest.mark.django_db

SECOND_ROLE = "三员分立：同一账号不能同时担任系统管理员和审计管理员。"
ADMIN_REVIEWER = "三员分立：系统管理员不能同时担任审核人（审核人（全部单位）或审核分工）。"
ADMIN_OFFICER = "三员分立：审计管理员不能同时担任预算单位的填报人。"


def client_for(user, ip="10.0.0.9") -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.force_login(user)
    return client


class FormValues(HTMLParser):
    """The values a browser would post from the page's forms (inputs, checked boxes, selected options)."""

    def __init__(self):
        super().__init__()
        self.data, self.select, self.textarea = {}, None, None

    def add(self, name, value):
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.add(name, a.get("value", "on"))
            else:
                self.add(name, a.get("value", ""))
        elif tag == "select" and name:
            self.select = name
        elif tag == "option" and self.select and "selected" in a:
            self.add(self.select, a.get("value", ""))
        elif tag == "textarea" and name:
            self.textarea = name
            self.add(name, "")

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea][-1] += data.lstrip("\n") if not self.data[self.textarea][-1] else data


def page_form(response) -> dict:
    parser = FormValues()
    parser.feed(response.content.decode())
    parser.data.pop("csrfmiddlewaretoken", None)
    return parser.data


def errors_of(response) -> list[str]:
    """The error messages the admin's change form shows (field and form errors)."""
    form = response.context["adminform"].form
    found = [str(e) for errors in form.errors.values() for e in errors]
    for inline in response.context.get("inline_admin_formsets", []):
        found += [str(e) for f in inline.formset.forms for errors in f.errors.values() for e in errors]
        found += [str(e) for e in inline.formset.non_form_errors()]
    return found


def group(name) -> Group:
    return Group.objects.get(name=name)


# --- the roles -----------------------------------------------------------------------------------


def test_each_role_is_a_group_with_exactly_its_permissions():
    held = {
        g.name: sorted(f"{a}.{c}" for a, c in g.permissions.values_list("content_type__app_label", "codename"))
        for g in Group.objects.filter(name__in=roles.PERMISSIONS)
    }
    assert held == {role: sorted(f"{a}.{c}" for a, c in perms) for role, perms in roles.PERMISSIONS.items()}
    assert held["审计管理员"] == ["assessments.view_auditevent"]
    assert held["审核人（全部单位）"] == ["assessments.review_all"]
    # No administrator role holds a business permission or another role's duty.
    assert not {"assessments.review_all", "assessments.view_auditevent", "assessments.change_securitypolicy"} & set(
        held["系统管理员"])
    assert not {p for p in held["安全管理员"] if p.split(".")[1].split("_", 1)[-1] in (
        "assessment", "unit", "membership", "reviewerassignment", "round", "auditevent", "review_all")}
    assert not Group.objects.filter(name="审计员").exists()


def test_a_permission_added_to_a_role_by_hand_is_reported_and_put_back_by_migrate():
    group("系统管理员").permissions.add(Permission.objects.get(codename="review_all"))
    with pytest.raises(CommandError, match="1 个角色的权限与规定不符"):
        call_command("check_roles", stdout=(out := io.StringIO()))
    assert "角色“系统管理员”的权限与规定不符：多出 assessments.review_all；缺少 无（运行 manage.py migrate 可恢复）。" in out.getvalue()
    roles.sync_groups()  # what post_migrate does
    call_command("check_roles", stdout=(out := io.StringIO()))
    assert out.getvalue().splitlines()[-1] == "三员分立检查通过：没有角色冲突的账号，各角色的权限与规定一致。"


def test_groups_are_read_only_in_the_admin(system_admin, security_admin):
    audit_role = group("审计管理员")
    root = User.objects.create_superuser("root", password=PASSWORD)
    for user in (system_admin, security_admin, root):
        client = client_for(user)
        assert client.get(reverse("admin:auth_group_change", args=[audit_role.pk])).status_code == 200
        response = client.post(reverse("admin:auth_group_change", args=[audit_role.pk]),
                               {"name": "审计管理员", "permissions": [Permission.objects.get(codename="review_all").pk]})
        assert response.status_code == 403
        assert client.get(reverse("admin:auth_group_add")).status_code == 403
    assert list(audit_role.permissions.values_list("codename", flat=True)) == ["view_auditevent"]


# --- administrators never review ------------------------------------------------------------------


@pytest.fixture
def submitted(unit_a, round_2020, alice, reviewer, media):  # noqa: F811
    a = valid_assessment(unit_a, round_2020, "复核测试项目", user=alice)
    return drive(a, "submitted", officer=alice, reviewer=reviewer)


@pytest.fixture
def in_review(unit_a, round_2020, alice, reviewer, media):  # noqa: F811
    a = valid_assessment(unit_a, round_2020, "审核中项目", user=alice)
    return drive(a, "in_review", officer=alice, reviewer=reviewer)


def trail(a) -> tuple:
    return (
        Assessment.objects.filter(pk=a.pk).values_list("state", "version").get(),
        Transition.objects.filter(assessment=a).count(),
        list(Review.objects.filter(assessment=a).values_list("decision", "reviewer_id")),
    )


def test_an_administrator_cannot_review_or_approve(submitted, in_review, system_admin, security_admin, audit_admin):
    root = User.objects.create_superuser("root", password=PASSWORD)
    before = {a.pk: trail(a) for a in (submitted, in_review)}
    for user in (system_admin, security_admin, audit_admin, root):
        client = client_for(user)
        assert client.get(reverse("assessments:dashboard")).status_code == 403, user
        for a, action in ((submitted, "start_review"), (in_review, "approve"), (in_review, "return")):
            url = reverse("assessments:review", args=[a.pk])
            assert client.get(url).status_code == 403
            assert client.post(url, {"action": action, "comment": "管理员试图审核。"}).status_code == 403
            with pytest.raises(workflow.TransitionRefused) as refused:
                workflow.perform(user, Assessment.objects.get(pk=a.pk), action, "管理员试图审核。")
            label = workflow.ACTIONS[action].label
            assert str(refused.value) == f"您无权对该自评执行“{label}”。"
    assert {a.pk: trail(a) for a in (submitted, in_review)} == before
    denied = AuditEvent.objects.filter(action="access.denied", details__view="assessments:review")
    assert denied.count() == 4 * 6


def test_an_administrator_who_got_reviewer_rights_around_the_checks_still_cannot_review(
    in_review, unit_a, system_admin
):
    """Rows written below the model (SQL, a fixture) do not make an administrator a reviewer:
    the business checks read the roles too (and check_roles reports the account)."""
    ReviewerAssignment.objects.bulk_create([ReviewerAssignment(reviewer=system_admin, unit=unit_a)])
    User.user_permissions.through.objects.create(
        user=system_admin, permission=Permission.objects.get(codename="review_all"))
    before = trail(in_review)
    client = client_for(system_admin)
    url = reverse("assessments:review", args=[in_review.pk])
    assert client.post(url, {"action": "approve", "comment": ""}).status_code == 403
    assert client.get("/").status_code == 200  # the home page, not the dashboard
    assert trail(in_review) == before
    with pytest.raises(CommandError, match="三员分立检查未通过：1 个账号的角色冲突"):
        call_command("check_roles", stdout=(out := io.StringIO()))
    assert f"xitong：{ADMIN_REVIEWER}" in out.getvalue().splitlines()


# --- the 审计管理员 changes nothing --------------------------------------------------------------


SNAPSHOT_SKIPPED = {"assessments.auditevent", "assessments.auditchainlock", "sessions.session",
                    "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog", "admin.logentry"}


def database() -> dict:
    """Every row of every table, except the audit log, sessions and login bookkeeping (and each
    user's last login, which force_login sets)."""
    rows = {}
    for model in apps.get_models(include_auto_created=True):
        if model._meta.label_lower in SNAPSHOT_SKIPPED or model._meta.proxy:
            continue
        values = list(model.objects.order_by("pk").values())
        for row in values:
            row.pop("last_login", None)
        rows[model._meta.label_lower] = values
    return rows


# The auditor's own session: logging in and out (of the portal and the admin), its password
# (refused: empty form), the keep-alive, the TOTP page (not needed: back home).
PERSONAL = {"login", "logout", "admin:login", "admin:logout", "password_change", "session_keepalive", "otp_verify"}


def test_the_auditor_cannot_change_anything_anywhere(world):  # noqa: F811
    """Every URL of the URLconf (the portal's with real objects, the admin's with every pattern)
    posted as the 审计管理员: each refused, and the database exactly as before."""
    auditor = world.cast.auditor
    world.objects.build_all()  # the world is built on first use: all of it before the database is read
    before = database()
    answers = {}
    for name, key in MATRIX:
        obj = world.objects[key] if key else None
        url = url_of(name, obj)
        data = POST_DATA[name](world) if name in POST_DATA else None
        response = call(auditor, "POST", url, data)
        answers[(name, key)] = (response.status_code, response.get("Location"))
    for name, pattern, _ in walk():
        if name and name.startswith("admin:") and name not in ("admin:login", "admin:logout"):
            url = reverse(name, kwargs=admin_url_args(name, pattern, world.cast))
            response = call(auditor, "POST", url, {"post": "yes", "action": "delete_selected"})
            answers[(name, url)] = (response.status_code, response.get("Location"))
    # The same posts for real (not rolled back), then compare every table.
    for name, key in MATRIX:
        if name not in PERSONAL:
            client_for(auditor).post(url_of(name, world.objects[key] if key else None),
                                     POST_DATA[name](world) if name in POST_DATA else {})
    assert database() == before

    accepted = {}
    for (name, key), (status, location) in answers.items():
        if name in PERSONAL:
            continue
        refused = status in (403, 404, 405) or (
            status == 302 and (location.startswith(("/login/?next=", "/admin/login/?next=")) or location == "/")
        )
        if not refused:
            accepted[(name, key)] = (status, location)
    assert accepted == {}
    assert {name: answers[(name, None)] for name in PERSONAL} == {
        "login": (302, "/"), "logout": (302, "/login/"), "admin:login": (200, None), "admin:logout": (302, "/admin/"),
        "password_change": (400, None), "session_keepalive": (200, None), "otp_verify": (302, "/"),
    }


def test_the_auditor_reads_exports_and_verifies_the_log(audit_admin, alice):
    audit.record("auth.login", actor=alice)
    audit.record("workflow.submit", actor=alice, object_type="assessment", object_id=7,
                 details={"from": "draft", "to": "submitted", "comment": "=1+1"})
    client = client_for(audit_admin)
    page = client.get("/audit/", {"verify": "1"})
    assert page.status_code == 200
    assert '<a class="btn btn-sm btn-outline-secondary" id="audit-export" href="/audit/export.csv">' in page.content.decode()
    assert page.context["verification"].ok
    response = client.get("/audit/export.csv", {"actor": "alice"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff序号,时间,操作人账号,单位,IP 地址,事件,事件代码,对象类型,对象编号,结果,详情,前一条哈希,本条哈希")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:]
    events = list(AuditEvent.objects.filter(actor_username="alice").order_by("seq"))
    assert [(r[0], r[2], r[5], r[6], r[8], r[9], r[11], r[12]) for r in rows] == [
        (str(e.seq), "alice", e.action_label, e.action, e.object_id, "成功", e.prev_hash, e.row_hash) for e in events
    ]
    assert rows[1][10] == '{"comment": "=1+1", "from": "draft", "to": "submitted"}'
    export = AuditEvent.objects.filter(action="audit.export").get()
    assert (export.actor_username, export.details) == ("shenji", {"filters": {"actor": "alice"}})
    assert client.post("/audit/export.csv").status_code == 405


# --- no account holds two roles that must be separate ---------------------------------------------


def test_a_second_administrator_role_is_refused_with_a_message(system_admin, security_admin):
    # In the admin: the 安全管理员 chooses the roles.
    client = client_for(security_admin)
    url = reverse("admin:auth_user_change", args=[system_admin.pk])
    data = page_form(client.get(url))
    data["groups"] = [group("系统管理员").pk, group("审计管理员").pk]
    response = client.post(url, data)
    assert response.status_code == 200
    assert errors_of(response) == [SECOND_ROLE]
    assert list(system_admin.groups.values_list("name", flat=True)) == ["系统管理员"]
    # Through the ORM, whichever side adds it.
    with pytest.raises(roles.RoleConflict) as refused, transaction.atomic():
        system_admin.groups.add(group("审计管理员"))
    assert refused.value.messages == [SECOND_ROLE]
    with pytest.raises(roles.RoleConflict), transaction.atomic():
        group("审计管理员").user_set.add(system_admin)
    assert list(system_admin.groups.values_list("name", flat=True)) == ["系统管理员"]


def test_an_administrator_is_never_made_a_reviewer_or_an_officer(system_admin, audit_admin, unit_a, reviewer):
    client = client_for(system_admin)
    response = client.post(reverse("admin:assessments_reviewerassignment_add"),
                           {"reviewer": system_admin.pk, "unit": unit_a.pk})
    assert response.status_code == 200
    assert errors_of(response) == [ADMIN_REVIEWER]
    # Through the ORM (a refused change rolls back the transaction it is in).
    with pytest.raises(roles.RoleConflict) as refused, transaction.atomic():
        ReviewerAssignment.objects.create(reviewer=system_admin, unit=unit_a)
    assert refused.value.messages == [ADMIN_REVIEWER]
    with pytest.raises(roles.RoleConflict) as refused, transaction.atomic():
        Membership.objects.create(user=audit_admin, unit=unit_a)
    assert refused.value.messages == [ADMIN_OFFICER]
    with pytest.raises(roles.RoleConflict), transaction.atomic():
        system_admin.user_permissions.add(Permission.objects.get(codename="review_all"))
    with pytest.raises(roles.RoleConflict), transaction.atomic():
        system_admin.groups.add(group("审核人（全部单位）"))
    # A reviewer does not become an administrator either.
    with pytest.raises(roles.RoleConflict) as refused, transaction.atomic():
        reviewer.groups.add(group("安全管理员"))
    assert refused.value.messages == ["三员分立：安全管理员不能同时担任审核人（审核人（全部单位）或审核分工）。"]
    assert not ReviewerAssignment.objects.exists()
    assert not Membership.objects.filter(user=audit_admin).exists()
    call_command("check_roles", stdout=io.StringIO())  # nothing to report


def test_check_roles_reports_what_was_written_around_the_checks(system_admin, audit_admin, unit_a):
    User.groups.through.objects.create(user=system_admin, group=group("审计管理员"))
    Membership.objects.bulk_create([Membership(user=audit_admin, unit=unit_a)])
    User.objects.create_superuser("jinji", password=PASSWORD)
    out = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("check_roles", stdout=out)
    assert str(failed.value) == "三员分立检查未通过：2 个账号的角色冲突，0 个角色的权限与规定不符。"
    assert out.getvalue().splitlines() == [
        f"shenji：{ADMIN_OFFICER}",
        f"xitong：{SECOND_ROLE}",
        "超级管理员账号（仅限紧急情况使用，每次登录均记入审计日志）：jinji",
    ]


# --- who changes what on an account ---------------------------------------------------------------


def test_the_system_administrator_manages_accounts_but_not_roles(system_admin, security_admin, alice):
    client = client_for(system_admin)
    url = reverse("admin:auth_user_change", args=[alice.pk])
    data = page_form(client.get(url))
    assert "groups" not in data and "is_superuser" not in data  # shown, not editable
    data.update(first_name="张三", groups=[group("审计管理员").pk], is_superuser="on")
    assert client.post(url, data).status_code == 302
    alice.refresh_from_db()
    assert (alice.first_name, alice.is_superuser, alice.groups.count()) == ("张三", False, 0)
    # Accounts of administrators are out of reach: no change, no password reset.
    for other in (security_admin, system_admin):
        page = client.get(reverse("admin:auth_user_change", args=[other.pk]))
        assert (page.status_code, page.context["has_change_permission"]) == (200, False)
        assert client.get(reverse("admin:auth_user_password_change", args=[other.pk])).status_code == 403
        assert client.post(reverse("admin:auth_user_change", args=[other.pk]), {"first_name": "x"}).status_code == 403
    assert client.get(reverse("admin:auth_user_password_change", args=[alice.pk])).status_code == 200


def test_the_security_administrator_assigns_roles_but_not_account_data(security_admin, system_admin, alice):
    client = client_for(security_admin)
    url = reverse("admin:auth_user_change", args=[alice.pk])
    data = page_form(client.get(url))
    assert "first_name" not in data and "password" not in data
    assert client.get(reverse("admin:auth_user_password_change", args=[alice.pk])).status_code == 403
    someone = User.objects.create_user("zhaoliu", password=PASSWORD)
    url = reverse("admin:auth_user_change", args=[someone.pk])
    data = page_form(client.get(url))
    data.update(groups=[group("审计管理员").pk], first_name="改名")
    assert client.post(url, data).status_code == 302
    someone.refresh_from_db()
    assert (list(someone.groups.values_list("name", flat=True)), someone.first_name, someone.is_staff) == (
        ["审计管理员"], "", False)
    data["groups"] = [group("系统管理员").pk]
    assert client.post(url, data).status_code == 302
    someone.refresh_from_db()
    assert someone.is_staff is True  # the admin's roles open the admin
    # Never one's own roles.
    own = client.get(reverse("admin:auth_user_change", args=[security_admin.pk]))
    assert own.context["has_change_permission"] is False
    # No business data.
    for model in ("assessment", "unit", "membership", "reviewerassignment", "round", "auditevent"):
        assert client.get(reverse(f"admin:assessments_{model}_changelist")).status_code == 403, model


def test_the_security_administrator_unlocks_an_account(security_admin, system_admin, alice):
    for n in range(5):
        Client().post("/login/", {"username": "alice", "password": f"wrong-{n}"}, REMOTE_ADDR="10.0.0.1")
    assert AccessAttempt.objects.filter(username="alice").exists()
    refused = client_for(system_admin).post(
        reverse("admin:auth_user_changelist"), {"action": "unlock_logins", "_selected_action": [alice.pk]})
    assert refused.status_code == 200  # the action is not offered to the 系统管理员
    assert AccessAttempt.objects.filter(username="alice").exists()
    response = client_for(security_admin).post(
        reverse("admin:auth_user_changelist"), {"action": "unlock_logins", "_selected_action": [alice.pk]}, follow=True)
    assert "已解除 1 个账号的登录锁定（清除失败记录 1 条）。" in [str(m) for m in response.context["messages"]]
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert Client().post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1").status_code == 302
    event = AuditEvent.objects.get(action="auth.unlocked")
    assert (event.actor_username, event.object_id) == ("anquan", str(alice.pk))


# --- the emergency superuser -----------------------------------------------------------------------


def test_an_emergency_superuser_login_appears_on_the_audit_page(audit_admin, alice):
    User.objects.create_superuser("jinji", password="Jin-Ji-Mima-2025!")
    Client().post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1")
    response = Client().post("/login/", {"username": "jinji", "password": "Jin-Ji-Mima-2025!"}, REMOTE_ADDR="10.0.0.66")
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.superuser_login")
    assert (event.actor_username, event.ip) == ("jinji", "10.0.0.66")
    page = client_for(audit_admin).get("/audit/", {"actor": "alice"})  # the panel ignores the filters
    html = page.content.decode()
    assert "紧急超级管理员登录（共 1 次）" in html
    assert [(e.actor_username, e.ip) for e in page.context["superuser_logins"]] == [("jinji", "10.0.0.66")]
    assert (f'<tr class="superuser-login"><td>{event.seq}</td><td class="text-nowrap">'
            f'{timezone.localtime(event.at):%Y-%m-%d %H:%M:%S}</td><td><span class="person">jinji</span></td><td>10.0.0.66</td></tr>') in html
    assert [e.action for e in page.context["page"]] == ["auth.login"]  # alice's row in the search
    assert page.context["page"][0].action_label == "登录成功"
    assert audit.action_label("auth.superuser_login") == "紧急超级管理员登录"


def test_seed_demo_creates_no_superuser(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", force=True, stdout=io.StringIO())
    assert not User.objects.filter(is_superuser=True).exists()
    assert {u.username: sorted(u.groups.values_list("name", flat=True)) for u in User.objects.filter(groups__isnull=False)} == {
        "caizheng": ["审核人（全部单位）"], "portaladmin": ["系统管理员"], "anquan": ["安全管理员"], "shenji": ["审计管理员"],
    }
    call_command("check_roles", stdout=io.StringIO())


# --- second factor ---------------------------------------------------------------------------------


def token_of(device) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def test_with_totp_required_an_administrator_without_a_device_cannot_reach_the_admin(settings, system_admin, alice):
    settings.PORTAL_ADMIN_REQUIRE_OTP = True
    client = client_for(system_admin)
    for url in ("/admin/", "/admin/assessments/unit/", "/admin/auth/user/", "/assessments/templates/", "/"):
        response = client.get(url)
        assert (response.status_code, response["Location"]) == (302, f"/otp/?next={url.replace('/', '%2F')}"), url
    page = client.get("/otp/", {"next": "/admin/"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "您的账号尚未绑定动态口令设备，暂不能使用管理功能。请联系安全管理员为您绑定后再登录。" in html
    assert 'name="token"' not in html
    assert client.post("/otp/", {"token": "123456", "next": "/admin/"}).status_code == 403
    assert client.get("/admin/").status_code == 302
    # Through the admin's own login page too.
    login = Client(REMOTE_ADDR="10.0.0.9")
    response = login.post("/admin/login/?next=/admin/", {"username": "xitong", "password": PASSWORD, "next": "/admin/"})
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert login.get("/admin/")["Location"] == "/otp/?next=%2Fadmin%2F"
    # Officers are not asked.
    assert client_for(alice).get(reverse("assessments:list")).status_code == 200


def test_with_totp_required_the_code_of_the_registered_device_opens_the_admin(settings, system_admin, audit_admin):
    settings.PORTAL_ADMIN_REQUIRE_OTP = True
    device = TOTPDevice.objects.create(user=system_admin, name="张三的手机", confirmed=True)
    client = client_for(system_admin)
    wrong = client.post("/otp/", {"token": "000000" if token_of(device) != "000000" else "111111", "next": "/admin/"})
    assert wrong.status_code == 400
    assert wrong.context["form"].errors["token"] == ["动态口令不正确或已过期，请重新输入。"]
    assert AuditEvent.objects.filter(action="auth.otp_failed", outcome="failed").count() == 1
    device.refresh_from_db()
    device.throttling_failure_count, device.throttling_failure_timestamp = 0, None  # no waiting in the test
    device.save()
    response = client.post("/otp/", {"token": token_of(device), "next": "/admin/"})
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.otp_verified", actor_username="xitong").count() == 1
    # The 审计管理员 (not staff) confirms before the audit page too; an unconfirmed device does not count.
    TOTPDevice.objects.create(user=audit_admin, name="未启用", confirmed=False)
    assert client_for(audit_admin).get("/audit/")["Location"] == "/otp/?next=%2Faudit%2F"


def test_the_security_administrator_registers_a_device(security_admin, system_admin):
    client = client_for(security_admin)
    response = client.post(reverse("admin:assessments_otpdevice_add"),
                           {"user": system_admin.pk, "name": "张三的手机", "_continue": "1"})
    assert response.status_code == 302
    device = TOTPDevice.objects.get(user=system_admin)
    assert (device.name, device.confirmed) == ("张三的手机", False)
    page = client.get(response["Location"]).content.decode()
    assert "otpauth://totp/" in page and 'id="otp-key"' in page
    assert client_for(system_admin).get(reverse("admin:assessments_otpdevice_changelist")).status_code == 403


# --- the security policy ---------------------------------------------------------------------------


def set_policy(**values):
    SecurityPolicy.objects.filter(pk=1).update(**values)


def test_the_policy_tightens_passwords_lockout_and_sessions(client, alice):
    set_policy(password_min_length=16, password_min_classes=4, login_failure_limit=3, lockout_minutes=30,
               session_idle_minutes=10)
    with pytest.raises(ValidationError) as refused:
        password_validation.validate_password("Abc-defg-2025", User(username="zhangsan"))
    assert refused.value.messages == ["密码太短：至少须包含 16 个字符。"]
    with pytest.raises(ValidationError) as refused:
        password_validation.validate_password("abcdefgh-ijklm-2025", User(username="zhangsan"))
    assert refused.value.messages == ["密码须包含大写字母、小写字母、数字、符号四类字符中的至少 4 类。"]
    statuses = [Client().post("/login/", {"username": "alice", "password": f"wrong-{n}"}, REMOTE_ADDR="10.0.0.1").status_code
                for n in range(4)]
    assert statuses == [200, 200, 429, 429]
    locked = Client().post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1")
    assert "登录失败次数过多，该账号已被锁定 30 分钟。如需立即解锁，请联系安全管理员。" in locked.content.decode()
    # The session limits of the policy are those of sessions begun after the change.
    AccessAttempt.objects.all().delete()
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="10.0.0.2").status_code == 302
    assert client.session["portal_session_limits"] == [600, None]
    page = client.get(reverse("assessments:list"))
    assert 0 < page.wsgi_request.session_expires_in <= 600


def test_the_policy_never_loosens_the_settings(security_admin):
    client = client_for(security_admin, ip="10.1.2.3")
    url = reverse("admin:assessments_securitypolicy_change", args=[1])
    data = page_form(client.get(url))
    data.update(password_min_length="8", login_failure_limit="10", lockout_minutes="5", session_idle_minutes="60",
                admin_allowed_networks="10.9.0.0/16")
    response = client.post(url, data)
    assert response.status_code == 200
    assert errors_of(response) == [
        "名单不包含您当前的地址 10.1.2.3：保存后您将无法再进入管理后台。",
        "密码最少字符数须在 12 至 128 个字符之间：安全策略只能比部署设置（12 个字符）更严格。",
        "锁定账号的失败次数须在 3 至 5 次之间：安全策略只能比部署设置（5 次）更严格。",
        "锁定时长须在 15 至 1440 分钟之间：安全策略只能比部署设置（15 分钟）更严格。",
        "无操作自动退出须在 5 至 30 分钟之间：安全策略只能比部署设置（30 分钟）更严格。",
    ]
    # Values written to the database directly are clamped to the settings when read.
    set_policy(password_min_length=4, login_failure_limit=50, session_idle_minutes=600)
    in_force = policy.current()
    assert (in_force.password_min_length, in_force.login_failure_limit, in_force.session_idle_seconds) == (12, 5, 1800)
    data.update(password_min_length="14", login_failure_limit="4", lockout_minutes="20", session_idle_minutes="15",
                admin_allowed_networks="10.1.0.0/16\n192.0.2.7")
    assert client.post(url, data).status_code == 302
    saved = SecurityPolicy.objects.get()
    assert (saved.password_min_length, saved.login_failure_limit, saved.admin_allowed_networks.splitlines()) == (
        14, 4, ["10.1.0.0/16", "192.0.2.7"])
    change = AuditEvent.objects.filter(action="admin.change", object_type="securitypolicy").get()
    assert change.actor_username == "anquan"


def test_the_admin_answers_only_the_allow_list(settings, system_admin, security_admin):
    settings.PORTAL_ADMIN_ALLOWED_IPS = ["10.0.0.0/8"]
    outside = client_for(system_admin, ip="192.0.2.50")
    refused = outside.get("/admin/")
    assert refused.status_code == 403
    assert "管理后台只允许从指定的网络地址访问，您当前的地址不在允许范围内。" in refused.content.decode()
    assert Client(REMOTE_ADDR="192.0.2.50").get("/admin/login/").status_code == 403  # the login page too
    event = AuditEvent.objects.filter(action="access.admin_ip_refused").order_by("id").first()
    assert (event.actor_username, event.ip, event.outcome, event.details["path"]) == ("xitong", "192.0.2.50", "denied", "/admin/")
    assert outside.get(reverse("assessments:templates")).status_code == 200  # the portal's own pages are not limited
    assert client_for(system_admin, ip="10.20.0.1").get("/admin/").status_code == 200
    # The 安全管理员 narrows it within the deployment's list, never beyond.
    set_policy(admin_allowed_networks="10.20.0.0/16")
    assert client_for(system_admin, ip="10.30.0.1").get("/admin/").status_code == 403
    assert client_for(system_admin, ip="10.20.5.5").get("/admin/").status_code == 200
    client = client_for(security_admin, ip="10.20.0.2")
    url = reverse("admin:assessments_securitypolicy_change", args=[1])
    data = page_form(client.get(url))
    data["admin_allowed_networks"] = "192.0.2.0/24"
    response = client.post(url, data)
    assert errors_of(response) == ["192.0.2.0/24 不在部署设置允许的范围（10.0.0.0/8）内。"]
    data["admin_allowed_networks"] = "10.20.0.0/16\n10.0.0.300"
    assert errors_of(client.post(url, data)) == ["“10.0.0.300”不是有效的 IP 地址或网段。"]


def test_the_first_device_is_registered_from_the_command_line(settings, security_admin):
    """With the setting on, nobody reaches the admin before one 安全管理员 has a device."""
    settings.PORTAL_ADMIN_REQUIRE_OTP = True
    out = io.StringIO()
    call_command("add_totp_device", "anquan", "--name", "安全管理员的手机", stdout=out)
    device = TOTPDevice.objects.get(user=security_admin)
    lines = out.getvalue().splitlines()
    assert lines[0] == "已为 anquan 登记动态口令设备“安全管理员的手机”。请在身份验证器中手动输入以下密钥（基于时间，6 位）："
    assert lines[1].replace(" ", "") == b32encode(device.bin_key).decode()
    assert (device.name, device.confirmed) == ("安全管理员的手机", True)
    client = client_for(security_admin)
    assert client.post("/otp/", {"token": token_of(device), "next": "/admin/"})["Location"] == "/admin/"
    assert client.get(reverse("admin:assessments_otpdevice_add")).status_code == 200
    assert AuditEvent.objects.filter(action="auth.otp_device_added", object_id=str(security_admin.pk)).count() == 1
    with pytest.raises(CommandError, match="账号 nobody 不存在。"):
        call_command("add_totp_device", "nobody", stdout=io.StringIO())


@pytest.mark.parametrize("next_url", ["sNaN", "//evil.example/admin/", "https://evil.example/", "a\x00b", ""])
def test_the_code_page_goes_back_only_to_a_path_of_the_portal(next_url, settings, system_admin):
    """Found by the URL fuzz: ?next=sNaN answered 500 (taken for a view name)."""
    client = client_for(system_admin)
    response = client.get("/otp/", {"next": next_url})  # not required: straight back
    assert (response.status_code, response["Location"]) == (302, "/")
    settings.PORTAL_ADMIN_REQUIRE_OTP = True
    device = TOTPDevice.objects.create(user=system_admin, name="手机", confirmed=True)
    response = client.post("/otp/", {"token": token_of(device), "next": next_url})
    assert (response.status_code, response["Location"]) == (302, "/")
