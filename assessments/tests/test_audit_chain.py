"""Issue 12, finding 11 (tampering): the audit log is a hash chain on both databases.

Before: on SQLite a raw UPDATE rewrote history without a trace. Now every row carries its
sequence number, the previous row's hash and its own; `manage.py verify_audit` and the audit page
name the first row that breaks the chain. See `assessments/auditchain.py`.
"""

import io
import threading
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from assessments import audit, auditchain
from assessments.models import AuditEvent

pytestmark = pytest.mark.django_db

TABLE = "assessments_auditevent"


@pytest.fixture
def auditor(audit_admin):
    return audit_admin


def three_events() -> list[AuditEvent]:
    return [
        audit.record("auth.login", actor=None, username="alice"),
        audit.record("workflow.submit", actor=None, username="alice", object_type="assessment", object_id=7,
                     details={"from": "draft", "to": "submitted", "comment": "请审核"}),
        audit.record("auth.logout", actor=None, username="alice"),
    ]


@contextmanager
def below_the_model():
    """Raw SQL on the table, as someone with database access would run it. On PostgreSQL the
    owner first switches the append-only trigger off (migration 0004)."""
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgresql:
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER assessments_auditevent_append_only")
        yield cursor
        if postgresql:
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER assessments_auditevent_append_only")


def verify_command(*args) -> str:
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out)
    return out.getvalue()


def refused(*args) -> str:
    with pytest.raises(CommandError) as error:
        verify_command(*args)
    return str(error.value)


def when(event) -> str:
    return timezone.localtime(event.at).strftime("%Y-%m-%d %H:%M:%S")


def test_each_row_carries_the_hash_of_its_content_and_of_the_row_before():
    first, second, third = three_events()
    rows = list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash", "row_hash"))
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][1] == auditchain.GENESIS == "0" * 64
    assert rows[1][1] == rows[0][2] and rows[2][1] == rows[1][2]
    for event in (first, second, third):
        event.refresh_from_db()
        assert event.row_hash == auditchain.row_hash(auditchain.values_of(event), event.prev_hash)
        assert len(event.row_hash) == 64
    assert verify_command() == (
        f"审计日志哈希链完整：共 3 条，最后一条序号 3，哈希 {third.row_hash}。\n"
        f"锚点（可另行保存，下次用 --anchor 核对）：3:{third.row_hash}\n"
    )


def test_a_raw_update_is_named_by_the_command_and_the_page(auditor):
    _, second, _ = three_events()
    with below_the_model() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET outcome = 'failed' WHERE id = %s", [second.pk])
    expected = (
        f"审计日志哈希链已断开。第一条异常记录：编号 {second.pk}（序号 2，{when(second)}，workflow.submit）："
        "内容与其哈希不符（本条被修改）"
    )
    assert refused() == expected

    client = Client()
    client.force_login(auditor)  # the login is row 4
    page = client.get("/audit/", {"verify": "1"})
    html = page.content.decode()
    assert f'<div class="alert alert-danger" role="alert" id="chain-result">{expected}</div>' in html
    # Without asking for the whole walk, the rows on screen are checked anyway.
    page = client.get("/audit/")
    assert {e.seq: e.chain_problem for e in page.context["page"]} == {
        4: "", 3: "", 2: "内容与其哈希不符（本条被修改）", 1: "",
    }
    assert '<span class="badge text-bg-danger chain-problem">哈希链断开：内容与其哈希不符（本条被修改）</span>' in page.content.decode()


def test_an_intact_chain_on_the_page(auditor):
    three_events()
    client = Client()
    client.force_login(auditor)  # the login is row 4
    page = client.get("/audit/", {"verify": "1"})
    last = AuditEvent.objects.order_by("-seq").first()  # the page view itself added no row
    assert page.context["verification"].describe() == (
        f"审计日志哈希链完整：共 4 条，最后一条序号 4，哈希 {last.row_hash}。"
    )
    assert "chain-problem" not in page.content.decode()


def test_a_deleted_row_is_named():
    _, second, third = three_events()
    with below_the_model() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [second.pk])
    assert refused() == (
        f"审计日志哈希链已断开。第一条异常记录：编号 {third.pk}（序号 3，{when(third)}，auth.logout）："
        "之前缺少序号 2 的记录（被删除）"
    )


def test_a_rewritten_row_with_a_recomputed_hash_breaks_the_link_to_the_next():
    _, second, third = three_events()
    second.refresh_from_db()
    values = {**auditchain.values_of(second), "outcome": "failed"}
    forged = auditchain.row_hash(values, second.prev_hash)
    with below_the_model() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET outcome = 'failed', row_hash = %s WHERE id = %s", [forged, second.pk])
    assert refused() == (
        f"审计日志哈希链已断开。第一条异常记录：编号 {third.pk}（序号 3，{when(third)}，auth.logout）："
        "所存前一条哈希与序号 2 的记录不符（该条或本条被改写）"
    )


def test_a_row_inserted_below_the_model_is_named():
    three_events()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (at, actor_username, action, object_type, object_id, outcome, details, prev_hash, row_hash)"
            " VALUES (%s, 'mallory', 'auth.login', '', '', 'ok', '{}', '', '')",
            [timezone.now()],
        )
    inserted = AuditEvent.objects.get(actor_username="mallory")
    assert refused() == (
        f"审计日志哈希链已断开。第一条异常记录：编号 {inserted.pk}（无序号，{when(inserted)}，auth.login）："
        "不在哈希链中（未经记录接口写入）"
    )


def test_an_anchor_reveals_a_truncated_or_rewritten_log():
    _, _, third = three_events()
    third.refresh_from_db()
    anchor = f"3:{third.row_hash}"
    assert "共 3 条" in verify_command("--anchor", anchor)
    assert refused("--anchor", f"3:{'f' * 64}") == (
        f"审计日志哈希链已断开。第一条异常记录：编号 {third.pk}（序号 3，{when(third)}，auth.logout）："
        "与先前记下的锚点哈希不符（日志被整体改写）"
    )
    with below_the_model() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [third.pk])
    assert "共 2 条" in verify_command()  # the chain alone cannot see a cut tail...
    assert refused("--anchor", anchor) == (  # ...the anchor can
        "审计日志哈希链已断开。第一条异常记录：序号 3：锚点序号 3 的记录已不存在（日志末尾被删除）"
    )
    assert refused("--anchor", "3:xyz") == "--anchor 的格式应为 序号:64位十六进制哈希。"


def test_rows_added_in_bulk_join_the_chain():
    three_events()
    AuditEvent.objects.bulk_create(AuditEvent(action="auth.login_failed", actor_username=f"user{n}") for n in range(5))
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert auditchain.verify().ok and auditchain.verify().count == 8


def test_ipv6_and_nested_details_verify_on_both_databases():
    request = type("R", (), {"META": {"REMOTE_ADDR": "2001:DB8:0:0:0:0:0:1"}, "user": None})()
    token = audit.set_request(request)
    try:
        event = audit.record("auth.login_failed", outcome="failed", username="x",
                             details={"b": [1, 2.5, "三"], "a": {"z": None, "y": True}})
    finally:
        audit.reset_request(token)
    event.refresh_from_db()
    assert event.ip == "2001:db8::1"
    assert auditchain.verify().ok


@pytest.mark.django_db(transaction=True)
def test_migration_chains_the_rows_written_before_it():
    executor = MigrationExecutor(connection)
    executor.migrate([("assessments", "0006_public_indexes")])
    old_apps = executor.loader.project_state([("assessments", "0006_public_indexes")]).apps
    OldEvent = old_apps.get_model("assessments", "AuditEvent")
    for n in range(3):
        OldEvent.objects.create(action="auth.login", actor_username=f"user{n}", ip="192.0.2.1", details={"n": n})
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert list(AuditEvent.objects.order_by("id").values_list("seq", "actor_username")) == [
        (1, "user0"), (2, "user1"), (3, "user2")
    ]
    assert auditchain.verify().ok
    audit.record("auth.login", actor=None, username="after")  # new rows carry on from the migrated ones
    assert auditchain.verify().count == 4
    if connection.vendor == "postgresql":  # the append-only trigger is back on
        with pytest.raises(Exception, match="审计日志只可追加"), connection.cursor() as cursor:
            cursor.execute(f"UPDATE {TABLE} SET outcome = 'failed'")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite serialises writers with BEGIN IMMEDIATE")
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_form_one_chain():
    audit.record("auth.login", actor=None, username="first")
    barrier = threading.Barrier(4, timeout=10)
    errors = []

    def writer(n):
        try:
            barrier.wait()
            for k in range(15):
                audit.record("auth.login_failed", outcome="failed", actor=None, username=f"w{n}-{k}")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(range(1, 62))
    result = auditchain.verify()
    assert (result.ok, result.count) == (True, 61)
