"""manage.py rewrite_public_files: write every published report's files and search text again.

For a change in what the public read model shows (issue 12, finding 5: personal data masked in
free text): files written before it keep the old content until rewritten. Safe to run again;
the publication dates stay as they were. After issue 16 it also gives reports published before it
their PDF and Word copies, their 公开 metadata in the files and their version 1 (the migration
gave them their 索引号).
"""

from django.core.management.base import BaseCommand

from assessments import exporting
from assessments.exports import lists


class Command(BaseCommand):
    help = "按当前规则重新生成全部已公开报告的 JSON、xlsx、PDF、Word 文件和检索文本（如个人信息脱敏），并重建公开列表文件。"

    def handle(self, *args, **options):
        ids = list(lists.published().order_by("pk").values_list("pk", flat=True))
        for pk in ids:
            exporting.write_files(pk)
        exporting.bump_public_cache()
        exporting.write_lists()
        self.stdout.write(f"已重新生成 {len(ids)} 份公开报告的文件，并清除公开页面缓存。")
