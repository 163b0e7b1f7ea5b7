from .access import AuthorizationGeneration
from .assessments import (
    WAITING_STATES,
    Assessment,
    FundingRow,
    Goal,
    ProjectExpense,
    ReportSection,
    StructureRow,
)
from .audit import AuditChainLock, AuditEvent
from .evidence import Evidence, SealedCopy
from .exports import BulkExport, DisclosureClock, ExportJob, IndexSerial, Publication, PublishedVersion
from .followup import (
    Advice,
    ApplicationRule,
    Rectification,
    RectificationEvent,
    RectificationFile,
    ResultApplication,
    RoundReport,
    SpotCheck,
    SpotCheckItem,
)
from .indicators import Indicator
from .pages import DataGeneration
from .public import PublicGeneration
from .reviews import IndicatorReview, Review, ReviewerAssignment
from .rounds import Round, ScoringRuleSet
from .season import ApprovedIndicator, Reminder, TargetAdjustment, TargetSet, Task
from .security import OTPDevice, SecurityPolicy, UserSecurity
from .templates import TableTemplate, TemplateAssignment, TemplateVersion
from .units import Membership, Region, Unit
from .workflow import Snapshot, Transition

__all__ = [
    "ApprovedIndicator",
    "WAITING_STATES",
    "Advice",
    "ApplicationRule",
    "Assessment",
    "AuditChainLock",
    "AuditEvent",
    "BulkExport",
    "Evidence",
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
    "AuthorizationGeneration",
    "DataGeneration",
    "Rectification",
    "RectificationEvent",
    "RectificationFile",
    "Region",
    "Reminder",
    "ReportSection",
    "ResultApplication",
    "Review",
    "ReviewerAssignment",
    "Round",
    "SealedCopy",
    "RoundReport",
    "ScoringRuleSet",
    "SecurityPolicy",
    "Snapshot",
    "SpotCheck",
    "SpotCheckItem",
    "StructureRow",
    "TableTemplate",
    "TargetAdjustment",
    "TargetSet",
    "Task",
    "TemplateAssignment",
    "TemplateVersion",
    "Transition",
    "Unit",
    "UserSecurity",
]
