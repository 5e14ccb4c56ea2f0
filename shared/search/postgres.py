"""The Postgres adapter of the SearchIndex port: documents in `search_documents` (a stored,
weighted tsvector, migration 0055), queries by `search_ranked()` under the channel's
row-level security, or by `search_published()` (SECURITY DEFINER, published content only)
across channels."""

from __future__ import annotations

from typing import Any

from shared.channels import allows, check_channel_id, role_of
from shared.platform.consumers import first_delivery
from shared.platform.db import Row, Tx, transaction
from shared.platform.errors import NotFound
from shared.search.index import Hit
from shared.search.rules import FUZZY_BELOW, POST_TITLE_CHARS, RANK_CAP, mark_snippet

CONSUMER = "search_indexer"

_LANGUAGE = (
    "(SELECT coalesce((SELECT language FROM search_settings"
    " WHERE channel_id = app_channel_id()), 'simple'::regconfig))"
)

# Each upsert reads the source under the channel's RLS context; what is gone is deleted.
_CHANNEL = f"""
INSERT INTO search_documents AS d (channel_id, doc_type, doc_id, title, language)
SELECT ch.id, 'channel', ch.id, ch.name, {_LANGUAGE} FROM channels ch WHERE ch.id = app_channel_id()
ON CONFLICT (doc_type, doc_id) DO UPDATE SET title = EXCLUDED.title,
    language = EXCLUDED.language, indexed_at = now()
"""
_COURSE = f"""
INSERT INTO search_documents AS d (channel_id, doc_type, doc_id, course_id, title, summary,
                                   language)
SELECT c.channel_id, 'course', c.id, c.id, c.title, c.description, {_LANGUAGE}
  FROM courses c WHERE c.id = :id AND c.channel_id = app_channel_id()
ON CONFLICT (doc_type, doc_id) DO UPDATE SET title = EXCLUDED.title,
    summary = EXCLUDED.summary, language = EXCLUDED.language, indexed_at = now()
"""
_COURSE_GONE = """
DELETE FROM search_documents d WHERE d.doc_type IN ('course', 'lesson') AND d.course_id = :id
   AND NOT EXISTS (SELECT 1 FROM courses c WHERE c.id = :id AND c.channel_id = app_channel_id())
"""
# A lesson's summary is its course's title: "which course is this in" is what a hit needs.
_LESSONS = f"""
INSERT INTO search_documents AS d (channel_id, doc_type, doc_id, course_id, title, summary,
                                   body, language)
SELECT l.channel_id, 'lesson', l.id, l.course_id, l.title, c.title, left(l.body, 100000),
       {_LANGUAGE}
  FROM lessons l JOIN courses c ON c.id = l.course_id AND c.channel_id = l.channel_id
 WHERE l.channel_id = app_channel_id() AND (l.id = :lesson OR l.course_id = :course)
ON CONFLICT (doc_type, doc_id) DO UPDATE SET title = EXCLUDED.title,
    summary = EXCLUDED.summary, body = EXCLUDED.body, course_id = EXCLUDED.course_id,
    language = EXCLUDED.language, indexed_at = now()
"""
_LESSON_GONE = """
DELETE FROM search_documents d WHERE d.doc_type = 'lesson'
   AND (d.doc_id = :lesson OR d.course_id = :course)
   AND NOT EXISTS (SELECT 1 FROM lessons l WHERE l.id = d.doc_id
                   AND l.channel_id = app_channel_id())
"""

# A post is a document while it is visible; hidden, removed or deleted, it is not (and the
# search checks the live status too, migration 0105). Title A, body C; no summary.
_POST = f"""
INSERT INTO search_documents AS d (channel_id, doc_type, doc_id, space_id, title, body,
                                   language)
SELECT p.channel_id, 'post', p.id, p.space_id,
       coalesce(nullif(p.title, ''), left(p.body, {POST_TITLE_CHARS})), left(p.body, 100000),
       {_LANGUAGE}
  FROM posts p WHERE p.id = :id AND p.channel_id = app_channel_id() AND p.status = 'visible'
ON CONFLICT (doc_type, doc_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body,
    space_id = EXCLUDED.space_id, language = EXCLUDED.language, indexed_at = now()
"""
_POST_GONE = """
DELETE FROM search_documents d WHERE d.doc_type = 'post' AND d.doc_id = :id
   AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = :id AND p.channel_id = app_channel_id()
                   AND p.status = 'visible')
"""
# A channel's language changed: every document of it takes the new configuration (the
# stored tsvector is generated from it, so this rewrites them all).
_RELANGUAGE = (
    "UPDATE search_documents SET language = CAST(:lang AS regconfig), indexed_at = now()"
    " WHERE channel_id = app_channel_id() AND language <> CAST(:lang AS regconfig)"
)

_SEARCH_CHANNEL = "SELECT * FROM search_ranked(:q, :t, false, :staff, :cap, :fuzzy, :n, :o)"
_SEARCH_PUBLISHED = "SELECT * FROM search_published(:q, :t, :cap, :fuzzy, :n, :o)"


class PostgresSearchIndex:
    def search(
        self,
        *,
        query: str,
        doc_type: str | None,
        channel_id: str | None,
        user_id: str | None,
        limit: int,
        offset: int,
    ) -> list[Hit]:
        params: dict[str, Any] = {
            "q": query, "t": doc_type, "cap": RANK_CAP, "fuzzy": FUZZY_BELOW, "n": limit,
            "o": offset,
        }  # fmt: skip
        if channel_id is None:
            with transaction(user_id=user_id) as tx:
                rows = tx.all(_SEARCH_PUBLISHED, **params)
        else:
            with transaction(channel_id=check_channel_id(channel_id), user_id=user_id) as tx:
                if tx.scalar("SELECT 1 FROM channels WHERE id = app_channel_id()") is None:
                    raise NotFound("No such channel.")
                staff = allows(role_of(tx, user_id), "course.read_drafts")
                rows = tx.all(_SEARCH_CHANNEL, staff=staff, **params)
        return [_hit(r) for r in rows]

    def set_language(self, *, channel_id: str, language: str) -> int:
        """The channel's documents in `language` from now on; returns how many changed."""
        with transaction(channel_id=check_channel_id(channel_id)) as tx:
            tx.exec(
                "INSERT INTO search_settings (channel_id, language)"
                " VALUES (app_channel_id(), CAST(:lang AS regconfig))"
                " ON CONFLICT (channel_id) DO UPDATE SET language = EXCLUDED.language,"
                " updated_at = now()",
                lang=language,
            )
            return len(tx.all(_RELANGUAGE + " RETURNING 1", lang=language))

    def reindex(self, *, event_id: str, channel_id: str, kind: str, doc_id: str) -> bool:
        with transaction(channel_id=channel_id) as tx:
            if not first_delivery(tx, consumer=CONSUMER, event_id=event_id):
                return False
            _reindex(tx, kind, doc_id)
        return True


def _reindex(tx: Tx, kind: str, doc_id: str) -> None:
    if kind == "channel":
        tx.exec(_CHANNEL)
    elif kind == "course":
        tx.exec(_COURSE, id=doc_id)
        tx.exec(_COURSE_GONE, id=doc_id)
        # the lessons' summary is the course title; a lesson of a gone course is gone
        tx.exec(_LESSONS, lesson=None, course=doc_id)
        tx.exec(_LESSON_GONE, lesson=None, course=doc_id)
    elif kind == "post":
        tx.exec(_POST, id=doc_id)
        tx.exec(_POST_GONE, id=doc_id)
    else:
        tx.exec(_LESSONS, lesson=doc_id, course=None)
        tx.exec(_LESSON_GONE, lesson=doc_id, course=None)


def _hit(r: Row) -> Hit:
    return {
        "type": r["doc_type"],
        "id": str(r["doc_id"]),
        "channel_id": str(r["channel_id"]),
        "title": r["title"],
        "snippet": mark_snippet(r["snippet"]),
    }
