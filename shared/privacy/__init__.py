"""Privacy: data exports (a user's, a channel's), erasure, retention and the audit export."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.privacy.audit_export import audit_csv, audit_log
    from shared.privacy.erasure_request import request_erasure
    from shared.privacy.jobs import export_status, start_channel_export, start_user_export
    from shared.privacy.retention import run as run_retention
    from shared.privacy.worker import fail as fail_job
    from shared.privacy.worker import plan as plan_job
    from shared.privacy.worker import run_step

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "audit_csv",
    "audit_log",
    "export_status",
    "fail_job",
    "plan_job",
    "request_erasure",
    "run_retention",
    "run_step",
    "start_channel_export",
    "start_user_export",
]
