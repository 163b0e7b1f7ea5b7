from .generation import Generation


class AuthorizationGeneration(Generation):
    """When any account's grants, roles, memberships or review assignments last changed: one row.

    Each account's roles are kept in the cache under this value (`roles.authorization`, ADR 0024).
    It lives in the database, like `PublicGeneration`, so that every process reads the same value
    whatever cache it has (a local-memory cache per process by default), a cache flush or eviction
    cannot lose it, and it changes in the same transaction as the change it announces.
    """

    class Meta(Generation.Meta):
        verbose_name = verbose_name_plural = "权限数据版本"
