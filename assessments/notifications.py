"""E-mail to the people a transition concerns, sent by a Celery task queued after the transaction commits.

The request that makes a transition never talks to the mail server: a slow or absent server cost
the officer up to 10 s (the SMTP timeout) and a lost mail had no second try. The task
(`tasks.send_notification`) retries with a growing delay; without a broker (the embedded default)
it runs in-process once, after the commit, as before.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from .models import Assessment, Membership, Transition

log = logging.getLogger(__name__)

TEMPLATES = {
    "submit": "emails/submitted",
    "forward": "emails/forwarded",
    "pre_return": "emails/pre_returned",
    "return": "emails/returned",
    "approve": "emails/approved",
    "correct": "emails/correct",
}


def _to_supervisors(a: Assessment) -> bool:
    """A submission waiting for 初审 goes to the 主管部门's reviewers, not to the bureau."""
    return bool(a.unit.supervisor_unit_id and a.round.supervisor_review)


def recipients(transition: Transition) -> list[str]:
    a = transition.assessment
    User = get_user_model()
    if transition.action == "submit" and _to_supervisors(a):
        users = User.objects.filter(
            memberships__unit=a.unit.supervisor_unit_id, memberships__role=Membership.Role.SUPERVISOR
        ).exclude(memberships__unit=a.unit_id, memberships__role=Membership.Role.OFFICER)
    elif transition.action in ("submit", "forward"):
        users = User.objects.filter(
            Q(review_assignments__unit=a.unit_id)
            | Q(user_permissions__codename="review_all")
            | Q(groups__permissions__codename="review_all")
        ).exclude(memberships__unit=a.unit_id, memberships__role=Membership.Role.OFFICER)
    else:
        users = User.objects.filter(memberships__unit=a.unit_id, memberships__role=Membership.Role.OFFICER)
    return sorted({u.email for u in users.filter(is_active=True).exclude(email="").distinct()})


def deliver(transition_id: int) -> int:
    """Send the mail of a transition (the task's body): the number sent. Mail server errors propagate."""
    transition = Transition.objects.filter(pk=transition_id).select_related("assessment").first()
    if transition is None or transition.action not in TEMPLATES:
        return 0
    return send(transition)


def send(transition: Transition) -> int:
    to = recipients(transition)
    if not to:
        return 0
    a = Assessment.objects.select_related("unit__supervisor_unit", "round").get(pk=transition.assessment_id)
    base = getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    if transition.action == "submit" and _to_supervisors(a):
        view = "assessments:supervise_detail"
    else:
        view = "assessments:review" if transition.action in ("submit", "forward") else "assessments:detail"
    context = {"a": a, "t": transition, "url": base + reverse(view, args=[a.pk]), "pre_review": view.startswith("assessments:supervise")}
    name = TEMPLATES[transition.action]
    subject = " ".join(render_to_string(f"{name}_subject.txt", context).split())
    body = render_to_string(f"{name}.txt", context)
    return send_mail(subject, body, None, to)
