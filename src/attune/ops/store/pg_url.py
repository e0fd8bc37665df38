"""A team database's URL: checked, and never shown with its password.

``postgresql://user:secret@host:5432/db`` is shown as ``postgresql://user:***@host:5432/db``
everywhere (banner, logs, doctor, errors, responses); an error text from the driver has the
password cut out too, in case a server or library quotes the connection string.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

from attune.ops.errors import ConfigError

__all__ = [
    "SCHEMES",
    "TEAM_EXTRA",
    "check_url",
    "describe_pg_error",
    "masked_url",
    "password_of",
    "scrub",
    "scrub_urls",
    "secrets_of",
]

SCHEMES = ("postgresql", "postgres")
MASK = "***"
# How to install the PostgreSQL driver (said by open_store and by the doctor's probe).
TEAM_EXTRA = "pip install 'attune-ops[team]'"


def password_of(url: str) -> str | None:
    """The URL's password (decoded), or ``None``."""
    try:
        raw = urlsplit(url).password
    except ValueError:
        return None
    return unquote(raw) if raw else None


def secrets_of(url: str) -> list[str]:
    """Every form of a password ``url`` holds (as written and decoded, in the user part or a
    ``password=`` query value), longest first, so cutting them leaves no part behind."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
        raw = parts.password
    except ValueError:
        return []
    values = [raw] if raw else []
    values += re.findall(r"(?i)(?:^|&)password=([^&]*)", parts.query)
    for value in values:
        found.update(v for v in (value, unquote(value), unquote(value.replace("+", " "))) if v)
    return sorted(found, key=len, reverse=True)


def scrub(text: str, url: str | None) -> str:
    """``text`` with ``url``'s password (any form of it) and any URL's password masked."""
    for secret in secrets_of(url) if url else ():
        text = text.replace(secret, MASK)
    return scrub_urls(text)


_URL_PASSWORD = re.compile(r"(?i)\b(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@")


def scrub_urls(text: str) -> str:
    """``text`` with the password of every ``postgresql://user:password@`` in it masked."""
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)


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
    return scrub(text, url)[:300]
