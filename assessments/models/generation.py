from django.db import models


class Generation(models.Model):
    """A one-row version table (`assessments.generations`): a nanosecond stamp renewed whenever
    what it announces changes."""

    value = models.BigIntegerField("版本（纳秒时间戳）")

    class Meta:
        abstract = True

    def __str__(self):
        return str(self.value)
