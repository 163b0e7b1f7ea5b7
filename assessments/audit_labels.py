"""What the audit log's codes mean, in Chinese: the page, the model's labels and `audit.record`'s
callers read these (no model import here, so the model and the log module do not import each
other)."""

ACTION_LABELS = {
    "auth.login": "登录成功",
    "auth.superuser_login": "紧急超级管理员登录",
    "auth.otp_verified": "动态口令验证通过",
    "auth.otp_failed": "动态口令验证失败",
    "auth.otp_device_added": "登记动态口令设备（命令行）",
    "auth.login_failed": "登录失败",
    "auth.locked_out": "账号锁定（登录失败次数过多）",
    "auth.unlocked": "解除登录锁定",
    "auth.logout": "退出登录",
    "auth.session_expired": "会话过期退出",
    "auth.password_change": "修改密码",
    "auth.password_change_failed": "修改密码失败",
    "access.denied": "越权访问被拒绝",
    "access.csrf_failed": "CSRF 校验失败（请求被拒绝）",
    "access.admin_ip_refused": "管理后台拒绝名单外地址",
    "assessment.create": "新建草稿",
    "assessment.save": "保存草稿",
    "import.confirm": "从Excel导入（确认）",
    "import.word": "从Word导入（确认）",
    "workflow.submit": "提交",
    "workflow.withdraw": "撤回",
    "workflow.start_review": "开始审核",
    "workflow.return": "退回修改",
    "workflow.approve": "审核通过",
    "workflow.publish": "公开",
    "workflow.unpublish": "撤销公开",
    "review.open": "审核人查看提交",
    "review.save": "保存复核",
    "export.generated": "生成公开文件",
    "export.failed": "公开文件生成失败",
    "bulk.request": "申请打包下载公开报告",
    "bulk.download": "下载公开报告压缩包",
    "admin.add": "管理后台：新增",
    "admin.change": "管理后台：修改",
    "admin.delete": "管理后台：删除",
    "template.clone": "复制表样",
    "template.save": "保存表样新版本",
    "template.toggle": "启用/停用表样",
    "template.assign": "分配表样",
    "audit.export": "导出审计日志",
}

ACTION_GROUPS = {
    "auth": "全部登录与账号事件",
    "access": "全部越权访问与 CSRF 拒绝",
    "assessment": "全部草稿新建与保存",
    "import": "全部从Excel导入",
    "workflow": "全部流转操作",
    "review": "全部复核（查看与保存）",
    "export": "全部公开文件生成",
    "bulk": "全部打包下载",
    "admin": "全部管理后台操作",
    "audit": "全部审计日志导出",
}

DETAIL_LABELS = {
    "path": "地址",
    "method": "方法",
    "view": "页面",
    "status": "状态码",
    "reason": "原因",
    "transition": "流转记录",
    "from": "原状态",
    "to": "新状态",
    "comment": "意见",
    "assessment": "自评",
    "rows": "行数",
    "review_total": "复核总分",
    "job": "导出任务",
    "attempt": "第几次尝试",
    "final": "不再重试",
    "error": "错误类型",
    "model": "数据表",
    "object": "对象",
    "change": "修改内容",
    "username": "账号",
    "code": "代码",
    "version": "版本",
    "active": "可选用",
    "region": "地区",
    "scope": "锁定范围",
    "title": "名称",
    "carry_from": "沿用自",
    "filename": "文件名",
    "created": "新建",
    "state": "当时状态",
    "round": "评价批次",
    "year": "年度",
    "filters": "筛选条件",
    "device": "设备",
    "sections": "导入的章节",
    "tables": "导入表格",
    "not_imported": "未导入的章节",
}


def action_label(code: str) -> str:
    return ACTION_LABELS.get(code, code)


# Detail values that are codes, per detail key: what the page shows instead (issue 17: no
# `in_review`, `None` or `account` reaches a reader; the CSV export keeps the stored JSON).
VALUE_LABELS = {
    "scope": {"account": "同一账号失败次数过多", "address": "同一地址失败次数过多", "global": "全站失败次数过多"},
    "reason": {
        "idle": "长时间未操作", "absolute": "登录时长达到上限",
        "password_incorrect": "原密码不正确", "password_mismatch": "两次输入的新密码不一致",
        "password_too_short": "新密码太短", "password_too_common": "新密码过于常见",
        "password_entirely_numeric": "新密码全是数字", "password_too_similar": "新密码与个人信息过于相似",
        "password_reused": "新密码与近期用过的密码相同", "password_no_classes": "新密码包含的字符种类不足",
        "required": "有必填项未填写", "invalid": "填写的内容不符合要求",
    },
    "method": {"GET": "查看（GET）", "POST": "提交（POST）", "HEAD": "查看（HEAD）", "PUT": "修改（PUT）", "DELETE": "删除（DELETE）"},
}
# Django's CSRF refusal reasons (django.middleware.csrf.REASON_*), by how they begin.
CSRF_REASONS = (
    ("CSRF cookie not set", "浏览器未携带 CSRF Cookie"),
    ("CSRF token missing", "请求缺少 CSRF 令牌"),
    ("CSRF token from", "CSRF 令牌无效"),
    ("CSRF token incorrect", "CSRF 令牌不正确"),
    ("Origin checking failed", "请求来源（Origin）不在信任列表中"),
    ("Referer checking failed", "请求来源（Referer）校验失败"),
)
STATE_KEYS = ("from", "to", "state")
HIDDEN_DETAILS = ("view",)  # the URL's internal name; the 地址 beside it says the same
OBJECT_TYPE_LABELS = {
    "assessment": "绩效自评",
    "review": "复核",
    "exportjob": "导出任务",
    "user": "用户",
    "group": "用户组",
    "unit": "预算单位",
    "membership": "单位人员",
    "reviewerassignment": "审核分工",
    "round": "评价批次",
    "bulkexport": "打包下载",
    "tabletemplate": "表样",
}
FILTER_LABELS = {
    "date_from": "起始日期", "date_to": "截止日期", "actor": "操作人", "action": "事件", "outcome": "结果",
    "object_type": "对象类型", "object_id": "对象编号", "ip": "IP 地址",
}
EMPTY = "（无）"


def _state_label(code) -> str:
    from .models.assessments import Assessment  # lazy: the models import this module

    try:
        return Assessment.State(code).label
    except ValueError:
        return str(code)


def _model_label(label_lower: str) -> str:
    from django.apps import apps

    try:
        return str(apps.get_model(label_lower)._meta.verbose_name)
    except (LookupError, ValueError):
        return label_lower or EMPTY


def _section_title(key: str) -> str:
    from .builtin_templates import BUILTIN

    for spec in BUILTIN:
        for section in spec.text_sections:
            if section.key == key:
                return section.title
    return key


def detail_value(key: str, value) -> str:
    """One detail of an audit event as a reader should see it: Chinese, no codes, no None."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in STATE_KEYS:
        return _state_label(value)
    if key == "model":
        return _model_label(str(value))
    if key == "action":
        return ACTION_GROUPS.get(value) or action_label(str(value))
    if key == "outcome":
        return {"ok": "成功", "failed": "失败", "denied": "拒绝"}.get(value, str(value))
    if key == "object_type":
        return OBJECT_TYPE_LABELS.get(value, str(value))
    if key == "sections" and isinstance(value, list):
        return "、".join(_section_title(str(v)) for v in value)
    if key == "filters" and isinstance(value, dict):
        return "；".join(f"{FILTER_LABELS.get(k, k)}：{detail_value(k, v)}" for k, v in value.items()) or "全部"
    if key == "reason" and isinstance(value, str):
        for start, label in CSRF_REASONS:
            if value.startswith(start):
                return label
        if "," in value:
            return "；".join(VALUE_LABELS["reason"].get(v, v) for v in value.split(","))
    labels = VALUE_LABELS.get(key)
    if labels is not None and isinstance(value, str):
        return labels.get(value, value)
    if isinstance(value, list):
        return "、".join(detail_value(key, v) for v in value)
    if isinstance(value, dict):
        return "；".join(f"{DETAIL_LABELS.get(k, k)}：{detail_value(k, v)}" for k, v in value.items())
    return str(value)


_DETAIL_ORDER = {key: n for n, key in enumerate(DETAIL_LABELS)}


def detail_items(details: dict) -> list[tuple[str, str]]:
    """(label, value) of every detail shown on the page, in the order DETAIL_LABELS declares (then
    by key): PostgreSQL's jsonb does not keep the order a row was written in, SQLite's JSON does."""
    keys = sorted((k for k in (details or {}) if k not in HIDDEN_DETAILS), key=lambda k: (_DETAIL_ORDER.get(k, len(_DETAIL_ORDER)), k))
    return [(DETAIL_LABELS.get(k, k), detail_value(k, details[k])) for k in keys]
