"""Search figures for `make bench` (issue 14.6), or alone: `python scripts/bench_search.py`.

Seeds a corpus straight into `search_documents` (BENCH_SEARCH_DOCS lessons, default 100k so
`make bench` stays within minutes, 1M for the issue's figure, in
BENCH_SEARCH_CHANNELS channels of one published course each; bodies of 30 words drawn from a
vocabulary where `lesson` is in every document, `common` in about one in three, and each
`rareNNNNN` word in about 1 in 100k), then times the two search paths as the functions run
them, client-side over a pg8000 connection on 127.0.0.1:
- cross-channel: `search_published()` (SECURITY DEFINER, published only);
- channel-scoped: `search_ranked()` as platform_app under the channel's RLS context;
for a selective term, a common term, a term in every document, and a typo (the trigram
fallback). Goals: p95 < 30 ms selective, < 100 ms common.

    rows = run(env)     # env: a started stack's environment (ADMIN_DATABASE_URL, ...)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOCS = int(os.environ.get("BENCH_SEARCH_DOCS", "100000"))  # full size: 1000000
CHANNELS = int(os.environ.get("BENCH_SEARCH_CHANNELS", "100"))
RUNS = int(os.environ.get("BENCH_SEARCH_RUNS", "40"))
SEED_BATCH = 100_000

# Ranked candidates and fallback threshold as the use case passes them (shared.search.rules).
CAP, FUZZY_BELOW, LIMIT = 1000, 1, 21

SEED_CHANNELS = """
WITH owner AS (
    INSERT INTO users (id, email, display_name)
    VALUES (gen_random_uuid(), 'bench-search-' || gen_random_uuid() || '@example.com', 'B')
    RETURNING id
), ch AS (
    INSERT INTO channels (id, slug, name, created_by)
    SELECT gen_random_uuid(), 'bs' || substr(md5(random()::text), 1, 12) || i, 'Bench ' || i,
           owner.id
      FROM generate_series(1, CAST(:n AS int)) i, owner
    RETURNING id, created_by
)
INSERT INTO courses (id, channel_id, title, status, created_by, published_at)
SELECT gen_random_uuid(), ch.id, 'Bench course', 'published', ch.created_by, now() FROM ch
RETURNING channel_id, id
"""

# Lessons' documents: title of 3 words, body of 30; word k of the vocabulary drawn with the
# weights above. The course rows exist (visibility joins them); the lesson rows do not need to.
SEED_DOCS = """
INSERT INTO search_documents (channel_id, doc_type, doc_id, course_id, title, summary, body)
SELECT c.channel_id, 'lesson', gen_random_uuid(), c.course_id,
       'Lesson ' || w.t1 || ' ' || w.t2, 'Bench course',
       'lesson ' || w.body
  FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) g
  JOIN LATERAL (SELECT (CAST(:courses AS jsonb) -> (g % CAST(:nc AS int))) AS j) jc ON true
  JOIN LATERAL (SELECT (jc.j ->> 'channel_id')::uuid AS channel_id,
                       (jc.j ->> 'course_id')::uuid AS course_id) c ON true
  JOIN LATERAL (
      SELECT (ARRAY['painting', 'guitar', 'python', 'cooking', 'yoga', 'finance'])[1 + g % 6] AS t1,
             (ARRAY['basics', 'advanced', 'workshop', 'chapter', 'project'])[1 + (g / 7) % 5] AS t2,
             string_agg(CASE WHEN r < 0.012 THEN 'common'
                             WHEN r < 0.02
                             THEN 'rare' || lpad((floor(random() * 100000))::int::text, 5, '0')
                             ELSE 'word' || (floor(random() * 5000))::int END, ' ') AS body
        FROM (SELECT random() AS r, g AS gg FROM generate_series(1, 30)) x
  ) w ON true
"""

PUBLISHED = "SELECT * FROM search_published(:q, NULL, :cap, :fz, :n, 0)"
RANKED = "SELECT * FROM search_ranked(:q, NULL, false, false, :cap, :fz, :n, 0)"


def seed(admin: Any) -> tuple[str, str]:
    """Seed the corpus once per database; returns (a channel id, a selective term in it)."""
    have = admin.run("SELECT count(*) FROM search_documents WHERE summary = 'Bench course'")[0][0]
    if have < DOCS:
        t = time.perf_counter()
        rows = admin.run(SEED_CHANNELS, n=CHANNELS)
        import json

        courses = json.dumps([{"channel_id": str(c), "course_id": str(k)} for c, k in rows])
        # Bulk load through the GIN pending list (fastupdate, off since migration 0108 so that
        # searches never scan it), merged once at the end: about 2x faster than row by row.
        admin.run("ALTER INDEX search_documents_fts SET (fastupdate = on)")
        try:
            for lo in range(have + 1, DOCS + 1, SEED_BATCH):
                admin.run(SEED_DOCS, lo=lo, hi=min(lo + SEED_BATCH - 1, DOCS), courses=courses,
                          nc=len(rows))  # fmt: skip
        finally:
            admin.run("ALTER INDEX search_documents_fts SET (fastupdate = off)")
            admin.run("SELECT gin_clean_pending_list('search_documents_fts'::regclass)")
        admin.run("ANALYZE search_documents")
        print(f"seeded {DOCS - have} documents in {time.perf_counter() - t:.0f} s", flush=True)
    row = admin.run(
        "SELECT channel_id, substring(body FROM 'rare[0-9]{5}') FROM search_documents"
        " WHERE summary = 'Bench course' AND body ~ 'rare[0-9]{5}' LIMIT 1"
    )[0]
    return str(row[0]), row[1]


def _time(conn: Any, sql: str, prelude: list[str], **params: Any) -> dict[str, Any]:
    times, hits = [], 0
    for _ in range(RUNS):
        conn.run("BEGIN")
        for p in prelude:
            conn.run(p)
        t = time.perf_counter()
        hits = len(conn.run(sql, **params))
        times.append((time.perf_counter() - t) * 1000)
        conn.run("ROLLBACK")
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, int(len(times) * 0.95) - 1)],
        "hits": hits,
    }


def run(env: dict[str, str]) -> list[dict[str, Any]]:
    from scripts.stack import pg_connect

    admin = pg_connect(env.get("ADMIN_DATABASE_URL") or env["MIGRATION_DATABASE_URL"], timeout=900)
    try:
        channel_id, rare = seed(admin)
        scoped = [
            "SET LOCAL ROLE platform_app",
            f"SELECT set_config('app.channel_id', '{channel_id}', true)",
        ]
        terms = [
            ("selective", rare, 30),
            ("common (~30% of docs)", "common", 100),
            ("in every doc", "lesson", 100),
            ("two words, phrase", '"python basics"', 100),
            ("typo, trigram fallback", "pyhton basiks", 100),
        ]
        rows = []
        for label, q, goal in terms:
            params = {"q": q, "cap": CAP, "fz": FUZZY_BELOW, "n": LIMIT}
            for path, sql, prelude in (
                ("all channels", PUBLISHED, []),
                ("one channel", RANKED, scoped),
            ):
                r = _time(admin, sql, prelude, **params)
                rows.append(
                    {
                        "what": f"search {path}: {label} ({q})",
                        "p50": r["p50"],
                        "p95": r["p95"],
                        "note": f"{r['hits']} hits; goal p95 < {goal} ms; {DOCS} docs",
                    }
                )
        return rows
    finally:
        admin.close()


def fmt(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{r['what']:<58} p50 {r['p50']:7.2f} ms  p95 {r['p95']:7.2f} ms  {r['note']}" for r in rows
    )


def main() -> None:
    from scripts.stack import Stack

    stack = Stack(profile="test")
    stack.start()
    try:
        print(fmt(run({**os.environ, **stack.env})), flush=True)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
