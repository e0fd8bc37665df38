"""The documented home of ``detect_candidates`` (DESIGN §3, §8): a face over
:mod:`attune.ops.specs.candidates`."""

from __future__ import annotations

from attune.ops.specs.candidates import CompletionCandidate, detect_candidates

__all__ = ["CompletionCandidate", "detect_candidates"]
