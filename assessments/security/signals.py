"""Audit rows for authentication events and admin changes; session bookkeeping at login.

Connected in `AssessmentsConfig.ready()`.
"""

from axes.signals import user_locked_out
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save, pre_save

from .. import audit
from . import sessions

ADMIN_ACTIONS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}


def _username(credentials) -> str:
    """The username as typed (nothing else from the credentials: never the password)."""
    value = (credentials or {}).get("username", "")
    return str(value)[:150] if value is not None else ""


def on_logged_in(sender, request, user, **kwargs):
    sessions.start(request, user)
    # The superuser is for emergencies only (issue 18): its logins are a separate event, listed
    # at the top of the audit page.
    audit.record("auth.superuser_login" if user.is_superuser else "auth.login", actor=user)


def _record_failure(request, username) -> None:
    """One `auth.login_failed` row per attempt, whichever receiver gets there first."""
    if request is not None:
        if getattr(request, "portal_failure_recorded", False):
            return
        request.portal_failure_recorded = True
    audit.record(
        "auth.login_failed", outcome=audit.Outcome.FAILED, actor=None, username=username,
        details={"path": getattr(request, "path", "")},
    )


def on_login_failed(sender, credentials, request=None, **kwargs):
    if request is not None and getattr(request, "portal_login_refused", False):
        return  # refused as locked before the password was checked: `on_locked_out` records it
    _record_failure(request, _username(credentials))


def on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    if request is not None and not getattr(request, "portal_login_refused", False):
        _record_failure(request, username or "")  # the failed attempt that set off the lock
    details = {"path": getattr(request, "path", "")}
    scope = getattr(request, "portal_throttle", None)  # account, address or global (security.throttle)
    if scope:
        details["scope"] = scope
    audit.record("auth.locked_out", outcome=audit.Outcome.DENIED, actor=None, username=username or "", details=details)


def on_logged_out(sender, request, user, **kwargs):
    if user is None:
        return
    reason = getattr(request, "portal_logout_reason", "")
    action = "auth.session_expired" if reason else "auth.logout"
    audit.record(action, actor=user, details={"reason": reason} if reason else {})


def on_admin_log_entry(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        record_admin_change(instance)


def record_admin_change(entry: LogEntry) -> None:
    model = entry.content_type.model_class() if entry.content_type_id else None
    audit.record(
        ADMIN_ACTIONS.get(entry.action_flag, "admin.change"),
        actor=entry.user,
        unit=_unit_of(model, entry.object_id),
        object_type=model._meta.model_name if model else "",
        object_id=entry.object_id or "",
        details={
            "model": model._meta.label_lower if model else "",
            "object": entry.object_repr,
            "change": entry.get_change_message(),
        },
    )


def _unit_of(model, object_id):
    from ..models import Membership, ReviewerAssignment, Unit

    if model is None or object_id in (None, "") or not str(object_id).isdigit():
        return None
    if model is Unit:
        return int(object_id)
    if model in (Membership, ReviewerAssignment):
        return model.objects.filter(pk=int(object_id)).values_list("unit_id", flat=True).first()
    return None


def ensure_role_groups(sender=None, using="default", **kwargs):
    """The role groups with their fixed permissions (issue 18): created by migration 0013, put
    back after every migrate and after a database flush (the test runner empties every table
    between transactional tests)."""
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    if not MigrationRecorder(connections[using]).has_table():
        return
    from .. import roles
    from ..models import SecurityPolicy

    roles.sync_groups(using=using)
    SecurityPolicy.objects.using(using).get_or_create(pk=1)
    # A data migration may have changed groups or grants without signals: roles are read afresh.
    roles.invalidate()


# --- separation of duties on every save (issue 18) ---------------------------------------------


def _check_groups(sender, instance, action, reverse, model, pk_set, **kwargs):
    """user.groups.add/set (or group.user_set.add): refuse a second administrator role, or an
    administrator role beside a business role."""
    from .. import roles

    if action != "pre_add" or not pk_set:
        return
    if reverse:  # group.user_set.add(users)
        for user in model.objects.filter(pk__in=pk_set):
            current = set(user.groups.values_list("pk", flat=True))
            roles.check(user, group_ids=current | {instance.pk})
    else:
        current = set(instance.groups.values_list("pk", flat=True))
        roles.check(instance, group_ids=current | set(pk_set))
        roles.forget(instance)


def _check_permissions(sender, instance, action, reverse, model, pk_set, **kwargs):
    """review_all granted directly makes a reviewer: not for an administrator."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    from .. import roles

    if action != "pre_add" or not pk_set:
        return
    if reverse:  # permission.user_set.add(users)
        if instance.codename == "review_all" and instance.content_type.app_label == "assessments":
            for user in get_user_model().objects.filter(pk__in=pk_set):
                roles.check(user, review_all_direct=True)
    elif Permission.objects.filter(pk__in=pk_set, codename="review_all", content_type__app_label="assessments").exists():
        roles.check(instance, review_all_direct=True)
        roles.forget(instance)


def _check_assignment(sender, instance, raw=False, **kwargs):
    from .. import roles

    if not raw:
        roles.check(instance.reviewer, assigned=True)


def _check_membership(sender, instance, raw=False, **kwargs):
    from .. import roles

    if not raw:
        roles.check(instance.user, officer=True)


def _authorization_changed(sender, action=None, **kwargs):
    """A grant, group, membership or assignment was saved, deleted, added or removed: the cached
    `roles.authorization` of every account starts again (ADR 0024)."""
    from .. import roles

    if action is None or action in ("post_add", "post_remove", "post_clear"):
        roles.invalidate()


def connect(app_config=None):
    user_logged_in.connect(on_logged_in, dispatch_uid="portal_audit_logged_in")
    user_login_failed.connect(on_login_failed, dispatch_uid="portal_audit_login_failed")
    user_logged_out.connect(on_logged_out, dispatch_uid="portal_audit_logged_out")
    user_locked_out.connect(on_locked_out, dispatch_uid="portal_audit_locked_out")
    post_save.connect(on_admin_log_entry, sender=LogEntry, dispatch_uid="portal_audit_admin_log")
    from django.contrib.auth import get_user_model

    from ..models import Membership, ReviewerAssignment

    user_model = get_user_model()
    m2m_changed.connect(_check_groups, sender=user_model.groups.through, dispatch_uid="portal_roles_groups")
    m2m_changed.connect(
        _check_permissions, sender=user_model.user_permissions.through, dispatch_uid="portal_roles_permissions"
    )
    pre_save.connect(_check_assignment, sender=ReviewerAssignment, dispatch_uid="portal_roles_assignment")
    pre_save.connect(_check_membership, sender=Membership, dispatch_uid="portal_roles_membership")
    from django.contrib.auth.models import Group, Permission

    for model in (Membership, ReviewerAssignment, Group, Permission):
        for signal, when in ((post_save, "save"), (post_delete, "delete")):
            signal.connect(_authorization_changed, sender=model, dispatch_uid=f"portal_authz_{model.__name__}_{when}")
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(_authorization_changed, sender=through, dispatch_uid=f"portal_authz_{through.__name__}")
    if app_config is not None:
        post_migrate.connect(ensure_role_groups, sender=app_config, dispatch_uid="portal_role_groups")

