"""Request and response bodies of the channel routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypedDict, cast

from pydantic import AfterValidator, BeforeValidator, Field, HttpUrl, StrictBool

from shared.channels.rules import REDIRECT_ORIGINS_MAX, Role, redirect_origin
from shared.platform.models import Model, Out

HexColour = Annotated[str, Field(pattern=r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")]


# URLs are measured as sent (JSON Schema's maxLength): at most 2047 characters, which leaves
# room for the `/` that normalising a bare origin adds (stored URLs stay within 2048).
URL_MAX = 2047


def _url_as_sent(value: object) -> object:
    if isinstance(value, str) and len(value) > URL_MAX:
        raise ValueError(f"URL must be at most {URL_MAX} characters")
    return value


def _https_only(url: HttpUrl) -> HttpUrl:
    if url.scheme != "https":
        raise ValueError("must be an https URL")
    return url


class Theme(Model):
    """Design tokens of a channel; each becomes a CSS variable on its pages."""

    primary: HexColour | None = None
    secondary: HexColour | None = None
    accent: HexColour | None = None
    background: HexColour | None = None
    text: HexColour | None = None
    font: Annotated[str, Field(pattern=r"^[A-Za-z0-9 \-]{1,64}$")] | None = None
    logo_url: (
        Annotated[
            HttpUrl,
            BeforeValidator(_url_as_sent),
            AfterValidator(_https_only),
            Field(max_length=2048, json_schema_extra={"maxLength": URL_MAX}),
        ]
        | None
    ) = None

    def tokens(self) -> ThemeTokens:
        return cast(ThemeTokens, self.model_dump(mode="json", exclude_none=True))


class ThemeTokens(TypedDict, total=False):
    """A theme as stored (channels.theme jsonb) and answered: only the tokens that are set."""

    primary: str
    secondary: str
    accent: str
    background: str
    text: str
    font: str
    logo_url: str


class ChannelIn(Model):
    slug: str = Field(
        pattern=r"^[a-z0-9](?:[a-z0-9-]{1,38}[a-z0-9])$",
        description="3-40 lowercase letters, digits and hyphens",
    )
    name: str = Field(min_length=1, max_length=120)
    theme: Theme | None = None


# The pattern is the part of what `redirect_origin` accepts that a schema can say exactly.
RedirectOrigin = Annotated[
    str,
    Field(
        max_length=300,
        pattern=r"^https://[A-Za-z0-9.-]+"
        r"(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?/?$",
        examples=["https://school.example.com"],
    ),
    AfterValidator(redirect_origin),
]


class ChannelPatch(Model):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    theme: Theme | None = None
    redirect_origins: list[RedirectOrigin] | None = Field(
        default=None,
        max_length=REDIRECT_ORIGINS_MAX,
        description="The https origins (besides the platform's own) that checkout and payout"
        " onboarding may send people back to; replaces the list",
    )
    require_second_factor: StrictBool | None = Field(
        default=None,
        description="Owners and admins act here only when signed in with a second factor"
        " (turning it on takes such a session of your own)",
    )


class ChannelOut(Out):
    id: str
    slug: str
    name: str
    theme: dict[str, Any]
    require_second_factor: bool
    redirect_origins: list[str]
    created_at: datetime


class MemberIn(Model):
    email: str = Field(min_length=3, max_length=254)
    role: Role


class MemberPatch(Model):
    role: Role


class MemberOut(Out):
    user_id: str
    email: str
    display_name: str
    role: Role


class MemberList(Out):
    items: list[MemberOut]
    next_cursor: str | None


# --- What the use cases return: the JSON of the response models above, as plain dicts -------


class Channel(TypedDict):
    """ChannelOut."""

    id: str
    slug: str
    name: str
    theme: ThemeTokens
    require_second_factor: bool
    redirect_origins: list[str]
    created_at: datetime


class Member(TypedDict):
    """MemberOut."""

    user_id: str
    email: str
    display_name: str
    role: Role


class MemberPage(TypedDict):
    items: list[Member]
    next_cursor: str | None
