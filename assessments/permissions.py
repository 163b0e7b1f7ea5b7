"""Who may see and do what. Views call these; they never decide access themselves."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Assessment, Membership

EDITABLE_STATES = (Assessment.State.DRAFT, Assessment.State.RETURNED)


def officer_unit_ids(user) -> frozenset[int]:
    """Ids of the units the user fills in for (cached on the user object for the request)."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_officer_unit_ids", None)
    if cached is None:
        cached = frozenset(
            Membership.objects.filter(user=user, role=Membership.Role.OFFICER).values_list("unit_id", flat=True)
        )
        user._officer_unit_ids = cached
    return cached


def is_officer(user) -> bool:
    return bool(officer_unit_ids(user))


def is_officer_of(user, assessment: Assessment) -> bool:
    return assessment.unit_id in officer_unit_ids(user)


def can_edit(user, assessment: Assessment) -> bool:
    return is_officer_of(user, assessment) and assessment.state in EDITABLE_STATES


def can_review(user, assessment: Assessment) -> bool:
    """Bureau reviewers with the bureau-wide permission, never on their own unit's assessment."""
    return (
        user.is_authenticated
        and user.has_perm("assessments.review_all")
        and not is_officer_of(user, assessment)
    )


def officer_assessments(user):
    return Assessment.objects.filter(unit_id__in=officer_unit_ids(user))


def get_officer_assessment(user, pk: int) -> Assessment:
    """The assessment if the user is an officer of its unit; 404 otherwise (same as missing)."""
    if not is_officer(user):
        raise Http404
    return get_object_or_404(officer_assessments(user).select_related("unit__region", "round__rule_set"), pk=pk)
