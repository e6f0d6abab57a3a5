"""The live count of an import's rows by outcome, which every display here reads.

The outcomes are the bulk job's (``created``, ``existed``, ``updated``, ``rejected``,
``unknown``, ``failed``; ``docs/faults.md`` "In a bulk job"). This module only counts; it draws
nothing.
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = ["OUTCOMES", "Tally"]

OUTCOMES: Final = ("created", "existed", "updated", "rejected", "unknown", "failed")
"""Every outcome a row can end with, in the order they are shown."""

_OK: Final = frozenset({"created", "existed", "updated"})


@attrs.define
class Tally:
    """Rows counted by outcome, live.

    Attributes:
        counts: Rows per outcome (:data:`OUTCOMES`).
        resumed: Rows whose outcome came from the journal of an earlier run (also in ``counts``).
        recovered: ``existed`` rows this import (or an earlier run of it) had created, found by
            key after the create's answer was lost (also in ``counts``).
    """

    counts: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(OUTCOMES, 0))
    resumed: int = 0
    recovered: int = 0

    def add(self, outcome: str, *, resumed: bool = False, recovered: bool = False) -> None:
        """Count one finished row.

        Args:
            outcome: One of :data:`OUTCOMES`.
            resumed: True when the outcome was taken from the journal.
            recovered: True for an ``existed`` row whose create was this import's own.

        Raises:
            KeyError: ``outcome`` is not one of :data:`OUTCOMES`.
        """
        self.counts[outcome] += 1
        self.resumed += resumed
        self.recovered += recovered

    @property
    def done(self) -> int:
        """Rows finished so far."""
        return sum(self.counts.values())

    @property
    def fresh(self) -> int:
        """Rows finished by this run: not taken from the journal (a run's rate counts these)."""
        return self.done - self.resumed

    @property
    def all_ok(self) -> bool:
        """True when every finished row was created, already existed or was updated."""
        return all(n == 0 for name, n in self.counts.items() if name not in _OK)
