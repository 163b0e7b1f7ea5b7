"""Queries that many pages run, each by a statement compiled once per process
(`childrows.Statement`, issue 17, part 5). A page's own queries of that kind live beside it."""

from .childrows import Statement
from .models import Round, Transition

_ROUNDS = Statement(lambda: Round.objects.order_by("-year"))
_TRANSITIONS = Statement(lambda pk: Transition.objects.filter(assessment_id=pk).select_related("actor").order_by("at", "id"),
                         int)


def rounds() -> list[Round]:
    """Every 评价批次, the newest first (the round pickers of the reviewer's pages)."""
    return _ROUNDS.all()


def transitions(assessment) -> list[Transition]:
    """The assessment's 流转记录, oldest first, each with its actor (the pages of one assessment)."""
    return _TRANSITIONS.all(assessment.pk)
