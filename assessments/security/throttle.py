"""Login throttles (issue 12, finding 8): per account and address, per address, and site-wide.

django-axes records each failed login as (username, IP, user agent) with a failure count. This
handler (AXES_HANDLER) reads those rows in one query per check and refuses a login when, within
the cool-off window (AXES_COOLOFF_TIME, 15 minutes):

- ``account``: this username failed AXES_FAILURE_LIMIT (5) times *from this address*. A
  stranger's failures no longer lock anyone out: locking a user needs failures from the user's
  own address, or an admin (deactivate the account).
- ``address``: this address failed PORTAL_LOGIN_IP_FAILURE_LIMIT (20) times, whatever the
  usernames (password spraying: one guess for each of many accounts).
- ``global``: the whole site saw PORTAL_LOGIN_GLOBAL_FAILURE_LIMIT failures (spraying from many
  addresses). Then only a username logging in from an address it logged in from successfully
  within PORTAL_LOGIN_KNOWN_ADDRESS_DAYS (the audit log's ``auth.login`` rows) may still try,
  so that an attack on the whole site does not lock out users at their usual desks.

A successful login clears the failures of its own (username, address) only: otherwise one valid
account would let a sprayer reset its address's count between batches.
"""

from datetime import timedelta

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from . import policy

ACCOUNT, ADDRESS, GLOBAL = "account", "address", "global"
LOGIN_ACTIONS = ("auth.login", "auth.superuser_login")  # what security.signals records at a login


def ip_failure_limit(request=None) -> int:
    return policy.current(request).login_ip_failure_limit


def global_failure_limit(request=None) -> int:
    return policy.current(request).login_global_failure_limit


def known_address_days() -> int:
    return int(getattr(settings, "PORTAL_LOGIN_KNOWN_ADDRESS_DAYS", 30))


def failure_counts(username, ip, since) -> dict[str, int]:
    """Failures since `since`: of this username from this address, of this address, of the site."""
    recent = AccessAttempt.objects.filter(attempt_time__gte=since)
    counts = recent.aggregate(
        account=Sum("failures_since_start", filter=Q(username=username, ip_address=ip)),
        address=Sum("failures_since_start", filter=Q(ip_address=ip)),
        site=Sum("failures_since_start"),
    )
    return {k: v or 0 for k, v in counts.items()}


def known_address(username, ip) -> bool:
    """Did `username` log in successfully from `ip` recently? (The audit log keeps every login.)"""
    from ..models import AuditEvent

    if not username or not ip:
        return False
    since = timezone.now() - timedelta(days=known_address_days())
    return AuditEvent.objects.filter(
        action__in=LOGIN_ACTIONS, actor_username=username, ip=ip, at__gte=since
    ).exists()


class ThrottlingHandler(AxesDatabaseHandler):
    """axes' database handler with the three throttles above.

    axes compares `get_failures()` with AXES_FAILURE_LIMIT both before checking a password
    (refuse) and after a failure (lock and signal); answering the limit when a throttle applies
    makes both paths honour it. The reason is left on the request for the lockout page and the
    audit row (`request.portal_throttle`).
    """

    def get_failures(self, request, credentials=None) -> int:
        limit = get_failure_limit(request, credentials)
        username = get_client_username(request, credentials)
        ip = request.axes_ip_address
        counts = failure_counts(username, ip, get_cool_off_threshold(request))
        scope = None
        if counts["account"] >= limit:
            scope = ACCOUNT
        elif counts["address"] >= ip_failure_limit(request):
            scope = ADDRESS
        elif counts["site"] >= global_failure_limit(request) and not known_address(username, ip):
            scope = GLOBAL
        request.portal_throttle = scope
        return limit if scope else counts["account"]

    def reset_user_attempts(self, request, credentials=None) -> int:
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(username=username, ip_address=request.axes_ip_address).delete()
        return count
