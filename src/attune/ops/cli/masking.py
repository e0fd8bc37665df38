"""A team database's password kept out of everything a command prints or logs.

Installed by :func:`attune.ops.cli.main.run_command` for every command (with
``$ATTUNE_DATABASE_URL``) and by ``attune ops`` for its ``--database-url``: every log record
— whoever logs it (uvicorn, psycopg's pool, a traceback) and whichever handler prints it — and
every error line has the password cut out as it is made, in any spelling (store/pg_url.py).
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from typing import Any

from attune.ops.store.pg_url import scrub

__all__ = ["install_masking", "masked"]

_urls: list[str] = []
_installed = False


def masked(text: str) -> str:
    """``text`` with the password of every URL given to :func:`install_masking` masked."""
    for url in _urls:
        text = scrub(text, url)
    return scrub(text, None)


def install_masking(url: str | None) -> None:
    """Mask ``url``'s password (if any) in every log record from now on; safe to call again."""
    global _installed
    if url and url not in _urls:
        _urls.append(url)
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        with contextlib.suppress(Exception):  # a bad format is the handler's to report
            record.msg, record.args = masked(record.getMessage()), None
        if record.exc_info and record.exc_info[0] is not None:
            shown = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = masked(shown)
        return record

    logging.setLogRecordFactory(factory)
