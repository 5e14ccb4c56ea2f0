"""Unknown codes answer exactly like revoked-and-purged ones: the same 404, reached by the
same statements (so the same work and time), whether the code is malformed, never issued, or
was issued, revoked and then purged. Timing itself is measured by the bench, not here."""

import uuid

import pytest

from shared import certificates
from shared.certificates import rules
from shared.certificates.schemas import RevokeIn
from shared.platform import db
from shared.platform.errors import NotFound
from tests.factories import enrolled_student, make_course, new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def purged_code(admin_db):
    admin = admin_db()
    owner = new_user("Owner")
    cid = new_channel(owner)
    course = make_course(admin, cid, owner, title="Gone")
    student = enrolled_student(admin, cid, course["id"])
    envelope = {
        "id": str(uuid.uuid4()),
        "type": "course.completed",
        "channel_id": cid,
        "data": {"user_id": student, "course_id": course["id"]},
    }
    assert certificates.on_course_completed(envelope=envelope, attributes={}) == "issued"
    cert_id, code = admin.run("SELECT id, code FROM certificates WHERE user_id = :u", u=student)[0]
    certificates.revoke(
        channel_id=cid, user_id=owner, certificate_id=str(cert_id), data=RevokeIn(reason="fraud")
    )
    admin.run("DELETE FROM certificates WHERE id = :i", i=cert_id)  # purged
    return rules.display_code(code)


@pytest.fixture
def statements(monkeypatch):
    """Every statement the lookup runs, with the shape of its transaction's scope."""
    seen = []
    for name in ("one", "all", "scalar", "exec"):
        original = getattr(db.Tx, name)

        def record(self, sql, _original=original, _name=name, **params):
            seen.append((_name, " ".join(sql.split()), sorted(params)))
            return _original(self, sql, **params)

        monkeypatch.setattr(db.Tx, name, record)
    real = db.transaction

    def scoped(*, channel_id=None, user_id=None):
        seen.append(("transaction", channel_id is not None, user_id is not None))
        return real(channel_id=channel_id, user_id=user_id)

    monkeypatch.setattr("shared.certificates.service.transaction", scoped)
    return seen


@pytest.mark.parametrize("route", ["public_certificate", "credential_jwt", "verification_page"])
def test_unknown_malformed_and_purged_codes_take_one_path_to_one_answer(
    purged_code, statements, route
):
    answers, paths = [], []
    for n, code in enumerate([purged_code, "2222-3333-4444", "not a code!", "O0I1-O0I1-O0I1"]):
        statements.clear()
        with pytest.raises(NotFound) as err:
            getattr(certificates, route)(code=code, client_ip=f"198.51.100.{n + 10}")
        answers.append((type(err.value), err.value.detail, err.value.extra))
        paths.append(list(statements))
    assert all(a == answers[0] for a in answers), answers
    assert all(p == paths[0] for p in paths), paths
    # the path is the real one: both lookups ran, the second scoped to a channel
    path = paths[0]
    lookup = [i for i, s in enumerate(path) if "certificate_channel_of" in str(s[1])]
    read = [i for i, s in enumerate(path) if s[0] == "one" and "WHERE z.code" in str(s[1])]
    assert len(lookup) == 1 and len(read) == 1 and lookup[0] < read[0]
    assert ("transaction", True, False) in path[lookup[0] : read[0]]
