from django.conf import settings
from django.db import models


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

    def __str__(self):
        return f"{self.user}"
