from django.conf import settings
from django.db import models
from django_otp.plugins.otp_totp.models import TOTPDevice


class UserSecurity(models.Model):
    """Per-account security state that Django's User has no field for."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name="用户", on_delete=models.CASCADE, related_name="security"
    )
    must_change_password = models.BooleanField(
        "须在下次登录时修改密码", default=False,
        help_text="管理员创建账号或重置密码后自动勾选；用户修改密码后清除。",
    )
    password_changed_at = models.DateTimeField("最近修改密码时间", null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "账号安全状态"
        # What the administrator roles may do with accounts (issue 18, assessments/roles.py).
        permissions = [
            ("manage_accounts", "管理账号（新建、修改姓名与邮箱、停用、重置密码）"),
            ("assign_roles", "为账号分配角色"),
            ("unlock_login", "解除登录锁定"),
        ]

    def __str__(self):
        return f"{self.user}"


class SecurityPolicy(models.Model):
    """The security settings the 安全管理员 edits (issue 18): one row (pk 1).

    An empty field means the deployment's setting (portal/settings.py). A value may only make the
    portal stricter than that baseline (`assessments.security.policy`), so a stolen 安全管理员
    account cannot switch a protection off.
    """

    password_min_length = models.PositiveSmallIntegerField("密码最少字符数", null=True, blank=True)
    password_min_classes = models.PositiveSmallIntegerField(
        "密码至少包含的字符类别数", null=True, blank=True, help_text="大写字母、小写字母、数字、符号四类中的至少几类。"
    )
    login_failure_limit = models.PositiveSmallIntegerField(
        "锁定账号的失败次数", null=True, blank=True, help_text="同一账号从同一地址连续登录失败达到此次数即锁定。"
    )
    login_ip_failure_limit = models.PositiveIntegerField(
        "锁定地址的失败次数", null=True, blank=True, help_text="同一地址登录失败（不论账号）达到此次数即暂停该地址登录。"
    )
    login_global_failure_limit = models.PositiveIntegerField(
        "全站限制登录的失败次数", null=True, blank=True,
        help_text="全站登录失败达到此次数后，只允许账号从其近期登录过的地址登录。",
    )
    lockout_minutes = models.PositiveIntegerField("锁定时长（分钟）", null=True, blank=True)
    session_idle_minutes = models.PositiveIntegerField("无操作自动退出（分钟）", null=True, blank=True)
    session_absolute_hours = models.PositiveIntegerField("单次登录最长时间（小时）", null=True, blank=True)
    admin_allowed_networks = models.TextField(
        "管理后台允许访问的地址", blank=True,
        help_text="每行一个 IP 地址或网段（如 10.20.0.0/16）；留空则沿用部署设置。保存时须包含您当前的地址。",
    )
    updated_at = models.DateTimeField("最近修改时间", auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "安全策略"
        default_permissions = ("view", "change")

    def __str__(self):
        return "安全策略"

    def clean(self):
        from ..security.policy import validate

        validate(self)


class OTPDevice(TOTPDevice):
    """django-otp's TOTP device under a Chinese name: the 安全管理员 registers one per administrator."""

    class Meta:
        proxy = True
        verbose_name = verbose_name_plural = "动态口令设备"
