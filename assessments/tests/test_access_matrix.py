"""Who may reach which page (issue 5, "Access control"; issue 18, separation of duties).

One permission matrix: every named URL × (anonymous, officer of unit A, officer of unit B,
reviewer assigned to A, reviewer not assigned to A, the emergency superuser, and the three
administrator roles: 系统管理员, 安全管理员, 审计管理员) → the expected status of GET (and of POST
where the view takes POST). A meta-test walks the URL resolver and fails when a named URL is not
in the matrix, so a new page cannot ship without deciding who may see it.

Also here: another unit's objects answer exactly like a non-existent id, and officer POSTs that
try to set protected fields (unit, state, round, review fields, version…) change nothing.

The helpers at the top (`valid_assessment`, `drive`, `Cast`) are shared with
test_workflow_matrix.py, test_leaks.py, test_xss.py and test_separation_of_duties.py.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission, User
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from assessments import bulk, spotchecks, summary, table_templates, tasks, workflow
from assessments.forms import EntryForm
from assessments.models import (
    Assessment,
    Evidence,
    ExportJob,
    FundingRow,
    Indicator,
    Rectification,
    RectificationEvent,
    RectificationFile,
    ReportSection,
    ReviewerAssignment,
    SealedCopy,
    TableTemplate,
    Task,
)
from assessments.readmodel import with_content
from assessments.services import create_assessment, refresh_scores
from portal import storage

from .conftest import PASSWORD
from .helpers import form_data

pytestmark = [pytest.mark.django_db, pytest.mark.exhaustive]

# --- shared helpers ---------------------------------------------------------------------------

VALID_ROWS = [
    # level1, level2, name, target, actual, weight: 50 + 30 + 10 (+ 10 for 预算执行率) = 100
    ("产出指标", "数量指标", "培训次数", "≥10次", "10次", Decimal("50")),
    ("效益指标", "社会效益指标", "社会稳定", "有所帮助", "有所帮助", Decimal("30")),
    ("满意度指标", "服务对象满意度指标", "群众满意度", "≥95%", "96%", Decimal("10")),
]


def valid_assessment(unit, round_, name, *, user=None, kind="project"):
    """A small assessment that passes submit's checks: funding 100 / 95 and three indicators 50/30/10."""
    a = create_assessment(
        unit=unit, round=round_, kind=kind, layout=kind, project_name=name if kind == "project" else "", user=user
    )
    FundingRow.objects.filter(assessment=a, source="total").update(initial_budget=100, budget=100, actual=95)
    Indicator.objects.bulk_create(
        Indicator(assessment=a, position=n, level1=l1, level2=l2, name=nm, target=t, actual=ac, weight=w)
        for n, (l1, l2, nm, t, ac, w) in enumerate(VALID_ROWS, start=1)
    )
    refresh_scores(a)
    a.refresh_from_db()
    return a


# How each state is reached from a draft through the real workflow. "unpublished" is the approved
# state reached by 撤销公开 (its public pages answer 410).
PATHS = {
    "draft": [],
    "submitted": ["submit"],
    "in_review": ["submit", "start_review"],
    "returned": ["submit", "start_review", "return"],
    "approved": ["submit", "start_review", "approve"],
    "published": ["submit", "start_review", "approve", "publish"],
    "unpublished": ["submit", "start_review", "approve", "publish", "unpublish"],
    # 发起更正 (issue 16): back to the unit; the public keeps reading version 1 meanwhile.
    "correcting": ["submit", "start_review", "approve", "publish", "correct"],
}
COMMENTS = {"return": "请补充佐证材料。", "unpublish": "数据有误，撤销公开。", "correct": "指标数据有误，更正后重新公开。"}


# With the 主管部门's 初审 (issue 14): the bureau reviews what the 主管部门 forwarded.
SUPERVISED_PATHS = {
    "draft": [],
    "submitted": ["submit"],
    "forwarded": ["submit", "forward"],
    **{state: ["submit", "forward", *path[1:]] for state, path in PATHS.items() if path[1:2] == ["start_review"]},
}


def drive(a, state, *, officer, reviewer, supervisor=None):
    """Take the draft `a` to `state` through `workflow.perform`; publishing runs the real export
    job (files under MEDIA_ROOT, then `workflow.publish`). With `supervisor` the round asks for
    初审: the submission goes through the 主管部门 first."""
    for action in (SUPERVISED_PATHS if supervisor else PATHS)[state]:
        if action == "publish":
            tasks.run_export(ExportJob.objects.get(assessment=a, status=ExportJob.Status.QUEUED).pk)
            a.refresh_from_db()
            assert a.state == Assessment.State.PUBLISHED
            continue
        actor = officer if action in workflow.OFFICER_ACTIONS else supervisor if action in workflow.SUPERVISOR_ACTIONS else reviewer
        workflow.perform(actor, a, action, COMMENTS.get(action, ""))
    a.refresh_from_db()
    return a


def body_of(response) -> bytes:
    # Reading a streaming response to the end closes it (the test client wraps it); closing it a
    # second time would fire request_finished and close the database connection of the test.
    return b"".join(response.streaming_content) if response.streaming else response.content


def entry_post(assessment) -> dict:
    """The entry form of `assessment` as a browser would post it (also for non-editable states)."""
    entry = EntryForm(with_content(Assessment.objects).get(pk=assessment.pk))
    return form_data(SimpleNamespace(context={"entry": entry}))


def make_reviewer(username, *units, bureau_wide=False):
    user = User.objects.create_user(username, password=PASSWORD, first_name=username)
    for unit in units:
        ReviewerAssignment.objects.create(reviewer=user, unit=unit)
    if bureau_wide:
        user.user_permissions.add(Permission.objects.get(codename="review_all"))
    return user


@dataclass
class Cast:
    """The nine roles of the matrix (None = anonymous)."""

    anon: None
    officer_a: User
    officer_b: User
    reviewer_a: User
    reviewer_x: User
    admin: User  # the emergency superuser
    sysadmin: User
    secadmin: User
    auditor: User

    def user(self, role):
        return getattr(self, role)


ROLES = ("anon", "officer_a", "officer_b", "reviewer_a", "reviewer_x", "admin", "sysadmin", "secadmin", "auditor")


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def cast(unit_a, unit_b, alice, bob, media, system_admin, security_admin, audit_admin):
    """alice / bob officers of A / B; carol reviews A (assignment); dave reviews B only; root is
    the superuser; xitong, anquan and shenji hold the three administrator roles."""
    return Cast(
        anon=None,
        officer_a=alice,
        officer_b=bob,
        reviewer_a=make_reviewer("carol", unit_a),
        reviewer_x=make_reviewer("dave", unit_b),
        admin=User.objects.create_superuser("root", password=PASSWORD),
        sysadmin=system_admin,
        secadmin=security_admin,
        auditor=audit_admin,
    )


def fresh_client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


_open_calls = []  # the requests of `call` under way (a world object must not be built inside one)


def call(user, method, url, data=None):
    """One request as `user`, inside a savepoint that is rolled back: every cell of the matrix
    starts from the same database, whatever the previous request did."""
    _open_calls.append(url)
    try:
        with transaction.atomic():
            response = getattr(fresh_client(user), method.lower())(url, data or {})
            response.body = body_of(response)
            transaction.set_rollback(True)
    finally:
        _open_calls.pop()
    return response


# --- the matrix -------------------------------------------------------------------------------

LOGIN = "→login"  # 302 to /login/?next=<this url>
ADMIN_LOGIN = "→admin-login"  # 302 to /admin/login/?next=<this url>
DETAIL = "→detail"  # 302 to the officer page of the same assessment
REVIEW = "→review"  # 302 to the review page of the same assessment
EVIDENCE = "→evidence"  # 302 to the officer's evidence page of the same assessment
EDIT = "→edit"  # 302 to the edit page of the same assessment
SELF = "→self"  # 302 to the same URL (a form saved, shown again)

AL = ADMIN_LOGIN
# The admin site's own views send anonymous visitors to the admin login; its model pages carry no
# login_url, so LoginRequiredMiddleware sends them to the portal's login first. Either way: a login.
# The 审计管理员 works on the audit page, not in the admin (not staff).
ADMIN_ONLY = (AL, AL, AL, AL, AL, 200, 200, 200, AL)


def admin_model(superuser=200, sysadmin=403, secadmin=403):
    """An admin changelist: staff only; each administrator role sees the models of its duties."""
    return {"GET": (LOGIN, AL, AL, AL, AL, superuser, sysadmin, secadmin, AL)}


SYSTEM_MODEL = admin_model(sysadmin=200)  # units, people, rounds, templates, assignments
SECURITY_MODEL = admin_model(secadmin=200)  # lockouts, devices
PEOPLE_MODEL = admin_model(sysadmin=200, secadmin=200)  # accounts (each its own fields) and roles
BUSINESS_MODEL = admin_model()  # assessment content: the superuser only, in an emergency
POLICY = "→/admin/assessments/securitypolicy/1/change/"
PUBLIC_200 = (200,) * 9
PUBLIC_405 = (405,) * 9
NOT_GET = (LOGIN,) + (405,) * 8
OFFICER_A_ONLY = (LOGIN, 200) + (404,) * 7
REVIEWERS = (LOGIN, 403, 403, 200, 200, 403, 403, 403, 403)  # never an administrator, superuser included
AUDITOR_ONLY = (LOGIN,) + (403,) * 7 + (200,)
TEMPLATES = (LOGIN, 403, 403, 403, 403, 200, 200, 403, 403)  # the 系统管理员 (and the superuser)
TO_HOME = "→/"

#        (url name, object)          method: (anon, officer A, officer B, reviewer A, reviewer X, superuser,
#                                             系统管理员, 安全管理员, 审计管理员)
MATRIX = {
    ("home", None): {
        # Administrators (and the superuser, who holds no business role) get the home page; the
        # 审计管理员 goes to the audit log.
        "GET": (LOGIN, "→/assessments/", "→/assessments/", "→/assessments/review/", "→/assessments/review/",
                200, 200, 200, "→/audit/"),
    },
    ("login", None): {"GET": (200,) + (TO_HOME,) * 8, "POST": (200,) + (TO_HOME,) * 8},
    ("logout", None): {"GET": NOT_GET, "POST": (LOGIN,) + ("→/login/",) * 8},
    ("healthz", None): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    # Added while issue 5 was worked on (login lockout, password policy, sessions, audit log).
    ("password_change", None): {"GET": (LOGIN,) + (200,) * 8, "POST": (LOGIN,) + (400,) * 8},
    ("password_change_done", None): {"GET": (LOGIN,) + (200,) * 8},
    ("session_keepalive", None): {"GET": NOT_GET, "POST": (LOGIN,) + (200,) * 8},
    # The TOTP code page (issue 18): with PORTAL_ADMIN_REQUIRE_OTP off nobody needs it (→ home).
    ("otp_verify", None): {"GET": (LOGIN,) + (TO_HOME,) * 8, "POST": (LOGIN,) + (TO_HOME,) * 8},
    # The audit log and its export: the 审计管理员 only (not the superuser); read only.
    ("audit", None): {"GET": AUDITOR_ONLY, "POST": NOT_GET},
    ("audit_export", None): {"GET": AUDITOR_ONLY, "POST": NOT_GET},
    # Officer pages.
    ("assessments:list", None): {"GET": (LOGIN, 200, 200) + (TO_HOME,) * 6},
    ("assessments:create", None): {"GET": (LOGIN, 200, 200) + (TO_HOME,) * 6,
                                   "POST": (LOGIN, 200, 200) + (TO_HOME,) * 6},
    ("assessments:detail", "draft"): {"GET": OFFICER_A_ONLY, "POST": OFFICER_A_ONLY},
    ("assessments:detail", "published"): {"GET": OFFICER_A_ONLY},
    ("assessments:edit", "draft"): {"GET": OFFICER_A_ONLY, "POST": (LOGIN, 400) + (404,) * 7},
    ("assessments:edit", "submitted"): {"GET": (LOGIN, DETAIL) + (404,) * 7,
                                        "POST": (LOGIN, 403) + (404,) * 7},
    ("assessments:preview", "draft"): {"GET": NOT_GET, "POST": OFFICER_A_ONLY},
    # 从Excel粘贴 (issue 17): JSON rows for the officer's own page, only while it can be edited.
    ("assessments:paste", "draft"): {"GET": NOT_GET, "POST": OFFICER_A_ONLY},
    ("assessments:paste", "submitted"): {"POST": (LOGIN, 403) + (404,) * 7},
    ("assessments:submit", "draft"): {"GET": NOT_GET, "POST": (LOGIN, DETAIL) + (404,) * 7},
    ("assessments:submit", "in_review"): {"POST": (LOGIN, DETAIL) + (404,) * 7},  # refused, with a message
    ("assessments:withdraw", "submitted"): {"GET": NOT_GET, "POST": (LOGIN, DETAIL) + (404,) * 7},
    # 从Excel导入 (issue 7): officers of the unit only; a preview token exists only in its own session.
    ("assessments:import", None): {"GET": (LOGIN, 200, 200) + (404,) * 6, "POST": (LOGIN, 400, 400) + (404,) * 6},
    ("assessments:import_replace", "draft"): {"GET": OFFICER_A_ONLY, "POST": (LOGIN, 400) + (404,) * 7},
    ("assessments:import_replace", "submitted"): {"GET": (LOGIN, DETAIL) + (404,) * 7,
                                                  "POST": (LOGIN, 403) + (404,) * 7},
    ("assessments:import_preview", "import_token"): {"GET": (LOGIN,) + (404,) * 8},
    ("assessments:import_confirm", "import_token"): {"GET": NOT_GET, "POST": (LOGIN,) + (404,) * 8},
    ("assessments:import_cancel", "import_token"): {"GET": NOT_GET, "POST": (LOGIN,) + (404,) * 8},
    # 从Word导入 (issue 19): as 从Excel导入; the preview also takes the officer's choices by POST.
    ("assessments:word_import", None): {"GET": (LOGIN, 200, 200) + (404,) * 6, "POST": (LOGIN, 400, 400) + (404,) * 6},
    ("assessments:word_import_replace", "draft"): {"GET": OFFICER_A_ONLY, "POST": (LOGIN, 400) + (404,) * 7},
    ("assessments:word_import_replace", "submitted"): {"GET": (LOGIN, DETAIL) + (404,) * 7,
                                                       "POST": (LOGIN, 403) + (404,) * 7},
    ("assessments:word_preview", "import_token"): {"GET": (LOGIN,) + (404,) * 8,
                                                   "POST": (LOGIN,) + (404,) * 8},
    ("assessments:word_confirm", "import_token"): {"GET": NOT_GET, "POST": (LOGIN,) + (404,) * 8},
    ("assessments:word_cancel", "import_token"): {"GET": NOT_GET, "POST": (LOGIN,) + (404,) * 8},
    # 佐证材料 (issue 13): the unit's officers list, upload, remove and download (upload and removal
    # only while the assessment is theirs to edit); reviewers open what a submission included and
    # mark it public; anyone downloads a file a reviewer made public on a published report.
    ("assessments:evidence", "draft"): {"GET": OFFICER_A_ONLY, "POST": (LOGIN, 400) + (404,) * 7},
    ("assessments:evidence", "published"): {"GET": OFFICER_A_ONLY, "POST": (LOGIN, 403) + (404,) * 7},
    ("assessments:evidence_file", "evidence_draft"): {"GET": OFFICER_A_ONLY, "POST": NOT_GET},
    ("assessments:evidence_file", "evidence_published"): {"GET": OFFICER_A_ONLY},
    ("assessments:evidence_remove", "evidence_draft"): {"GET": NOT_GET, "POST": (LOGIN, EVIDENCE) + (404,) * 7},
    ("assessments:evidence_remove", "evidence_published"): {"POST": (LOGIN, EVIDENCE) + (404,) * 7},  # refused, with a message
    ("assessments:review_evidence_file", "evidence_published"): {
        "GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403), "POST": NOT_GET},
    ("assessments:review_evidence_file", "evidence_draft"): {"GET": (LOGIN, 403, 403, 404, 404, 403, 403, 403, 403)},
    ("assessments:review_evidence_public", "evidence_published"): {
        "GET": NOT_GET, "POST": (LOGIN, 403, 403, REVIEW, 404, 403, 403, 403, 403)},
    ("disclosure:evidence", "evidence_published"): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:evidence", "evidence_draft"): {"GET": (404,) * 9},
    # The season (issue 14). 目标调整: officers of the unit, while the assessment can be edited.
    # 目标调整 posts the whole entry form (saved first): an empty POST is a form with errors, as on edit.
    ("assessments:adjust_target", "draft"): {"GET": NOT_GET, "POST": (LOGIN, 400) + (404,) * 7},
    ("assessments:adjust_target", "submitted"): {"POST": (LOGIN, DETAIL) + (404,) * 7},
    # 新建 from a task: the unit's officers only (the task here is cancelled: refused, → the list).
    ("assessments:task_start", "task"): {"GET": NOT_GET, "POST": (LOGIN, "→/assessments/") + (404,) * 7},
    # 待办 and its count: everyone logged in (each sees their own duties).
    ("assessments:todo", None): {"GET": (LOGIN,) + (200,) * 8, "POST": NOT_GET},
    ("assessments:todo_count", None): {"GET": (LOGIN,) + (200,) * 8},
    # The 主管部门's roll-up and 初审: its 主管部门审核人 only (none in this cast; see test_supervision.py
    # and the supervisor role of test_workflow_matrix.py).
    ("assessments:supervise", None): {"GET": (LOGIN,) + (403,) * 8},
    ("assessments:supervise_detail", "submitted"): {"GET": (LOGIN,) + (403,) * 8, "POST": (LOGIN,) + (403,) * 8},
    # The bureau's season pages: reviewers, for the units they review.
    ("assessments:season", None): {"GET": REVIEWERS, "POST": (LOGIN, 403, 403, "→/assessments/season/",
                                                             "→/assessments/season/", 403, 403, 403, 403)},
    ("assessments:season_targets", None): {"GET": REVIEWERS, "POST": (LOGIN, 403, 403, 400, 400, 403, 403, 403, 403)},
    ("assessments:season_task", "task"): {"GET": NOT_GET, "POST": (LOGIN, 403, 403, "→/assessments/season/", 404,
                                                                    403, 403, 403, 403)},
    ("assessments:season_remind_late", None): {"GET": NOT_GET, "POST": (LOGIN, 403, 403, "→/assessments/season/",
                                                                         "→/assessments/season/", 403, 403, 403, 403)},
    # 盖章版 (issue 13): after approval the unit's officers upload and download it (a POST before
    # approval is refused); reviewers of the unit open it and confirm it; anyone downloads a
    # confirmed copy of a published report that the rule and the unit's choice make public.
    ("assessments:sealed", "approved"): {"GET": OFFICER_A_ONLY, "POST": (LOGIN, 400) + (404,) * 7},
    ("assessments:sealed", "draft"): {"GET": OFFICER_A_ONLY, "POST": (LOGIN, 403) + (404,) * 7},
    ("assessments:sealed_file", "sealed_published"): {"GET": OFFICER_A_ONLY, "POST": NOT_GET},
    ("assessments:review_sealed_file", "sealed_published"): {
        "GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403), "POST": NOT_GET},
    ("assessments:review_sealed_decide", "sealed_published"): {
        "GET": NOT_GET, "POST": (LOGIN, 403, 403, REVIEW, 404, 403, 403, 403, 403)},
    ("disclosure:sealed", "published"): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:sealed", "approved"): {"GET": (404,) * 9},
    # Reviewer pages: reviewers only; no administrator, the superuser included (issue 18).
    ("assessments:dashboard", None): {"GET": REVIEWERS},
    ("assessments:unit_suggest", None): {"GET": REVIEWERS, "POST": NOT_GET},
    ("assessments:dashboard_xlsx", None): {"GET": REVIEWERS, "POST": NOT_GET},
    ("assessments:review", "submitted"): {"GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403),
                                          "POST": (LOGIN, 403, 403, REVIEW, 404, 403, 403, 403, 403)},
    ("assessments:review", "draft"): {"GET": (LOGIN, 403, 403, 404, 404, 403, 403, 403, 403),
                                      "POST": (LOGIN, 403, 403, 404, 404, 403, 403, 403, 403)},
    ("assessments:review", "published"): {"GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403)},
    # The live 复核 scores (issue 17): POST only, for whoever may review the submission now.
    ("assessments:review_preview", "submitted"): {"GET": NOT_GET,
                                                  "POST": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403)},
    ("assessments:review_preview", "in_review"): {"POST": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403)},
    ("assessments:review_preview", "published"): {"POST": (LOGIN, 403, 403, 409, 404, 403, 403, 403, 403)},
    ("assessments:review_preview", "draft"): {"POST": (LOGIN, 403, 403, 404, 404, 403, 403, 403, 403)},
    ("assessments:bulk", None): {"GET": REVIEWERS,
                                 "POST": (LOGIN, 403, 403, "→/assessments/review/bulk/",
                                          "→/assessments/review/bulk/", 403, 403, 403, 403)},
    # Only whoever asked for a ZIP may download it.
    ("assessments:bulk_download", "bulk"): {"GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403)},
    # 抽查 (issue 15): reviewers draw from the units they review; a draw is seen by the bureau-wide
    # reviewers and by whoever drew it (reviewer A here).
    ("assessments:spot_checks", None): {"GET": REVIEWERS, "POST": (LOGIN, 403, 403, 400, 400, 403, 403, 403, 403)},
    ("assessments:spot_check", "spot_check"): {"GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403),
                                               "POST": (LOGIN, 403, 403, SELF, 404, 403, 403, 403, 403)},
    ("assessments:spot_check_record", "spot_check"): {"GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403),
                                                      "POST": NOT_GET},
    # 结果应用 (issue 15): reviewers, for the approved assessments of the units they review.
    ("assessments:results", None): {"GET": REVIEWERS, "POST": (LOGIN, 403, 403, 400, 404, 403, 403, 403, 403)},
    ("assessments:results_xlsx", None): {"GET": REVIEWERS, "POST": NOT_GET},
    # 汇总表 and 汇总分析报告 (issue 15): reviewers; only whoever asked for the files may download them.
    ("assessments:summaries", None): {"GET": REVIEWERS,
                                      "POST": (LOGIN, 403, 403, "→/assessments/review/summaries/",
                                               "→/assessments/review/summaries/", 403, 403, 403, 403)},
    ("assessments:summary_xlsx", "summary"): {"GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403), "POST": NOT_GET},
    ("assessments:summary_docx", "summary"): {"GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403), "POST": NOT_GET},
    # 整改 (issue 15): the unit's officers answer; reviewers of the unit open items and decide.
    ("assessments:rectifications", "draft"): {"GET": OFFICER_A_ONLY, "POST": (LOGIN, SELF) + (404,) * 7},
    ("assessments:review_rectifications", "submitted"): {"GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403),
                                                         "POST": (LOGIN, 403, 403, 400, 404, 403, 403, 403, 403)},
    ("assessments:review_rectifications", "draft"): {"GET": (LOGIN, 403, 403, 404, 404, 403, 403, 403, 403)},
    # A file of the unit's 整改 answer: its officers, and its reviewers (logged).
    ("assessments:rectification_file", "rectification_file"): {"GET": OFFICER_A_ONLY, "POST": NOT_GET},
    ("assessments:review_rectification_file", "rectification_file"): {
        "GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403), "POST": NOT_GET},
    # 表样管理 (issue 11): administrators (staff with change_tabletemplate): the 系统管理员.
    ("assessments:templates", None): {"GET": TEMPLATES,
                                      "POST": (LOGIN, 403, 403, 403, 403, "→/assessments/templates/",
                                               "→/assessments/templates/", 403, 403)},
    ("assessments:template_edit", "template_copy"): {"GET": TEMPLATES,
                                                     "POST": (LOGIN, 403, 403, 403, 403, 400, 400, 403, 403)},
    ("assessments:template_version", "template_v1"): {"GET": TEMPLATES},
    ("assessments:template_xlsx", "template_v1"): {"GET": TEMPLATES},
    # Issue 16: the 公开 register (reviewers see their units; only bureau-wide reviewers record
    # 决算批复 dates) and the public preview of an approved report for 公开审核.
    ("assessments:register", None): {"GET": REVIEWERS, "POST": (LOGIN,) + (403,) * 8},
    ("assessments:register_xlsx", None): {"GET": REVIEWERS, "POST": NOT_GET},
    ("assessments:public_preview", "approved"): {"GET": (LOGIN, 403, 403, 200, 404, 403, 403, 403, 403)},
    ("assessments:public_preview", "submitted"): {"GET": (LOGIN, 403, 403, 404, 404, 403, 403, 403, 403)},
    # Public pages: anyone, no session; GET and HEAD only.
    ("disclosure:list", None): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:list_json", None): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:unit_suggest", None): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:list_csv", None): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:rectifications", None): {"GET": PUBLIC_200, "POST": PUBLIC_405},  # counts only (issue 15)
    ("disclosure:detail", "published"): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:detail", "draft"): {"GET": (404,) * 9},
    ("disclosure:detail", "approved"): {"GET": (404,) * 9},
    ("disclosure:detail", "unpublished"): {"GET": (410,) * 9},
    ("disclosure:xlsx", "published"): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:xlsx", "draft"): {"GET": (404,) * 9},
    ("disclosure:xlsx", "approved"): {"GET": (404,) * 9},
    ("disclosure:xlsx", "unpublished"): {"GET": (410,) * 9},
    ("disclosure:json", "published"): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:json", "draft"): {"GET": (404,) * 9},
    ("disclosure:json", "unpublished"): {"GET": (410,) * 9},
    # Issue 16: the PDF and Word copies, each published version at its own URL, and the permalink
    # while a correction is under way (it shows the last published version).
    ("disclosure:detail", "correcting"): {"GET": PUBLIC_200},
    ("disclosure:pdf", "published"): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:pdf", "draft"): {"GET": (404,) * 9},
    ("disclosure:pdf", "unpublished"): {"GET": (410,) * 9},
    ("disclosure:pdf", "correcting"): {"GET": PUBLIC_200},
    ("disclosure:docx", "published"): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:docx", "approved"): {"GET": (404,) * 9},
    ("disclosure:docx", "unpublished"): {"GET": (410,) * 9},
    ("disclosure:version", "published_v1"): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:version", "published_v2"): {"GET": (404,) * 9},
    ("disclosure:version", "draft_v1"): {"GET": (404,) * 9},
    ("disclosure:version", "unpublished_v1"): {"GET": (410,) * 9},
    ("disclosure:version", "correcting_v1"): {"GET": PUBLIC_200},
    ("disclosure:version_json", "published_v1"): {"GET": PUBLIC_200, "POST": PUBLIC_405},
    ("disclosure:version_json", "published_v2"): {"GET": (404,) * 9},
    ("disclosure:version_json", "unpublished_v1"): {"GET": (410,) * 9},
    # Django admin: staff only; its views send everyone else to the admin's own login page.
    ("admin:index", None): {"GET": ADMIN_ONLY},
    ("admin:login", None): {"GET": (200, 200, 200, 200, 200, "→/admin/", "→/admin/", "→/admin/", 200)},
    ("admin:logout", None): {"POST": (AL, "→/admin/", "→/admin/", "→/admin/", "→/admin/", "→/login/", "→/login/",
                                      "→/login/", "→/admin/")},
    ("admin:auth_user_changelist", None): PEOPLE_MODEL,
    ("admin:auth_group_changelist", None): PEOPLE_MODEL,  # the roles, read only
    ("admin:assessments_region_changelist", None): SYSTEM_MODEL,
    ("admin:assessments_unit_changelist", None): SYSTEM_MODEL,
    ("admin:assessments_reviewerassignment_changelist", None): SYSTEM_MODEL,
    ("admin:assessments_membership_changelist", None): SYSTEM_MODEL,
    ("admin:assessments_scoringruleset_changelist", None): SYSTEM_MODEL,
    ("admin:assessments_round_changelist", None): SYSTEM_MODEL,
    ("admin:assessments_targetset_changelist", None): SYSTEM_MODEL,  # 批复的绩效目标 (issue 14)
    ("admin:assessments_tabletemplate_changelist", None): SYSTEM_MODEL,
    ("admin:assessments_assessment_changelist", None): BUSINESS_MODEL,
    ("admin:assessments_snapshot_changelist", None): BUSINESS_MODEL,
    ("admin:assessments_review_changelist", None): BUSINESS_MODEL,
    # The audit log in the admin: read only, and (like /audit/) not for the superuser.
    ("admin:assessments_auditevent_changelist", None): admin_model(superuser=403),
    ("admin:assessments_securitypolicy_changelist", None): admin_model(superuser=POLICY, secadmin=POLICY),
    ("admin:assessments_otpdevice_changelist", None): SECURITY_MODEL,
    ("admin:axes_accessattempt_changelist", None): SECURITY_MODEL,
    ("admin:axes_accessfailurelog_changelist", None): SECURITY_MODEL,
    ("admin:axes_accesslog_changelist", None): SECURITY_MODEL,
}

# What an anonymous visitor may reach at all (views marked `login_not_required`). Static files are
# served by WhiteNoise before URL resolution and are not views.
ANONYMOUS_VIEWS = {
    "login", "healthz", "admin:login",
    "disclosure:list", "disclosure:list_json", "disclosure:list_csv", "disclosure:unit_suggest",
    "disclosure:detail", "disclosure:xlsx", "disclosure:json", "disclosure:evidence",
    "disclosure:pdf", "disclosure:docx", "disclosure:version", "disclosure:version_json",
    "disclosure:rectifications",
    "disclosure:sealed",
}

def review_rows(assessment) -> dict:
    """The 复核 formset of `assessment` as posted, every row left empty."""
    keys = [str(k) for k in assessment.indicators.order_by("position", "id").values_list("key", flat=True)]
    data = {"review-TOTAL_FORMS": str(len(keys)), "review-INITIAL_FORMS": str(len(keys))}
    data.update({f"review-{n}-key": key for n, key in enumerate(keys)})
    return data


# POST bodies (everything else posts nothing), for the matrix row's object where it matters.
POST_DATA = {
    "assessments:review": lambda world, obj=None: {"action": "start_review"},
    "assessments:review_preview": lambda world, obj=None: review_rows(obj or world.objects["submitted"]),
    "assessments:paste": lambda world, obj=None: {"text": "产出指标\t数量指标\t培训次数\t≥10次\t10次"},
    "assessments:bulk": lambda world, obj=None: {"round": world.round.pk},
    "assessments:review_evidence_public": lambda world, obj=None: {"public": "1"},
    "assessments:register": lambda world, obj=None: {
        "round": world.round.year, f"approved_on-{world.objects['draft'].unit_id}": "2021-05-10"},
    "assessments:spot_check": lambda world, obj=None: {"item": world.objects["spot_check"].items.get().pk,
                                             "third_party": "湖南某会计师事务所"},
    # 核减 without its percentage: refused with the field named (400) for the reviewer of unit A.
    "assessments:results": lambda world, obj=None: {"assessment": world.objects["approved"].pk, "advice": "reduce"},
    "assessments:summaries": lambda world, obj=None: {"round": world.round.pk},
    "assessments:review_sealed_decide": lambda world, obj=None: {"decision": "match"},
    "login": lambda world, obj=None: {"username": "alice", "password": "not-the-password"},
    "assessments:templates": lambda world, obj=None: {"action": "toggle", "template": world.objects["template_copy"].pk},
}


def walk(patterns=None, namespace=""):
    """(qualified name or None, pattern, namespace) of every URL pattern, recursively."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            ns = p.namespace or ""
            yield from walk(p.url_patterns, f"{namespace}{ns}:" if ns else namespace)
        elif isinstance(p, URLPattern):
            yield (f"{namespace}{p.name}" if p.name else None), p, namespace


def named_urls() -> set[str]:
    return {name for name, _, _ in walk() if name}


def must_be_declared(name: str) -> bool:
    """The project's own URLs, and the admin's index and model changelists."""
    if not name.startswith("admin:"):
        return True
    return name == "admin:index" or name.endswith("_changelist")


def test_every_named_url_is_in_the_matrix():
    declared = {name for name, _ in MATRIX}
    missing = sorted(name for name in named_urls() if must_be_declared(name) and name not in declared)
    assert missing == [], f"新页面必须在权限矩阵中声明谁可以访问: {missing}"


def test_every_project_url_has_a_name():
    # (The admin's own unnamed redirects and catch-all are Django's, staff-only.)
    unnamed = sorted(str(p.pattern) for name, p, ns in walk() if name is None and not ns.startswith("admin:"))
    assert unnamed == [], f"新页面必须有名字并在权限矩阵中声明谁可以访问: {unnamed}"


def test_matrix_has_no_stale_rows():
    assert sorted({name for name, _ in MATRIX} - named_urls()) == []


def test_anonymous_reaches_only_the_listed_views():
    public = {name for name, p, _ in walk() if name and not getattr(p.callback, "login_required", True)}
    assert public == ANONYMOUS_VIEWS
    # …and the matrix agrees: every other row sends anonymous visitors to a login page.
    for (name, _), methods in MATRIX.items():
        if name not in ANONYMOUS_VIEWS:
            assert {expected[0] for expected in methods.values()} <= {LOGIN, ADMIN_LOGIN}, name


class LazyObjects(Mapping):
    """`world.objects`: each entry is built by its declared builder on first use, then kept.

    A builder takes this mapping (to use other entries) and returns a dict of the entries it
    made (one builder may make several, as an assessment and its 佐证材料 file). Entries are
    declared in the order the whole world is built (`build_all`). Building inside a request of
    `call` is refused: that request's savepoint is rolled back, and the object with it."""

    def __init__(self, builders: dict):
        self._builders = builders  # key -> builder, in declaration order
        self._built = {}

    def __getitem__(self, key):
        if key not in self._built:
            builder = self._builders[key]  # KeyError for an undeclared key, as a dict
            assert not _open_calls, f"world.objects[{key!r}] built inside call({_open_calls[-1]}): it would be rolled back"
            made = builder(self)
            assert key in made, (key, sorted(made))
            self._built.update(made)
        return self._built[key]

    def __contains__(self, key):
        return key in self._builders

    def __iter__(self):
        return iter(self._builders)

    def __len__(self):
        return len(self._builders)

    def need(self, *keys):
        """Build `keys` (in this order) now."""
        for key in keys:
            self[key]

    def build_all(self):
        """Build every entry, in the declared order: the whole world, as the pages that visit
        every object (or compare the whole database) need it."""
        self.need(*self._builders)

    def keys_before(self, key):
        keys = list(self._builders)
        return keys[:keys.index(key)]


@dataclass
class World:
    cast: Cast
    round: object
    objects: LazyObjects


PRINT_COPY_URLS = {"disclosure:pdf", "disclosure:docx"}
STATES = ("draft", "submitted", "in_review", "approved", "published", "unpublished", "correcting")


@pytest.fixture
def world(request, settings, cast, unit_a, round_2020):
    """An assessment of unit A in each state the matrix needs, and a finished ZIP of reviewer A.

    Built lazily: each object when a test first reads it (`world.objects[key]`), with what it
    depends on and what the world attaches to it; `world.objects.build_all()` builds all of it,
    in the declared order. Objects made from the whole round (the ZIP, the 抽查, the 汇总) are
    built after everything declared before them, as when the world was built in one go. Read
    every object a test needs before its first `call` (a savepoint rolled back after the
    request). Pages without an object (lists, dashboards, the admin) see only what the test built;
    test_accessibility.py visits each of them with the whole world."""
    params = getattr(getattr(request.node, "callspec", None), "params", {})
    # The PDF and Word copies (seconds of layout each) only where the matrix fetches them.
    settings.DISCLOSURE_PRINT_COPIES = params.get("name") in PRINT_COPY_URLS

    def assessment_in(state):
        def build(objects):
            made = {}
            a = valid_assessment(unit_a, round_2020, f"甲单位{state}项目", user=cast.officer_a)
            if state in ("draft", "published"):  # a 佐证材料 file, submitted with the published one
                item = evidence_item(a, cast.officer_a)
                made[f"evidence_{state}"] = SimpleNamespace(pk=item.pk, assessment_pk=a.pk, url_args=[a.pk, item.pk])
            made[state] = a = drive(a, state, officer=cast.officer_a, reviewer=cast.reviewer_a)
            if state == "approved":  # an answered 整改事项 with a file
                made["rectification_file"] = rectification_file(a, cast.officer_a)
            if state == "published":  # its 佐证材料 made public, and its 盖章版
                Evidence.objects.filter(pk=item.pk).update(public=True)
                made["sealed_published"] = sealed_copy(a)
            return made

        return build

    def task(objects):
        # A cancelled 填报任务 of unit A (issue 14).
        return {"task": Task.objects.create(
            round=round_2020, unit=unit_a, kind="project", project_name="甲单位任务项目", starts_on=date(2020, 1, 1),
            due_on=date(2020, 12, 31), cancelled_at=timezone.now(), cancel_reason="测试",
        )}

    def version(state, number):
        def build(objects):
            a = objects[state]
            return {f"{state}_v{number}": SimpleNamespace(pk=a.pk, url_args=[a.pk, number])}

        return build

    def sealed_copy(published):
        # A sealed copy of the published report, confirmed, the unit asking for it to be public
        # (the default rule: the unit's choice).
        storage.put(f"sealed/{published.pk}/matrix.pdf", b"%PDF-1.4\n%%EOF\n")
        copy = SealedCopy.objects.create(assessment=published, file=f"sealed/{published.pk}/matrix.pdf",
                                         original_name="盖章版.pdf", size=15, sha256="0" * 64, publish_requested=True,
                                         uploaded_by=cast.officer_a, confirmed_by=cast.reviewer_a,
                                         confirmed_at=timezone.now())
        return SimpleNamespace(pk=copy.pk, assessment_pk=published.pk, url_args=[published.pk, copy.pk])

    def bulk_zip(objects):
        objects.need(*objects.keys_before("bulk"))  # the ZIP of the round as it stands
        job = bulk.request(round_2020, cast.reviewer_a)
        bulk.build(job.pk)
        return {"bulk": job}

    def spot_check(objects):
        objects.need(*objects.keys_before("spot_check"))  # drawn from the round as it stands
        return {"spot_check": spotchecks.create(
            cast.reviewer_a, round_2020, title="抽查", criteria=spotchecks.Criteria(), method="simple", seed=1, count=1
        )}

    def summary_files(objects):
        objects.need(*objects.keys_before("summary"))  # the 汇总 of the round as it stands
        job = summary.request(round_2020, cast.reviewer_a)
        summary.build(job.pk)
        return {"summary": job}

    def template_copy(objects):
        department = TableTemplate.objects.get(code="department")
        return {"template_copy": table_templates.clone(department, code="department-copy", name="部门表（复制）")}

    def template_v1(objects):
        department = TableTemplate.objects.get(code="department")
        return {"template_v1": SimpleNamespace(pk=department.pk, url_args=[department.pk, 1])}

    # Each assessment comes with what the world attaches to it: 佐证材料 (draft, published), the
    # 整改 file (approved), the 盖章版 (published).
    builders = {}
    for state in STATES:
        build = assessment_in(state)
        builders[state] = build
        for key in {"draft": ["evidence_draft"], "approved": ["rectification_file"],
                    "published": ["evidence_published", "sealed_published"]}.get(state, []):
            builders[key] = build
    builders["task"] = task
    for state, number in (("published", 1), ("published", 2), ("draft", 1), ("unpublished", 1), ("correcting", 1)):
        builders[f"{state}_v{number}"] = version(state, number)
    builders["bulk"] = bulk_zip
    builders["spot_check"] = spot_check
    builders["summary"] = summary_files
    # 从Excel导入: tokens live in sessions.
    builders["import_token"] = lambda objects: {"import_token": SimpleNamespace(pk="no-such-preview")}
    builders["template_copy"] = template_copy
    builders["template_v1"] = template_v1
    return World(cast, round_2020, LazyObjects(builders))


def evidence_item(a, officer):
    """A stored PDF of `a` (what an upload through the evidence page stores)."""
    from portal import storage

    name = f"evidence/{a.pk}/matrix.pdf"
    storage.put(name, b"%PDF-1.4\n%%EOF\n")
    return Evidence.objects.create(assessment=a, title="签到表", file=name, original_name="签到表.pdf",
                                   content_type="application/pdf", size=15, sha256="0" * 64, uploaded_by=officer)


def rectification_file(a, officer):
    """An answered 整改事项 of `a` with a stored PDF (what an answer with a file stores)."""
    item = Rectification.objects.create(assessment=a, problem="佐证不足", action="补充佐证", due_date=date(2021, 6, 30),
                                        status=Rectification.Status.ANSWERED)
    event = RectificationEvent.objects.create(item=item, kind=RectificationEvent.Kind.ANSWER, text="已补充。", actor=officer)
    name = f"rectification/{item.pk}/matrix.pdf"
    storage.put(name, b"%PDF-1.4\n%%EOF\n")
    f = RectificationFile.objects.create(event=event, file=name, original_name="整改.pdf", content_type="application/pdf",
                                         size=15, sha256="0" * 64, uploaded_by=officer)
    return SimpleNamespace(pk=f.pk, assessment_pk=a.pk, url_args=[a.pk, f.pk])


def expected_location(expected: str, path: str, obj) -> str:
    if expected == LOGIN:
        return f"/login/?next={path}"
    if expected == ADMIN_LOGIN:
        return f"/admin/login/?next={path}"
    if expected == DETAIL:
        return reverse("assessments:detail", args=[obj.pk])
    if expected == REVIEW:
        return reverse("assessments:review", args=[getattr(obj, "assessment_pk", obj.pk)])
    if expected == EVIDENCE:
        return reverse("assessments:evidence", args=[obj.assessment_pk])
    if expected == EDIT:
        return reverse("assessments:edit", args=[obj.pk])
    if expected == SELF:
        return path
    return expected[1:]


def url_of(name, obj):
    if obj is None:
        return reverse(name)
    return reverse(name, args=getattr(obj, "url_args", None) or [obj.pk])


URL_NAMES = list(dict.fromkeys(name for name, _ in MATRIX))


@pytest.mark.parametrize("name", URL_NAMES)
def test_permission_matrix(world, name):
    """Every row of the URL (one per object state), every method, every role: status and redirect."""
    # Every object the rows (and their POST bodies) use is built before the first request: the
    # world builds on first use, and what a request's rolled-back savepoint built would be gone.
    cells = []
    for key in [k for n, k in MATRIX if n == name]:
        obj = world.objects[key] if key else None
        url = url_of(name, obj)
        for method, expected_row in MATRIX[(name, key)].items():
            assert len(expected_row) == len(ROLES)
            data = POST_DATA[name](world, obj) if method == "POST" and name in POST_DATA else None
            cells.append((key, obj, url, method, expected_row, data))
    wrong = []
    for key, obj, url, method, expected_row, data in cells:
        for role, expected in zip(ROLES, expected_row, strict=True):
            response = call(world.cast.user(role), method, url, data)
            if isinstance(expected, int):
                got, want = response.status_code, expected
            else:
                got = (response.status_code, response.get("Location"))
                want = (302, expected_location(expected, url, obj))
            if got != want:
                wrong.append(f"{method} {url} ({key}) as {role}: expected {want}, got {got}")
    assert wrong == []


def admin_url_args(name, pattern, cast):
    """Concrete arguments for an admin URL: an existing object of the model where there is one."""
    kwargs = {}
    for arg in pattern.pattern.converters:
        if arg == "object_id" or arg == "id":
            kwargs[arg] = cast.admin.pk if "auth_user" in name else 1
        elif arg == "content_type_id":
            kwargs[arg] = 1
        elif arg == "app_label":
            kwargs[arg] = "assessments"
    regex = getattr(pattern.pattern, "regex", None)
    if regex is not None and "app_label" in regex.groupindex:
        kwargs["app_label"] = "assessments"
    return kwargs


def test_every_admin_url_is_staff_only(cast):
    """The whole admin namespace, not only the pages in the matrix: non-staff users never get in,
    the 审计管理员 included. (Refused before anything is read or written, so one client per role
    serves every request.)"""
    clients = {role: fresh_client(cast.user(role)) for role in ("anon", "officer_a", "reviewer_x", "auditor")}
    wrong = []
    for name, pattern, _ in walk():
        if not name or not name.startswith("admin:") or name in ("admin:login", "admin:logout"):
            continue
        url = reverse(name, kwargs=admin_url_args(name, pattern, cast))
        for role, client in clients.items():
            for method in ("GET", "POST") if role in ("anon", "auditor") else ("GET",):
                response = getattr(client, method.lower())(url)
                wants = {expected_location(ADMIN_LOGIN, url, None)}
                if role == "anon":
                    wants.add(expected_location(LOGIN, url, None))
                if response.status_code != 302 or response.get("Location") not in wants:
                    wrong.append(f"{method} {url} as {role}: {response.status_code} {response.get('Location')}")
    assert wrong == []


# --- another unit's objects: exactly like a missing one ----------------------------------------

MISSING = 987654


def normalised(body: bytes) -> str:
    """The page without what differs between any two responses (CSRF token, CSP nonce)."""
    text = body.decode("utf-8")
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken" value=""', text)
    return re.sub(r'nonce="[^"]+"', 'nonce=""', text)


def same_as_missing(user, method, name, obj, data=None):
    """(status, status for a missing id, identical body?) for `name` on `obj` as `user`."""
    theirs = call(user, method, reverse(name, args=[obj.pk]), data)
    missing = call(user, method, reverse(name, args=[MISSING]), data)
    return theirs.status_code, missing.status_code, normalised(theirs.body) == normalised(missing.body)


def test_other_units_objects_answer_like_missing_ones(world, unit_b, round_2020):
    c, o = world.cast, world.objects
    o.need("draft", "submitted", "in_review", "approved", "published", "bulk")  # before B's, as the world came first
    b_submitted = drive(valid_assessment(unit_b, round_2020, "乙单位项目", user=c.officer_b), "submitted",
                        officer=c.officer_b, reviewer=c.reviewer_x)
    checks = [
        # officer of B on A's assessments: pages, form posts, the JSON preview, transitions
        (c.officer_b, "GET", "assessments:detail", o["draft"], None),
        (c.officer_b, "POST", "assessments:detail", o["draft"], None),
        (c.officer_b, "GET", "assessments:edit", o["draft"], None),
        (c.officer_b, "POST", "assessments:edit", o["draft"], entry_post(o["draft"])),
        (c.officer_b, "POST", "assessments:preview", o["draft"], entry_post(o["draft"])),
        (c.officer_b, "POST", "assessments:paste", o["draft"], {"text": "产出指标\t数量指标\t培训次数"}),
        (c.officer_b, "POST", "assessments:submit", o["draft"], None),
        (c.officer_b, "POST", "assessments:withdraw", o["submitted"], None),
        (c.officer_b, "GET", "assessments:detail", o["published"], None),
        # reviewers on units they do not review, and on drafts
        (c.reviewer_x, "GET", "assessments:review", o["submitted"], None),
        (c.reviewer_x, "POST", "assessments:review", o["submitted"], {"action": "start_review"}),
        (c.reviewer_x, "POST", "assessments:review", o["in_review"], {"action": "approve"}),
        (c.reviewer_a, "GET", "assessments:review", b_submitted, None),
        (c.reviewer_a, "POST", "assessments:review", b_submitted, {"action": "start_review"}),
        (c.reviewer_a, "GET", "assessments:review", o["draft"], None),
        # someone else's ZIP
        (c.reviewer_x, "GET", "assessments:bulk_download", o["bulk"], None),
        # downloads and JSON of what is not public
        (None, "GET", "disclosure:detail", o["draft"], None),
        (None, "GET", "disclosure:xlsx", o["draft"], None),
        (None, "GET", "disclosure:json", o["approved"], None),
        (None, "GET", "disclosure:json", b_submitted, None),
    ]
    results = [(user and user.username, method, name, same_as_missing(user, method, name, obj, data))
               for user, method, name, obj, data in checks]
    assert [r for r in results if r[3] != (404, 404, True)] == []
    # …and nothing changed: no transition by B's officer or the unassigned reviewers.
    assert [(a.pk, Assessment.objects.get(pk=a.pk).state) for a in (o["draft"], o["submitted"], b_submitted)] == [
        (o["draft"].pk, "draft"), (o["submitted"].pk, "submitted"), (b_submitted.pk, "submitted")]
    assert Assessment.objects.get(pk=o["in_review"].pk).state == "in_review"


# --- officers cannot set protected fields through the entry form -------------------------------

PROTECTED = [
    "unit", "unit_id", "round", "round_id", "kind", "layout", "state", "self_total", "self_grade",
    "review_total", "review_grade", "risk_flags", "risk_flag_count", "created_by", "created_at",
    "submitted_at", "published_at", "id", "pk", "duties", "staff_quota",
]


def row_of(a) -> dict:
    return Assessment.objects.filter(pk=a.pk).values().get()


def test_officer_post_cannot_set_protected_fields(world, unit_b, round_2020):
    c = world.cast
    a = world.objects["draft"]
    other_round = type(round_2020).objects.create(year=2021, title="2021年度绩效自评")
    before = row_of(a)
    data = entry_post(a)
    data["header-project_leader"] = "张三"  # the legitimate change
    forged = {
        "unit": unit_b.pk, "unit_id": unit_b.pk, "round": other_round.pk, "round_id": other_round.pk,
        "kind": "department", "layout": "department", "state": "published", "version": "999",
        "self_total": "100", "self_grade": "优", "review_total": "100", "review_grade": "优",
        "risk_flags": "", "risk_flag_count": "0", "created_by": c.officer_b.pk, "created_at": "2000-01-01 00:00",
        "submitted_at": "2000-01-01 00:00", "published_at": "2000-01-01 00:00", "id": "1", "pk": "1",
        "duties": "部门职责", "staff_quota": "99",
    }
    for name, value in forged.items():
        data[f"header-{name}"] = str(value)
        data.setdefault(name, str(value))
    data["action"] = "save"
    client = fresh_client(c.officer_a)
    response = client.post(reverse("assessments:edit", args=[a.pk]), data)
    assert (response.status_code, response["Location"]) == (302, reverse("assessments:edit", args=[a.pk]))
    after = row_of(a)
    assert after["project_leader"] == "张三"
    assert after["version"] == before["version"] + 1
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"project_leader", "version", "updated_at"}
    assert {k: after[k] for k in PROTECTED if k in after} == {k: before[k] for k in PROTECTED if k in before}


def test_officer_cannot_reach_another_units_rows_through_formset_ids(world, unit_b, round_2020):
    """Row ids and the inline parent key of B's assessment posted in A's form change nothing of B.

    A posted row id is looked up among the rows of A the formset loaded (forms.LoadedRowField): an
    id from elsewhere fails validation with a message naming the row, as does a forged parent key.
    """
    c = world.cast
    a = world.objects["draft"]
    b = valid_assessment(unit_b, round_2020, "乙单位项目", user=c.officer_b)
    b_indicator = b.indicators.order_by("position").first()
    b_funding = FundingRow.objects.get(assessment=b, source="total")
    b_section = ReportSection.objects.filter(assessment=b).order_by("id").first()

    def state_of_b():
        return (
            list(Indicator.objects.filter(assessment=b).order_by("id").values()),
            list(FundingRow.objects.filter(assessment=b).order_by("id").values()),
            list(ReportSection.objects.filter(assessment=b).order_by("id").values()),
            row_of(b),
        )

    before_b = state_of_b()
    attacks = {
        "indicator id": {"indicators-0-id": str(b_indicator.pk), "indicators-0-name": "被篡改"},
        "inline parent": {"indicators-0-assessment": str(b.pk), "indicators-0-name": "被篡改"},
        "funding id": {"funding-0-id": str(b_funding.pk), "funding-0-reason": "被篡改"},
        "section id": {"sections-0-id": str(b_section.pk), "sections-0-body": "被篡改"},
    }
    statuses = {}
    for label, extra in attacks.items():
        data = {**entry_post(a), **extra}
        statuses[label] = call(c.officer_a, "POST", reverse("assessments:edit", args=[a.pk]), data).status_code
        assert state_of_b() == before_b, label
    assert statuses == {"indicator id": 400, "inline parent": 400, "funding id": 400, "section id": 400}
    page = call(c.officer_a, "POST", reverse("assessments:edit", args=[a.pk]), {**entry_post(a), **attacks["funding id"]})
    assert "该行已不存在或不属于本自评（可能已在别处删除），请刷新页面后重新填写。" in page.content.decode()
    # The same posts for real (not rolled back): B is untouched and A's own rows keep their owner.
    client = fresh_client(c.officer_a)
    for extra in attacks.values():
        client.post(reverse("assessments:edit", args=[a.pk]), {**entry_post(a), **extra})
    assert state_of_b() == before_b
    assert not FundingRow.objects.filter(reason="被篡改").exists()
    assert not ReportSection.objects.filter(body="被篡改").exists()
    assert not Indicator.objects.filter(name="被篡改").exists()
