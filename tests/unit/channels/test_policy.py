import pytest

from shared.channels.rules import (
    POLICY,
    ROLES,
    MemberChange,
    allows,
    can_assign,
    removal,
    removal_permission,
    role_change,
    second_factor_applies,
)


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


def test_moderators_see_live_classes_but_do_not_host_or_schedule_them():
    assert allows("moderator", "live.view_any")
    assert not allows("moderator", "live.host") and not allows("moderator", "batch.write")
    assert allows("instructor", "live.host") and allows("instructor", "batch.write")


@pytest.mark.parametrize(
    ("actor", "current", "new", "owners", "verdict"),
    [
        ("owner", "student", "instructor", 1, MemberChange.ALLOWED),
        ("owner", "owner", "admin", 2, MemberChange.ALLOWED),
        ("owner", "owner", "admin", 1, MemberChange.LAST_OWNER),
        ("owner", "owner", "owner", 1, MemberChange.ALLOWED),  # no change of seat
        ("admin", "owner", "student", 1, MemberChange.NOT_PERMITTED),  # 403 before 409
        ("admin", "student", "moderator", 1, MemberChange.ALLOWED),
        ("instructor", "student", "moderator", 3, MemberChange.NOT_PERMITTED),
    ],
)
def test_role_change_verdicts(actor, current, new, owners, verdict):
    assert role_change(actor=actor, current=current, new=new, owners=owners) is verdict


@pytest.mark.parametrize(
    ("actor", "current", "owners", "leaving_self", "verdict"),
    [
        ("owner", "student", 1, False, MemberChange.ALLOWED),
        ("owner", "owner", 1, True, MemberChange.LAST_OWNER),  # the last owner cannot leave
        ("owner", "owner", 2, True, MemberChange.ALLOWED),
        ("student", "student", 1, True, MemberChange.ALLOWED),  # anyone may leave
        ("moderator", "student", 1, False, MemberChange.NOT_PERMITTED),
        ("admin", "admin", 1, False, MemberChange.NOT_PERMITTED),
        ("admin", "instructor", 1, False, MemberChange.ALLOWED),
    ],
)
def test_removal_verdicts(actor, current, owners, leaving_self, verdict):
    got = removal(actor=actor, current=current, owners=owners, leaving_self=leaving_self)
    assert got is verdict


def test_leaving_needs_only_read_access_removing_others_needs_manage():
    assert removal_permission(leaving_self=True) == "channel.read"
    assert removal_permission(leaving_self=False) == "members.manage"
    assert allows("student", removal_permission(leaving_self=True))
    assert not allows("student", removal_permission(leaving_self=False))


@pytest.mark.parametrize(
    ("role", "action", "requires", "applies"),
    [
        ("owner", "members.manage", True, True),
        ("admin", "billing.manage", True, True),
        ("admin", "course.write", True, True),
        ("owner", "channel.read", True, False),  # may still read (and leave)
        ("instructor", "course.write", True, False),  # only owners and admins
        ("owner", "members.manage", False, False),  # the channel does not ask for it
    ],
)
def test_second_factor_requirement_applies_to_owners_and_admins(role, action, requires, applies):
    got = second_factor_applies(role=role, action=action, channel_requires=requires)
    assert got is applies
