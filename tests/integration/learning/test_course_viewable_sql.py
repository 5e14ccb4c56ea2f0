"""course_viewable() (migration 0026) and shared.catalog.rules.course_viewable: one rule, one
truth table. Learning's access queries and the heartbeat writer call the SQL copy; catalog
calls the Python one."""

from __future__ import annotations

import itertools

import pytest

from shared.catalog.rules import course_viewable
from shared.platform import db

pytestmark = pytest.mark.usefixtures("stack")

CASES = list(
    itertools.product(("draft", "published", "archived", None), (False, True, None), (False, True))
)


def test_the_sql_function_and_the_python_rule_agree_on_every_case():
    rows = db.call(
        "SELECT s, st, e, course_viewable(s, st, e) AS v"
        " FROM unnest(CAST(:s AS text[]), CAST(:st AS boolean[]), CAST(:e AS boolean[]))"
        " AS t(s, st, e)",
        s=[c[0] for c in CASES],
        st=[c[1] for c in CASES],
        e=[c[2] for c in CASES],
    )
    got = {(r["s"], r["st"], r["e"]): r["v"] for r in rows}
    # NULL staff (no membership row) is not staff
    want = {(s, st, e): course_viewable(s, staff=bool(st), enrolled=e) for s, st, e in CASES}
    assert got == want
    assert None not in got.values()  # never NULL, whatever is missing
