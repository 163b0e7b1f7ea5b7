from .assessments import Assessment, FundingRow, Goal, ProjectExpense, ReportSection, StructureRow
from .audit import AuditChainLock, AuditEvent
from .exports import BulkExport, ExportJob, Publication
from .indicators import Indicator
from .reviews import IndicatorReview, Review, ReviewerAssignment
from .rounds import Round, ScoringRuleSet
from .security import UserSecurity
from .units import Membership, Region, Unit
from .workflow import Snapshot, Transition

__all__ = [
    "Assessment",
    "AuditChainLock",
    "AuditEvent",
    "BulkExport",
    "ExportJob",
    "FundingRow",
    "Goal",
    "Indicator",
    "IndicatorReview",
    "Membership",
    "ProjectExpense",
    "Publication",
    "Region",
    "ReportSection",
    "Review",
    "ReviewerAssignment",
    "Round",
    "ScoringRuleSet",
    "Snapshot",
    "StructureRow",
    "Transition",
    "Unit",
    "UserSecurity",
]
