"""Every write to the database renews one generation, `DataGeneration` (ADR 0025).

Each database connection Django opens, in any process (web, Celery worker, command), runs its
statements through `_watch`. A statement that may change data (anything but a read, a
savepoint or a setting) renews the generation once its transaction commits; outside a
transaction at once. A transaction rolled back renews nothing, as it changed nothing.

Why after the commit: a reader that sees the new generation then sees the committed data too
(it reads the generation first), so nothing older is ever kept under the new value. A reader
that read the old generation and then the new data keeps newer data under the old value,
which is harmless: the next reader asks under the new one.

Inside a transaction that is still open, the connection also counts its own writes
(`pending_writes`): what that connection reads is already changed, though no other connection
sees it yet (a test case runs whole inside one transaction).

Three kinds of tables are treated apart:
- the sessions table and the generation's own table (`IGNORED`): a session is not data a page
  shows, and renewing the generation must not renew it again;
- the audit log and the login throttle's tables (`UNWATCHED`): written on reads and logins, they
  would renew the generation on every opened review page. Their writes are counted as traces
  (`traces`), and a statement that reads them is counted too (`private_reads`): a page that reads
  them is never kept whole, and a page whose rendering writes them is kept only with a hook that
  writes them again each time it is served (`pagecache.page(every_time=...)`).
"""

import itertools
import logging
import re
from contextlib import contextmanager

from django.db import DatabaseError
from django.db.backends.signals import connection_created

log = logging.getLogger(__name__)

# The statements that never change data. Anything else is taken as a write (a missed write would
# serve a stale page; an extra one costs a render).
_READS = frozenset({"SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK", "SET", "SHOW", "EXPLAIN", "BEGIN", "COMMIT",
                    "PRAGMA", "VALUES"})
_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z]+)")
_TARGET = re.compile(r'[\s(]*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?([\w.]+)"?', re.IGNORECASE)
_WRITE_IN_WITH = re.compile(r"\b(?:INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
IGNORED_TABLES = frozenset({"django_session", "assessments_datageneration"})
UNWATCHED_TABLES = frozenset({"assessments_auditevent", "assessments_auditchainlock", "axes_accessattempt",
                              "axes_accesslog", "axes_accessfailurelog"})
_QUOTED_UNWATCHED = tuple(f'"{name}"' for name in UNWATCHED_TABLES)

READ, WRITE, TRACE, PRIVATE_READ, IGNORED = "read", "write", "trace", "private read", "ignored"


def effect(sql) -> str:
    """What a statement does to the data pages show: READ, WRITE (renews the generation), TRACE (a
    write to an unwatched table), PRIVATE_READ (a read of one) or IGNORED."""
    if not isinstance(sql, str):
        return WRITE
    first = _FIRST_WORD.match(sql)
    word = first.group(1).upper() if first else ""
    if word in _READS or (word == "WITH" and not _WRITE_IN_WITH.search(sql)):
        if word in ("SELECT", "WITH", "VALUES") and any(name in sql for name in _QUOTED_UNWATCHED):
            return PRIVATE_READ
        return READ
    target = _TARGET.match(sql)
    table = target.group(1).rsplit(".", 1)[-1].lower() if target else ""
    if table in IGNORED_TABLES:
        return IGNORED
    return TRACE if table in UNWATCHED_TABLES else WRITE


def _is_rollback(sql) -> bool:
    return isinstance(sql, str) and sql.lstrip()[:8].upper() == "ROLLBACK"


def is_write(sql) -> bool:
    """Whether a statement renews the generation."""
    return effect(sql) == WRITE


def counters(connection) -> tuple[int, int, int]:
    """(writes, traces, private reads) this connection made so far: a page compares them before
    and after rendering."""
    return (getattr(connection, "portal_writes", 0), getattr(connection, "portal_traces", 0),
            getattr(connection, "portal_private_reads", 0))


_transactions = itertools.count(1)


def pending_writes(connection) -> tuple[int, int] | None:
    """What this connection may see that others do not yet: inside a transaction, the transaction
    (a number given to its outermost block) and the count of its writes and rollbacks to a
    savepoint; None outside one."""
    if not connection.in_atomic_block or not connection.atomic_blocks:
        return None
    outermost = connection.atomic_blocks[0]
    if not hasattr(outermost, "portal_transaction"):
        outermost.portal_transaction = next(_transactions)
    return outermost.portal_transaction, getattr(connection, "portal_writes", 0)


def _renew(alias: str) -> None:
    from django.apps import apps
    from django.db import connections

    from .generations import renew

    model = apps.get_model("assessments", "DataGeneration")  # by name: models import this module
    try:
        renew(model, using=alias)
    except DatabaseError as exc:
        # Before the table exists (a migration from scratch) nothing can be kept under it. Any
        # other failure leaves pages as kept until their timeout (ADR 0025): the write stands.
        if model._meta.db_table in connections[alias].introspection.table_names():
            log.warning("datachanges: the data generation was not renewed after a write: %s", exc)


_RENEWERS: dict = {}


def _renewer(alias: str):
    """One function per database, so a transaction registers it once however much it writes."""
    if alias not in _RENEWERS:
        _RENEWERS[alias] = lambda: _renew(alias)
    return _RENEWERS[alias]


def _changed(connection) -> None:
    connection.portal_writes = getattr(connection, "portal_writes", 0) + 1
    renewer = _renewer(connection.alias)
    if not connection.in_atomic_block:
        renewer()
    # Registered again if a rolled-back savepoint took the earlier registration away. First in the
    # list and robust (Django's (savepoints, function, robust) entries, as `on_commit` adds them):
    # a callback before it that raises would otherwise drop it.
    elif not any(func is renewer for _, func, _ in connection.run_on_commit):
        connection.run_on_commit.insert(0, (set(connection.savepoint_ids), renewer, True))


@contextmanager
def appending(using="default"):
    """Reads of the unwatched tables made to write them (the audit chain reads its last row to
    append one): part of the trace, not a page's content."""
    from django.db import connections

    connection = connections[using]
    connection.portal_appending = getattr(connection, "portal_appending", 0) + 1
    try:
        yield
    finally:
        connection.portal_appending -= 1


def _watch(execute, sql, params, many, context):
    kind, connection = effect(sql), context["connection"]
    try:
        return execute(sql, params, many, context)
    finally:  # counted even if it fails: a statement may fail after changing something
        if kind == WRITE:
            _changed(connection)
        elif kind == TRACE:
            connection.portal_traces = getattr(connection, "portal_traces", 0) + 1
        elif kind == PRIVATE_READ and not getattr(connection, "portal_appending", 0):
            connection.portal_private_reads = getattr(connection, "portal_private_reads", 0) + 1
        elif kind == READ and _is_rollback(sql):
            # Back to a savepoint: what this connection sees went back too.
            connection.portal_writes = getattr(connection, "portal_writes", 0) + 1


def watch(connection) -> None:
    """Watch a connection's statements (once). Not the server's maintenance connection that
    creates and drops databases (`__no_db__`): it reads and writes no table."""
    from django.db import connections

    if connection.alias in connections.settings and _watch not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch)


def _connected(sender, connection, **kwargs):
    watch(connection)


def install() -> None:
    """Watch every connection from now on, and those already open."""
    from django.db import connections

    connection_created.connect(_connected, dispatch_uid="portal-datachanges")
    for connection in connections.all(initialized_only=True):
        watch(connection)
