from .generation import Generation


class DataGeneration(Generation):
    """When anything in the database last changed: one row.

    Pages kept whole for their users (`pagecache.page`, ADR 0025) are keyed by this value. Every
    write to any other table renews it once its transaction commits (`datachanges`), whatever
    wrote it: a view, a task, the admin, a bulk update, a command or raw SQL through Django.
    """

    class Meta(Generation.Meta):
        verbose_name = verbose_name_plural = "数据版本"
