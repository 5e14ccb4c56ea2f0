"""Cross-channel system functions (SECURITY DEFINER) are callable only by the role of the
function that needs them (migration 0042), and Terraform gives each role to that function."""

import re

import pytest
from pg8000.native import DatabaseError

from tests.infra.infra_support import ROOT

pytestmark = pytest.mark.usefixtures("stack")

# function signature -> the roles that may execute it; nothing else, PUBLIC included
EXPECTED = {
    "analytics_create_partition(month_of date)": set(),
    "analytics_ensure_partitions(months_ahead integer)": {"platform_fn_analytics_maintenance"},
    "analytics_roll_forward(p_lag interval)": {"platform_fn_analytics_maintenance"},
    "analytics_rollup_add(p_from timestamp with time zone, p_to timestamp with time zone)": set(),
    "analytics_rollup_day(p_day date, p_upto timestamp with time zone)": set(),
    "analytics_settled_until()": {"platform_fn_analytics"},
    "audit_chain()": set(),
    "billing_channel_of(object_id text)": {
        "platform_fn_stripe_webhook",
        "platform_fn_billing_reconcile",
    },
    "certificate_channel_of(p_code text)": {"platform_fn_certificates"},
    "community_digest_due(p_min_age interval, p_max_users integer, p_per_user integer)": {
        "platform_fn_community_digest"
    },
    "community_digest_sent(p_user uuid, p_before timestamp with time zone)": {
        "platform_fn_community_digest"
    },
    # one boolean: does this person want this kind of in-app notification (any writer asks)
    "community_notify_wanted(p_user uuid, p_kind text)": {"platform_app"},
    "learning_prune_sessions(max_age interval)": {"platform_fn_analytics_maintenance"},
    # the maintenance cron: watch sessions to lesson.watched events (0103), the warehouse
    # export cursor and the raw window by plan (0104)
    "learning_report_sessions(p_idle interval)": {"platform_fn_analytics_maintenance"},
    "analytics_export_next(p_limit integer)": {"platform_fn_analytics_maintenance"},
    "analytics_export_done(p_at timestamp with time zone, p_id uuid)": {
        "platform_fn_analytics_maintenance"
    },
    "analytics_prune_raw(p_windows jsonb, p_limit integer)": {"platform_fn_analytics_maintenance"},
    # the sweeper of meetings left at Zoom by a crash before their session row (0071)
    "live_claim_stale_intents(min_age interval, max_rows integer)": {"platform_fn_live_sweeper"},
    "live_session_of(p_account_id text, p_meeting_id text)": {"platform_fn_live_webhook"},
    "live_sessions_starting(p_within interval, p_limit integer)": {"platform_fn_live_reminders"},
    "media_unattached_uploads(min_age interval, max_rows integer)": {
        "platform_fn_analytics_maintenance"
    },
    "outbox_claim_stale(min_age interval, max_rows integer)": {"platform_fn_outbox_sweeper"},
    "outbox_mark_published(ids uuid[])": {"platform_app"},
    # privacy (0097, 0098): the export and erasure steps, the HTTP function's sole-owner check,
    # the retention cron
    "privacy_user_columns()": {"platform_fn_privacy_worker"},
    "privacy_user_rows(u uuid, t text, c text, lim integer, after_ctid tid)": {
        "platform_fn_privacy_worker"
    },
    "privacy_user_events(u uuid, after_at timestamp with time zone, after_id uuid, lim integer)": {
        "platform_fn_privacy_worker"
    },
    "privacy_sole_owned_channels(u uuid)": {"platform_app"},
    "privacy_delete_user_rows(u uuid, t text, c text, lim integer)": {"platform_fn_privacy_worker"},
    "privacy_scrub_tables()": {"platform_fn_privacy_worker"},
    "privacy_scrub_table(t text, needle text, replacement text, anywhere boolean)": {
        "platform_fn_privacy_worker"
    },
    "privacy_scrub_table(t text, needle text, replacement text, anywhere boolean,"
    " only_user uuid)": {"platform_fn_privacy_worker"},
    "privacy_scrub_user_events(u uuid, needle text, replacement text)": {
        "platform_fn_privacy_worker"
    },
    "privacy_user_audit_data(u uuid)": {"platform_fn_privacy_worker"},
    "privacy_erase_audit_data(u uuid)": {"platform_fn_privacy_worker"},
    "privacy_detach_user(u uuid, t text, c text, delete_content boolean)": {
        "platform_fn_privacy_worker"
    },
    "retention_due_exports(lim integer)": {"platform_fn_retention"},
    "retention_mark_expired(ids uuid[])": {"platform_fn_retention"},
    "retention_analytics_events(windows jsonb, default_days integer, lim integer)": {
        "platform_fn_retention"
    },
    "retention_deleted_posts(older_than interval, lim integer)": {"platform_fn_retention"},
    "search_published(p_q text, p_type text, p_cap integer, p_fuzzy_below integer,"
    " p_limit integer, p_offset integer)": {"platform_fn_search"},
}


def _grants(conn) -> dict[str, set[str]]:
    rows = conn.run(
        "SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',"
        "       coalesce(array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC'"
        "                               ELSE pg_get_userbyid(a.grantee) END)"
        "                FILTER (WHERE a.privilege_type = 'EXECUTE'"
        "                        AND a.grantee <> p.proowner), '{}')"
        " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " LEFT JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a"
        "   ON true"
        " WHERE n.nspname = 'public' AND p.prosecdef"
        " GROUP BY p.oid, p.proname"
    )
    return {sig: set(roles) for sig, roles in rows}


def test_each_system_function_is_granted_only_to_the_function_that_needs_it(admin_db):
    assert _grants(admin_db()) == EXPECTED


def test_the_shared_app_role_cannot_claim_other_tenants_outbox(admin_db):
    conn = admin_db()
    conn.run("BEGIN")
    try:
        conn.run("SET LOCAL ROLE platform_app")
        with pytest.raises(DatabaseError) as err:
            conn.run("SELECT * FROM outbox_claim_stale(interval '0', 1)")
        assert err.value.args[0]["C"] == "42501"  # insufficient_privilege
    finally:
        conn.run("ROLLBACK")


def test_terraform_gives_each_function_role_to_its_function():
    """The roles migrations create are exactly the ones Terraform hands out, each to the
    function of its name."""
    sql = "\n".join(p.read_text() for p in sorted((ROOT / "shared/migrations").glob("*.sql")))
    created = set(re.findall(r"'(platform_fn_[a-z_]+)'", sql))
    locals_tf = (ROOT / "terraform/locals.tf").read_text()
    block = re.search(r"function_db_roles = \{(.*?)\n  \}", locals_tf, re.S)
    assert block, "terraform/locals.tf has no function_db_roles map"
    granted = dict(re.findall(r'(\w+)\s*=\s*\["(platform_fn_\w+)"\]', block.group(1)))
    assert set(granted.values()) == created
    assert all(role == f"platform_fn_{fn}" for fn, role in granted.items())
