"""The full-text index as migration 0108 leaves it: no pending list (fastupdate off), so a
search never scans a backlog of deferred inserts; and whatever the indexer wrote is in the
index proper at once."""

import pytest

pytestmark = pytest.mark.usefixtures("stack")


def test_full_text_index_defers_no_inserts(admin_db):
    db = admin_db()
    options = db.run(
        "SELECT c.reloptions FROM pg_class c WHERE c.relname = 'search_documents_fts'"
    )[0][0]
    assert "fastupdate=off" in (options or [])
    # with fastupdate off there is nothing to merge, however many documents were written
    assert db.run("SELECT gin_clean_pending_list('search_documents_fts'::regclass)")[0][0] == 0
