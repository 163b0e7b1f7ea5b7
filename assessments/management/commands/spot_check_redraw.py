"""manage.py spot_check_redraw ID: re-run a recorded 抽查 draw and print its sample."""

from django.core.management.base import BaseCommand, CommandError

from assessments import sampling, spotchecks
from assessments.models import SpotCheck


class Command(BaseCommand):
    help = "按抽查记录中的种子、总体（编号与权重）和算法重新抽取，输出抽中编号；与记录不一致时以状态 1 退出。"

    def add_arguments(self, parser):
        parser.add_argument("spot_check", type=int, help="抽查记录的编号")

    def handle(self, *args, spot_check, **options):
        record = SpotCheck.objects.filter(pk=spot_check).first()
        if record is None:
            raise CommandError(f"抽查记录 {spot_check} 不存在。")
        try:
            sample = spotchecks.redraw(record)
        except spotchecks.SpotCheckRefused as exc:
            raise CommandError(str(exc)) from exc
        size = f"{record.size_count} 份" if record.size_count is not None else f"{record.size_percent}%"
        self.stdout.write(
            f"抽查 {record.pk}「{record.title}」：{sampling.METHODS[record.method]}，算法 {record.algorithm}，"
            f"种子 {record.seed}，总体 {len(record.population)} 份，抽取 {size}"
        )
        self.stdout.write("抽中编号：" + " ".join(str(pk) for pk in sample))
        if sample != record.sample:
            raise CommandError("重新抽取的结果与记录不一致：记录为 " + " ".join(str(pk) for pk in record.sample))
        self.stdout.write("与记录一致。")
