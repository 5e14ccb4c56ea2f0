"""Certificates over HTTP through the gateway: completing a course over the API -> outbox
`course.completed` -> Pub/Sub emulator -> push through the subscription filter ->
certificate_issuer -> the holder's list, the public record, and the signed credential, which a
stranger verifies with nothing but the published JWKS (joserfc) and validates against the
OB 3.0 schema; a tampered one fails."""

from __future__ import annotations

import base64
import gzip
import json

import pytest
import requests
from joserfc.errors import BadSignatureError

from tests.factories import make_course
from tests.helpers import assert_problem, eventually, make_channel, member_of, signup
from tests.unit.certificates import ob3

pytestmark = pytest.mark.e2e


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def earned(gateway_url, admin):
    """A student who completed a one-lesson free course over the API, and their certificate
    once the push has issued it."""
    owner = signup(gateway_url)
    ch = make_channel(gateway_url, owner, name="Школа Ελληνικά")
    course = make_course(admin, ch["id"], owner.id, lessons=(("text", None),), title="日本語 I")
    student = signup(gateway_url, name="Zoë Đặng")
    c = f"{gateway_url}/v1/channels/{ch['id']}"
    r = requests.post(f"{c}/courses/{course['id']}/enroll", headers=student.headers, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(
        f"{c}/lessons/{course['lessons'][0]}/complete", headers=student.headers, timeout=10
    )
    assert r.status_code == 200 and r.json()["course_completed"] is True, r.text

    def mine():
        r = requests.get(f"{gateway_url}/v1/me/certificates", headers=student.headers, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    items = eventually(mine, timeout=20, what="the certificate to be issued")
    return {
        "student": student,
        "owner": owner,
        "cert": items[0],
        "ch": ch,
        "course": course,
        "items": items,
    }


def test_completion_issues_one_certificate_that_anyone_can_look_up(
    gateway_url, earned, wait_for_mail
):
    cert = earned["cert"]
    mail = wait_for_mail(earned["student"].email, timeout=20, subject="Your certificate: 日本語 I")
    assert cert["verify_url"] in mail.get_body(preferencelist=("plain",)).get_content()
    assert len(earned["items"]) == 1
    assert (cert["course_id"], cert["channel_id"], cert["status"]) == (
        earned["course"]["id"],
        earned["ch"]["id"],
        "valid",
    )
    assert cert["pdf_url"] is None  # rendering is not built yet
    code = cert["code"]
    assert len(code) == 14 and not set(code) & set("0O1I")
    r = requests.get(f"{gateway_url}/v1/certificates/{code.lower()}", timeout=10)  # no auth
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("code", "status", "holder_name", "course_title")} == {
        "code": code,
        "status": "valid",
        "holder_name": "Zoë Đặng",
        "course_title": "日本語 I",
    }
    assert body["channel_name"] == "Школа Ελληνικά" and "revocation_reason" not in body


def test_unknown_codes_are_404_problems_of_one_shape(gateway_url):
    for typed in ("ZZZZ-ZZZZ-ZZZZ", "0O1I-0O1I-0O1I", "nope"):
        for suffix in ("", "/credential"):
            problem = assert_problem(
                requests.get(f"{gateway_url}/v1/certificates/{typed}{suffix}", timeout=10), 404
            )
            assert problem["detail"] == "No such certificate."


def test_the_credential_verifies_with_the_published_jwks_alone(gateway_url, earned):
    url = earned["cert"]["credential_url"]
    assert url == f"{gateway_url}/v1/certificates/{earned['cert']['code']}/credential"
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/vc+jwt")
    jwks = requests.get(f"{gateway_url}/.well-known/jwks.json", timeout=10).json()
    claims = ob3.verify(r.text, jwks)
    ob3.validate(claims["vc"])
    vc = claims["vc"]
    assert vc["credentialSubject"]["achievement"]["name"] == "日本語 I"
    assert vc["issuer"]["name"] == "Школа Ελληνικά"
    assert earned["student"].email not in r.text and "@" not in json.dumps(vc["credentialSubject"])
    did = requests.get(f"{gateway_url}/.well-known/did.json", timeout=10).json()
    assert [m["publicKeyJwk"] for m in did["verificationMethod"]] == jwks["keys"]

    header, payload, signature = r.text.split(".")
    forged_claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged_claims["vc"]["credentialSubject"]["achievement"]["name"] = "Another course"
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        ob3.verify(f"{header}.{forged}.{signature}", jwks)


def test_my_certificates_needs_a_signed_in_caller(gateway_url):
    assert_problem(requests.get(f"{gateway_url}/v1/me/certificates", timeout=10), 401)


def test_the_page_and_a_revocation_by_an_admin_show_everywhere(gateway_url, earned):
    cert, student = earned["cert"], earned["student"]
    assert cert["verify_url"] == f"{gateway_url}/c/{cert['code']}"
    r = requests.get(cert["verify_url"], timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert '<meta property="og:title" content="日本語 I · Zoë Đặng">' in r.text
    assert 'data-status="valid"' in r.text
    assert_problem(requests.get(f"{gateway_url}/c/ZZZZ-ZZZZ-ZZZZ", timeout=10), 404)

    cid = earned["ch"]["id"]
    owner = earned["owner"]
    base = f"{gateway_url}/v1/channels/{cid}/certificates"
    instructor = member_of(gateway_url, cid, owner, "instructor")
    listed = requests.get(base, headers=instructor.headers, timeout=10)
    assert listed.status_code == 200
    assert [(c["id"], c["views"] >= 1) for c in listed.json()["items"]] == [(cert["id"], True)]
    shares = f"{gateway_url}/v1/certificates/{cert['code']}/shares"
    r = requests.post(shares, json={"network": "x"}, timeout=10)
    assert r.status_code == 201 and r.json()["share_url"].startswith("https://x.com/intent/post?")
    assert_problem(requests.post(shares, json={"network": "myspace"}, timeout=10), 422)
    assert_problem(
        requests.post(
            f"{gateway_url}/v1/certificates/ZZZZ-ZZZZ-ZZZZ/shares",
            json={"network": "x"},
            timeout=10,
        ),
        404,
    )
    counted = requests.get(base, headers=instructor.headers, timeout=10).json()["items"][0]
    assert counted["shares"] == 1
    revoke = f"{base}/{cert['id']}/revoke"
    body = {"reason": "Identity fraud"}
    assert_problem(requests.post(revoke, json=body, headers=instructor.headers, timeout=10), 403)
    assert_problem(requests.get(base, headers=student.headers, timeout=10), 403)
    assert_problem(requests.get(base, headers=signup(gateway_url).headers, timeout=10), 404)
    admin_user = member_of(gateway_url, cid, owner, "admin")
    r = requests.post(revoke, json=body, headers=admin_user.headers, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "revoked", r.text

    public = requests.get(f"{gateway_url}/v1/certificates/{cert['code']}", timeout=10).json()
    assert (public["status"], public["revocation_reason"]) == ("revoked", "Identity fraud")
    page = requests.get(cert["verify_url"], timeout=10).text
    assert 'data-status="revoked"' in page and "Identity fraud" in page
    mine = requests.get(f"{gateway_url}/v1/me/certificates", headers=student.headers, timeout=10)
    assert [c["status"] for c in mine.json()["items"]] == ["revoked"]

    # and the status list the credential points to, verified with the JWKS alone
    jwks = requests.get(f"{gateway_url}/.well-known/jwks.json", timeout=10).json()
    credential = ob3.verify(requests.get(cert["credential_url"], timeout=10).text, jwks)
    entry = credential["vc"]["credentialStatus"]
    listed = requests.get(entry["statusListCredential"], timeout=10)
    assert listed.status_code == 200
    assert listed.headers["Content-Type"].startswith("application/vc+jwt")
    status = ob3.verify(listed.text, jwks)["vc"]["credentialSubject"]
    encoded = status["encodedList"].removeprefix("u")
    bits = gzip.decompress(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    index = int(entry["statusListIndex"])
    assert bits[index // 8] & (0x80 >> (index % 8))


def test_the_pdf_is_rendered_by_the_queued_task_and_served_to_the_holder(gateway_url, earned):
    """The real path: issuance queues the task, the Cloud Tasks emulator calls
    certificate_renderer through the gateway, the PDF lands in the bucket, and the holder's
    list then carries a short-lived signed link to it."""
    import io

    import pypdf

    student, code = earned["student"], earned["cert"]["code"]

    def pdf_url():
        r = requests.get(f"{gateway_url}/v1/me/certificates", headers=student.headers, timeout=10)
        return r.json()["items"][0]["pdf_url"]

    url = eventually(pdf_url, until=bool, timeout=60, what="the PDF to be rendered")
    r = requests.get(url, timeout=10)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(r.content))
    text = reader.pages[0].extract_text()
    for shown in ("Zoë Đặng", "日本語 I", "Школа Ελληνικά", code, earned["cert"]["verify_url"]):
        assert shown in text, (shown, text)
    assert code in reader.metadata.title and reader.metadata.author == "Школа Ελληνικά"
    assert len(reader.pages[0].images) == 1  # the QR code


def test_templates_are_checked_saved_and_previewed_over_http(gateway_url, earned):
    c = f"{gateway_url}/v1/channels/{earned['ch']['id']}"
    owner, student = earned["owner"], earned["student"]
    good = {"html": "<h1>{{ holder_name }}</h1><p>{{ code }} {{ verify_url }}</p>", "css": ""}
    remote = {**good, "css": "h1{background:url(https://evil.example/x.png)}"}
    body = assert_problem(
        requests.put(f"{c}/certificate-template", json=remote, headers=owner.headers, timeout=10),
        422,
    )
    assert "nothing is fetched from elsewhere" in json.dumps(body)
    broken = {**good, "html": good["html"] + "{% if %}"}
    assert_problem(
        requests.put(f"{c}/certificate-template", json=broken, headers=owner.headers, timeout=10),
        422,
    )
    assert_problem(
        requests.put(f"{c}/certificate-template", json=good, headers=student.headers, timeout=10),
        403,
    )
    r = requests.get(f"{c}/certificate-template", headers=owner.headers, timeout=10)
    assert r.status_code == 200 and r.json()["updated_at"] is None  # still the default
    r = requests.put(f"{c}/certificate-template", json=good, headers=owner.headers, timeout=10)
    assert r.status_code == 200 and r.json()["html"] == good["html"], r.text
    r = requests.post(
        f"{c}/certificate-template/preview", json=good, headers=owner.headers, timeout=30
    )
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    r = requests.put(
        f"{c}/certificate-settings",
        json={"attendance_threshold": 0.9},
        headers=owner.headers,
        timeout=10,
    )
    assert r.status_code == 200 and r.json() == {"attendance_threshold": 0.9}


def test_the_verify_script_needs_only_the_public_urls(gateway_url, earned, admin):
    from scripts import verify_credential

    code = earned["cert"]["code"]
    credential = f"{gateway_url}/v1/certificates/{code}/credential"
    jwks = f"{gateway_url}/.well-known/jwks.json"
    status, line = verify_credential.verify(credential, jwks)
    assert status == verify_credential.VALID, line
    base = f"{gateway_url}/v1/channels/{earned['ch']['id']}/certificates"
    r = requests.post(
        f"{base}/{earned['cert']['id']}/revoke",
        json={"reason": "Plagiarism"},
        headers=earned["owner"].headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    status, line = verify_credential.verify(credential, jwks)
    assert status == verify_credential.REVOKED, line
