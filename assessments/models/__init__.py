from .assessments import Assessment, FundingRow, Goal, ProjectExpense, ReportSection, StructureRow
from .audit import AuditChainLock, AuditEvent
from .exports import BulkExport, ExportJob, Publication
from .followup import (
    Advice,
    ApplicationRule,
    Rectification,
    RectificationEvent,
    ResultApplication,
    RoundReport,
    SpotCheck,
    SpotCheckItem,
)
from .indicators import Indicator
from .public import PublicGeneration
from .reviews import IndicatorReview, Review, ReviewerAssignment
from .rounds import Round, ScoringRuleSet
from .security import OTPDevice, SecurityPolicy, UserSecurity
from .templates import TableTemplate, TemplateAssignment, TemplateVersion
from .units import Membership, Region, Unit
from .workflow import Snapshot, Transition

__all__ = [
    "Advice",
    "ApplicationRule",
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
    "OTPDevice",
    "ProjectExpense",
    "Publication",
    "PublicGeneration",
    "Rectification",
    "RectificationEvent",
    "Region",
    "ReportSection",
    "ResultApplication",
    "Review",
    "ReviewerAssignment",
    "Round",
    "RoundReport",
    "ScoringRuleSet",
    "SecurityPolicy",
    "Snapshot",
    "SpotCheck",
    "SpotCheckItem",
    "StructureRow",
    "TableTemplate",
    "TemplateAssignment",
    "TemplateVersion",
    "Transition",
    "Unit",
    "UserSecurity",
]
