"""Certificate PDFs against the real stack (Postgres, the GCS emulator): completion -> PDF in
the certificates bucket with the holder's name in any script, the course, channel, date, code
and verify URL as text, the QR code of that URL, the metadata; one PDF whatever the
deliveries; the holder's signed link; the channel's template checked when saved, previewed,
and used; the batch rule (attendance threshold).

The worker runs in-process so each render happens when the test says;
tests/e2e/test_certificates.py drives the real task through the Cloud Tasks emulator."""

import base64
import io
import threading
import uuid

import pypdf
import pytest
import requests
import segno

from shared import certificates
from shared.adapters import gcs
from shared.certificates import design, issuance, rendering, rules
from shared.certificates.schemas import SettingsIn, TemplateIn
from shared.platform.errors import Forbidden, NotFound, Unprocessable
from tests.factories import enrolled_student, make_batch, make_course, new_channel, new_user

pytestmark = pytest.mark.usefixtures("stack")

# 1x1 PNG (the smallest valid file): the channel's logo
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


@pytest.fixture
def world(admin):
    owner = new_user("Owner")
    cid = new_channel(owner, name="Académie Ünïcode", theme={"primary": "#aa3300"})
    course = make_course(admin, cid, owner, title="Kiến thức cơ bản", description="Basics")
    return {"cid": cid, "course": course["id"], "owner": owner}


def student(admin, w, name):
    uid = enrolled_student(admin, w["cid"], w["course"])
    admin.run("UPDATE users SET display_name = :n WHERE id = :u", n=name, u=uid)
    admin.run(
        "UPDATE enrollments SET completed_at = now() WHERE user_id = :u AND course_id = :c",
        u=uid,
        c=w["course"],
    )
    return uid


def complete(w, user, event_id=None):
    envelope = {
        "id": event_id or str(uuid.uuid4()),
        "type": "course.completed",
        "channel_id": w["cid"],
        "data": {"user_id": user, "course_id": w["course"]},
    }
    return certificates.on_course_completed(envelope=envelope, attributes={})


def cert_of(admin, w, user):
    rows = admin.run(
        "SELECT id, code, issued_at, pdf_object FROM certificates"
        " WHERE channel_id = :c AND user_id = :u",
        c=w["cid"],
        u=user,
    )
    assert len(rows) == 1
    out = dict(zip(["id", "code", "issued_at", "pdf_object"], rows[0], strict=True))
    return {**out, "id": str(out["id"])}


def stored_pdf(name):
    size, kind = gcs.stat("certificates", name)
    assert kind == "application/pdf"
    return gcs.read_range("certificates", name, 0, size - 1)


def pdf_text(data):
    reader = pypdf.PdfReader(io.BytesIO(data))
    return reader, "\n".join(p.extract_text() for p in reader.pages)


NAMES = {
    "vietnamese": "Nguyễn Thị Ánh",
    "cyrillic": "Анна Кузнецова",
    "greek": "Ελένη Παπαδοπούλου",
    "cjk": "王小明",
    "japanese": "やまだ たろう",
    "arabic": "محمد علي",
    "latin": "Zoë Åström-Ñúñez",
}


@pytest.mark.parametrize("script", sorted(NAMES))
def test_completion_renders_a_pdf_with_everything_as_text(admin, world, script):
    name = NAMES[script]
    uid = student(admin, world, name)
    assert complete(world, uid) == "issued"
    cert = cert_of(admin, world, uid)
    outcome = certificates.render_certificate(channel_id=world["cid"], certificate_id=cert["id"])
    # the queued task may have reached the gateway's worker first: then it is already there
    assert outcome in ("rendered", "exists")
    cert = cert_of(admin, world, uid)
    assert cert["pdf_object"] == f"{world['cid']}/{cert['id']}.pdf"
    reader, text = pdf_text(stored_pdf(cert["pdf_object"]))
    code = rules.display_code(cert["code"])
    verify = rules.verify_url(cert["code"], base_url=rendering.settings().public_base_url)
    assert len(reader.pages) == 1
    assert name in text
    assert "Kiến thức cơ bản" in text
    assert "Académie Ünïcode" in text
    assert cert["issued_at"].date().isoformat() in text
    assert code in text
    assert verify in text
    meta = reader.metadata
    assert code in meta.title and name in meta.title
    assert meta.author == "Académie Ünïcode"
    assert code in meta["/Keywords"]
    # every font in the PDF is one of the shipped ones
    fonts = {
        str(f.get_object()["/BaseFont"]).split("+", 1)[-1]
        for f in reader.pages[0]["/Resources"]["/Font"].values()
    }
    assert fonts and all(f.startswith("Noto-Sans") for f in fonts), fonts


def test_the_qr_code_is_the_verify_url(admin, world):
    uid = student(admin, world, "Ada")
    complete(world, uid)
    cert = cert_of(admin, world, uid)
    certificates.render_certificate(channel_id=world["cid"], certificate_id=cert["id"])
    reader, _ = pdf_text(stored_pdf(cert_of(admin, world, uid)["pdf_object"]))
    images = reader.pages[0].images
    assert len(images) == 1
    qr = images[0].image.convert("1")
    verify = rules.verify_url(cert["code"], base_url=rendering.settings().public_base_url)
    expected = segno.make(verify, error="m", micro=False)
    rows = list(expected.matrix_iter(scale=1, border=4))
    assert qr.size == (len(rows[0]), len(rows))
    pixels = [[qr.getpixel((x, y)) == 0 for x in range(qr.size[0])] for y in range(qr.size[1])]
    assert pixels == [[bool(v) for v in row] for row in rows]


def test_duplicates_and_concurrent_renders_make_one_certificate_and_one_pdf(admin, world):
    uid = student(admin, world, "Dup")
    event = str(uuid.uuid4())
    assert [complete(world, uid, event) for _ in range(5)] == ["issued"] + ["duplicate"] * 4
    cert = cert_of(admin, world, uid)
    outcomes = []

    def run():
        outcomes.append(
            certificates.render_certificate(channel_id=world["cid"], certificate_id=cert["id"])
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert certificates.render_certificate(channel_id=world["cid"], certificate_id=cert["id"]) == (
        "exists"
    )
    names = [
        b.name
        for b in gcs.client()
        .bucket(rendering.settings().bucket("certificates"))
        .list_blobs(prefix=f"{world['cid']}/")
    ]
    assert names == [f"{world['cid']}/{cert['id']}.pdf"]
    count = admin.run(
        "SELECT count(*) FROM certificates WHERE channel_id = :c AND user_id = :u",
        c=world["cid"],
        u=uid,
    )
    assert count == [[1]]


def test_bad_tasks_render_nothing(world):
    assert certificates.render_certificate(channel_id="x", certificate_id=None) == "malformed"
    assert (
        certificates.render_certificate(channel_id=world["cid"], certificate_id=str(uuid.uuid4()))
        == "unknown"
    )


def test_the_holder_gets_a_signed_link_once_the_pdf_exists(admin, world):
    uid = student(admin, world, "Holder")
    complete(world, uid)
    cert = cert_of(admin, world, uid)
    admin.run("UPDATE certificates SET pdf_object = NULL WHERE id = :i", i=cert["id"])
    [item] = certificates.my_certificates(user_id=uid)["items"]
    assert item["pdf_url"] is None
    certificates.render_certificate(channel_id=world["cid"], certificate_id=cert["id"])
    [item] = certificates.my_certificates(user_id=uid)["items"]
    assert item["pdf_url"] and "X-Goog-Signature=" in item["pdf_url"]
    assert "X-Goog-Expires=300" in item["pdf_url"]
    r = requests.get(item["pdf_url"], timeout=10)
    assert r.status_code == 200 and r.content.startswith(b"%PDF-")


# --- the channel's template ---------------------------------------------------------------

GOOD = (
    '<section class="mine">Awarded to <b>{{ holder_name }}</b> for {{ course_title }}'
    " by {{ channel_name }} on {{ issued_on }}. {{ code }} {{ verify_url }}"
    '{% if logo_url %}<img src="{{ logo_url }}">{% endif %}<img src="{{ qr_url }}"></section>'
)


def save(w, html, css="", user=None, **images):
    return certificates.save_template(
        channel_id=w["cid"],
        user_id=user or w["owner"],
        data=TemplateIn.model_validate({"html": html, "css": css, **images}),
    )


def stored_template(admin, w):
    return admin.run("SELECT html FROM certificate_templates WHERE channel_id = :c", c=w["cid"])


@pytest.mark.parametrize(
    ("html", "css", "field"),
    [
        (GOOD + '<img src="https://evil.example/p.png">', "", "html"),
        (GOOD, ".a{background:url(http://127.0.0.1:1/x)}", "css"),
        (GOOD + "{% for x in %}", "", "html"),
        ("<p>{{ holder_name }}</p>", "", "html"),  # no code, no verify URL
    ],
)
def test_a_bad_template_is_a_422_and_nothing_is_saved(admin, world, html, css, field):
    with pytest.raises(Unprocessable) as err:
        save(world, html, css)
    assert err.value.extra["errors"][0]["loc"] == ["body", field]
    assert stored_template(admin, world) == []


def test_bad_images_are_422(admin, world):
    for value in ("https://evil.example/logo.png", "data:image/png;base64,AAAA", "data:x"):
        with pytest.raises(Unprocessable):
            save(world, GOOD, logo=value)
    assert stored_template(admin, world) == []


def test_only_owners_and_admins_design_and_other_channels_see_nothing(admin, world):
    instructor = new_user("Instructor")
    admin.run(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, 'instructor')",
        c=world["cid"],
        u=instructor,
    )
    with pytest.raises(Forbidden):
        save(world, GOOD, user=instructor)
    stranger = new_user("Stranger")
    new_channel(stranger)
    with pytest.raises(NotFound):
        save(world, GOOD, user=stranger)
    with pytest.raises(NotFound):
        certificates.preview_template(
            channel_id=world["cid"], user_id=stranger, data=TemplateIn(html=GOOD)
        )
    assert stored_template(admin, world) == []


def test_the_saved_template_and_logo_make_the_next_pdfs(admin, world):
    before = certificates.get_template(channel_id=world["cid"], user_id=world["owner"])
    assert before["updated_at"] is None and before["html"] == design.default_html()
    logo = "data:image/png;base64," + base64.b64encode(PNG).decode()
    out = save(world, GOOD, ".mine{color:var(--primary)}", logo=logo)
    assert out["has_logo"] is True and out["has_signature"] is False
    uid = student(admin, world, "Ελένη")
    complete(world, uid)
    cert = cert_of(admin, world, uid)
    certificates.render_certificate(channel_id=world["cid"], certificate_id=cert["id"])
    reader, text = pdf_text(stored_pdf(cert_of(admin, world, uid)["pdf_object"]))
    assert "Awarded to Ελένη for Kiến thức cơ bản" in " ".join(text.split())
    assert len(reader.pages[0].images) == 2  # the logo and the QR code
    # saving again without images keeps the logo; null removes it
    assert save(world, GOOD)["has_logo"] is True
    assert save(world, GOOD, logo=None)["has_logo"] is False


def test_preview_is_a_pdf_of_sample_data_and_saves_nothing(admin, world):
    body = certificates.preview_template(
        channel_id=world["cid"], user_id=world["owner"], data=TemplateIn(html=GOOD)
    )
    assert body.startswith(b"%PDF-")
    _, text = pdf_text(body)
    assert design.SAMPLE["holder_name"] in text and "Académie Ünïcode" in text
    assert stored_template(admin, world) == []
    with pytest.raises(Unprocessable):
        certificates.preview_template(
            channel_id=world["cid"],
            user_id=world["owner"],
            data=TemplateIn(html=GOOD + '<link rel="stylesheet" href="https://e.example/x">'),
        )


# --- the batch rule -----------------------------------------------------------------------


def batch_student(admin, w, batch):
    uid = student(admin, w, "Batchy")
    admin.run(
        "UPDATE enrollments SET batch_id = :b WHERE user_id = :u AND course_id = :c",
        b=batch,
        u=uid,
        c=w["course"],
    )
    return uid


def test_a_batch_student_needs_the_attendance_threshold(admin, world, monkeypatch):
    batch = make_batch(admin, world["cid"], world["course"], None)
    rates = {}
    seen = []

    def rate(channel_id, batch_id, user_id):  # shared.live's contract (helper L2)
        seen.append((str(channel_id), str(batch_id), str(user_id)))
        return rates.get(str(user_id))

    monkeypatch.setattr(issuance, "attendance_rate", lambda c, b, u: rate(c, b, u))
    certificates.save_settings(
        channel_id=world["cid"],
        user_id=world["owner"],
        data=SettingsIn(attendance_threshold=0.8),
    )
    low, high, none = (batch_student(admin, world, batch) for _ in range(3))
    rates[low], rates[high] = 0.5, 0.8
    assert complete(world, low) == "pending"
    assert complete(world, high) == "issued"
    assert complete(world, none) == "issued"  # no live class ended yet: lessons decide
    assert (world["cid"], batch, low) in seen
    assert admin.run("SELECT count(*) FROM certificates WHERE user_id = :u", u=low) == [[0]]
    # a live class ends and the student's rate now reaches the threshold
    rates[low] = 0.9
    ended = {
        "id": str(uuid.uuid4()),
        "type": "live_session.ended",
        "channel_id": world["cid"],
        "data": {"batch_id": batch, "session_id": str(uuid.uuid4())},
    }
    assert certificates.on_course_completed(envelope=ended, attributes={}) == "issued 1"
    assert certificates.on_course_completed(envelope=ended, attributes={}) == "issued 0"
    assert admin.run("SELECT count(*) FROM certificates WHERE user_id = :u", u=low) == [[1]]


def test_settings_are_managers_only_and_bounded(admin, world):
    assert certificates.get_settings(channel_id=world["cid"], user_id=world["owner"]) == {
        "attendance_threshold": 0.75
    }
    out = certificates.save_settings(
        channel_id=world["cid"], user_id=world["owner"], data=SettingsIn(attendance_threshold=0.6)
    )
    assert out == {"attendance_threshold": 0.6}
    with pytest.raises(ValueError):
        SettingsIn(attendance_threshold=1.5)
