"""What the operations crons ask of shared.web besides the routing toolkit."""

import pytest

from shared.platform.config import settings
from shared.web import stripe_configured


@pytest.fixture
def fresh_settings():
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_reconciliation_asks_stripe_only_when_a_key_is_configured(monkeypatch, fresh_settings):
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    assert stripe_configured() is False
    settings.cache_clear()
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_configured")
    assert stripe_configured() is True
