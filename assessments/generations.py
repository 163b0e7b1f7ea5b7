"""One-row version tables ("generations"): a value that changes whenever what it announces changes.

Three caches are keyed by one: the public pages (`PublicGeneration`), each account's roles
(`AuthorizationGeneration`) and the pages kept whole for their users (`DataGeneration`). Each is
a row in the database, not a value in a cache, so every process reads the same one whatever
cache it has, and a cache flush cannot lose it. A new value is a nanosecond stamp, never below
the last value plus one: a database restored from a backup cannot bring back a value under which
something was kept.
"""

import time

from django.db.models import F, IntegerField, Value
from django.db.models.functions import Greatest


def read(model, using="default") -> int:
    """The current value (created on a new database)."""
    rows = model.objects.using(using)
    value = rows.filter(pk=1).values_list("value", flat=True).first()
    if value is None:
        value = rows.get_or_create(pk=1, defaults={"value": time.time_ns()})[0].value
    return value


def renew(model, using="default") -> None:
    """A new value. In a transaction, it commits with the change it announces."""
    value = time.time_ns()
    rows = model.objects.using(using)
    if not rows.filter(pk=1).update(value=Greatest(F("value") + 1, Value(value))):
        rows.update_or_create(pk=1, defaults={"value": value})


def read_many(*models, using="default") -> list[int]:
    """The current values of several generations, in one query."""
    parts = [m.objects.using(using).filter(pk=1).order_by().annotate(which=Value(i, output_field=IntegerField()))
             .values_list("which", "value") for i, m in enumerate(models)]
    found = dict(parts[0].union(*parts[1:], all=True)) if len(parts) > 1 else dict(parts[0])
    return [found[i] if i in found else read(m, using) for i, m in enumerate(models)]
