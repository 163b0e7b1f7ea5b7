from .assessments import Assessment, FundingRow, Goal, ProjectExpense, ReportSection, StructureRow
from .indicators import Indicator
from .rounds import Round, ScoringRuleSet
from .units import Membership, Region, Unit
from .workflow import Snapshot, Transition

__all__ = [
    "Assessment",
    "FundingRow",
    "Goal",
    "Indicator",
    "Membership",
    "ProjectExpense",
    "Region",
    "ReportSection",
    "Round",
    "ScoringRuleSet",
    "Snapshot",
    "StructureRow",
    "Transition",
    "Unit",
]
