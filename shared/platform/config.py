"""Settings read once from the environment, validated, with local defaults.

Secrets (listed in resources.yaml `secrets`) come from env vars of the same name; in the cloud
Cloud Functions mounts them from Secret Manager. `repr()` never shows a secret.
"""

from __future__ import annotations

import base64
import json
import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    env: str = "local"  # local | test | prod
    gcp_project: str = "local-project"
    region: str = "europe-west1"
    public_base_url: str = "http://127.0.0.1:8080"

    # Postgres. Locally a URL; in the cloud CLOUD_SQL_INSTANCE + DB_IAM_USER (IAM auth).
    database_url: str = "postgresql://platform_app_login:app@127.0.0.1:5433/platform"
    migration_database_url: str = "postgresql://platform_owner:owner@127.0.0.1:5433/platform"
    cloud_sql_instance: str | None = None
    db_iam_user: str | None = None
    db_name: str = "platform"
    db_pool_size: int = Field(default=4, ge=1, le=64)

    # Storage: bucket name = f"{bucket_prefix}-{key}" for each key in resources.yaml.
    bucket_prefix: str = "local"
    # Locally, a generated service-account key signs V4 URLs; in the cloud, IAM signBlob.
    signing_key_file: str | None = None
    signing_service_account: str | None = None
    # Cloud CDN in front of the media bucket (terraform/storage.tf media_cdn). With signing keys
    # (JSON {key name: base64url 16-byte key}, the keys of the backend bucket) playback and
    # downloads are CDN-signed URLs under media_cdn_base_url, signed with the key named
    # media_cdn_key_name; without them (locally), GCS V4 URLs.
    media_cdn_base_url: str | None = None
    media_cdn_key_name: str | None = None
    media_cdn_signing_keys: SecretStr | None = None

    # Identity
    jwt_keys: SecretStr = SecretStr('{"local-1": "local-dev-jwt-secret-change-me-0123456789"}')
    jwt_active_kid: str = "local-1"
    jwt_issuer: str = "creator-platform"
    jwt_audience: str = "creator-platform-api"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    password_reset_ttl_seconds: int = 3600
    # Analytics: the rollup cron counts events this old and older (an event may be written a
    # moment after it occurred; see migration 0025).
    analytics_rollup_lag_seconds: int = Field(default=120, ge=0, le=3600)
    # "<count>/<seconds>" windows
    rate_limit_login_account: str = "10/300"
    rate_limit_login_ip: str = "300/60"
    rate_limit_signup_ip: str = "300/60"
    rate_limit_reset_account: str = "5/3600"
    # Certificate lookups by code (JSON, page, credential) per client address: codes cannot
    # be enumerated (60 random bits), and this keeps anyone from trying.
    rate_limit_certificate_lookup_ip: str = "120/60"
    # How many X-Forwarded-For entries our own proxies write after the client's address. The
    # Google external Application Load Balancer appends `<client>, <forwarding-rule IP>`: 1.
    # The local gateway appends the same pair. 0: no proxy, the socket peer is the client.
    trusted_proxy_hops: int = Field(default=1, ge=0, le=8)

    # Mail
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "Creator Platform <no-reply@platform.local>"

    # Stripe: no api key -> the local stand-in at stripe_api_base.
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr = SecretStr("whsec_local")
    stripe_api_base: str = "http://127.0.0.1:12111"

    # Zoom (live classes): the platform's one OAuth app that every channel's own account
    # installs (issue 11). Both unset -> the local stand-in (scripts/local_zoom.py) at
    # zoom_api_base; set -> real Zoom.
    zoom_client_id: SecretStr | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_api_base: str = "http://127.0.0.1:12112"
    # Channels' Zoom tokens are sealed at rest (AES-256-GCM) under these keys: JSON {kid:
    # base64 of 32 bytes}; the active kid seals (default: the last). Unset: a development key,
    # local mode only (shared/live/zoom_accounts.py).
    zoom_token_keys: SecretStr | None = None
    zoom_token_active_kid: str | None = None
    # The Zoom app's webhook "secret token": signs every event (x-zm-signature) and answers
    # the endpoint.url_validation challenge. Locally scripts/stack.py exports the default.
    zoom_webhook_secret_token: SecretStr = SecretStr("zoom_local")

    # Certificates (issue 13): the issuer's credential signing keys, JSON {kid: PEM of a P-256
    # private key}, and the kid that signs (default: the last). Unset (local, test only): a
    # deterministic development key, refused in prod (shared/certificates/keys.py).
    certificate_signing_keys: SecretStr | None = None
    certificate_active_kid: str | None = None

    # Messaging
    domain_events_topic: str = "domain-events"
    media_events_topic: str = "media-object-events"
    # analytics events to the warehouse (BigQuery subscription; shared.analytics.export)
    analytics_events_topic: str = "analytics-events"
    tasks_location: str = "europe-west1"
    # Cloud Tasks targets: JSON {function: url}; locally the gateway's /_tasks/<function>.
    task_targets: str = "{}"
    tasks_invoker_service_account: str | None = None
    # Emulator hosts are read by the Google client libraries themselves; kept here to report.
    pubsub_emulator_host: str | None = None
    firestore_emulator_host: str | None = None
    storage_emulator_host: str | None = None
    cloud_tasks_emulator_host: str | None = None

    max_body_bytes: int = 1_048_576

    @field_validator("jwt_keys")
    @classmethod
    def _keys_are_json(cls, v: SecretStr) -> SecretStr:
        keys = json.loads(v.get_secret_value())
        if not isinstance(keys, dict) or not keys:
            raise ValueError("JWT_KEYS must be a JSON object {kid: secret}")
        if any(len(str(s)) < 32 for s in keys.values()):
            raise ValueError("every JWT key must be at least 32 characters")
        return v

    @model_validator(mode="after")
    def _zoom_credentials_all_or_none(self) -> Settings:
        """Half a set of credentials would quietly fall back to the local stand-in."""
        creds = (self.zoom_client_id, self.zoom_client_secret)
        if any(c is not None for c in creds) and any(c is None for c in creds):
            raise ValueError("set both of ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET, or neither")
        return self

    @model_validator(mode="after")
    def _media_cdn_keys_can_sign(self) -> Settings:
        """Keys that cannot sign must stop the start, not quietly fall back to GCS URLs."""
        if self.media_cdn_signing_keys is None:
            return self
        keys = json.loads(self.media_cdn_signing_keys.get_secret_value())
        if not self.media_cdn_base_url or not isinstance(keys, dict):
            raise ValueError("MEDIA_CDN_SIGNING_KEYS is a JSON object and needs MEDIA_CDN_BASE_URL")
        if self.media_cdn_key_name not in keys:
            raise ValueError("MEDIA_CDN_KEY_NAME must name one of MEDIA_CDN_SIGNING_KEYS")
        for key in keys.values():
            try:
                raw = base64.urlsafe_b64decode(str(key) + "=" * (-len(str(key)) % 4))
            except ValueError:
                raw = b""
            if len(raw) != 16:
                raise ValueError("every MEDIA_CDN_SIGNING_KEYS key is 16 bytes, base64url-encoded")
        return self

    @model_validator(mode="after")
    def _no_local_secrets_in_prod(self) -> Settings:
        """A secret that was not mounted must not silently fall back to the local default."""
        if self.env == "prod":
            defaults = Settings.model_fields
            for name in ("jwt_keys", "stripe_webhook_secret"):
                if getattr(self, name) == defaults[name].default:
                    raise ValueError(f"{name.upper()} must be set in prod (secret not mounted?)")
        return self

    def bucket(self, key: str) -> str:
        return f"{self.bucket_prefix}-{key}"

    def task_target(self, function: str) -> str:
        return json.loads(self.task_targets).get(function) or (
            f"{self.public_base_url}/_tasks/{function}"
        )

    def jwt_key_map(self) -> dict[str, str]:
        return json.loads(self.jwt_keys.get_secret_value())

    @property
    def is_local(self) -> bool:
        return self.env in ("local", "test")


@lru_cache(maxsize=1)
def settings() -> Settings:
    fields = Settings.model_fields
    values = {k: os.environ[k.upper()] for k in fields if k.upper() in os.environ}
    return Settings.model_validate(values)
