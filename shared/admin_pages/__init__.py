"""Staff pages of a channel: cookie sign-in with CSRF-protected forms, the moderation queue and
the analytics dashboard, server-rendered."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.admin_pages.dashboard import analytics_csv, analytics_page
    from shared.admin_pages.moderation import lift_ban, moderate, moderation_page
    from shared.admin_pages.service import (
        Page,
        StaffSession,
        as_page,
        check_csrf,
        error_page,
        login_form,
        sign_in,
        sign_out,
        staff_home,
        staff_session,
    )

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "Page",
    "StaffSession",
    "analytics_csv",
    "analytics_page",
    "as_page",
    "check_csrf",
    "error_page",
    "lift_ban",
    "login_form",
    "moderate",
    "moderation_page",
    "sign_in",
    "sign_out",
    "staff_home",
    "staff_session",
]
