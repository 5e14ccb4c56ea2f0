import json

import pytest
from pydantic import ValidationError

from shared.platform.config import Settings, settings


def test_local_defaults_work_outside_prod():
    s = Settings(env="local")
    assert s.bucket("media") == "local-media"
    assert s.task_target("media_thumbnail") == "http://127.0.0.1:8080/_tasks/media_thumbnail"


@pytest.mark.parametrize("missing", ["jwt_keys", "stripe_webhook_secret"])
def test_prod_refuses_a_secret_left_at_its_local_default(missing):
    real = {
        "jwt_keys": json.dumps({"k1": "y" * 40}),
        "jwt_active_kid": "k1",
        "stripe_webhook_secret": "whsec_from_secret_manager",
    }
    real.pop(missing)
    with pytest.raises(ValidationError, match=missing.upper()):
        Settings(env="prod", **real)


def test_prod_with_real_secrets_is_accepted_and_secrets_do_not_print():
    s = Settings(
        env="prod",
        jwt_keys=json.dumps({"k1": "y" * 40}),
        jwt_active_kid="k1",
        stripe_webhook_secret="whsec_from_secret_manager",
    )
    assert "y" * 40 not in repr(s) and "whsec_from" not in repr(s)


def test_short_jwt_keys_are_refused():
    with pytest.raises(ValidationError):
        Settings(jwt_keys=json.dumps({"k": "short"}))


def test_zoom_credentials_are_all_or_none():
    with pytest.raises(ValidationError, match="ZOOM_CLIENT_SECRET"):
        Settings(zoom_client_id="cid")  # the secret is missing
    s = Settings(zoom_client_id="cid", zoom_client_secret="zoom-secret-1")
    assert "zoom-secret-1" not in repr(s)
    assert Settings().zoom_client_id is None  # none: the local stand-in


def test_prod_without_zoom_credentials_refuses_to_guess_a_local_zoom(monkeypatch):
    from shared.adapters import zoom

    prod = Settings(
        env="prod",
        jwt_keys=json.dumps({"k1": "y" * 40}),
        jwt_active_kid="k1",
        stripe_webhook_secret="whsec_from_secret_manager",
    )
    monkeypatch.setattr(zoom, "settings", lambda: prod)
    zoom.reset_client()
    try:
        with pytest.raises(zoom.LiveProviderUnavailable) as caught:
            zoom.oauth_app()
        assert caught.value.status == 503
    finally:
        zoom.reset_client()


@pytest.fixture
def fresh_settings():
    """settings() is cached per process: read the environment afresh, then forget it again."""
    settings.cache_clear()
    yield settings
    settings.cache_clear()


def test_settings_parse_the_environment_by_upper_case_field_name(monkeypatch, fresh_settings):
    monkeypatch.setenv("DB_POOL_SIZE", "9")
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_from_env")
    s = fresh_settings()
    assert s.db_pool_size == 9
    assert s.stripe_api_key is not None
    assert s.stripe_api_key.get_secret_value() == "sk_test_from_env"


def test_settings_refuse_an_environment_value_out_of_range(monkeypatch, fresh_settings):
    monkeypatch.setenv("DB_POOL_SIZE", "0")
    with pytest.raises(ValidationError, match="db_pool_size"):
        fresh_settings()
