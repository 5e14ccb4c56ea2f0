"""Cloud Tasks worker (queue auth-mail): mail a password reset link when the account exists.

Task body: ResetMailTask {"email", "client_ip", "requested_at"}, queued by every
POST /v1/auth/password-reset whatever the email, so that answer tells nobody whether an
account exists. A 2xx answer completes the task (also for a body that can never succeed);
an exception (the mail relay is down) answers 500 and Cloud Tasks retries with backoff.
"""

import logging

import functions_framework
from flask import Request
from pydantic import ValidationError

from shared import identity
from shared.identity.schemas import ResetMailTask
from shared.web import setup_logging

setup_logging()
log = logging.getLogger("auth_mail")


@functions_framework.http
def send_reset_mail(request: Request) -> tuple[dict[str, str], int]:
    try:
        task = ResetMailTask.model_validate(request.get_json(silent=True))
    except ValidationError:
        log.warning("malformed reset mail task dropped")
        return {"result": "ignored: malformed"}, 200
    return {"result": identity.send_password_reset(task).value}, 200
