from .assessments import Assessment, FundingRow, Goal, ProjectExpense, ReportSection, StructureRow
from .audit import AuditChainLock, AuditEvent
from .exports import BulkExport, DisclosureClock, ExportJob, IndexSerial, Publication, PublishedVersion
from .indicators import Indicator
from .public import PublicGeneration
from .reviews import IndicatorReview, Review, ReviewerAssignment
from .rounds import Round, ScoringRuleSet
from .security import OTPDevice, SecurityPolicy, UserSecurity
from .templates import TableTemplate, TemplateAssignment, TemplateVersion
from .units import Membership, Region, Unit
from .workflow import Snapshot, Transition

__all__ = [
    "Assessment",
    "AuditChainLock",
    "AuditEvent",
    "BulkExport",
    "DisclosureClock",
    "ExportJob",
    "FundingRow",
    "Goal",
    "IndexSerial",
    "Indicator",
    "IndicatorReview",
    "Membership",
    "OTPDevice",
    "ProjectExpense",
    "Publication",
    "PublishedVersion",
    "PublicGeneration",
    "Region",
    "ReportSection",
    "Review",
    "ReviewerAssignment",
    "Round",
    "ScoringRuleSet",
    "SecurityPolicy",
    "Snapshot",
    "StructureRow",
    "TableTemplate",
    "TemplateAssignment",
    "TemplateVersion",
    "Transition",
    "Unit",
    "UserSecurity",
]
