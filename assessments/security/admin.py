"""Admin for accounts (must change password after an admin sets it; unlock) and the audit log.

Imported by assessments/admin.py.
"""

from axes.utils import reset as axes_reset
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm
from django.contrib.auth.models import User

from .. import audit
from ..models import AuditEvent, UserSecurity
from . import passwords


class AuditedDeletionsMixin:
    """Admin deletions of several objects at once write their LogEntry rows with bulk_create,
    which sends no post_save: audit them here (single changes are audited from post_save)."""

    def log_deletions(self, request, queryset):
        from .signals import record_admin_change

        entries = super().log_deletions(request, queryset)
        if len(entries) > 1:
            for entry in entries:
                record_admin_change(entry)
        return entries


class InitialPasswordCreationForm(AdminUserCreationForm):
    """The password an admin types is an initial one: the user must change it at first login."""


class ResetPasswordForm(AdminPasswordChangeForm):
    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit and user.has_usable_password():
            passwords.require_change(user)
        return user


class UserSecurityInline(admin.StackedInline):
    model = UserSecurity
    can_delete = False
    extra = 1  # users created outside the admin have no row yet: the admin may still tick the box
    max_num = 1
    fields = ["must_change_password", "password_changed_at"]
    readonly_fields = ["password_changed_at"]
    verbose_name = verbose_name_plural = "账号安全"


@admin.action(description="解除所选用户的登录锁定")
def unlock_logins(modeladmin, request, queryset):
    users = list(queryset)
    count = 0
    for user in users:
        count += axes_reset(username=user.get_username())
        audit.record("auth.unlocked", obj=user, details={"username": user.get_username()})
    modeladmin.message_user(request, f"已解除 {len(users)} 个账号的登录锁定（清除失败记录 {count} 条）。", messages.SUCCESS)


class PortalUserAdmin(AuditedDeletionsMixin, UserAdmin):
    add_form = InitialPasswordCreationForm
    change_password_form = ResetPasswordForm
    inlines = [UserSecurityInline]
    actions = [unlock_logins]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and obj.has_usable_password():
            passwords.require_change(obj)

    def get_inline_instances(self, request, obj=None):
        # On the add page the flag is set automatically; show the inline when editing.
        return super().get_inline_instances(request, obj) if obj is not None else []


admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read only: the audit log cannot be added to, changed or deleted through the admin."""

    list_display = ["at", "actor_username", "unit", "ip", "action", "object_type", "object_id", "outcome"]
    list_filter = ["outcome", "action", "object_type"]
    search_fields = ["actor_username", "action", "object_id", "ip"]
    date_hierarchy = "at"
    list_select_related = ["unit"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
