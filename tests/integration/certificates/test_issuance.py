"""Issuance against real Postgres: exactly one certificate per student and course whatever the
deliveries (duplicates, distinct events, concurrent ones), the holder as at issue, row-level
security, and the lookups by code (any typing, unknown = 404) and by holder.

The consumer runs in-process so each delivery happens exactly when and as often as the test
says; tests/e2e/test_certificates.py drives the real push through the gateway."""

import threading
import uuid

import pytest

from shared import certificates
from shared.certificates import issuance, rules
from shared.certificates import service as certs
from shared.platform.db import transaction
from shared.platform.errors import NotFound
from tests.factories import enrolled_student, make_course, new_channel, new_user
from tests.helpers import outbox_events

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def world(admin):
    owner = new_user("Owner")
    cid = new_channel(owner, name="Académie Ünïcode")
    course = make_course(admin, cid, owner, title="Kiến thức 基礎", description="Basics")
    student = enrolled_student(admin, cid, course["id"])
    admin.run("UPDATE users SET display_name = 'Nguyễn Thị Ánh' WHERE id = :u", u=student)
    return {"cid": cid, "course": course["id"], "student": student, "owner": owner}


def completed(w, *, event_id=None, user=None):
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": "course.completed",
        "channel_id": w["cid"],
        "data": {"user_id": user or w["student"], "course_id": w["course"]},
    }


def deliver(envelope, **attributes):
    return certificates.on_course_completed(envelope=envelope, attributes=attributes)


def count(admin, w):
    return admin.run(
        "SELECT count(*) FROM certificates WHERE channel_id = :c AND course_id = :co",
        c=w["cid"],
        co=w["course"],
    )[0][0]


def test_the_same_event_five_times_makes_one_certificate_and_one_event(admin, world):
    event = completed(world)
    outcomes = [deliver(event, channel_id=world["cid"]) for _ in range(5)]
    assert outcomes == ["issued"] + ["duplicate"] * 4
    assert count(admin, world) == 1
    issued = outbox_events(admin, world["cid"], "certificate.issued")
    assert len(issued) == 1
    code = issued[0]["code"]
    assert issued[0]["user_id"] == world["student"]
    assert issued[0]["verify_url"].endswith("/c/" + rules.display_code(code))
    audit = admin.run(
        "SELECT count(*) FROM audit_log WHERE channel_id = :c AND action = 'certificate.issued'",
        c=world["cid"],
    )
    assert audit == [[1]]


def test_another_completion_event_of_the_same_course_finds_the_certificate_held(admin, world):
    assert deliver(completed(world)) == "issued"
    assert deliver(completed(world)) == "exists"
    assert count(admin, world) == 1
    assert len(outbox_events(admin, world["cid"], "certificate.issued")) == 1


@pytest.mark.parametrize("same_event", [True, False], ids=["same-event", "two-events"])
def test_concurrent_deliveries_make_one_certificate(admin, world, same_event):
    shared_id = str(uuid.uuid4())
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            outcomes.append(deliver(completed(world, event_id=shared_id if same_event else None)))
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted(outcomes) == ["duplicate" if same_event else "exists", "issued"]
    assert count(admin, world) == 1
    assert len(outbox_events(admin, world["cid"], "certificate.issued")) == 1


def test_malformed_unknown_and_foreign_events_issue_nothing(admin, world):
    assert deliver({"type": "course.completed"}) == "malformed"
    assert deliver(completed(world), channel_id=str(uuid.uuid4())) == "malformed"
    assert deliver(completed(world, user=str(uuid.uuid4()))) == "skipped"  # no such user
    other = new_channel(new_user("Other"))  # a course id of another channel
    foreign = {**completed(world), "channel_id": other}
    assert deliver(foreign) == "skipped"
    assert count(admin, world) == 0


def test_the_public_record_keeps_the_holder_and_course_as_at_issue(admin, world):
    deliver(completed(world))
    code = admin.run("SELECT code FROM certificates WHERE user_id = :u", u=world["student"])[0][0]
    admin.run("UPDATE users SET display_name = 'Renamed' WHERE id = :u", u=world["student"])
    admin.run("UPDATE courses SET title = 'Retitled' WHERE id = :c", c=world["course"])
    typed = rules.display_code(code).lower().replace("-", " ")
    public = certificates.public_certificate(code=typed, client_ip="192.0.2.1")
    assert public == {
        "code": rules.display_code(code),
        "status": "valid",
        "holder_name": "Nguyễn Thị Ánh",
        "course_title": "Kiến thức 基礎",
        "channel_name": "Académie Ünïcode",
        "issued_at": public["issued_at"],
    }
    email = admin.run("SELECT email FROM users WHERE id = :u", u=world["student"])[0][0]
    row = admin.run("SELECT subject_hash, subject_salt FROM certificates WHERE code = :c", c=code)
    assert row[0][0] == rules.identity_hash(email, row[0][1])


@pytest.mark.parametrize("typed", ["ABCD-EFGH-JKLM", "not a code", "0000-0000-0000", ""])
def test_unknown_and_impossible_codes_are_the_same_404(typed):
    with pytest.raises(NotFound) as err:
        certificates.public_certificate(code=typed, client_ip="192.0.2.1")
    assert err.value.detail == "No such certificate."
    with pytest.raises(NotFound):
        certificates.credential_jwt(code=typed, client_ip="192.0.2.1")


def test_the_holder_lists_theirs_and_nobody_else_sees_them(admin, world):
    deliver(completed(world))
    mine = certificates.my_certificates(user_id=world["student"])["items"]
    assert [(c["course_id"], c["channel_id"], c["status"]) for c in mine] == [
        (world["course"], world["cid"], "valid")
    ]
    assert mine[0]["verify_url"].endswith("/c/" + mine[0]["code"])
    assert mine[0]["credential_url"].endswith(f"/v1/certificates/{mine[0]['code']}/credential")
    assert certificates.my_certificates(user_id=world["owner"])["items"] == []
    other = new_channel(new_user("Nosy"))
    with transaction(channel_id=other) as tx:
        assert tx.scalar("SELECT count(*) FROM certificates") == 0
    with transaction(channel_id=world["cid"]) as tx:
        assert tx.scalar("SELECT count(*) FROM certificates") == 1


def test_a_code_collision_retries_with_a_new_code(admin, world, monkeypatch):
    deliver(completed(world))
    taken = admin.run("SELECT code FROM certificates WHERE user_id = :u", u=world["student"])[0][0]
    second = enrolled_student(admin, world["cid"], world["course"])
    unused = rules.new_code()
    fresh = iter([taken, unused])
    monkeypatch.setattr(issuance.rules, "new_code", lambda: next(fresh))
    assert deliver(completed(world, user=second)) == "issued"
    codes = admin.run("SELECT code FROM certificates WHERE user_id = :u", u=second)
    assert codes == [[unused]]


def test_the_served_credential_is_the_stored_certificate(admin, world):
    from tests.unit.certificates import ob3

    deliver(completed(world))
    code = admin.run("SELECT code FROM certificates WHERE user_id = :u", u=world["student"])[0][0]
    claims = ob3.verify(certificates.credential_jwt(code=code, client_ip="192.0.2.2"), certs.jwks())
    ob3.validate(claims["vc"])
    achievement = claims["vc"]["credentialSubject"]["achievement"]
    assert (achievement["name"], achievement["description"]) == ("Kiến thức 基礎", "Basics")
    assert claims["vc"]["issuer"]["name"] == "Académie Ünïcode"


def test_concurrent_issuances_in_a_channel_take_distinct_status_positions(admin, world):
    others = [enrolled_student(admin, world["cid"], world["course"]) for _ in range(3)]
    barrier = threading.Barrier(len(others))
    outcomes = []

    def run(user):
        barrier.wait(timeout=10)
        outcomes.append(deliver(completed(world, user=user)))

    threads = [threading.Thread(target=run, args=(u,)) for u in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert outcomes == ["issued"] * 3
    deliver(completed(world))  # a fourth, then a duplicate that must not spend a position
    deliver(completed(world))
    positions = admin.run(
        "SELECT status_index FROM certificates WHERE channel_id = :c ORDER BY status_index",
        c=world["cid"],
    )
    assert [p[0] for p in positions] == [0, 1, 2, 3]
    counter = admin.run(
        "SELECT next_index FROM certificate_status_lists WHERE channel_id = :c", c=world["cid"]
    )
    assert counter == [[4]]
