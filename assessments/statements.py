"""Queries that many pages run, each by a statement compiled once per process
(`childrows.Statement`, issue 17, part 5). A page's own queries of that kind live beside it."""

from .childrows import Statement
from .models import Round

_ROUNDS = Statement(lambda: Round.objects.order_by("-year"))


def rounds() -> list[Round]:
    """Every 评价批次, the newest first (the round pickers of the reviewer's pages)."""
    return _ROUNDS.all()
