"""Issue 17, part 3: every value a user sees is Chinese — the change list between submissions,
the audit log (page and admin) — and people are named by their names with the login in small
print."""

import re

import pytest
from django.urls import reverse

from assessments import diff, workflow
from assessments.builtin_templates import NATIONAL
from assessments.models import AuditEvent

from .test_audit import client_for, make_project
from .test_review import element

pytestmark = pytest.mark.django_db

RAW_CODES = ("workflow.", "auth.", "in_review", "submitted", "approved", "published", "draft", "None", "assessment #")


def test_change_list_shows_the_choice_labels():
    old = {"indicators": [{"key": "k1", "name": "培训次数", "outcome": "achieved", "actual": "12次"}]}
    new = {"indicators": [{"key": "k1", "name": "培训次数", "outcome": "partial", "actual": "8次"}]}
    assert diff.compare(old, new) == [
        diff.Change("绩效指标", "培训次数", "实际完成值", "12次", "8次", "k1"),
        diff.Change("绩效指标", "培训次数", "完成情况", "达成年度指标", "部分达成年度指标并具有一定效果", "k1"),
    ]


def test_change_list_names_rows_by_the_template_never_by_code():
    old = {"funding": [{"source": "carryover", "actual": "1.00"}], "report": [{"key": "x9", "body": "甲"}]}
    new = {"funding": [{"source": "carryover", "actual": "2.00"}], "report": [{"key": "x9", "body": "乙"}]}
    assert diff.compare(old, new, NATIONAL) == [
        diff.Change("资金情况", "上年结转资金", "全年执行数（B）", "1.00", "2.00"),
        diff.Change("自评报告", "（无标题）", "内容", "甲", "乙"),
    ]


@pytest.fixture
def named(alice, reviewer):
    alice.last_name, alice.first_name = "李", "填报"
    alice.save()
    reviewer.last_name, reviewer.first_name = "王", "审核"
    reviewer.save()
    return alice, reviewer


def test_audit_log_in_chinese_with_names(named, audit_admin, unit_a, round_2020, django_capture_on_commit_callbacks,
                                         settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    alice, reviewer = named
    a = make_project(unit_a, round_2020)
    workflow.perform(alice, a, "submit")
    workflow.perform(reviewer, a, "start_review")
    with django_capture_on_commit_callbacks(execute=True):
        workflow.perform(reviewer, a, "approve")
    a.refresh_from_db()
    assert a.state == "published"
    html = client_for(audit_admin).get("/audit/").content.decode()
    table = element(html, "audit-table")
    rows = {re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r'<tr class="audit-row">(.*?)</tr>', table, re.S)}
    publish = next(r for r in rows if " 公开 " in r)
    assert publish.endswith(f"（系统） 岳麓区委政法委 公开 绩效自评 #{a.pk} 成功 "
                            f"流转记录： {a.transitions.get(action='publish').pk} 原状态： 审核通过 新状态： 已公开 意见： （无）")
    start = next(r for r in rows if " 开始审核 " in r)
    assert "王审核 reviewer" in start and "原状态： 已提交 新状态： 审核中" in start
    assert '<span class="person">李填报 <small class="text-body-secondary person-login">alice</small></span>' in table
    for code in RAW_CODES:
        assert code not in table, code


def test_audit_details_without_codes():
    from assessments.audit_labels import detail_items

    assert detail_items({"path": "/x/", "method": "POST", "view": "assessments:edit", "status": 403}) == [
        ("地址", "/x/"), ("方法", "提交（POST）"), ("状态码", "403"),
    ]
    assert detail_items({"scope": "account", "reason": "idle", "carry_from": None, "created": True}) == [
        ("原因", "长时间未操作"), ("锁定范围", "同一账号失败次数过多"), ("沿用自", "（无）"), ("新建", "是"),
    ]  # in the order the labels are declared, whatever order the database gives back
    assert detail_items({"reason": "CSRF token missing."}) == [("原因", "请求缺少 CSRF 令牌")]
    assert detail_items({"reason": "password_mismatch,password_too_short"}) == [
        ("原因", "两次输入的新密码不一致；新密码太短")
    ]
    assert detail_items({"model": "assessments.unit", "filters": {"action": "workflow", "outcome": "denied"}}) == [
        ("数据表", "预算单位"), ("筛选条件", "事件：全部流转操作；结果：拒绝"),
    ]


def test_admin_audit_list_in_chinese(named, client):
    from django.contrib.auth.models import User

    alice, _ = named
    AuditEvent.objects.create(actor=alice, actor_username="alice", action="workflow.submit", object_type="assessment",
                              object_id="7", details={"from": "draft", "to": "submitted", "comment": ""})
    root = User.objects.create_superuser("root", "root@example.gov.cn", "Admin-Pass-2024")
    root.groups.add(*__import__("django.contrib.auth.models", fromlist=["Group"]).Group.objects.filter(name="审计管理员"))
    client.force_login(root)
    html = client.get(reverse("admin:assessments_auditevent_changelist")).content.decode()
    assert "李填报" in html and "提交" in html and "绩效自评 #7" in html
    assert "workflow.submit" not in html
    event = AuditEvent.objects.get(action="workflow.submit")
    html = client.get(reverse("admin:assessments_auditevent_change", args=[event.pk])).content.decode()
    assert "原状态：草稿" in html and "新状态：已提交" in html and "意见：（无）" in html
    assert "draft" not in html and "workflow.submit" not in html


def test_history_names_people(named, unit_a, round_2020, client):
    alice, reviewer = named
    a = make_project(unit_a, round_2020)
    workflow.perform(alice, a, "submit")
    workflow.perform(reviewer, a, "start_review")
    client.force_login(reviewer)
    history = element(client.get(reverse("assessments:review", args=[a.pk])).content.decode(), "history")
    assert '<span class="person">王审核 <small class="text-body-secondary person-login">reviewer</small></span>' in history
    assert '<span class="person">李填报 <small class="text-body-secondary person-login">alice</small></span>' in history


def aria_label(html: str, name: str) -> str:
    tag = re.search(rf'<(?:input|select|textarea)[^>]*name="{re.escape(name)}"[^>]*>', html).group(0)
    return re.search(r'aria-label="([^"]*)"', tag).group(1)


def test_every_row_field_has_an_accessible_name(alice, unit_a, round_2020, client):
    """Issue 17, part 4: the generated fields of the entry and review forms carry aria-labels."""
    from assessments.models import Assessment

    from .test_access_matrix import make_reviewer, valid_assessment

    a = valid_assessment(unit_a, round_2020, "无障碍项目", user=alice)
    client.force_login(alice)
    html = client.get(reverse("assessments:edit", args=[a.pk])).content.decode()
    for name, label in [
        ("indicators-0-level1", "第1条指标 一级指标"), ("indicators-2-name", "第3条指标 三级指标"),
        ("indicators-1-outcome", "第2条指标 完成情况"), ("indicators-0-ORDER", "第1条指标 顺序"),
        ("indicators-0-DELETE", "第1条指标 删除"), ("funding-0-actual", "合计 实际投入资金额"),
        ("funding-1-initial_budget", "其中：财政拨款 年初预算资金总额"), ("goals-0-target", "第1条目标 年度目标"),
        ("indicators-__prefix__-name", "新增的指标 三级指标"),
    ]:
        assert aria_label(html, name) == label
    reviewer = make_reviewer("zhou", unit_a)
    workflow.perform(alice, a, "submit")
    workflow.perform(reviewer, a, "start_review")
    assert Assessment.objects.get(pk=a.pk).state == "in_review"
    client.force_login(reviewer)
    html = client.get(reverse("assessments:review", args=[a.pk])).content.decode()
    for name, label in [("review-0-score", "第1条指标 复核得分"), ("review-2-note", "第3条指标 复核说明"),
                        ("review-1-outcome", "第2条指标 复核完成情况")]:
        assert aria_label(html, name) == label
    assert '<label class="form-label fw-semibold" for="id_comment">审核意见</label>' in html
