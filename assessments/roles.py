"""Separation of duties (issue 18, 三员分立): the roles, their fixed permissions, and the rule that
no account holds two administrator roles, or an administrator role with a business role.

A role is a Django group. The three administrator roles and the bureau-wide reviewer role have
the permission sets declared in `PERMISSIONS`; migration 0013 creates the groups and
`sync_groups` (after every migrate) puts the declared set back, so a permission added to a
group by hand does not last. The admin shows groups read-only.

The business roles stay what they were: an officer is a `Membership` of a unit, a reviewer holds
`review_all` (directly or through 审核人（全部单位）) or a `ReviewerAssignment`. Business actions
read these grants only (`grants`), never `is_superuser`: the superuser is an emergency account
that may use the admin, and whose every login is on the audit page.
"""

import contextvars
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import BigIntegerField, CharField, F, Q, Value
from django.db.models.functions import Cast

from . import generations
from .models import AuthorizationGeneration, DataGeneration, Membership, ReviewerAssignment

SYSTEM_ADMIN = "系统管理员"
SECURITY_ADMIN = "安全管理员"
AUDIT_ADMIN = "审计管理员"
REVIEWER_ALL = "审核人（全部单位）"
ADMIN_ROLES = (SYSTEM_ADMIN, SECURITY_ADMIN, AUDIT_ADMIN)
# Roles whose holders work in the admin pages (is_staff follows them).
STAFF_ROLES = (SYSTEM_ADMIN, SECURITY_ADMIN)
# The group migration 0004 created for reading the audit log: migration 0013 renames it.
OLD_AUDITOR_GROUP = "审计员"

ALL = ("add", "change", "delete", "view")


def _model(app_label, model, actions=ALL):
    return [(app_label, f"{action}_{model}") for action in actions]


PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    # Units, people, rounds, templates, reviewer assignments. No review, no approval, no audit
    # log, no assessment content, no roles, no security settings.
    SYSTEM_ADMIN: [
        *_model("auth", "user", ("add", "change", "view")),
        ("auth", "view_group"),
        ("assessments", "manage_accounts"),
        *_model("assessments", "usersecurity", ("add", "change", "view")),
        *_model("assessments", "region"),
        *_model("assessments", "unit"),
        *_model("assessments", "membership"),
        *_model("assessments", "reviewerassignment"),
        *_model("assessments", "round"),
        # 批复的绩效目标 typed in the admin (issue 14), configuration of a round like its templates.
        *_model("assessments", "targetset"),
        *_model("assessments", "approvedindicator"),
        *_model("assessments", "templateassignment"),
        *_model("assessments", "scoringruleset"),
        *_model("assessments", "applicationrule"),
        *_model("assessments", "tabletemplate", ("change", "view")),
        ("assessments", "view_templateversion"),
    ],
    # Password policy, lockout and unlock, session limits, the admin allow-list, second-factor
    # devices, and which role each account holds. No business data.
    SECURITY_ADMIN: [
        *_model("auth", "user", ("change", "view")),
        ("auth", "view_group"),
        ("assessments", "assign_roles"),
        ("assessments", "unlock_login"),
        ("assessments", "view_usersecurity"),
        *_model("assessments", "securitypolicy", ("change", "view")),
        *_model("assessments", "otpdevice"),
        *_model("axes", "accessattempt", ("delete", "view")),
        ("axes", "view_accessfailurelog"),
        ("axes", "view_accesslog"),
    ],
    # Reads, exports and verifies the audit log; changes nothing.
    AUDIT_ADMIN: [("assessments", "view_auditevent")],
    # The finance bureau's reviewers of every unit (a business role).
    REVIEWER_ALL: [("assessments", "review_all")],
}


class RoleConflict(ValidationError):
    """An account would hold roles that must be separate; the message says which, in Chinese."""


@dataclass(frozen=True)
class Grants:
    """What an account holds explicitly: permissions ("app.codename") and group names."""

    permissions: frozenset[str]
    groups: frozenset[str]

    @property
    def admin_roles(self) -> tuple[str, ...]:
        return tuple(role for role in ADMIN_ROLES if role in self.groups)


NO_GRANTS = Grants(frozenset(), frozenset())


@dataclass(frozen=True)
class Authorization:
    """Everything access decisions read about an account besides its own row: its grants, the
    units it fills in for (officer), supervises (主管部门审核人) and reviews (审核分工)."""

    grants: Grants
    officer_units: frozenset[int]
    supervisor_units: frozenset[int]
    reviewer_units: frozenset[int]


NO_AUTHORIZATION = Authorization(NO_GRANTS, frozenset(), frozenset(), frozenset())
# The cache keeps each account's Authorization under the generation it was read in; the generation
# is a database row (`AuthorizationGeneration`) that every change to a grant, a role, a membership
# or an assignment renews in its own transaction (`invalidate`), so every process sees a change on
# its next request, whatever cache it has (ADR 0024). The timeout only bounds the cache's size.
_KEY_VERSION = 1  # of the cached value's shape
_TIMEOUT = 60 * 60


# Each account's Authorization as this process last read it, under its generation, in front of the
# cache: right under the same generation as the cache's copy is, without the cache's round trip on
# every request (issue 17). Emptied when it holds `_HERE_MAX` accounts.
_HERE: dict[int, tuple[int, "Authorization"]] = {}
_HERE_MAX = 5000


def _user_key(user) -> str:
    return f"authz:{_KEY_VERSION}:user:{user.pk}"


# The generation read for this request with the data generation (pagecache.GenerationMiddleware):
# one query for both.
_request_generation: contextvars.ContextVar = contextvars.ContextVar("portal_authorization_generation", default=None)


def use_generation(value: int) -> contextvars.Token:
    """This request read the generation already (before anything else): use that value."""
    return _request_generation.set(value)


def forget_generation(token: contextvars.Token) -> None:
    _request_generation.reset(token)


def _generation() -> int:
    value = _request_generation.get()
    return value if value is not None else generations.read(AuthorizationGeneration)


def _read_authorization(user) -> Authorization:
    """One query: the account's permissions, groups, memberships and review assignments."""
    def rows(queryset, kind, label, name, unit):
        # The same four annotated columns in every part of the UNION, in the same order.
        text = CharField()
        return queryset.order_by().annotate(
            authz_kind=Value(kind, output_field=text), authz_label=label, authz_name=name, authz_unit=unit,
        ).values_list("authz_kind", "authz_label", "authz_name", "authz_unit")

    # A typed NULL: PostgreSQL takes an untyped one in the first part as text.
    blank, none = Value("", output_field=CharField()), Cast(Value(None), BigIntegerField())
    found = rows(Permission.objects.filter(Q(user=user) | Q(group__user=user)), "permission",
                 F("content_type__app_label"), F("codename"), none).union(
        rows(Group.objects.filter(user=user), "group", blank, F("name"), none),
        rows(Membership.objects.filter(user=user), "membership", blank, F("role"), F("unit_id")),
        rows(ReviewerAssignment.objects.filter(reviewer=user), "assignment", blank, blank, F("unit_id")),
        all=True,
    )
    permissions, groups, units = set(), set(), {Membership.Role.OFFICER: set(), Membership.Role.SUPERVISOR: set(),
                                                  "review": set()}
    for kind, app_label, name, unit_id in found:
        if kind == "permission":
            permissions.add(f"{app_label}.{name}")
        elif kind == "group":
            groups.add(name)
        elif kind == "membership":
            units.setdefault(name, set()).add(unit_id)
        else:
            units["review"].add(unit_id)
    return Authorization(Grants(frozenset(permissions), frozenset(groups)), frozenset(units[Membership.Role.OFFICER]),
                         frozenset(units[Membership.Role.SUPERVISOR]), frozenset(units["review"]))


def authorization(user) -> Authorization:
    """The account's `Authorization`: kept on the user object for the request, and in the cache
    under the current generation (one small query instead of the roles' query). An inactive or
    anonymous account holds nothing. Whatever the cache does (empty, down, evicted, per process),
    the answer is the database's."""
    if user is None or not user.is_authenticated or not user.is_active:
        return NO_AUTHORIZATION
    # getattr, not __dict__: request.user is a lazy object whose own __dict__ is not the user's.
    held = getattr(user, "_portal_authorization", None)
    if held is not None:
        return held
    # The generation first, the rows after: rows read later are never older than the generation
    # they are kept under.
    generation = _generation()
    here = _HERE.get(user.pk)
    if here is not None and here[0] == generation:
        held = here[1]
    else:
        key = _user_key(user)
        entry = cache.get(key)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == generation:
            held = entry[1]
        else:
            held = _read_authorization(user)
            cache.set(key, (generation, held), _TIMEOUT)
        if len(_HERE) >= _HERE_MAX:
            _HERE.clear()
        _HERE[user.pk] = (generation, held)
    user._portal_authorization = held
    return held


def invalidate(**kwargs) -> None:
    """A grant, role, membership or assignment changed: a new generation, in the same transaction
    (a nanosecond stamp, always above the last one: a restored backup cannot bring back a value
    under which roles were kept)."""
    try:
        with transaction.atomic():
            generations.renew(AuthorizationGeneration)
            # Pages kept whole are renewed after the commit too (datachanges); in the change's own
            # transaction, a revoked role cannot be served a kept page even if that renewal fails.
            generations.renew(DataGeneration)
    except DatabaseError:
        # A migration run before the generation's table exists (or after it is migrated back):
        # no request can have kept roles under a generation then. Any other failure stands.
        if AuthorizationGeneration._meta.db_table in connection.introspection.table_names():
            raise


def grants(user) -> Grants:
    """The user's explicit permissions and groups (`authorization`).

    Unlike `user.has_perm`, a superuser holds only what was granted to it: business roles and
    the audit log never follow from `is_superuser`.
    """
    return authorization(user).grants


def has_grant(user, permission: str) -> bool:
    """`permission` ("app.codename") granted to the user or one of its groups; never implied."""
    return permission in grants(user).permissions


def admin_roles(user) -> tuple[str, ...]:
    return grants(user).admin_roles


def is_administrator(user) -> bool:
    """Administrators confirm their logins with a second factor when the setting asks for it."""
    if user is None or not user.is_authenticated:
        return False
    return bool(user.is_superuser or user.is_staff or admin_roles(user))


def forget(user) -> None:
    """Drop what `grants` cached (after the user's groups or permissions changed)."""
    target = getattr(user, "_wrapped", user)  # the user itself behind a lazy request.user
    for name in ("_portal_authorization", "_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        target.__dict__.pop(name, None)


# --- the rule ------------------------------------------------------------------------------------


def conflicts(roles, *, reviewer: bool, officer: bool) -> list[str]:
    """Why these roles may not be held together ([] when they may)."""
    held = [role for role in ADMIN_ROLES if role in roles]
    problems = []
    if len(held) > 1:
        problems.append(f"三员分立：同一账号不能同时担任{'和'.join(held)}。")
    if held and reviewer:
        problems.append(f"三员分立：{held[0]}不能同时担任审核人（审核人（全部单位）或审核分工）。")
    if held and officer:
        problems.append(f"三员分立：{held[0]}不能同时担任预算单位的填报人。")
    return problems


@dataclass(frozen=True)
class Holding:
    """The roles an account holds in the database (or would hold after a change)."""

    roles: frozenset[str]
    review_all: bool
    assigned: bool
    officer: bool

    @property
    def reviewer(self) -> bool:
        return self.review_all or self.assigned

    def conflicts(self) -> list[str]:
        return conflicts(self.roles, reviewer=self.reviewer, officer=self.officer)


def holding(user, *, group_ids=None, review_all_direct=None, assigned=None, officer=None) -> Holding:
    """The account's roles from the database, with any of them replaced by a proposed value:
    `group_ids` (the groups after the change), `review_all_direct` (review_all granted directly),
    `assigned` (has a reviewer assignment), `officer` (has a membership)."""
    saved = user.pk is not None
    groups = Group.objects.filter(pk__in=list(group_ids)) if group_ids is not None else (
        Group.objects.filter(user=user) if saved else Group.objects.none()
    )
    names = frozenset(groups.values_list("name", flat=True))
    via_groups = groups.filter(permissions__content_type__app_label="assessments", permissions__codename="review_all").exists()
    if review_all_direct is None:
        review_all_direct = saved and Permission.objects.filter(
            user=user, content_type__app_label="assessments", codename="review_all"
        ).exists()
    if assigned is None:
        assigned = saved and ReviewerAssignment.objects.filter(reviewer=user).exists()
    if officer is None:
        officer = saved and Membership.objects.filter(user=user).exists()
    return Holding(names, bool(via_groups or review_all_direct), bool(assigned), bool(officer))


def check(user, **proposed) -> None:
    """Raise RoleConflict when the account, after the proposed change, would break the rule."""
    problems = holding(user, **proposed).conflicts()
    if problems:
        raise RoleConflict(problems)


def violations():
    """(user, problems) of every account that breaks the rule now, for `manage.py check_roles`.

    The checks on save cannot see rows written around the ORM (SQL, fixtures, a group's
    permissions changed in the database): this walks what is stored.
    """
    found = []
    for user in get_user_model().objects.filter(groups__name__in=ADMIN_ROLES).distinct().order_by("username"):
        problems = holding(user).conflicts()
        if problems:
            found.append((user, problems))
    return found


def group_drift() -> list[str]:
    """A line for each role group that is missing or whose permissions differ from `PERMISSIONS`."""
    lines = []
    for role, declared in PERMISSIONS.items():
        group = Group.objects.filter(name=role).first()
        if group is None:
            lines.append(f"角色“{role}”的用户组不存在（运行 manage.py migrate 可重建）。")
            continue
        held = set(group.permissions.values_list("content_type__app_label", "codename"))
        extra, missing = sorted(held - set(declared)), sorted(set(declared) - held)
        if extra or missing:
            def names(pairs):
                return "、".join(f"{a}.{c}" for a, c in pairs) or "无"

            lines.append(
                f"角色“{role}”的权限与规定不符：多出 {names(extra)}；缺少 {names(missing)}（运行 manage.py migrate 可恢复）。"
            )
    return lines


# --- the groups ----------------------------------------------------------------------------------


def _permission(apps, using, app_label, codename):
    """The permission, created with its content type if migrate has not made it yet."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    action, _, model = codename.partition("_")
    custom = CUSTOM_PERMISSIONS.get((app_label, codename))
    if custom is not None:  # declared in a model's Meta.permissions
        model, name = custom
    else:
        try:
            label = apps.get_model(app_label, model)._meta.verbose_name_raw
        except LookupError:
            label = model
        name = f"Can {action} {label}"  # as Django's create_permissions names it
    content_type, _ = ContentType.objects.using(using).get_or_create(app_label=app_label, model=model)
    permission, _ = Permission.objects.using(using).get_or_create(
        content_type=content_type, codename=codename, defaults={"name": name}
    )
    return permission


# (app, codename) → (the model that declares it, its name), as in the models' Meta.permissions.
CUSTOM_PERMISSIONS = {
    ("assessments", "manage_accounts"): ("usersecurity", "管理账号（新建、修改姓名与邮箱、停用、重置密码）"),
    ("assessments", "assign_roles"): ("usersecurity", "为账号分配角色"),
    ("assessments", "unlock_login"): ("usersecurity", "解除登录锁定"),
    ("assessments", "review_all"): ("assessment", "可审核全部单位的绩效自评"),
}


def sync_groups(apps=None, using="default") -> None:
    """Create the role groups and give each exactly its declared permissions.

    `apps`: the migration's historical registry, or None for the installed apps (post_migrate,
    which also runs after the test runner empties the tables).
    """
    if apps is None:
        from django.apps import apps as installed

        apps = installed
    Group = apps.get_model("auth", "Group")
    old = Group.objects.using(using).filter(name=OLD_AUDITOR_GROUP).first()
    if old is not None and not Group.objects.using(using).filter(name=AUDIT_ADMIN).exists():
        old.name = AUDIT_ADMIN  # its members keep reading the log, under the new name
        old.save(update_fields=["name"])
    for role, codenames in PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set([_permission(apps, using, app_label, codename) for app_label, codename in codenames])
