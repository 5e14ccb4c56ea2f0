"""Accounts and sessions: signup, login, refresh, logout, password reset, access tokens."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.identity.factors import enrolled as second_factor_enrolled
    from shared.identity.reset_mail import send_password_reset, send_security_notice
    from shared.identity.second_factor import confirm_totp, remove_totp, start_totp
    from shared.identity.service import (
        complete_login,
        confirm_password_reset,
        login,
        logout,
        logout_all,
        me,
        refresh,
        request_password_reset,
        signup,
    )
    from shared.identity.session import session_used_second_factor
    from shared.identity.tokens import issue_access_token, verify_access_token

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "complete_login",
    "confirm_password_reset",
    "confirm_totp",
    "issue_access_token",
    "login",
    "logout",
    "logout_all",
    "me",
    "refresh",
    "remove_totp",
    "request_password_reset",
    "second_factor_enrolled",
    "send_password_reset",
    "send_security_notice",
    "session_used_second_factor",
    "signup",
    "start_totp",
    "verify_access_token",
]
