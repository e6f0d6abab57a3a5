"""The fault SPEC: parse it into a plan, and deal each request its fault, reproducibly.

A SPEC names, per request kind, either a probability mix or a scripted sequence of faults (the
grammar is in :mod:`customer_sdk.sandbox`). :func:`parse_faults` validates a SPEC into an
immutable :class:`FaultPlan`; a :class:`FaultDealer` holds the per-kind seeded RNGs and script
positions and hands out one fault name (or None) per request. This module only decides *which*
fault a request gets: it does no I/O and knows nothing of how a fault is put on the wire.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

__all__ = [
    "KINDS",
    "READ_FAULTS",
    "WRITE_FAULTS",
    "FaultDealer",
    "FaultPlan",
    "FaultRule",
    "FaultSpecError",
    "parse_faults",
]

#: Request kinds a rule may name.
KINDS: Final = ("create", "lookup", "get", "bulk", "update", "delete")

#: Faults of a create or a ``_bulk`` call (besides ``429@V``); see :mod:`customer_sdk.sandbox`.
WRITE_FAULTS: Final = frozenset(
    {
        "reset_before_commit",
        "reset_after_commit",
        "close_after_commit",
        "stall",
        "truncated_201",
        "malformed_201",
        "empty_201",
        "noid_201",
        "stall_body_201",
        "500_before_commit",
        "503_before_commit",
        "500_after_commit",
        "503_after_commit",
        "502_html",
        "504_html",
        "garbage_status",
        "redirect_301",
        "redirect_302",
        "redirect_307",
        "redirect_308",
        "400",
        "401",
        "403",
        "oversized_201",
        "gzip_bomb_201",
    }
)

#: Faults of an update or a delete (besides ``429@V``): a write lost before or after it landed.
CHANGE_FAULTS: Final = frozenset(
    {
        "reset_before_commit",
        "reset_after_commit",
        "500_before_commit",
        "503_before_commit",
        "500_after_commit",
        "503_after_commit",
        "400",
        "401",
        "403",
    }
)

#: Faults of a lookup or a GET by id (besides ``429@V``).
READ_FAULTS: Final = frozenset({"lag", "500", "503", "reset", "stall", "truncated_200"})

_FAULTS_BY_KIND: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "create": WRITE_FAULTS,
        "bulk": WRITE_FAULTS,
        "lookup": READ_FAULTS,
        "get": READ_FAULTS,
        "update": CHANGE_FAULTS,
        "delete": CHANGE_FAULTS,
    }
)
# The Retry-After variants of ``429@V`` that are not plain numbers (docs/faults.md, F14).
_RETRY_AFTER_WORDS: Final = frozenset({"none", "inf", "nan", "junk"})
_YEAR: Final = 365 * 24 * 3600.0


class FaultSpecError(ValueError):
    """A fault SPEC that does not parse: unknown kind or fault name, bad probability or step."""


@attrs.frozen
class FaultRule:
    """The faults of one request kind: a probability mix or a script (exactly one is set).

    Attributes:
        kind: ``create``, ``lookup``, ``get`` or ``bulk``.
        mix: ``(name, probability)`` pairs, their sum at most 1; None for a script.
        script: One step per request of the kind, None meaning "no fault"; None for a mix.
    """

    kind: str
    mix: tuple[tuple[str, float], ...] | None = None
    script: tuple[str | None, ...] | None = None


@attrs.frozen
class FaultPlan:
    """A parsed, validated fault SPEC. Immutable; build it with :func:`parse_faults`.

    Attributes:
        rules: The rule of each kind that has one.
    """

    rules: Mapping[str, FaultRule] = attrs.field(factory=dict)

    def __bool__(self) -> bool:
        """True when at least one kind has a rule."""
        return bool(self.rules)


def _check_name(kind: str, name: str, rule: str) -> str:
    """Return ``name`` if the kind allows it, else raise naming it."""
    if name.startswith("429@"):
        value = name[4:]
        if value in _RETRY_AFTER_WORDS or _is_number(value):
            return name
        if value.startswith(("date+", "date-")) and _is_date_offset(value[5:]):
            return name
        raise FaultSpecError(
            f"bad Retry-After value {value!r} in fault {name!r} (rule {rule!r}): expected "
            "none, junk, inf, nan, a number, or date+N / date-N (N seconds, at most a year)"
        )
    allowed = _FAULTS_BY_KIND[kind]
    if name not in allowed:
        raise FaultSpecError(
            f"unknown fault {name!r} for {kind} requests (rule {rule!r}); expected one of "
            f"{', '.join(sorted(allowed))}, or 429@V"
        )
    return name


def _is_number(text: str) -> bool:
    """Whether ``text`` parses as a float (``inf``, ``-1``, ``2.5``...)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_date_offset(text: str) -> bool:
    """Whether ``text`` is the N of ``date+N``: an HTTP-date must be formattable, so finite.

    ``date+inf`` would otherwise pass here and crash the handler (an aiohttp 500) when the
    fault fires; a year is far beyond any Retry-After cap worth testing.
    """
    try:
        seconds = float(text)
    except ValueError:
        return False
    return abs(seconds) <= _YEAR  # also False for nan and inf


def _parse_rule(kind: str, body: str, rule: str) -> FaultRule:
    """Parse the part of a rule after ``KIND:`` (a script or a mix)."""
    if body.startswith("script="):
        steps: list[str | None] = []
        for raw in body[len("script=") :].split("|"):
            step = raw.strip()
            if not step:
                raise FaultSpecError(f"empty script step in rule {rule!r}")
            steps.append(None if step == "ok" else _check_name(kind, step, rule))
        return FaultRule(kind, script=tuple(steps))
    mix: list[tuple[str, float]] = []
    seen: set[str] = set()
    for raw in body.split(","):
        name, eq, prob_text = raw.strip().partition("=")
        name = name.strip()
        if not eq or not name:
            raise FaultSpecError(
                f"expected NAME=PROB or script=..., got {raw.strip()!r} in {rule!r}"
            )
        _check_name(kind, name, rule)
        if name in seen:
            raise FaultSpecError(f"fault {name!r} given twice in rule {rule!r}")
        seen.add(name)
        try:
            prob = float(prob_text)
        except ValueError:
            prob = math.nan
        if not 0.0 <= prob <= 1.0:  # also false for nan
            raise FaultSpecError(
                f"bad probability {prob_text.strip()!r} for fault {name!r} in rule {rule!r}: "
                "expected a number from 0 to 1"
            )
        mix.append((name, prob))
    total = math.fsum(p for _, p in mix)
    if total > 1.0 + 1e-9:
        raise FaultSpecError(f"probabilities in rule {rule!r} add up to {total:g}, more than 1")
    return FaultRule(kind, mix=tuple(mix))


def parse_faults(spec: str | None) -> FaultPlan:
    """Parse and validate a fault SPEC (grammar in :mod:`customer_sdk.sandbox`).

    Args:
        spec: The SPEC, e.g. ``"create:reset_after_commit=0.05;lookup:lag=0.2"``; None or
            blank means no faults.

    Returns:
        The plan.

    Raises:
        FaultSpecError: Naming the unknown kind or fault, the bad probability, the bad
            ``429@V`` value, the empty step, or the kind given twice.
    """
    rules: dict[str, FaultRule] = {}
    for raw in (spec or "").split(";"):
        rule = raw.strip()
        if not rule:
            continue
        kind, colon, body = rule.partition(":")
        kind = kind.strip()
        if kind not in _FAULTS_BY_KIND:
            raise FaultSpecError(
                f"unknown request kind {kind!r} in fault rule {rule!r}; expected one of "
                f"{', '.join(KINDS)}"
            )
        if not colon or not body.strip():
            raise FaultSpecError(f"fault rule {rule!r} has no faults after {kind + ':'!r}")
        if kind in rules:
            raise FaultSpecError(f"request kind {kind!r} has two rules; join them into one")
        rules[kind] = _parse_rule(kind, body.strip(), rule)
    return FaultPlan(MappingProxyType(rules))


class FaultDealer:
    """Deals each request its fault from a plan, reproducibly for a given seed.

    Each kind has its own RNG seeded from ``(seed, kind)``, so the faults of one kind do not
    depend on how requests of other kinds interleave with them. A mix draws once per request;
    a script takes its next step, then no fault once it has run out.

    Args:
        plan: The plan.
        seed: The seed.
    """

    __slots__ = ("_positions", "_rngs", "plan")

    def __init__(self, plan: FaultPlan, seed: int) -> None:
        self.plan = plan
        self._rngs = {kind: random.Random(f"{seed}/{kind}") for kind in plan.rules}
        self._positions = dict.fromkeys(plan.rules, 0)

    def draw(self, kind: str) -> str | None:
        """Return the fault for the next request of ``kind``, or None.

        Args:
            kind: The request kind (kinds without a rule always get None).

        Returns:
            The fault name, or None for no fault.
        """
        rule = self.plan.rules.get(kind)
        if rule is None:
            return None
        if rule.script is not None:
            n = self._positions[kind]
            self._positions[kind] = n + 1
            return rule.script[n] if n < len(rule.script) else None
        assert rule.mix is not None
        r = self._rngs[kind].random()
        for name, prob in rule.mix:
            if r < prob:
                return name
            r -= prob
        return None
