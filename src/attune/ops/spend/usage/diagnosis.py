"""What ``attune ops doctor`` says about Claude Code usage: config roots found, transcripts
matched to this project, rows stored, lines skipped, the price data's version.

Read-only: nothing is ingested (a doctor run stays quick however large the history is).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from attune.ops.spend.usage.pricing import price_source
from attune.ops.spend.usage.sources import config_roots, is_inside, list_transcripts, may_belong
from attune.ops.store import usage_queries as q
from attune.ops.store.database import Store
from attune.ops.store.open import open_store

__all__ = ["UsageDiagnosis", "diagnose_usage"]


@dataclass(frozen=True)
class UsageDiagnosis:
    roots: list[Path]
    transcripts: int  # under every root
    named_for_project: int  # in folders whose name narrows to this project
    project_rows: int  # responses stored from inside this project
    rows: int  # responses stored in all
    skipped_lines: int
    last_skip: str | None
    price_source: str
    problem: str | None = None  # the usage tables cannot be read, or genai-prices is missing

    @property
    def fix(self) -> str | None:
        if self.problem is not None:
            return "pip install genai-prices" if "genai-prices" in self.problem else None
        if not self.roots:
            return "set CLAUDE_CONFIG_DIR to Claude Code's config folder (default ~/.claude)"
        return None

    def summary(self) -> str:
        if self.problem is not None:
            return self.problem
        where = ", ".join(str(r) for r in self.roots) or "no config folder"
        skipped = _plural(self.skipped_lines, "skipped line")
        if self.last_skip:
            skipped += f" (last: {self.last_skip})"
        return (
            f"{where}: {_plural(self.transcripts, 'transcript')}, "
            f"{self.named_for_project} in this project's folders; "
            f"{_plural(self.project_rows, 'response')} stored for this project, "
            f"{self.rows} in all; {skipped}; prices: {self.price_source}"
        )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def diagnose_usage(
    project_root: Path, store: Store | None, db_path: Path, database_url: str | None = None
) -> UsageDiagnosis:
    """The usage state of ``project_root`` from ``store`` (or the store of ``db_path`` /
    ``database_url``, opened here: a team database must already be migrated)."""
    roots = config_roots()
    if importlib.util.find_spec("genai_prices") is None:
        return _broken(roots, "genai-prices is not installed: estimates cannot be priced")
    try:
        opened = store if store is not None else open_store(db_path, database_url, 0)
        try:
            return _diagnose(project_root, opened, roots)
        finally:
            if store is None:
                opened.close()
    except Exception as exc:  # the store check names the store's own problem
        return _broken(roots, f"cannot read the usage tables: {exc}")


def _broken(roots: list[Path], problem: str) -> UsageDiagnosis:
    return UsageDiagnosis(roots, 0, 0, 0, 0, 0, None, price_source(), problem)


def _diagnose(project_root: Path, store: Store, roots: list[Path]) -> UsageDiagnosis:
    found = list_transcripts(roots)
    stats = q.usage_stats(store)
    cwds = q.cwds(store)
    ids = [i for i, c in cwds.items() if is_inside(c, str(project_root))]
    rows = q.daily(store, ids, None, None) if ids else []
    return UsageDiagnosis(
        roots=roots,
        transcripts=len(found),
        named_for_project=sum(1 for t in found if may_belong(t.project_dir, project_root)),
        project_rows=sum(r.messages for r in rows),
        rows=stats.messages,
        skipped_lines=stats.skipped_lines,
        last_skip=stats.last_skip,
        price_source=price_source(),
    )
