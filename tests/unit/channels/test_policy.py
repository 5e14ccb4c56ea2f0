import pytest

from shared.channels.rules import POLICY, ROLES, allows, can_assign
from shared.identity import rules as passwords


def test_every_action_is_granted_to_the_owner():
    assert all(allows("owner", action) for action in POLICY)


def test_students_cannot_write_or_manage():
    for action in (
        "channel.update",
        "members.manage",
        "members.read",
        "audit.read",
        "course.write",
        "upload.create",
        "batch.write",
        "live.view_any",
        "live.host",
    ):
        assert not allows("student", action), action


def test_no_role_allows_nothing():
    assert not any(allows(None, a) for a in POLICY)


@pytest.mark.parametrize(
    ("actor", "current", "new", "ok"),
    [
        ("owner", "student", "owner", True),
        ("owner", "owner", "student", True),
        ("admin", "student", "instructor", True),
        ("admin", None, "moderator", True),
        ("admin", "student", "admin", False),  # admins cannot mint admins
        ("admin", "owner", "student", False),  # nor demote owners
        ("admin", "admin", None, False),
        ("instructor", "student", "moderator", False),
    ],
)
def test_role_assignment_rules(actor, current, new, ok):
    assert can_assign(actor, current, new) is ok


def test_roles_are_ranked_in_order():
    assert ROLES[0] == "owner" and ROLES[-1] == "student"


@pytest.mark.parametrize(
    ("pw", "bad"),
    [
        ("short", True),
        ("password123", True),  # common
        ("aaaaaaaaaaaa", True),  # too few distinct characters
        ("x" * 1025, True),  # over the byte cap, refused before hashing
        ("é" * 600, True),  # 600 chars but 1200 bytes
        ("correct horse battery", False),
        ("Z" + "y" * 62 + "1", False),  # 64 characters accepted
    ],
)
def test_password_rules(pw, bad):
    assert bool(passwords.problems(pw)) is bad


def test_moderators_see_live_classes_but_do_not_host_or_schedule_them():
    assert allows("moderator", "live.view_any")
    assert not allows("moderator", "live.host") and not allows("moderator", "batch.write")
    assert allows("instructor", "live.host") and allows("instructor", "batch.write")
