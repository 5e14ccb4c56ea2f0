"""Base pydantic models of every capability's schemas: requests refuse unknown fields,
responses describe what handlers answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    """Base for request bodies: unknown fields are an error (no mass assignment).

    Validators are built on first use, not at import: a cold start then pays only for the
    models of the route it serves."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class Out(BaseModel):
    """Base for response shapes. Handlers answer plain dicts, so these exist for the OpenAPI
    document; deferring their build keeps them off every cold start."""

    model_config = ConfigDict(defer_build=True)


class ListQuery(Model):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)
