"""Terraform builds exactly what shared/resources.yaml declares, wired the way it says.

Each test reads the Terraform blocks with python-hcl2 and evaluates their for_each and
attribute expressions with `terraform console` over terraform/locals.tf (see infra_support).
"""

from __future__ import annotations

import re

import pytest
from infra_support import (
    ROOT,
    TerraformEval,
    all_resource_types,
    block,
    dynamic_block,
    hcl_expr,
    load_resources,
    parse_terraform,
    resources_of_type,
    shared_tfeval,
    the_resource,
    unquote,
)

FUNCTION_TYPES = {
    "google_cloudfunctions2_function",
    "google_cloudfunctions_function",
    "google_cloud_run_v2_service",
    "google_cloud_run_service",
}


@pytest.fixture(scope="module")
def resources():
    return load_resources()


@pytest.fixture(scope="module")
def tfeval(tmp_path_factory):
    return shared_tfeval(tmp_path_factory)


def instances(tfeval: TerraformEval, body: dict) -> dict:
    """Instance key -> value of a for_each resource (its for_each map or set)."""
    value = tfeval.eval(hcl_expr(body["for_each"]))
    return value if isinstance(value, dict) else {k: k for k in value}


def per_instance(tfeval: TerraformEval, body: dict, expr) -> dict:
    return tfeval.eval(tfeval.per_instance(hcl_expr(body["for_each"]), hcl_expr(expr)))


def public_http(resources) -> list[dict]:
    return [f for f in resources["functions"] if f["trigger"] == "http" and not f.get("internal")]


# --- shape ---------------------------------------------------------------------------------------


def test_every_terraform_file_parses_and_is_split_by_concern():
    files = set(parse_terraform())
    for concern in (
        "network.tf",
        "database.tf",
        "storage.tf",
        "messaging.tf",
        "functions.tf",
        "scheduler.tf",
        "workflows.tf",
        "iam.tf",
        "monitoring.tf",
        "secrets.tf",
        "firestore.tf",
        "loadbalancer.tf",
        "variables.tf",
        "outputs.tf",
        "locals.tf",
    ):
        assert concern in files, f"terraform/{concern} is missing"


def test_locals_tf_holds_only_locals_derived_from_resources_yaml(tfeval):
    doc = parse_terraform()["locals.tf"]
    kinds = {k for k in doc if not k.startswith("__")}
    assert kinds == {"locals"}, f"locals.tf must hold only locals blocks, found {kinds}"
    resources_expr = doc["locals"][0]["resources"]
    assert "shared/resources.yaml" in resources_expr and "yamldecode" in resources_expr
    # Evaluating every local proves they reference no resource or data source.
    names = [k for d in doc["locals"] for k in d if not k.startswith("__")]
    values = tfeval.eval_many({n: f"local.{n}" for n in names})
    assert set(values) == set(names)


def test_variables_project_region_environment_and_outputs_exist():
    doc = parse_terraform()
    variables = {unquote(k) for b in doc["variables.tf"]["variable"] for k in b}
    assert {"project", "region", "environment", "notification_channels"} <= variables
    outputs = {unquote(k) for b in doc["outputs.tf"]["output"] for k in b}
    assert {"load_balancer_ip", "function_urls", "bucket_names"} <= outputs


def test_backend_is_a_partial_gcs_backend():
    tf = parse_terraform()["versions.tf"]["terraform"][0]
    backends = {unquote(k): v for b in tf["backend"] for k, v in b.items()}
    assert set(backends) == {"gcs"}
    assert not {k for k in backends["gcs"] if not k.startswith("__")}, (
        "bucket/prefix come from -backend-config, not from the repo"
    )


# --- functions -----------------------------------------------------------------------------------


def test_exactly_one_function_resource_with_one_instance_per_declared_function(resources, tfeval):
    blocks = [(t, n) for t in FUNCTION_TYPES for n, _, _ in resources_of_type(t)]
    assert blocks == [("google_cloudfunctions2_function", "function")], (
        f"every function must come from the one for_each resource, found {blocks}"
    )
    body = the_resource("google_cloudfunctions2_function", "function")
    declared = {f["name"] for f in resources["functions"]}
    assert set(instances(tfeval, body)) == declared


def test_function_entry_points_runtime_and_names(resources, tfeval):
    body = the_resource("google_cloudfunctions2_function", "function")
    build = block(body, "build_config")
    entry_points = per_instance(tfeval, body, build["entry_point"])
    assert entry_points == {f["name"]: f["entry_point"] for f in resources["functions"]}
    assert unquote(build["runtime"]) == "python311", "the runtime the local stack runs"
    names = per_instance(tfeval, body, body["name"])
    for key, name in names.items():
        assert re.fullmatch(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?", name), name
        assert name.replace("-", "_") == key
    source = block(block(build, "source"), "storage_source")
    assert "google_storage_bucket_object.source[each.key]" in source["object"]


def test_function_source_objects_are_named_by_content_hash():
    body = the_resource("google_storage_bucket_object", "source")
    name = body["name"]
    assert "filesha256(" in name and "${each.key}" in name, name
    assert "timestamp(" not in name


def test_no_function_has_an_event_trigger(resources):
    """Pub/Sub functions get the explicit push subscription resources.yaml names (as locally);
    an Eventarc trigger on top would deliver every message twice."""
    body = the_resource("google_cloudfunctions2_function", "function")
    assert "event_trigger" not in body
    assert "dynamic" not in body or all(
        "event_trigger" not in map(unquote, d) for d in body["dynamic"]
    )


def test_ingress_public_functions_only_through_the_load_balancer(resources, tfeval):
    body = the_resource("google_cloudfunctions2_function", "function")
    ingress = per_instance(tfeval, body, block(body, "service_config")["ingress_settings"])
    public = {f["name"] for f in public_http(resources)}
    for name, setting in ingress.items():
        expected = "ALLOW_INTERNAL_AND_GCLB" if name in public else "ALLOW_INTERNAL_ONLY"
        assert setting == expected, f"{name}: {setting}"


def test_secret_env_vars_are_declared_secrets(resources, tfeval):
    body = the_resource("google_cloudfunctions2_function", "function")
    dyn = dynamic_block(block(body, "service_config"), "secret_environment_variables")
    mounted = per_instance(tfeval, body, dyn["for_each"])
    declared = set(resources["secrets"])
    for fn, secrets in mounted.items():
        assert set(secrets) <= declared, f"{fn} mounts undeclared {set(secrets) - declared}"
    content = dyn["content"][0]
    assert content["key"] == content["secret"].replace(
        "google_secret_manager_secret.secret[secret_environment_variables.value].secret_id",
        "secret_environment_variables.value",
    ), "the env var must be named as the secret (shared/platform/config.py reads it by that name)"


# --- HTTP: load balancer -------------------------------------------------------------------------


def test_url_map_routes_follow_resources_yaml_in_order(resources, tfeval):
    url_map = the_resource("google_compute_url_map", "lb")
    api = [m for m in url_map["path_matcher"] if unquote(m["name"]) == "api"]
    assert len(api) == 1
    dyn = dynamic_block(api[0], "route_rules")
    routes = tfeval.eval(hcl_expr(dyn["for_each"]))
    expected = [(f["name"], r) for f in public_http(resources) for r in f.get("routes", [])]
    assert [(r["function"], r["template"]) for r in routes] == expected
    priorities = [r["priority"] for r in routes]
    assert priorities == sorted(priorities) and len(set(priorities)) == len(priorities)
    assert all(1 <= p <= 2147483647 for p in priorities)
    content = dyn["content"][0]
    assert content["priority"] == "${route_rules.value.priority}"
    assert content["service"] == (
        "${google_compute_backend_service.function[route_rules.value.function].id}"
    )
    assert block(content, "match_rules")["path_template_match"] == ("${route_rules.value.template}")


def test_every_public_function_has_a_neg_and_backend_with_cloud_armor(resources, tfeval):
    public = {f["name"] for f in public_http(resources)}
    neg = the_resource("google_compute_region_network_endpoint_group", "function")
    assert set(instances(tfeval, neg)) == public
    assert (
        "google_cloudfunctions2_function.function[each.key]" in block(neg, "cloud_run")["service"]
    )
    backend = the_resource("google_compute_backend_service", "function")
    assert set(instances(tfeval, backend)) == public
    assert unquote(backend["load_balancing_scheme"]) == "EXTERNAL_MANAGED"
    assert backend["security_policy"] == "${google_compute_security_policy.edge.id}"
    policy = the_resource("google_compute_security_policy", "edge")
    actions = [unquote(r["action"]) for r in policy["rule"]]
    assert "throttle" in actions or "rate_based_ban" in actions, "no rate limiting rule"
    for rule in policy["rule"]:
        if unquote(rule["action"]) == "throttle":
            opts = block(rule, "rate_limit_options")
            assert unquote(opts["exceed_action"]) == "deny(429)"


def test_internal_functions_are_not_on_the_load_balancer(resources, tfeval):
    routes = tfeval.eval("local.routes")
    internal = {f["name"] for f in resources["functions"] if f.get("internal")}
    non_http = {f["name"] for f in resources["functions"] if f["trigger"] != "http"}
    assert not ({r["function"] for r in routes} & (internal | non_http))


def test_media_cdn_backend_bucket_serves_the_media_bucket():
    cdn = the_resource("google_compute_backend_bucket", "media_cdn")
    assert cdn["enable_cdn"] is True
    assert cdn["bucket_name"] == '${google_storage_bucket.data["media"].name}'


# --- invokers ------------------------------------------------------------------------------------


def test_invokers_public_push_tasks_cron_and_nobody_else(resources, tfeval):
    invokers = tfeval.eval("local.invokers")
    members = tfeval.eval("local.caller_members")
    by_function: dict[str, set[str]] = {}
    for grant in invokers.values():
        by_function.setdefault(grant["function"], set()).add(grant["member"])
    crons = {c["function"] for c in resources["crons"]}
    workflow_calls = set(tfeval.eval("local.workflow_invoked_functions"))
    for f in resources["functions"]:
        name = f["name"]
        got = by_function.get(name, set())
        expected = set()
        if f["trigger"] == "http" and not f.get("internal"):
            expected.add("allUsers")
        if f["trigger"] == "pubsub":
            expected.add(members["push"])
        if f["trigger"] == "task":
            expected.add(members["tasks"])
        if name in crons:
            expected.add(members["cron"])
        if name in workflow_calls:
            expected.add(members["workflows"])
        assert got == expected, f"{name}: invokers {got}, expected {expected}"
    body = the_resource("google_cloud_run_v2_service_iam_member", "invoker")
    assert body["for_each"] == "${local.invokers}"
    assert unquote(body["role"]) == "roles/run.invoker"


# --- Pub/Sub, Cloud Tasks, Scheduler, GCS --------------------------------------------------------


def test_topics_and_subscriptions_match_resources_yaml(resources, tfeval):
    topic = the_resource("google_pubsub_topic", "topic")
    assert set(instances(tfeval, topic)) == {t["name"] for t in resources["topics"]}
    sub = the_resource("google_pubsub_subscription", "subscription")
    subs = instances(tfeval, sub)
    assert set(subs) == {s["name"] for s in resources["subscriptions"]}
    topics = per_instance(tfeval, sub, "each.value.topic")
    assert topics == {s["name"]: s["topic"] for s in resources["subscriptions"]}
    assert sub["topic"] == "${google_pubsub_topic.topic[each.value.topic].id}"
    filters = per_instance(tfeval, sub, sub["filter"])
    assert filters == {s["name"]: s.get("filter") for s in resources["subscriptions"]}


def test_push_subscriptions_reach_their_function_with_oidc(resources, tfeval):
    sub = the_resource("google_pubsub_subscription", "subscription")
    dyn = dynamic_block(sub, "push_config")
    pushes = per_instance(tfeval, sub, dyn["for_each"])
    expected = {
        s["name"]: [s["push_function"]] if s.get("push_function") else []
        for s in resources["subscriptions"]
    }
    assert pushes == expected
    content = dyn["content"][0]
    uri = "google_cloudfunctions2_function.function[push_config.value].service_config[0].uri"
    # the path of the local gateway's mount for event functions
    assert content["push_endpoint"] == f'"${{{uri}}}/_events/${{push_config.value}}"'
    oidc = block(content, "oidc_token")
    assert oidc["audience"] == f"${{{uri}}}"
    assert oidc["service_account_email"] == "${google_service_account.pubsub_push.email}"
    # every pubsub function is pushed to by exactly one subscription
    for f in resources["functions"]:
        if f["trigger"] == "pubsub":
            pushed_by = [s for s, fns in pushes.items() if f["name"] in fns]
            assert pushed_by == [f["subscription"]], f["name"]


def test_dead_letter_policy_and_retry_on_every_subscription_of_a_dead_lettered_topic(
    resources, tfeval
):
    sub = the_resource("google_pubsub_subscription", "subscription")
    dyn = dynamic_block(sub, "dead_letter_policy")
    policies = per_instance(tfeval, sub, dyn["for_each"])
    dead_letter_of = {t["name"]: t.get("dead_letter") for t in resources["topics"]}
    topic_names = set(dead_letter_of)
    for s in resources["subscriptions"]:
        dl = dead_letter_of[s["topic"]]
        assert policies[s["name"]] == ([dl] if dl else []), s["name"]
        if dl:
            assert dl in topic_names, f"dead-letter topic {dl} is not declared"
            # a dead-letter topic needs a subscription, or its messages are dropped
            assert any(x["topic"] == dl for x in resources["subscriptions"]), dl
    attempts = per_instance(tfeval, sub, dyn["content"][0]["max_delivery_attempts"])
    for s in resources["subscriptions"]:
        if dead_letter_of[s["topic"]]:
            assert attempts[s["name"]] == s.get("max_delivery_attempts", 5)
    retry = block(sub, "retry_policy")
    assert unquote(retry["minimum_backoff"]) and unquote(retry["maximum_backoff"])
    # the Pub/Sub service agent may publish to every dead-letter topic
    dlq = the_resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert set(instances(tfeval, dlq)) == {d for d in dead_letter_of.values() if d}


def test_queues_match_resources_yaml_with_rate_and_retry_limits(resources, tfeval):
    queue = the_resource("google_cloud_tasks_queue", "queue")
    assert set(instances(tfeval, queue)) == {q["name"] for q in resources["queues"]}
    rate = per_instance(tfeval, queue, block(queue, "rate_limits")["max_dispatches_per_second"])
    retries = per_instance(tfeval, queue, block(queue, "retry_config")["max_attempts"])
    for q in resources["queues"]:
        assert rate[q["name"]] == q["max_dispatches_per_second"]
        assert retries[q["name"]] == q["max_attempts"]
    for f in resources["functions"]:
        if f["trigger"] == "task":
            assert f["queue"] in {q["name"] for q in resources["queues"]}, f["name"]


def test_every_cron_is_a_scheduler_job_calling_an_internal_function_with_oidc(resources, tfeval):
    job = the_resource("google_cloud_scheduler_job", "cron")
    assert set(instances(tfeval, job)) == {c["name"] for c in resources["crons"]}
    schedules = per_instance(tfeval, job, job["schedule"])
    assert schedules == {c["name"]: c["schedule"] for c in resources["crons"]}
    target = block(job, "http_target")
    uri = "google_cloudfunctions2_function.function[each.value.function].service_config[0].uri"
    # the path the local gateway and scripts/local_cron.py use for crons
    assert target["uri"] == f'"${{{uri}}}/_internal/${{each.value.function}}"'
    assert block(target, "oidc_token")["audience"] == f"${{{uri}}}"
    assert block(target, "oidc_token")["service_account_email"] == (
        "${google_service_account.scheduler.email}"
    )
    functions = {f["name"]: f for f in resources["functions"]}
    for c in resources["crons"]:
        assert functions[c["function"]].get("internal"), f"cron {c['name']}: not internal"
    # An internal function is a cron's, or a step some workflow calls at its /_internal path.
    workflows = "".join(p.read_text() for p in (ROOT / "workflows").glob("*.yaml"))
    for f in resources["functions"]:
        if f.get("internal"):
            by_cron = any(c["function"] == f["name"] for c in resources["crons"])
            assert by_cron or f'"/_internal/{f["name"]}"' in workflows, f["name"]


def test_buckets_match_resources_yaml_with_settings_names_and_lifecycle(resources, tfeval):
    bucket = the_resource("google_storage_bucket", "data")
    assert set(instances(tfeval, bucket)) == {b["key"] for b in resources["buckets"]}
    names = per_instance(tfeval, bucket, bucket["name"])
    prefix = tfeval.eval("local.common_settings_env.BUCKET_PREFIX")
    for key, name in names.items():
        assert name == f"{prefix}-{key}", "Settings.bucket(key) = BUCKET_PREFIX-key"
        assert 3 <= len(name) <= 63
    assert bucket["uniform_bucket_level_access"] is True
    assert unquote(bucket["public_access_prevention"]) == "enforced"
    dynamic_rules = [
        spec for d in bucket["dynamic"] for k, spec in d.items() if unquote(k) == "lifecycle_rule"
    ]

    def rule_values(action: str) -> dict:
        for spec in dynamic_rules:
            content = spec["content"][0]
            if unquote(block(content, "action")["type"]) == action and "age" in block(
                content, "condition"
            ):
                return per_instance(tfeval, bucket, spec["for_each"])
        raise AssertionError(f"no lifecycle rule for {action}")

    deletes = rule_values("Delete")
    aborts = rule_values("AbortIncompleteMultipartUpload")
    for b in resources["buckets"]:
        lifecycle = b.get("lifecycle", {})
        want = lifecycle.get("delete_after_days")
        assert deletes[b["key"]] == ([want] if want else []), b["key"]
        want = lifecycle.get("abort_incomplete_days")
        assert aborts[b["key"]] == ([want] if want else []), b["key"]
    exports = [b for b in resources["buckets"] if b["key"] == "exports"]
    assert exports and exports[0]["lifecycle"]["delete_after_days"] <= 30, "exports expire"


def test_bucket_notifications_match_resources_yaml(resources, tfeval):
    note = the_resource("google_storage_notification", "bucket")
    got = instances(tfeval, note)
    expected = {
        f"{b['key']}/{n['topic']}": (b["key"], n["topic"], n["events"])
        for b in resources["buckets"]
        for n in b.get("notifications", [])
    }
    assert {k: (v["bucket"], v["topic"], v["event_types"]) for k, v in got.items()} == expected
    assert note["topic"] == "${google_pubsub_topic.topic[each.value.topic].id}"


def test_secrets_match_resources_yaml_and_hold_no_values(resources, tfeval):
    secret = the_resource("google_secret_manager_secret", "secret")
    assert set(instances(tfeval, secret)) == set(resources["secrets"])
    assert "google_secret_manager_secret_version" not in all_resource_types(), (
        "secret values are added with gcloud, never kept in Terraform state"
    )


def test_cloud_sql_private_ip_backups_pitr_and_iam_auth():
    sql = the_resource("google_sql_database_instance", "main")
    assert unquote(sql["database_version"]) == "POSTGRES_15"
    settings = block(sql, "settings")
    ip = block(settings, "ip_configuration")
    assert ip["ipv4_enabled"] is False and "private_network" in ip
    backup = block(settings, "backup_configuration")
    assert backup["enabled"] is True and backup["point_in_time_recovery_enabled"] is True
    flags = {unquote(f["name"]): unquote(f["value"]) for f in settings["database_flags"]}
    assert flags["cloudsql.iam_authentication"] == "on"
    users = the_resource("google_sql_user", "function")
    assert unquote(users["type"]) == "CLOUD_IAM_SERVICE_ACCOUNT"
    assert "platform_app" in users["database_roles"]


def test_database_connection_budget_fits_max_connections(tfeval):
    v = tfeval.eval_many(
        {
            "needed": "local.db_connections_needed",
            "max": "var.db_max_connections",
            "runtime": "local.function_runtime",
        }
    )
    assert v["needed"] <= v["max"], v
    for name, r in v["runtime"].items():
        assert r["db_pool"] <= r["concurrency"], f"{name}: pool larger than its threads"
    sql = the_resource("google_sql_database_instance", "main")
    pre = sql["lifecycle"][0]["precondition"][0]
    assert "local.db_connections_needed" in pre["condition"]


def test_service_account_ids_are_valid_and_one_per_function(resources, tfeval):
    ids = tfeval.eval("local.function_sa_ids")
    assert set(ids) == {f["name"] for f in resources["functions"]}
    assert len(set(ids.values())) == len(ids)
    for sa in ids.values():
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", sa), sa
    body = the_resource("google_service_account", "function")
    assert body["for_each"] == "${local.functions}"
    fn = the_resource("google_cloudfunctions2_function", "function")
    assert block(fn, "service_config")["service_account_email"] == (
        "${google_service_account.function[each.key].email}"
    )


def test_no_project_wide_grant_without_a_condition(tfeval):
    """Project-level roles only with an IAM condition, except log writing and pushing build
    images (the builder's and the workflows' identities; no data access)."""
    allowed = {"roles/logging.logWriter", "roles/artifactregistry.writer"}
    for name, body, fname in resources_of_type("google_project_iam_member"):
        if "condition" in body:
            continue
        if "for_each" in body:
            roles = set(per_instance(tfeval, body, body["role"]).values())
        else:
            roles = {unquote(body["role"])}
        assert roles <= allowed, f"{fname}: {name} grants {roles - allowed} project-wide"


def test_alert_policies_cover_errors_dead_letters_backlog_and_failed_jobs():
    policies = {n: b for n, b, _ in resources_of_type("google_monitoring_alert_policy")}
    assert {"error_rate", "dead_letters", "queue_backlog", "failed_jobs"} <= set(policies)
    for name, body in policies.items():
        assert body["notification_channels"] == "${local.alert_common.notification_channels}", name
    assert resources_of_type("google_logging_metric"), "no log-based metric"


@pytest.mark.parametrize("field", ["functions", "buckets", "topics", "subscriptions", "queues"])
def test_resources_yaml_names_are_unique(resources, field):
    key = "key" if field == "buckets" else "name"
    names = [x[key] for x in resources[field]]
    assert len(names) == len(set(names)), f"duplicate {field}: {names}"
