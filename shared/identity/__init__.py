"""Accounts and sessions: signup, login, refresh, logout, password reset, access tokens."""

from typing import TYPE_CHECKING

from shared.platform.exports import lazy_exports

if TYPE_CHECKING:
    from shared.identity.reset_mail import send_password_reset
    from shared.identity.service import (
        confirm_password_reset,
        login,
        logout,
        logout_all,
        me,
        refresh,
        request_password_reset,
        signup,
    )
    from shared.identity.tokens import issue_access_token, verify_access_token

__getattr__ = lazy_exports(__name__, __file__)
__all__ = [
    "confirm_password_reset",
    "issue_access_token",
    "login",
    "logout",
    "logout_all",
    "me",
    "refresh",
    "request_password_reset",
    "send_password_reset",
    "signup",
    "verify_access_token",
]
