"""Issue 16 items 2 and 12 at the edge: the load balancer adds HSTS and the other security
headers to every response, the same set the functions send, and the functions know how many
X-Forwarded-For entries the load balancer appends."""

from __future__ import annotations

import pytest
from infra_support import shared_tfeval, the_resource

from shared.web.api import HSTS, SECURITY_HEADERS


@pytest.fixture(scope="module")
def tfeval(tmp_path_factory):
    return shared_tfeval(tmp_path_factory)


@pytest.fixture(scope="module")
def edge_headers(tfeval) -> dict[str, str]:
    lines = tfeval.eval("local.security_response_headers")
    pairs = [line.split(":", 1) for line in lines]
    assert all(len(p) == 2 for p in pairs), lines
    headers = {name.strip(): value.strip() for name, value in pairs}
    assert len(headers) == len(lines), "a header twice"
    return headers


def test_the_edge_sends_hsts_and_the_other_security_headers(edge_headers):
    assert edge_headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert edge_headers["X-Content-Type-Options"] == "nosniff"
    assert edge_headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in edge_headers["Content-Security-Policy"]
    assert edge_headers["Referrer-Policy"] in {
        "no-referrer",
        "strict-origin",
        "strict-origin-when-cross-origin",
        "same-origin",
    }


def test_the_edge_and_the_functions_send_the_same_set(edge_headers):
    assert edge_headers == {**SECURITY_HEADERS, "Strict-Transport-Security": HSTS}


@pytest.mark.parametrize(
    ("rtype", "name"),
    [
        ("google_compute_backend_service", "function"),  # every public function
        ("google_compute_backend_bucket", "media_cdn"),  # media through Cloud CDN
    ],
)
def test_every_backend_of_the_load_balancer_adds_them(rtype, name):
    body = the_resource(rtype, name)
    assert body.get("custom_response_headers") == "${local.security_response_headers}"


def test_every_function_is_told_the_load_balancers_hop(tfeval):
    env = tfeval.eval("local.function_settings_env")
    assert env and {values["TRUSTED_PROXY_HOPS"] for values in env.values()} == {"1"}
