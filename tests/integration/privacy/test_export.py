"""A user's export against the real stack: the workflow (run by scripts/local_workflows.py
in this process) calls the privacy_worker function through the gateway step by step, and the
ZIP in the exports bucket holds every part, with a README; one running export per user; an
export past its expiry is deleted by the retention cron."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest
import requests

from shared import privacy
from shared.adapters import firestore_docs, gcs_objects
from shared.platform.db import transaction
from tests.factories import enrolled_student, make_course, new_channel, new_user
from tests.helpers import eventually

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


def ready(user_id: str, job_id: str) -> dict:
    return eventually(
        lambda: privacy.export_status(user_id=user_id, job_id=job_id),
        until=lambda s: s["status"] != "running",
        timeout=60,
        interval=0.2,
        what="the export to finish",
    )


def download(url: str) -> zipfile.ZipFile:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, r.text
    return zipfile.ZipFile(io.BytesIO(r.content))


def add_events(admin, channel_id: str, user_id: str, n: int) -> None:
    admin.run(
        "INSERT INTO analytics_events (id, channel_id, user_id, event_type, metadata, occurred_at)"
        " SELECT gen_random_uuid(), :c, :u, 'lesson.heartbeat',"
        " jsonb_build_object('i', g), now() - make_interval(secs => g)"
        " FROM generate_series(1, :n) g",
        c=channel_id,
        u=user_id,
        n=n,
    )


def test_the_export_zip_holds_every_part_and_a_readme(admin):
    owner = new_user("Owner")
    cid = new_channel(owner)
    course = make_course(admin, cid, owner, title="Course")
    student = enrolled_student(admin, cid, course["id"])
    admin.run("UPDATE users SET display_name = 'Zoë Export' WHERE id = :u", u=student)
    add_events(admin, cid, student, 2500)  # more than one page (rules.PAGE)
    firestore_docs.client().collection("users").document(student).set(
        {"user_id": student, "theme": "dark"}
    )

    job = privacy.start_user_export(user_id=student)["job_id"]
    status = ready(student, job)
    assert status["status"] == "ready", status
    assert status["expires_at"] is not None
    zf = download(status["url"])
    names = set(zf.namelist())
    assert {
        "README.md",
        "profile.json",
        "analytics/events.json",
        "storage/objects.json",
        "firestore/documents.json",
        "database/memberships.user_id.json",
        "database/enrollments.user_id.json",
    } <= names, names
    # every file but the README is JSON
    for name in names - {"README.md"}:
        json.loads(zf.read(name))
    readme = zf.read("README.md").decode()
    assert all(f"- {n}" in readme for n in names - {"README.md"})
    profile = json.loads(zf.read("profile.json"))
    assert profile["id"] == student and profile["display_name"] == "Zoë Export"
    assert "password_hash" not in profile
    events = json.loads(zf.read("analytics/events.json"))
    assert len(events) == 2500 and {e["channel_id"] for e in events} == {cid}
    assert len({e["id"] for e in events}) == 2500
    enrollments = json.loads(zf.read("database/enrollments.user_id.json"))
    assert [e["course_id"] for e in enrollments] == [course["id"]]
    docs = json.loads(zf.read("firestore/documents.json"))
    assert {"path": f"users/{student}", "data": {"user_id": student, "theme": "dark"}} in docs
    # nobody else's rows
    assert all(
        m["user_id"] == student for m in json.loads(zf.read("database/memberships.user_id.json"))
    )
    # the staging parts are gone
    assert not [n for n in _names(f"privacy/parts/{job}/")]


def _names(prefix: str) -> list[str]:
    from shared.platform.config import settings

    bucket = gcs_objects.client().bucket(settings().bucket("exports"))
    return [b.name for b in bucket.list_blobs(prefix=prefix)]


def test_secrets_never_leave_in_an_export(admin):
    user = new_user("Secretive")
    job = privacy.start_user_export(user_id=user)["job_id"]
    zf = download(ready(user, job)["url"])
    blob = b"".join(zf.read(n) for n in zf.namelist())
    hashed = admin.run("SELECT password_hash FROM users WHERE id = :u", u=user)[0][0]
    assert hashed.encode() not in blob
    assert b"token_hash" not in blob and b"password_hash" not in blob


def test_one_running_export_per_user(admin):
    user = new_user("Twice")
    running = str(uuid.uuid4())
    with transaction(user_id=user) as tx:
        tx.exec(
            "INSERT INTO privacy_jobs (id, kind, user_id) VALUES (:j, 'user_export', :u)",
            j=running,
            u=user,
        )
    assert privacy.start_user_export(user_id=user)["job_id"] == running
    assert privacy.start_user_export(user_id=user)["job_id"] == running
    assert admin.run("SELECT count(*) FROM privacy_jobs WHERE user_id = :u", u=user)[0][0] == 1
    # once it is over, a new export starts
    admin.run("UPDATE privacy_jobs SET status = 'failed' WHERE id = :j", j=running)
    again = privacy.start_user_export(user_id=user)["job_id"]
    assert again != running
    assert ready(user, again)["status"] == "ready"


def test_another_users_export_is_not_found(admin):
    a, b = new_user("A"), new_user("B")
    job = privacy.start_user_export(user_id=a)["job_id"]
    ready(a, job)
    from shared.platform.errors import NotFound

    with pytest.raises(NotFound):
        privacy.export_status(user_id=b, job_id=job)
    with pytest.raises(NotFound):
        privacy.export_status(user_id=b, job_id="not-a-uuid")


def test_an_expired_export_is_deleted_by_retention_and_a_fresh_one_kept(admin):
    old_user, new = new_user("Old"), new_user("New")
    old_job = privacy.start_user_export(user_id=old_user)["job_id"]
    new_job = privacy.start_user_export(user_id=new)["job_id"]
    ready(old_user, old_job)
    ready(new, new_job)
    obj_old, obj_new = (
        admin.run("SELECT object_name FROM privacy_jobs WHERE id = :j", j=j)[0][0]
        for j in (old_job, new_job)
    )
    admin.run(
        "UPDATE privacy_jobs SET expires_at = now() - interval '1 minute' WHERE id = :j", j=old_job
    )
    deleted = privacy.run_retention()
    assert deleted["exports"] >= 1
    assert gcs_objects.describe("exports", obj_old) is None
    assert gcs_objects.describe("exports", obj_new) is not None
    assert privacy.export_status(user_id=old_user, job_id=old_job) == {
        "status": "expired",
        "url": None,
        "expires_at": None,
    }
    assert privacy.export_status(user_id=new, job_id=new_job)["status"] == "ready"
