"""Erasure against the real stack: afterwards no email, name or client address of the person
is left in any text or JSON column of any table, nor in the buckets; revenue and the
financial rows are unchanged; every audit chain still verifies; the account cannot log in and
its tokens are refused; Stripe no longer has its customer; a sole owner of a channel with
members is refused; running the erasure again changes nothing."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from shared import identity, privacy, search
from shared.adapters import firestore_docs, gcs_objects, stripe_api, workflows
from shared.platform.db import transaction
from shared.platform.errors import Conflict, Forbidden, Unauthorized
from shared.platform.ids import uuid7
from tests.factories import make_course, new_channel, new_user
from tests.helpers import PASSWORD, eventually, unique

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def admin(admin_db):
    conn = admin_db()
    yield conn
    conn.close()


def text_columns(admin) -> list[tuple[str, str]]:
    return [
        (t, c)
        for t, c in admin.run(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'"
            " AND c.data_type IN ('text', 'jsonb', 'json', 'character varying', 'ARRAY')"
        )
    ]


def leftovers(admin, needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a needle is still found, as text."""
    found = []
    for table, column in text_columns(admin):
        for needle in needles:
            n = admin.run(
                f'SELECT count(*) FROM "{table}" WHERE strpos("{column}"::text, :n) > 0', n=needle
            )[0][0]
            if n:
                found.append((table, column, needle))
    return found


def bucket_leftovers(needles: list[str]) -> list[tuple[str, str]]:
    from shared.platform.config import settings

    found = []
    for key in ("exports", "media"):
        bucket = gcs_objects.client().bucket(settings().bucket(key))
        for blob in bucket.list_blobs():
            if (blob.size or 0) > 5_000_000:
                continue
            data = blob.download_as_bytes()
            for needle in needles:
                if needle.encode() in data:
                    found.append((blob.name, needle))
    return found


def chain_ok(admin, channel_id: str | None) -> bool:
    rows = admin.run(
        "SELECT seq, prev_hash, hash, audit_canonical(a) FROM audit_log a"
        " WHERE channel_id IS NOT DISTINCT FROM CAST(:c AS uuid) ORDER BY seq",
        c=channel_id,
    )
    prev = b""
    for i, (seq, prev_hash, h, canonical) in enumerate(rows, start=1):
        expected = hashlib.sha256(prev + bytes(canonical)).digest()
        if seq != i or bytes(prev_hash or b"") != prev or bytes(h) != expected:
            return False
        prev = bytes(h)
    return True


def job_of(admin, user_id: str) -> tuple[str, str]:
    return admin.run(
        "SELECT id::text, status FROM privacy_jobs WHERE user_id = :u AND kind = 'erasure'"
        " ORDER BY created_at DESC LIMIT 1",
        u=user_id,
    )[0]


def erased(admin, user_id: str) -> str:
    return eventually(
        lambda: job_of(admin, user_id)[1],
        until=lambda s: s != "running",
        timeout=90,
        interval=0.2,
        what="the erasure to finish",
    )


@pytest.fixture
def person(admin):
    """Someone with data everywhere: a profile, logins from a real address, a membership,
    an enrollment, a payment with its ledger rows, a certificate, a post, analytics events
    holding the address, a Firestore document, an export in the bucket, and a channel of
    their own billed through a Stripe customer."""
    tag = uuid.uuid4().hex[:10]
    email = f"Erase.Me.{tag}@Example.com"
    name = f"Zelda Erasable {tag}"
    ip = f"2001:db8::{int(tag[:4], 16):x}:{int(tag[4:8], 16):x}"
    out = identity.signup(email=email, password=PASSWORD, display_name=name, client_ip=ip)
    uid = out["user"]["id"]
    identity.login(email=email, password=PASSWORD, client_ip=ip)
    with pytest.raises(Unauthorized):
        identity.login(email=email, password="wrong password!!", client_ip=ip)

    owner = new_user("Owner")
    cid = new_channel(owner)
    course = make_course(admin, cid, owner, title="Paid course")
    admin.run(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, 'student')",
        c=cid,
        u=uid,
    )
    enrollment = uuid7()
    admin.run(
        "INSERT INTO enrollments (id, channel_id, course_id, user_id, source)"
        " VALUES (:i, :c, :co, :u, 'paid')",
        i=enrollment,
        c=cid,
        co=course["id"],
        u=uid,
    )
    payment = uuid7()
    admin.run(
        "INSERT INTO payments (id, channel_id, payment_intent_id, user_id, course_id, amount,"
        " currency, application_fee_amount, fulfillment, enrollment_id, paid_at)"
        " VALUES (:i, :c, :pi, :u, :co, 4900, 'usd', 490, 'enrolled', :e, now())",
        i=payment,
        c=cid,
        pi=f"pi_{tag}",
        u=uid,
        co=course["id"],
        e=enrollment,
    )
    for kind, amount in (("sale", 4900), ("platform_fee", -490)):
        admin.run(
            "INSERT INTO ledger_entries (id, channel_id, entry_key, kind, amount, currency,"
            " payment_id, course_id, occurred_at) VALUES (:i, :c, :k, :kind, :a, 'usd', :p,"
            " :co, now())",
            i=uuid7(),
            c=cid,
            k=f"{kind}:{tag}",
            kind=kind,
            a=amount,
            p=payment,
            co=course["id"],
        )
    admin.run(
        "INSERT INTO certificates (id, channel_id, course_id, user_id, enrollment_id, code,"
        " holder_name, course_title, subject_hash, subject_salt, status_index)"
        " VALUES (:i, :c, :co, :u, :e, :code, :n, 'Paid course', 'sha256$00', 'salt', 7)",
        i=uuid7(),
        c=cid,
        co=course["id"],
        u=uid,
        e=enrollment,
        code="".join("ABCDEFGHJKMNPQRSTUVWXYZ23456789"[b % 31] for b in uuid.uuid4().bytes[:12]),
        n=name,
    )
    space = uuid7()
    admin.run(
        "INSERT INTO spaces (id, channel_id, name, audience_kind)"
        " VALUES (:i, :c, 'General', 'members')",
        i=space,
        c=cid,
    )
    post = uuid7()
    admin.run(
        "INSERT INTO posts (id, channel_id, space_id, author_id, title, body, body_html)"
        " VALUES (:i, :c, :s, :u, 'Hello', 'My first post', '<p>My first post</p>')",
        i=post,
        c=cid,
        s=space,
        u=uid,
    )
    # the search index's copy of the post, as the indexer makes it from post.created
    assert search.search_index().reindex(
        event_id=str(uuid7()), channel_id=cid, kind="post", doc_id=str(post)
    )
    admin.run(
        "INSERT INTO outbox (id, channel_id, event_type, payload) VALUES (:i, :c, 'post.created',"
        " jsonb_build_object('author', jsonb_build_object('user_id', CAST(:u AS text),"
        " 'display_name', CAST(:n AS text)), 'email', CAST(:e AS text)))",
        i=uuid7(),
        c=cid,
        u=uid,
        n=name,
        e=email.lower(),
    )
    admin.run(
        "INSERT INTO analytics_events (id, channel_id, user_id, event_type, metadata, occurred_at)"
        " VALUES (gen_random_uuid(), :c, :u, 'lesson.heartbeat',"
        " jsonb_build_object('ip', CAST(:ip AS text), 'seconds', 30), now())",
        c=cid,
        u=uid,
        ip=ip,
    )
    firestore_docs.client().collection("users").document(uid).set(
        {"user_id": uid, "display_name": name}
    )
    # the realtime projection of their post (shared/realtime paths)
    post_doc = f"channels/{cid}/spaces/{space}/posts/{post}"
    firestore_docs.client().document(post_doc).set(
        {"title": "Hello", "author": {"user_id": uid, "display_name": name}, "version": 1}
    )
    # an export made before the erasure: it holds everything above
    job = privacy.start_user_export(user_id=uid)["job_id"]
    eventually(
        lambda: privacy.export_status(user_id=uid, job_id=job)["status"],
        "ready",
        timeout=60,
        interval=0.2,
    )
    # their own channel, billed through a Stripe customer holding their name and email
    own = new_channel(uid, name="My own")
    customer = stripe_api.create_customer(
        channel_id=own, email=email, name=name, idempotency_key=f"t-{tag}"
    )
    admin.run(
        "INSERT INTO channel_subscriptions (channel_id, stripe_customer_id) VALUES (:c, :cu)",
        c=own,
        cu=customer["id"],
    )
    return {
        "id": uid,
        "email": email,
        "name": name,
        "ip": ip,
        "cid": cid,
        "own": own,
        "payment": payment,
        "post": post,
        "customer": customer["id"],
        "post_doc": post_doc,
        "access": out["access_token"],
    }


def revenue(admin, cid: str) -> list:
    return admin.run(
        "SELECT kind, sum(amount) FROM ledger_entries WHERE channel_id = :c"
        " GROUP BY kind ORDER BY kind",
        c=cid,
    )


def test_erasure_leaves_no_personal_data_and_keeps_the_books(admin, person):
    p = person
    needles = [p["email"], p["email"].lower(), p["name"], p["ip"]]
    assert leftovers(admin, needles)  # the scan does find them before
    books = revenue(admin, p["cid"])
    payment_before = admin.run("SELECT amount, user_id FROM payments WHERE id = :i", i=p["payment"])

    assert privacy.request_erasure(user_id=p["id"], password=PASSWORD, delete_posts=False)
    # at once: no login, tokens refused
    with pytest.raises(Unauthorized):
        identity.login(email=p["email"], password=PASSWORD, client_ip="203.0.113.1")
    with pytest.raises(Unauthorized):
        identity.verify_access_token(p["access"])

    assert erased(admin, p["id"]) == "done"
    assert leftovers(admin, needles) == []
    assert bucket_leftovers(needles) == []
    assert list(firestore_docs.user_documents(p["id"])) == []
    projected = firestore_docs.client().document(p["post_doc"]).get().to_dict()
    assert projected["author"] == {"user_id": None, "display_name": "Deleted user"}
    assert projected["title"] == "Hello"
    # the books and the financial rows are as they were
    assert revenue(admin, p["cid"]) == books
    assert (
        admin.run("SELECT amount, user_id FROM payments WHERE id = :i", i=p["payment"])
        == payment_before
    )
    # the post stays, written by a deleted user
    assert admin.run("SELECT author_id, body, status FROM posts WHERE id = :i", i=p["post"]) == [
        [None, "My first post", "visible"]
    ]
    # and stays searchable: its document names nobody (the scan above covers search_documents)
    assert indexed(admin, p["post"]) == [["Hello", "My first post"]]
    # Stripe deleted the customer
    assert stripe_api.client().v1.customers.retrieve(p["customer"]).to_dict()["deleted"] is True
    # every chain still verifies, the erasure recorded on the platform chain
    assert chain_ok(admin, None) and chain_ok(admin, p["cid"]) and chain_ok(admin, p["own"])
    assert (
        admin.run(
            "SELECT count(*) FROM audit_log WHERE action = 'privacy.erased' AND target_id = :u",
            u=p["id"],
        )[0][0]
        == 1
    )
    # the pseudonym is stable
    assert admin.run("SELECT email, display_name FROM users WHERE id = :u", u=p["id"]) == [
        [f"{privacy_pseudonym(p['id'])}@erased.invalid", "Deleted user"]
    ]


def privacy_pseudonym(user_id: str) -> str:
    from shared.privacy.rules import pseudonym

    return pseudonym(user_id)


def indexed(admin, post: str) -> list:
    return admin.run(
        "SELECT title, body FROM search_documents WHERE doc_type = 'post' AND doc_id = :i",
        i=post,
    )


def test_running_the_erasure_again_changes_nothing(admin, person):
    p = person
    assert indexed(admin, p["post"]) == [["Hello", "My first post"]]
    privacy.request_erasure(user_id=p["id"], password=PASSWORD, delete_posts=True)
    assert erased(admin, p["id"]) == "done"
    assert indexed(admin, p["post"]) == []  # posts asked gone leave the search index too
    job, _ = job_of(admin, p["id"])
    snapshot = admin.run(
        "SELECT email, display_name, erased_at FROM users WHERE id = :u", u=p["id"]
    )
    audit_rows = admin.run("SELECT count(*) FROM audit_log")[0][0]
    # resumed from the start, as if every step had failed: all of it again, harmlessly
    admin.run("UPDATE privacy_jobs SET status = 'failed', steps_done = '{}' WHERE id = :j", j=job)
    name = workflows.start("privacy_erasure", {"job_id": job, "user_id": p["id"]})
    eventually(lambda: workflows.executions[name]["state"], "SUCCEEDED", timeout=90, interval=0.2)
    assert job_of(admin, p["id"]) == [job, "done"]
    assert (
        admin.run("SELECT email, display_name, erased_at FROM users WHERE id = :u", u=p["id"])
        == snapshot
    )
    assert leftovers(admin, [p["email"], p["email"].lower(), p["name"], p["ip"]]) == []
    assert chain_ok(admin, None)
    assert admin.run("SELECT count(*) FROM audit_log")[0][0] >= audit_rows
    assert not firestore_docs.client().document(p["post_doc"]).get().exists
    # with delete_posts the post is gone too (kept as a deleted stub)
    assert admin.run("SELECT author_id, body, status FROM posts WHERE id = :i", i=p["post"]) == [
        [None, "[deleted]", "deleted"]
    ]


def test_a_sole_owner_of_a_channel_with_members_is_told_to_transfer_it(admin):
    owner = new_user("Sole")
    cid = new_channel(owner)
    member = new_user("Member")
    admin.run(
        "INSERT INTO memberships (channel_id, user_id, role) VALUES (:c, :u, 'student')",
        c=cid,
        u=member,
    )
    with pytest.raises(Conflict) as e:
        privacy.request_erasure(user_id=owner, password=PASSWORD, delete_posts=False)
    assert e.value.extra["channels"] == [cid]
    assert admin.run("SELECT erased_at FROM users WHERE id = :u", u=owner) == [[None]]
    assert admin.run("SELECT count(*) FROM privacy_jobs WHERE user_id = :u", u=owner) == [[0]]
    # with a second owner, the erasure may go ahead
    admin.run(
        "UPDATE memberships SET role = 'owner' WHERE channel_id = :c AND user_id = :u",
        c=cid,
        u=member,
    )
    privacy.request_erasure(user_id=owner, password=PASSWORD, delete_posts=False)
    assert erased(admin, owner) == "done"


def test_a_wrong_password_changes_nothing(admin):
    user = new_user("Careful")
    with pytest.raises(Forbidden):
        privacy.request_erasure(user_id=user, password="not my password", delete_posts=False)
    assert admin.run("SELECT erased_at FROM users WHERE id = :u", u=user) == [[None]]
    with transaction(user_id=user) as tx:
        assert tx.scalar("SELECT count(*) FROM privacy_jobs WHERE user_id = :u", u=user) == 0
    assert unique()  # the user can still log in
    email = admin.run("SELECT email FROM users WHERE id = :u", u=user)[0][0]
    assert identity.login(email=email, password=PASSWORD, client_ip="203.0.113.2")
