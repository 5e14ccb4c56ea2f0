"""Verification against real Postgres: the public page (Open Graph meta, escaped names),
revocation by owners and admins only and shown everywhere, every read recorded as an
analytics event and counted for staff, and the per-address limit on lookups."""

import uuid

import pytest

from shared import certificates
from shared.certificates import keys, rules
from shared.certificates import service as certs
from shared.certificates.schemas import RevokeIn
from shared.platform.config import Settings
from shared.platform.errors import Forbidden, NotFound, RateLimited
from tests.factories import enrolled_student, make_course, new_channel, new_user
from tests.unit.certificates import ob3

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


def member(admin, cid, role):
    uid = new_user(role.title())
    admin.run(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, :r)",
        c=cid,
        u=uid,
        r=role,
    )
    return uid


@pytest.fixture
def issued(admin):
    owner = new_user("Owner")
    cid = new_channel(owner, name="Ch <b>&</b>")
    course = make_course(admin, cid, owner, title="Đại số & <i>Algebra</i>")
    student = enrolled_student(admin, cid, course["id"])
    admin.run(
        "UPDATE users SET display_name = '<script>alert(1)</script> Ольга' WHERE id = :u",
        u=student,
    )
    outcome = certificates.on_course_completed(
        envelope={
            "id": str(uuid.uuid4()),
            "type": "course.completed",
            "channel_id": cid,
            "data": {"user_id": student, "course_id": course["id"]},
        },
        attributes={},
    )
    assert outcome == "issued"
    cert_id, code = admin.run("SELECT id, code FROM certificates WHERE user_id = :u", u=student)[0]
    return {
        "cid": cid,
        "owner": owner,
        "student": student,
        "id": str(cert_id),
        "code": rules.display_code(code),
        "ip": f"198.51.100.{uuid.uuid4().int % 250}-{uuid.uuid4().hex[:6]}",
    }


def page(w):
    body, headers = certificates.verification_page(code=w["code"], client_ip=w["ip"])
    return body.decode(), headers


def test_the_page_shows_the_certificate_with_open_graph_meta_and_escapes_names(issued):
    html, headers = page(issued)
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src" not in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert '<meta property="og:title"' in html and '<meta property="og:url"' in html
    assert f"/c/{issued['code']}" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; Ольга" in html
    assert "Đại số &amp; &lt;i&gt;Algebra&lt;/i&gt;" in html
    assert 'data-status="valid"' in html
    assert "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME" in html


def test_an_admin_revokes_and_every_view_shows_it(admin, issued):
    w = issued
    admin_user = member(admin, w["cid"], "admin")
    out = certificates.revoke(
        channel_id=w["cid"],
        user_id=admin_user,
        certificate_id=w["id"],
        data=RevokeIn(reason="Plagiarised final project"),
    )
    assert (out["status"], out["revocation_reason"]) == ("revoked", "Plagiarised final project")
    public = certificates.public_certificate(code=w["code"], client_ip=w["ip"])
    assert (public["status"], public["revocation_reason"]) == (
        "revoked",
        "Plagiarised final project",
    )
    html, _ = page(w)
    assert 'data-status="revoked"' in html and "Plagiarised final project" in html
    assert "linkedin.com" not in html
    mine = certificates.my_certificates(user_id=w["student"])["items"]
    assert [c["status"] for c in mine] == ["revoked"]
    staff = certificates.channel_certificates(channel_id=w["cid"], user_id=w["owner"])["items"]
    assert [(c["id"], c["status"]) for c in staff] == [(w["id"], "revoked")]
    # again: nothing changes, no second event
    again = certificates.revoke(
        channel_id=w["cid"], user_id=w["owner"], certificate_id=w["id"], data=RevokeIn(reason="x")
    )
    assert again["revocation_reason"] == "Plagiarised final project"
    events = admin.run(
        "SELECT count(*) FROM outbox WHERE channel_id = :c AND event_type = 'certificate.revoked'",
        c=w["cid"],
    )
    audits = admin.run(
        "SELECT actor_user_id FROM audit_log WHERE channel_id = :c"
        " AND action = 'certificate.revoked'",
        c=w["cid"],
    )
    assert events == [[1]] and [str(a[0]) for a in audits] == [admin_user]


@pytest.mark.parametrize("role,error", [("instructor", Forbidden), ("student", Forbidden)])
def test_below_admin_cannot_revoke(admin, issued, role, error):
    user = member(admin, issued["cid"], role)
    with pytest.raises(error):
        certificates.revoke(
            channel_id=issued["cid"],
            user_id=user,
            certificate_id=issued["id"],
            data=RevokeIn(reason="no"),
        )
    assert certificates.public_certificate(code=issued["code"], client_ip="x")["status"] == "valid"


def test_another_channels_admin_sees_no_such_certificate(admin, issued):
    elsewhere_owner = new_user("Else")
    elsewhere = new_channel(elsewhere_owner)
    with pytest.raises(NotFound):
        certificates.revoke(
            channel_id=elsewhere,
            user_id=elsewhere_owner,
            certificate_id=issued["id"],
            data=RevokeIn(reason="no"),
        )
    with pytest.raises(NotFound):  # not a member of the certificate's channel
        certificates.revoke(
            channel_id=issued["cid"],
            user_id=elsewhere_owner,
            certificate_id=issued["id"],
            data=RevokeIn(reason="no"),
        )
    for bad in ("not-a-uuid", str(uuid.uuid4())):
        with pytest.raises(NotFound):
            certificates.revoke(
                channel_id=issued["cid"],
                user_id=issued["owner"],
                certificate_id=bad,
                data=RevokeIn(reason="no"),
            )


def test_every_read_is_recorded_and_counted_for_staff(admin, issued):
    w = issued
    certificates.public_certificate(code=w["code"], client_ip=w["ip"])
    certificates.credential_jwt(code=w["code"], client_ip=w["ip"])
    page(w)
    page(w)
    rows = admin.run(
        "SELECT event_type, metadata->>'via' FROM analytics_events WHERE channel_id = :c"
        " AND metadata->>'certificate_id' = :i ORDER BY occurred_at, event_type",
        c=w["cid"],
        i=w["id"],
    )
    assert sorted(tuple(r) for r in rows) == [
        ("certificate.verified", "credential"),
        ("certificate.verified", "json"),
        ("certificate.viewed", "page"),
        ("certificate.viewed", "page"),
    ]
    shared = [
        certificates.share(code=w["code"], network=n, client_ip=w["ip"])["share_url"]
        for n in ("linkedin", "x", "download")
    ]
    assert shared[0].startswith("https://www.linkedin.com/sharing/share-offsite/?url=")
    assert shared[2].endswith(f"/v1/certificates/{w['code']}/credential")
    networks = admin.run(
        "SELECT metadata->>'network' FROM analytics_events WHERE channel_id = :c"
        " AND event_type = 'certificate.shared' AND metadata->>'certificate_id' = :i",
        c=w["cid"],
        i=w["id"],
    )
    assert sorted(n[0] for n in networks) == ["download", "linkedin", "x"]
    staff = certificates.channel_certificates(channel_id=w["cid"], user_id=w["owner"])["items"]
    assert (staff[0]["views"], staff[0]["shares"]) == (4, 3)
    student_role = member(admin, w["cid"], "student")
    with pytest.raises(Forbidden):
        certificates.channel_certificates(channel_id=w["cid"], user_id=student_role)


def test_lookups_are_limited_per_address_known_or_not(issued, monkeypatch):
    low = Settings(rate_limit_certificate_lookup_ip="3/600")
    monkeypatch.setattr(certs, "settings", lambda: low)
    ip = issued["ip"]
    certificates.public_certificate(code=issued["code"], client_ip=ip)
    with pytest.raises(NotFound):
        certificates.public_certificate(code="ZZZZ-ZZZZ-ZZZZ", client_ip=ip)
    with pytest.raises(NotFound):
        certificates.verification_page(code="nope", client_ip=ip)
    with pytest.raises(RateLimited) as limited:
        certificates.public_certificate(code=issued["code"], client_ip=ip)
    assert limited.value.status == 429
    # another address is not held back
    assert certificates.public_certificate(code=issued["code"], client_ip=ip + "b")["code"]


def revoked_bits(cid):
    claims = ob3.verify(certificates.status_list_jwt(channel_id=cid), keys.jwks())
    subject = claims["vc"]["credentialSubject"]
    assert (subject["type"], subject["statusPurpose"]) == ("BitstringStatusList", "revocation")
    return rules.decode_status_list(subject["encodedList"])


def test_the_signed_status_list_shows_the_revocation_at_the_credentials_position(admin, issued):
    w = issued
    claims = ob3.verify(certificates.credential_jwt(code=w["code"], client_ip=w["ip"]), keys.jwks())
    entry = claims["vc"]["credentialStatus"]
    index = int(entry["statusListIndex"])
    assert entry["statusListCredential"].endswith(f"/v1/certificates/status-lists/{w['cid']}")
    assert revoked_bits(w["cid"]) == bytes(16384)
    certificates.revoke(
        channel_id=w["cid"], user_id=w["owner"], certificate_id=w["id"], data=RevokeIn(reason="r")
    )
    bits = revoked_bits(w["cid"])
    assert bits[index // 8] == 0x80 >> (index % 8)
    assert sum(bin(b).count("1") for b in bits) == 1
    for unknown in ("nope", str(uuid.uuid4())):
        with pytest.raises(NotFound):
            certificates.status_list_jwt(channel_id=unknown)
