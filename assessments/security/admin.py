"""Admin for accounts and roles (must change password after an admin sets it; unlock; separation
of duties), the security policy, second-factor devices and the audit log.

Imported by assessments/admin.py.

Who may change what on an account (issue 18, 三员分立):

- 系统管理员 (manage_accounts): creates accounts, edits names, e-mail and 启用, resets passwords;
  not of administrators or superusers.
- 安全管理员 (assign_roles): chooses the roles (groups) of other accounts; is_staff follows the
  roles. Never its own roles, never a superuser's.
- The superuser (emergencies): everything, the rule of separation included.
"""

from base64 import b32encode

from axes.utils import reset as axes_reset
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import audit, people, permissions, roles
from ..models import AuditEvent, OTPDevice, SecurityPolicy, UserSecurity
from . import passwords, policy


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


@admin.action(description="解除所选用户的登录锁定", permissions=["unlock"])
def unlock_logins(modeladmin, request, queryset):
    users = list(queryset)
    count = 0
    for user in users:
        count += axes_reset(username=user.get_username())
        audit.record("auth.unlocked", obj=user, details={"username": user.get_username()})
    modeladmin.message_user(request, f"已解除 {len(users)} 个账号的登录锁定（清除失败记录 {count} 条）。", messages.SUCCESS)


def is_privileged(user) -> bool:
    """Administrators and superusers: their accounts are out of the 系统管理员's reach."""
    return bool(user.is_superuser or user.is_staff or roles.admin_roles(user))


def may_manage_account(actor, user) -> bool:
    """Names, e-mail, 启用 and the password of `user` (None: a new account)."""
    if actor.is_superuser:
        return True
    if not actor.has_perm("assessments.manage_accounts"):
        return False
    return user is None or not is_privileged(user)


def may_assign_roles(actor, user) -> bool:
    """The groups of `user`: never one's own, never a superuser's (unless one is the superuser)."""
    if user is None:
        return False
    if actor.is_superuser:
        return True
    return actor.has_perm("assessments.assign_roles") and user.pk != actor.pk and not user.is_superuser


class RoleCheckedUserChangeForm(UserChangeForm):
    """The change form refuses roles that must be held by different accounts (issue 18)."""

    def clean(self):
        cleaned = super().clean()
        proposed = {}
        if "groups" in self.fields and "groups" in cleaned:
            proposed["group_ids"] = {group.pk for group in cleaned["groups"]}
        if "user_permissions" in self.fields and "user_permissions" in cleaned:
            proposed["review_all_direct"] = any(
                p.codename == "review_all" and p.content_type.app_label == "assessments" for p in cleaned["user_permissions"]
            )
        if proposed:
            try:
                roles.check(self.instance, **proposed)
            except roles.RoleConflict as exc:
                self.add_error("groups" if "groups" in self.fields else None, exc)
        return cleaned


ACCOUNT_FIELDS = ("username", "first_name", "last_name", "email", "is_active")
ROLE_FIELDS = ("groups",)
SUPERUSER_FIELDS = ("is_superuser", "user_permissions")


class PortalUserAdmin(AuditedDeletionsMixin, UserAdmin):
    add_form = InitialPasswordCreationForm
    form = RoleCheckedUserChangeForm
    change_password_form = ResetPasswordForm
    inlines = [UserSecurityInline]
    actions = [unlock_logins]
    list_display = ("username", "first_name", "role_names", "is_active", "last_login")
    list_filter = ("is_active", "groups", "is_staff", "is_superuser")

    @admin.display(description="角色")
    def role_names(self, user):
        names = [group.name for group in user.groups.all()]
        if user.is_superuser:
            names.insert(0, "超级管理员（仅限紧急情况）")
        return "、".join(names) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def has_unlock_permission(self, request):
        return request.user.has_perm("assessments.unlock_login")

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or may_manage_account(request.user, obj) or may_assign_roles(request.user, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        first = ["username", "password"] if may_manage_account(request.user, obj) else ["username"]
        role_fields = ["is_active", "groups", "is_staff", "is_superuser"]
        if request.user.is_superuser:
            role_fields.append("user_permissions")
        return (
            (None, {"fields": first}),
            ("个人信息", {"fields": ("first_name", "last_name", "email")}),
            ("角色与状态", {
                "fields": role_fields,
                "description": "一个账号不能同时担任系统管理员、安全管理员、审计管理员中的两个，管理员也不能担任填报人或审核人（三员分立）。"
                               "“职员状态”（可进入管理后台）随角色自动设置：系统管理员和安全管理员。",
            }),
            ("重要日期", {"fields": ("last_login", "date_joined")}),
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        editable = set()
        if may_manage_account(request.user, obj):
            editable.update(ACCOUNT_FIELDS)
        if may_assign_roles(request.user, obj):
            editable.update(ROLE_FIELDS)
        if request.user.is_superuser:
            editable.update(SUPERUSER_FIELDS)
        every = (*ACCOUNT_FIELDS, *ROLE_FIELDS, *SUPERUSER_FIELDS, "is_staff", "last_login", "date_joined")
        return tuple(name for name in every if name not in editable)

    def user_change_password(self, request, id, form_url=""):
        user = self.get_object(request, unquote(id))
        if user is not None and not may_manage_account(request.user, user):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change and obj.has_usable_password():
            passwords.require_change(obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # is_staff (may open the admin) follows the roles.
        user = form.instance
        staff = user.is_superuser or user.groups.filter(name__in=roles.STAFF_ROLES).exists()
        if user.is_staff != staff:
            User.objects.filter(pk=user.pk).update(is_staff=staff)
            user.is_staff = staff

    def get_inline_instances(self, request, obj=None):
        # On the add page the flag is set automatically; show the inline when editing.
        return super().get_inline_instances(request, obj) if obj is not None else []


admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)


class RoleGroupAdmin(GroupAdmin):
    """Roles are groups with fixed permissions (assessments/roles.py): shown, never edited here."""

    list_display = ["name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(Group)
admin.site.register(Group, RoleGroupAdmin)


# --- the security policy (安全管理员) ----------------------------------------------------------------


class SecurityPolicyForm(forms.ModelForm):
    client_ip = None  # set per request by SecurityPolicyAdmin.get_form

    class Meta:
        model = SecurityPolicy
        fields = [
            "password_min_length", "password_min_classes", "login_failure_limit", "login_ip_failure_limit",
            "login_global_failure_limit", "lockout_minutes", "session_idle_minutes", "session_absolute_hours",
            "admin_allowed_networks",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, bound in policy.BOUNDS.items():
            field = self.fields.get(name)
            if field is None:
                continue
            direction = "不少于" if bound.stricter == "up" else "不多于"
            note = f"部署设置为 {bound.baseline()} {bound.unit}；留空即沿用，填写时须{direction}该值（只能更严格）。"
            field.help_text = f"{field.help_text} {note}".strip()
        networks = "、".join(str(n) for n in policy.deployment_networks()) or "不限"
        self.fields["admin_allowed_networks"].help_text += f" 部署设置：{networks}。"

    def clean(self):
        cleaned = super().clean()
        problem = policy.networks_problem(cleaned.get("admin_allowed_networks", ""), self.client_ip)
        if problem:
            self.add_error("admin_allowed_networks", problem)
        return cleaned


@admin.register(SecurityPolicy)
class SecurityPolicyAdmin(admin.ModelAdmin):
    """One row: the list opens it. Values may only tighten the deployment's settings."""

    form = SecurityPolicyForm
    fieldsets = (
        ("密码", {"fields": ("password_min_length", "password_min_classes")}),
        ("登录失败锁定", {"fields": ("login_failure_limit", "login_ip_failure_limit", "login_global_failure_limit",
                               "lockout_minutes")}),
        ("会话", {"fields": ("session_idle_minutes", "session_absolute_hours"),
                "description": "修改后对之后的登录生效。"}),
        ("管理后台", {"fields": ("admin_allowed_networks",)}),
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        return type(form.__name__, (form,), {"client_ip": audit.client_ip(request)})

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row, _ = SecurityPolicy.objects.get_or_create(pk=policy.PK)
        return redirect(reverse("admin:assessments_securitypolicy_change", args=[row.pk]))


# --- second-factor devices (安全管理员) ----------------------------------------------------------


class OTPDeviceForm(forms.ModelForm):
    class Meta:
        model = OTPDevice
        fields = ["user", "name", "confirmed"]
        labels = {"user": "账号", "name": "设备名称", "confirmed": "已启用"}
        help_texts = {
            "name": "例如“张三的手机”。",
            "confirmed": "保存后把页面上的密钥交给本人添加到手机的身份验证器中，确认能生成口令后再勾选；启用后不再显示密钥。",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.initial.setdefault("confirmed", False)


@admin.register(OTPDevice)
class OTPDeviceAdmin(admin.ModelAdmin):
    """TOTP devices of the administrators (django-otp), registered by the 安全管理员."""

    form = OTPDeviceForm
    list_display = ["person", "device_name", "enabled", "last_used"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name"]
    autocomplete_fields = ["user"]
    readonly_fields = ["binding"]

    def get_fields(self, request, obj=None):
        return ["user", "name", "confirmed"] + (["binding"] if obj is not None and not obj.confirmed else [])

    @admin.display(description="用户", ordering="user__username")
    def person(self, device):
        return people.text(device.user)

    @admin.display(description="设备名称")
    def device_name(self, device):
        return device.name

    @admin.display(description="已启用", boolean=True)
    def enabled(self, device):
        return device.confirmed

    @admin.display(description="最近使用时间")
    def last_used(self, device):
        return device.last_used_at

    @admin.display(description="绑定信息")
    def binding(self, device):
        key = b32encode(device.bin_key).decode()
        return format_html(
            '<div>密钥（在身份验证器中选择“手动输入密钥”，基于时间，6 位）：<code id="otp-key">{}</code></div>'
            '<div class="small">或把以下地址生成二维码扫描：<code>{}</code></div>',
            " ".join(key[i:i + 4] for i in range(0, len(key), 4)), device.config_url,
        )


if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)  # django-otp's own admin is in English; OTPDeviceAdmin replaces it


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read only: the audit log cannot be added to, changed or deleted through the admin; only the
    审计管理员 reads it (not implied by is_superuser, issue 18)."""

    list_display = ["at", "person", "unit", "ip", "event", "object", "outcome"]
    list_filter = ["outcome", "object_type"]
    search_fields = ["actor_username", "action", "object_id", "ip"]
    date_hierarchy = "at"
    list_select_related = ["unit", "actor"]
    # Every value in Chinese (issue 17): the codes stay in the database and the CSV export.
    fields = ["seq", "at", "person", "unit", "ip", "event", "object", "outcome", "detail_text", "prev_hash", "row_hash"]
    readonly_fields = fields
    actions = None

    @admin.display(description="操作人", ordering="actor_username")
    def person(self, event):
        return people.html(event.actor, event.actor_username)

    @admin.display(description="事件", ordering="action")
    def event(self, event):
        return event.action_label

    @admin.display(description="对象")
    def object(self, event):
        return f"{event.object_type_label} #{event.object_id}" if event.object_type else "—"

    @admin.display(description="详情")
    def detail_text(self, event):
        return format_html_join("", "<div>{}：{}</div>", event.detail_items) or "—"

    def has_view_permission(self, request, obj=None):
        return permissions.can_audit(request.user)

    def has_module_permission(self, request):
        return permissions.can_audit(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
