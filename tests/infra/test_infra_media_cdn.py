"""Issue 16 item 11 in Terraform: media is served through Cloud CDN only with a signature.

The learning function (the one that answers playback and download URLs) mounts the CDN signing
keys and is told the media host and the key name; the backend bucket caches signed responses;
the media bucket stays private, read only by the functions and Cloud CDN's fill account; and no
signing key value is ever a Terraform resource (it would sit in the state in clear).
"""

from __future__ import annotations

import pytest
from infra_support import (
    TF_TEST_VARS,
    all_resource_types,
    block,
    reachable_files,
    shared_tfeval,
    the_resource,
    unquote,
)

from shared.learning import service as learning_service

SECRET = "MEDIA_CDN_SIGNING_KEYS"


@pytest.fixture(scope="module")
def tfeval(tmp_path_factory):
    return shared_tfeval(tmp_path_factory)


def test_only_the_learning_function_mounts_the_cdn_signing_keys(tfeval):
    access = tfeval.eval("local.function_access")
    assert {fn for fn, a in access.items() if SECRET in a["secrets"]} == {"learning"}


def test_the_function_answering_playback_reaches_the_cdn_signer():
    files = {p.name for p in reachable_files("learning")}
    assert "cdn.py" in files, "learning must sign media URLs through shared/adapters/cdn.py"
    assert learning_service.cdn.__name__ == "shared.adapters.cdn"


def test_functions_are_told_the_media_host_and_the_signing_key_name(tfeval):
    env = tfeval.eval_many(
        {"settings": "local.function_settings_env", "key_name": "var.media_cdn_key_name"}
    )
    learning = env["settings"]["learning"]
    assert learning["MEDIA_CDN_BASE_URL"] == f"https://{TF_TEST_VARS['media_domain']}"
    assert learning["MEDIA_CDN_KEY_NAME"] == env["key_name"] == "k1"
    assert SECRET not in learning, "the keys are a mounted secret, never a plain env var"


def test_the_backend_bucket_serves_the_media_bucket_through_cdn_caching_signed_responses():
    body = the_resource("google_compute_backend_bucket", "media_cdn")
    assert body["bucket_name"] == '${google_storage_bucket.data["media"].name}'
    assert body["enable_cdn"] is True
    policy = block(body, "cdn_policy")
    assert 0 < policy["signed_url_cache_max_age_sec"] <= 3600


def test_the_media_bucket_stays_private():
    bucket = the_resource("google_storage_bucket", "data")
    assert unquote(bucket["public_access_prevention"]) == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    fill = the_resource("google_storage_bucket_iam_member", "cdn_fill_reads_media")
    assert unquote(fill["role"]) == "roles/storage.objectViewer"
    assert unquote(fill["member"]).endswith("@cloud-cdn-fill.iam.gserviceaccount.com")


def test_no_signing_key_value_is_kept_in_terraform_state():
    kept = {
        "google_compute_backend_bucket_signed_url_key",
        "google_compute_backend_service_signed_url_key",
        "google_secret_manager_secret_version",
    }
    assert all_resource_types() & kept == set(), "keys are added with gcloud (docs/DEPLOY.md)"
