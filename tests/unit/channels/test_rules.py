"""Redirect origins a channel lists: https origins only, stored normalised."""

import pytest

from shared.channels.rules import redirect_origin


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://School.Example.com", "https://school.example.com"),
        ("https://school.example.com/", "https://school.example.com"),
        ("https://school.example.com:443", "https://school.example.com"),
        ("https://school.example.com:8443", "https://school.example.com:8443"),
    ],
)
def test_a_redirect_origin_is_stored_as_scheme_host_and_port(given, stored):
    assert redirect_origin(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "http://school.example.com",
        "https://school.example.com/checkout",
        "https://school.example.com?x=1",
        "https://school.example.com#top",
        "https://me:pw@school.example.com",
        "javascript:alert(1)",
        "https://",
        "https://school.example.com:99999",
    ],
)
def test_anything_but_an_https_origin_is_refused(given):
    with pytest.raises(ValueError):
        redirect_origin(given)
