"""E-mail to the people a transition concerns, sent only after the transaction commits."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from .models import Assessment, Membership, Transition

log = logging.getLogger(__name__)

TEMPLATES = {
    "submit": "emails/submitted",
    "return": "emails/returned",
    "approve": "emails/approved",
}


def recipients(transition: Transition) -> list[str]:
    a = transition.assessment
    User = get_user_model()
    if transition.action == "submit":
        users = User.objects.filter(
            Q(review_assignments__unit=a.unit_id)
            | Q(user_permissions__codename="review_all")
            | Q(groups__permissions__codename="review_all")
        ).exclude(memberships__unit=a.unit_id, memberships__role=Membership.Role.OFFICER)
    else:
        users = User.objects.filter(memberships__unit=a.unit_id, memberships__role=Membership.Role.OFFICER)
    return sorted({u.email for u in users.filter(is_active=True).exclude(email="").distinct()})


def after_transition(transition: Transition) -> None:
    """Queue the notification of a transition for when (and only if) it commits."""
    if transition.action in TEMPLATES:
        transaction.on_commit(lambda: send(transition))


def send(transition: Transition) -> int:
    to = recipients(transition)
    if not to:
        return 0
    a = Assessment.objects.select_related("unit", "round").get(pk=transition.assessment_id)
    base = getattr(settings, "PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    view = "assessments:review" if transition.action == "submit" else "assessments:detail"
    context = {"a": a, "t": transition, "url": base + reverse(view, args=[a.pk])}
    name = TEMPLATES[transition.action]
    subject = " ".join(render_to_string(f"{name}_subject.txt", context).split())
    body = render_to_string(f"{name}.txt", context)
    try:
        return send_mail(subject, body, None, to)
    except OSError:
        # The state change has committed; a mail server outage must not turn it into an error page.
        log.exception("notification for transition %s not sent", transition.pk)
        return 0
