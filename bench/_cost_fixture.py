"""One Anthropic cost-report answer both products are given, and a loopback server for it.

Ours fetches it from ``$ANTHROPIC_BASE_URL`` (this module's :class:`FakeAnthropic`) on the
first home page and caches it; the reference cannot be pointed elsewhere (its URL is fixed), so
``_reference.py`` feeds the same payload to its in-process cache. Stdlib only: both venvs
import it.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODELS = ("claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5")
FAKE_KEY = "sk-ant-admin01-bench-not-a-real-key"


def cost_payload(days: int = 30) -> dict[str, Any]:
    """A 30-day ``cost_report`` page grouped by description: three models, two cost types."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    buckets = []
    for back in range(days - 1, -1, -1):
        start = today - timedelta(days=back)
        results = []
        for k, model in enumerate(MODELS):
            for token_type, share in (("uncached_input_tokens", 3), ("output_tokens", 7)):
                cents = (back * 37 + k * 113 + share * 11) % 900 + 25
                results.append(
                    {
                        "amount": f"{cents}.{share}5",
                        "currency": "USD",
                        "workspace_id": None,
                        "description": f"{model} {token_type}",
                        "cost_type": "tokens",
                        "context_window": "0-200k",
                        "model": model,
                        "service_tier": "standard",
                        "token_type": token_type,
                    }
                )
        results.append({"amount": "150.00", "currency": "USD", "cost_type": "web_search"})
        buckets.append(
            {
                "starting_at": start.isoformat().replace("+00:00", "Z"),
                "ending_at": (start + timedelta(days=1)).isoformat().replace("+00:00", "Z"),
                "results": results,
            }
        )
    return {"data": buckets, "has_more": False, "next_page": None}


def seven_day_total() -> str:
    """The payload's last-7-days total in dollars as both home pages print it (``138.41``)."""
    buckets = cost_payload()["data"][-7:]
    cents = sum(float(row["amount"]) for bucket in buckets for row in bucket["results"])
    return f"${cents / 100:,.2f}"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]
        if not self.path.startswith("/v1/organizations/cost_report"):
            self.send_error(404)
            return
        body = json.dumps(cost_payload()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class FakeAnthropic:
    """A loopback server answering ``GET /v1/organizations/cost_report``; counts its hits."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.hits = 0  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def hits(self) -> int:
        return int(self._server.hits)  # type: ignore[attr-defined]

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
