"""Tamper evidence for the audit log (issue 12, finding 11): a hash chain over its rows.

Every row carries a sequence number, the hash of the row before it and its own hash, a SHA-256
over its content and that previous hash. Changing, deleting or inserting a row anywhere, on
PostgreSQL or SQLite, by the ORM or by raw SQL, breaks the chain at that row, unless every
later row is rewritten too; recording the head (`manage.py verify_audit` prints it) somewhere
else (a ticket, a printed report) makes that visible as well (`--anchor SEQ:HASH`).

Appends are serialised by a lock row (`AuditChainLock`, SELECT … FOR UPDATE) held until the
appending transaction commits; after taking it, the last row is read with a fresh statement, so
each append sees the one committed before it. On SQLite, write transactions are already
serialised (BEGIN IMMEDIATE, see settings) and FOR UPDATE does not exist.

`row_hash` and `values_of` are plain Python, shared with migration 0007, which chains the rows
written before this module existed.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.ipv6 import clean_ipv6_address

from . import datachanges
from .childrows import Statement

GENESIS = "0" * 64
VERSION = "audit-chain-v1"
FIELDS = (
    "seq", "at", "actor_id", "actor_username", "unit_id", "ip", "action", "object_type", "object_id", "outcome",
    "details",
)


def normalize_ip(ip: str | None) -> str | None:
    """The address as the database gives it back (IPv6 compressed, lower case)."""
    if ip and ":" in ip:
        try:
            return clean_ipv6_address(ip)
        except ValidationError:  # not an address: hashed as given
            return ip
    return ip or None


def _at(value) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def values_of(row) -> dict:
    """The hashed content of a row: a model instance, a historical model instance or a dict."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return {
        "seq": get("seq"),
        "at": _at(get("at")),
        "actor_id": get("actor_id"),
        "actor_username": get("actor_username") or "",
        "unit_id": get("unit_id"),
        "ip": normalize_ip(get("ip")),
        "action": get("action") or "",
        "object_type": get("object_type") or "",
        "object_id": get("object_id") or "",
        "outcome": get("outcome") or "",
        "details": get("details") or {},
    }


def row_hash(values: dict, prev_hash: str) -> str:
    """SHA-256 (hex) of the row's content and the previous row's hash, canonically serialised."""
    payload = json.dumps(
        [VERSION, prev_hash, *(values[name] for name in FIELDS)],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- appending -------------------------------------------------------------------------------------


# The lock row and the chain's head, by statements compiled once (an audit row is written on every
# opening of a 复核 page: issue 17).
_LOCKED = Statement(lambda: apps.get_model("assessments", "AuditChainLock").objects.select_for_update().filter(pk=1)
                    .values_list("pk", flat=True))
_HEAD = Statement(lambda: apps.get_model("assessments", "AuditEvent").objects.filter(seq__isnull=False).order_by("-seq")
                  .values_list("seq", "row_hash")[:1])


def _lock() -> None:
    if not _LOCKED.all():
        # Missing (a test flush, a restore of the events only): create it, whoever gets there first.
        AuditChainLock = apps.get_model("assessments", "AuditChainLock")
        AuditChainLock.objects.bulk_create([AuditChainLock(pk=1)], ignore_conflicts=True)
        _LOCKED.all()


def head() -> tuple[int, str]:
    """(sequence number, hash) of the last chained row; (0, GENESIS) for an empty log."""
    last = _HEAD.all()
    return tuple(last[0]) if last else (0, GENESIS)


def append(events) -> None:
    """Give `events` (unsaved) their place in the chain; the caller inserts them in the same
    transaction. Call inside `transaction.atomic()`: the lock is held until it commits."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("auditchain.append must run inside a transaction")
    with datachanges.appending():  # reading the chain's head to append is not reading the log
        _lock()
        seq, prev = head()
    for event in events:
        seq += 1
        event.ip = normalize_ip(event.ip)
        event.seq, event.prev_hash = seq, prev
        event.row_hash = prev = row_hash(values_of(event), event.prev_hash)


# --- verifying -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    id: int
    seq: int | None
    at: object
    action: str
    reason: str

    def describe(self) -> str:
        if not self.id:  # a row that should be there and is not
            return f"第一条异常记录：序号 {self.seq}：{self.reason}"
        where = f"序号 {self.seq}" if self.seq is not None else "无序号"
        when = _local(self.at)
        return f"第一条异常记录：编号 {self.id}（{where}，{when}，{self.action}）：{self.reason}"


@dataclass(frozen=True)
class Verification:
    count: int
    head_seq: int
    head_hash: str
    broken: Broken | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def describe(self) -> str:
        if self.ok:
            return f"审计日志哈希链完整：共 {self.count} 条，最后一条序号 {self.head_seq}，哈希 {self.head_hash}。"
        return f"审计日志哈希链已断开。{self.broken.describe()}"


def _local(at) -> str:
    from django.utils import timezone

    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def check(row: dict, prev_seq: int, prev_hash: str) -> str | None:
    """Why `row` (a dict with FIELDS, prev_hash and row_hash) does not follow the row
    (prev_seq, prev_hash); None when it does."""
    if row["seq"] != prev_seq + 1:
        if row["seq"] <= prev_seq:
            return f"序号重复或倒序（上一条为 {prev_seq}）"
        missing = f"{prev_seq + 1}" if row["seq"] == prev_seq + 2 else f"{prev_seq + 1}–{row['seq'] - 1}"
        return f"之前缺少序号 {missing} 的记录（被删除）"
    if row["prev_hash"] != prev_hash:
        return f"所存前一条哈希与序号 {prev_seq} 的记录不符（该条或本条被改写）"
    if row["row_hash"] != row_hash(values_of(row), row["prev_hash"]):
        return "内容与其哈希不符（本条被修改）"
    return None


def verify(anchor: tuple[int, str] | None = None, chunk_size: int = 2000) -> Verification:
    """Walk the whole chain in order; name the first row that breaks it.

    `anchor`: a (seq, hash) recorded earlier; the row with that number must still carry it.
    """
    AuditEvent = apps.get_model("assessments", "AuditEvent")

    columns = ("id", *FIELDS, "prev_hash", "row_hash")
    prev_seq, prev_hash, count, broken = 0, GENESIS, 0, None
    rows = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values(*columns)
    for row in rows.iterator(chunk_size=chunk_size):
        reason = check(row, prev_seq, prev_hash)
        if reason is None and anchor is not None and row["seq"] == anchor[0] and row["row_hash"] != anchor[1]:
            reason = "与先前记下的锚点哈希不符（日志被整体改写）"
        if reason is not None:
            broken = Broken(row["id"], row["seq"], row["at"], row["action"], reason)
            break
        prev_seq, prev_hash, count = row["seq"], row["row_hash"], count + 1
    if broken is None and anchor is not None and prev_seq < anchor[0]:
        broken = Broken(0, anchor[0], None, "", f"锚点序号 {anchor[0]} 的记录已不存在（日志末尾被删除）")
    if broken is None:
        outside = AuditEvent.objects.filter(seq__isnull=True).order_by("id").values("id", "at", "action").first()
        if outside is not None:
            broken = Broken(outside["id"], None, outside["at"], outside["action"], "不在哈希链中（未经记录接口写入）")
    return Verification(count=count, head_seq=prev_seq, head_hash=prev_hash, broken=broken)


def check_page(events) -> dict[int, str]:
    """For rows shown on a page (model instances): id → why the row breaks the chain.

    One query for the rows just before them; a cheap look at what is on screen, where
    `verify()` walks everything."""
    AuditEvent = apps.get_model("assessments", "AuditEvent")

    chained = [e for e in events if e.seq is not None]
    before = {
        row["seq"]: row
        for row in AuditEvent.objects.filter(seq__in=[e.seq - 1 for e in chained if e.seq > 1]).values("seq", "row_hash")
    }
    problems = {}
    for e in events:
        if e.seq is None:
            problems[e.id] = "不在哈希链中"
            continue
        if e.seq == 1:
            prev_seq, prev_hash = 0, GENESIS
        elif e.seq - 1 in before:
            prev_seq, prev_hash = e.seq - 1, before[e.seq - 1]["row_hash"]
        else:
            problems[e.id] = f"序号 {e.seq - 1} 的记录不存在"
            continue
        row = {**values_of(e), "prev_hash": e.prev_hash, "row_hash": e.row_hash}
        reason = check(row, prev_seq, prev_hash)
        if reason:
            problems[e.id] = reason
    return problems
