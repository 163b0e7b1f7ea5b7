"""manage.py verify_audit: walk the audit log's hash chain and name the first broken row."""

import re

from django.core.management.base import BaseCommand, CommandError

from assessments import auditchain

ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


class Command(BaseCommand):
    help = "校验审计日志的哈希链；链断开时指出第一条异常记录并以状态 1 退出。"

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor", metavar="SEQ:HASH",
            help="先前记下的某条记录的序号和哈希（本命令成功时输出的最后一条）：可发现末尾被删除或整体改写。",
        )

    def handle(self, *args, anchor=None, **options):
        expected = None
        if anchor:
            match = ANCHOR.match(anchor.strip().lower())
            if match is None:
                raise CommandError("--anchor 的格式应为 序号:64位十六进制哈希。")
            expected = (int(match.group(1)), match.group(2))
        result = auditchain.verify(anchor=expected)
        if not result.ok:
            raise CommandError(result.describe())
        self.stdout.write(result.describe())
        self.stdout.write(f"锚点（可另行保存，下次用 --anchor 核对）：{result.head_seq}:{result.head_hash}")
