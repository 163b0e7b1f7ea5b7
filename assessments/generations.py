"""One-row version tables ("generations"): a value that changes whenever what it announces changes.

Three caches are keyed by one: the public pages (`PublicGeneration`), each account's roles
(`AuthorizationGeneration`) and the pages kept whole for their users (`DataGeneration`). Each is
a row in the database, not a value in a cache, so every process reads the same one whatever
cache it has, and a cache flush cannot lose it. A new value is a nanosecond stamp, never below
the last value plus one: a database restored from a backup cannot bring back a value under which
something was kept.
"""

import functools
import time

from django.db import connections
from django.db.models import BigIntegerField, F, Value
from django.db.models.functions import Greatest
from django.utils import timezone


def read(model, using="default") -> int:
    """The current value (created on a new database)."""
    return read_many(model, using=using)[0]


def renew(model, using="default") -> None:
    """A new value. In a transaction, it commits with the change it announces."""
    value = time.time_ns()
    rows = model.objects.using(using)
    if not rows.filter(pk=1).update(value=Greatest(F("value") + 1, Value(value, output_field=BigIntegerField()))):
        rows.update_or_create(pk=1, defaults={"value": value})


def read_many(*models, using="default") -> list[int]:
    """The current values of several generations, in one query. Every logged-in page reads two of
    them first (pagecache.GenerationMiddleware), so the statement is written once per process,
    not compiled by the ORM each time (about 0.8 ms a request, issue 17)."""
    return _read(models, None, using)[0]


def read_many_and_session(*models, session_key: str, using="default") -> tuple[list[int], str | None]:
    """`read_many`, and in the same statement the unexpired `django_session` row of `session_key`:
    (the values, its session_data or None). A page's generations and its session in one round trip
    (pagecache.GenerationMiddleware, portal.sessions)."""
    return _read(models, session_key, using)


def _read(models, session_key, using):
    connection = connections[using]
    tables = tuple(m._meta.db_table for m in models)
    with connection.cursor() as cursor:
        if session_key is None:
            cursor.execute(_read_many_sql(using, tables, False))
        else:
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            cursor.execute(_read_many_sql(using, tables, True), [session_key, now])
        rows = cursor.fetchall()
    found = {row[0]: row[1] for row in rows if row[0] < len(models)}
    data = next((row[2] for row in rows if row[0] == len(models)), None)
    return [found[i] if i in found else _create(m, using) for i, m in enumerate(models)], data


def _create(model, using) -> int:
    return model.objects.using(using).get_or_create(pk=1, defaults={"value": time.time_ns()})[0].value


@functools.cache
def _read_many_sql(using: str, tables: tuple[str, ...], with_session: bool) -> str:
    """Row i holds the value of tables[i]; with the session, a last row its `session_data`."""
    quote = connections[using].ops.quote_name
    extra = ", NULL" if with_session else ""
    sql = " UNION ALL ".join(f"SELECT {i}, {quote('value')}{extra} FROM {quote(table)} WHERE {quote('id')} = 1"
                             for i, table in enumerate(tables))
    if with_session:
        sql += (f" UNION ALL SELECT {len(tables)}, NULL, {quote('session_data')} FROM {quote('django_session')} "
                f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s")
    return sql
