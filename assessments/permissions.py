"""Who may see and do what. Views call these; they never decide access themselves.

Business roles (officer, reviewer) and the audit log are read from what the account was granted
(`roles.grants`), never from `is_superuser` (issue 18): the superuser is an emergency account for
the admin pages, and an administrator role never reviews or fills in.
"""

import functools

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404

from . import roles, sqlwords
from .childrows import ByPk, Ids, Statement
from .models import Assessment, Unit
from .readmodel import load_content

EDITABLE_STATES = (Assessment.State.DRAFT, Assessment.State.RETURNED)


def officer_unit_ids(user) -> frozenset[int]:
    """Ids of the units the user fills in for (`roles.authorization`)."""
    return roles.authorization(user).officer_units


def is_officer(user) -> bool:
    return bool(officer_unit_ids(user))


def is_officer_of(user, assessment: Assessment) -> bool:
    return assessment.unit_id in officer_unit_ids(user)


def can_edit(user, assessment: Assessment) -> bool:
    return is_officer_of(user, assessment) and assessment.state in EDITABLE_STATES


REVIEWER_HIDDEN_STATES = (Assessment.State.DRAFT,)


def reviews_all_units(user) -> bool:
    """Granted review_all (directly or through 审核人（全部单位）) and no administrator role."""
    held = roles.grants(user)
    return "assessments.review_all" in held.permissions and not held.admin_roles


def reviewer_unit_ids(user) -> frozenset[int]:
    """Units assigned to the user for review (`roles.authorization`)."""
    return roles.authorization(user).reviewer_units


def is_reviewer(user) -> bool:
    if reviews_all_units(user):
        return True
    return bool(reviewer_unit_ids(user)) and not roles.admin_roles(user)


def navigation_roles(user) -> dict[str, bool]:
    """Which links the navigation shows: 审核工作台, 表样管理, 审计日志 and 主管部门汇总. Read from
    `roles.authorization` (no query while the account's roles are cached); the pages behind the
    links check access themselves."""
    if not user.is_authenticated or not user.is_active:
        return {"is_reviewer": False, "can_audit": False, "can_manage_templates": False, "is_supervisor": False}
    return {"is_reviewer": is_reviewer(user), "can_audit": can_audit(user),
            "can_manage_templates": can_manage_templates(user), "is_supervisor": is_supervisor(user)}


def can_audit(user) -> bool:
    """The audit log: the 审计管理员 (view_auditevent granted), not implied by is_superuser."""
    return roles.has_grant(user, "assessments.view_auditevent")


def reviewable_units(user):
    """Units whose submissions the user reviews: all, or those assigned; never their own."""
    return Unit.objects.filter(reviewed_unit_filter(user, "pk"))


def reviewed_units(user) -> tuple[str, tuple[int, ...]]:
    """The units whose submissions the user reviews: ("all", ()), all but their own ("all but",
    own units) or those assigned but their own ("only", units)."""
    own = officer_unit_ids(user)
    if reviews_all_units(user):
        return ("all but", tuple(sorted(own))) if own else ("all", ())
    return ("only", tuple(sorted(set(reviewer_unit_ids(user)) - set(own))))


def unit_condition(how: str, ids, field: str = "unit_id") -> Q:
    """`reviewed_units`' answer as a condition on `field` (a unit's key)."""
    if how == "all":
        return Q()
    condition = Q(**{f"{field}__in": ids})
    return ~condition if how == "all but" else condition


def reviewed_unit_filter(user, field: str = "unit_id") -> Q:
    """The units whose submissions the user reviews, as a condition on `field` (a unit's key): all
    units but the user's own, or those assigned but their own. On a table that refers to units it
    needs no join with them: counting a round's 10,000 rows, the join cost more than the count."""
    return unit_condition(*reviewed_units(user), field)


class ForReviewer:
    """A query of what a reviewer reviews, by statements compiled once (`childrows.Statement`):
    `make(units, *values)`, where `units(field="unit_id")` is `reviewed_unit_filter`'s condition on
    `field`. One statement per way the units are limited (all, all but the reviewer's own, the
    assigned ones), each compiled once per number of units."""

    def __init__(self, make, *kinds):
        self._statements = {how: Statement(functools.partial(_for_units, make, how), Ids, *kinds)
                            for how in ("all", "all but", "only")}

    def all(self, user, *values, offset: int = 0, limit: int | None = None) -> list:
        how, ids = reviewed_units(user)
        return self._statements[how].all(ids, *values, offset=offset, limit=limit)


def _for_units(make, how, ids, *values):
    return make(functools.partial(unit_condition, how, ids), *values)


def can_review(user, assessment: Assessment) -> bool:
    """Reviewers of the assessment's unit, never on an assessment of their own unit, never an
    administrator."""
    return (
        (reviews_all_units(user) or (assessment.unit_id in reviewer_unit_ids(user) and not roles.admin_roles(user)))
        and not is_officer_of(user, assessment)
    )


def reviewer_assessments(user):
    """Assessments a reviewer may see: their units' submissions, never drafts."""
    if not is_reviewer(user):
        return Assessment.objects.none()
    return Assessment.objects.filter(reviewer_assessment_filter(user))


def reviewer_assessment_filter(user, to: str = "") -> Q:
    """`reviewer_assessments` as a condition on the assessment reached through `to` ("assessment__"
    on a table that refers to one): a filter, not a subquery."""
    if not is_reviewer(user):
        return Q(pk__in=[])
    return reviewer_assessment_condition(functools.partial(reviewed_unit_filter, user), to)


def reviewer_assessment_condition(units, to: str = "") -> Q:
    """`reviewer_assessment_filter` given the reviewer's units as `units(field)` (a `ForReviewer`
    statement's condition): never a draft."""
    return ~Q(sqlwords.one_of(f"{to}state", REVIEWER_HIDDEN_STATES)) & units(f"{to}unit_id")


def reviews_unit(user, unit_id: int) -> bool:
    """`reviewed_unit_filter` for one unit: the user reviews its submissions."""
    how, ids = reviewed_units(user)
    return how == "all" or (unit_id in ids) == (how == "only")


# The submission a reviewer opens, by a statement compiled once (childrows.ByPk).
# With its 表样 version (the 复核 page reads the table's declaration).
_REVIEWED = ByPk(lambda: Assessment.objects.select_related("unit__region", "round__rule_set", "template_version__template"))


def get_reviewer_assessment(user, pk: int) -> Assessment:
    """The submission if the user reviews its unit (`reviewer_assessments`, checked once read);
    404 otherwise (same as missing)."""
    if not is_reviewer(user):
        raise Http404
    assessment = _REVIEWED.get(pk)
    if assessment is None or assessment.state in REVIEWER_HIDDEN_STATES or not reviews_unit(user, assessment.unit_id):
        raise Http404
    return assessment


def officer_assessments(user):
    return Assessment.objects.filter(unit_id__in=officer_unit_ids(user))


def get_officer_assessment(user, pk: int, *, content: bool | tuple = False) -> Assessment:
    """The assessment if the user is an officer of its unit; 404 otherwise (same as missing).

    ``content=True`` fetches every row the read model and the entry form need with it; a tuple of
    `readmodel.CONTENT`'s relations fetches only those.
    """
    if not is_officer(user):
        raise Http404
    if content:
        # By a statement compiled once (readmodel.load_content); the same 404 as the filtered query.
        try:
            assessment = load_content(pk) if content is True else load_content(pk, content)
        except Assessment.DoesNotExist:
            raise Http404 from None
        if assessment.unit_id not in officer_unit_ids(user):
            raise Http404
        return assessment
    return get_object_or_404(officer_assessments(user).select_related("unit__region", "round__rule_set"), pk=pk)


def supervisor_unit_ids(user) -> frozenset[int]:
    """Units whose 主管部门审核人 the user is (`roles.authorization`)."""
    return roles.authorization(user).supervisor_units


def is_supervisor(user) -> bool:
    return bool(supervisor_unit_ids(user)) and not roles.admin_roles(user)


def supervised_units(user):
    """The units the user's 主管部门 supervise (never the user's own unit)."""
    if not is_supervisor(user):
        return Unit.objects.none()
    return Unit.objects.filter(supervisor_unit_id__in=supervisor_unit_ids(user)).exclude(pk__in=officer_unit_ids(user))


def needs_supervisor_review(assessment: Assessment) -> bool:
    """初审 first: the round asks for it and the unit has a 主管部门."""
    return bool(assessment.unit.supervisor_unit_id and assessment.round.supervisor_review)


def can_pre_review(user, assessment: Assessment) -> bool:
    """The 主管部门审核人 of the assessment's unit, in a round with 初审; never on their own unit."""
    return (
        needs_supervisor_review(assessment)
        and assessment.unit.supervisor_unit_id in supervisor_unit_ids(user)
        and not is_officer_of(user, assessment)
        and not roles.admin_roles(user)
    )


def supervisor_assessments(user):
    """Submissions of the supervised units the user may see: never drafts."""
    return Assessment.objects.filter(unit__in=supervised_units(user)).exclude(state__in=REVIEWER_HIDDEN_STATES)


def get_supervisor_assessment(user, pk: int) -> Assessment:
    return get_object_or_404(supervisor_assessments(user).select_related("unit__region", "round__rule_set"), pk=pk)


def can_manage_templates(user) -> bool:
    """表样管理: the 系统管理员 (staff with change_tabletemplate), or the emergency superuser."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    return user.is_superuser or roles.has_grant(user, "assessments.change_tabletemplate")
