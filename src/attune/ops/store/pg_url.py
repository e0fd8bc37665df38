"""A team database's URL: checked, and never shown with its password.

``postgresql://user:secret@host:5432/db`` is shown as ``postgresql://user:***@host:5432/db``
everywhere (banner, logs, doctor, errors, responses); an error text from the driver has the
password cut out too, in case a server or library quotes the connection string.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

from attune.ops.errors import ConfigError

__all__ = ["SCHEMES", "check_url", "describe_pg_error", "masked_url", "password_of"]

SCHEMES = ("postgresql", "postgres")
MASK = "***"


def password_of(url: str) -> str | None:
    """The URL's password (decoded), or ``None``."""
    try:
        raw = urlsplit(url).password
    except ValueError:
        return None
    return unquote(raw) if raw else None


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (and ``password=`` query values too)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{hostport}"
        query = re.sub(r"(?i)(password=)[^&]*", rf"\g<1>{MASK}", parts.query)
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return f"{url.split(':', 1)[0]}://{MASK}"  # unparseable: show nothing of it


def check_url(url: str) -> str:
    """``url`` if it is a PostgreSQL URL, else a ``ConfigError`` that never quotes a password."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ConfigError(f"the database URL {masked_url(text)} cannot be read ({exc})") from exc
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"the database URL {masked_url(text)} is not a PostgreSQL URL: it must start with "
            "postgresql:// (unset it to use the SQLite store of this home)"
        )
    return text


def describe_pg_error(exc: BaseException, url: str) -> str:
    """One line for a driver error, with the URL's password cut out."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    secret = password_of(url)
    if secret:
        text = text.replace(secret, MASK)
    return text[:300]
