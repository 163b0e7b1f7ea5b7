"""主管部门 of a unit, as the after-review pages group and filter by it (issue 15 with issue 14's
level): the supervising unit's name when `Unit.supervisor_unit` is set, else the free-text
`Unit.supervisor` of older data. One expression, used by the 抽查 strata and filter, the agreement
report (the recorded stratum), 结果应用's export and the 汇总 filter and table."""

from django.db.models import F
from django.db.models.functions import Coalesce

from . import sqlwords


def name(prefix: str = "unit__"):
    """The 主管部门 name as a database expression over the unit at `prefix` ("" for a Unit query)."""
    # The empty text written into the statement (sqlwords.Constant), not a parameter: a prepared
    # statement's one plan is made only for its words (issue 17).
    return Coalesce(F(f"{prefix}supervisor_unit__name"), F(f"{prefix}supervisor"), sqlwords.Constant(""))
