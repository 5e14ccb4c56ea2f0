"""POST /v1/auth/password-reset must not reveal whether an account exists (issue 16.3): the
request does the same work for any email, and none of it depends on the account."""

import pytest

from shared.identity import service


class Recorder:
    def __init__(self):
        self.calls = []
        self.payloads = []


@pytest.fixture
def effects(monkeypatch):
    r = Recorder()

    def no_account_lookup(*a, **kw):
        raise AssertionError("the request path must not read the account")

    def hit(key, limit):
        r.calls.append(("ratelimit", key.split(":")[:2]))

    def enqueue(*, queue, function, payload, task_id):
        r.calls.append(("task", queue, function, sorted(payload)))
        r.payloads.append(payload)
        assert task_id.startswith("reset-")
        return True

    def no_mail(**kw):
        raise AssertionError("mail is sent by the auth_mail worker, not in the request")

    from shared.adapters import email, tasks

    monkeypatch.setattr(service, "transaction", no_account_lookup)
    monkeypatch.setattr(service.db, "call", no_account_lookup)
    monkeypatch.setattr(service.ratelimit, "hit", hit)
    monkeypatch.setattr(tasks, "enqueue", enqueue)
    monkeypatch.setattr(email, "send", no_mail)
    return r


def test_known_and_unknown_emails_take_the_same_steps(effects):
    service.request_password_reset(email="someone@example.com", client_ip="198.51.100.7")
    first = list(effects.calls)
    effects.calls.clear()
    service.request_password_reset(email="nobody-at-all@example.com", client_ip="198.51.100.7")
    assert effects.calls == first
    assert first == [
        ("ratelimit", ["reset", "ip"]),
        ("ratelimit", ["reset", "acct"]),
        ("task", "auth-mail", "auth_mail", ["client_ip", "email", "requested_at"]),
    ]


def test_the_task_carries_the_address_as_typed(effects):
    service.request_password_reset(email="  Someone@Example.com ", client_ip="198.51.100.7")
    (payload,) = effects.payloads
    assert payload["email"] == "Someone@Example.com" and payload["client_ip"] == "198.51.100.7"
