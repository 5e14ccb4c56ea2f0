"""Cloud Tasks worker (queue auth-mail): the identity mails.

Task bodies: ResetMailTask (kind "password_reset", queued by every POST
/v1/auth/password-reset whatever the email, so that answer tells nobody whether an account
exists) and SecurityNoticeTask (kind "security_notice": a second factor added or removed, a
recovery code used). A 2xx answer completes the task (also for a body that can never
succeed); an exception (the mail relay is down) answers 500 and Cloud Tasks retries.
"""

import logging

import functions_framework
from flask import Request
from pydantic import ValidationError

from shared import identity
from shared.identity.schemas import ResetMailTask, SecurityNoticeTask
from shared.web import setup_logging

setup_logging()
log = logging.getLogger("auth_mail")


@functions_framework.http
def send_identity_mail(request: Request) -> tuple[dict[str, str], int]:
    body = request.get_json(silent=True)
    kind = body.get("kind", "password_reset") if isinstance(body, dict) else None
    try:
        if kind == "security_notice":
            outcome = identity.send_security_notice(SecurityNoticeTask.model_validate(body))
        else:
            outcome = identity.send_password_reset(ResetMailTask.model_validate(body))
    except ValidationError:
        log.warning("malformed auth mail task dropped")
        return {"result": "ignored: malformed"}, 200
    return {"result": outcome.value}, 200
