"""certificate_mailer against real Postgres and the stack's SMTP sink: the holder gets the
links once per event; duplicates and malformed events send nothing."""

import uuid

import pytest

from shared import certificates
from shared.certificates import rules
from tests.factories import enrolled_student, make_course, new_channel, new_user
from tests.helpers import outbox_events

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def issued_event(admin_db):
    admin = admin_db()
    owner = new_user("Owner")
    cid = new_channel(owner, name="Mail School")
    course = make_course(admin, cid, owner, title="数学 入門")
    student = enrolled_student(admin, cid, course["id"])
    completed = {
        "id": str(uuid.uuid4()),
        "type": "course.completed",
        "channel_id": cid,
        "data": {"user_id": student, "course_id": course["id"]},
    }
    assert certificates.on_course_completed(envelope=completed, attributes={}) == "issued"
    payload = outbox_events(admin, cid, "certificate.issued")[0]
    event_id = admin.run(
        "SELECT id FROM outbox WHERE channel_id = :c AND event_type = 'certificate.issued'", c=cid
    )[0][0]
    email = admin.run("SELECT email FROM users WHERE id = :u", u=student)[0][0]
    envelope = {
        "id": str(event_id),
        "type": "certificate.issued",
        "channel_id": cid,
        "data": payload,
    }
    return {"envelope": envelope, "email": email, "code": payload["code"], "cid": cid}


def test_the_holder_is_mailed_the_links_once(issued_event, wait_for_mail):
    e = issued_event
    deliver = certificates.on_certificate_issued
    # The stack's own push of the event (outbox -> Pub/Sub -> certificate_mailer) races this
    # in-process delivery: whichever comes first sends, the other finds it processed.
    first = deliver(envelope=e["envelope"], attributes={"channel_id": e["cid"]})
    assert first in ("sent", "duplicate")
    msg = wait_for_mail(e["email"], subject="Your certificate: 数学 入門")
    text = msg.get_body(preferencelist=("plain",)).get_content()
    code = rules.display_code(e["code"])
    assert f"/c/{code}" in text and f"/v1/certificates/{code}/credential" in text
    assert "Mail School" in text
    assert deliver(envelope=e["envelope"], attributes={}) == "duplicate"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda env: {**env, "type": "course.completed"},
        lambda env: {**env, "channel_id": "x"},
        lambda env: {**env, "data": {"certificate_id": "nope"}},
        lambda env: None,
    ],
)
def test_malformed_events_are_dropped(issued_event, mangle):
    out = certificates.on_certificate_issued(
        envelope=mangle(issued_event["envelope"]), attributes={}
    )
    assert out == "malformed"


def test_a_certificate_of_another_channel_is_not_mailed(issued_event):
    other = new_channel(new_user("Other"))
    env = {**issued_event["envelope"], "id": str(uuid.uuid4()), "channel_id": other}
    assert certificates.on_certificate_issued(envelope=env, attributes={}) == "skipped"
