from .generation import Generation


class PublicGeneration(Generation):
    """When what the public may see last changed (publish, unpublish, a re-export): one row.

    Cached public pages and the whole-portal list files are keyed by this value. It lives in the
    database, not in a cache, so that every web process reads the same value whatever cache it
    has (a local-memory cache per process by default) and a cache flush or eviction cannot lose
    it; it changes in the same transaction as the state it announces.
    """

    class Meta(Generation.Meta):
        verbose_name = verbose_name_plural = "公开内容版本"
