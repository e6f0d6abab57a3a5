r"""A local, stateful ChargeOver customer API that breaks on demand, for tests and demos.

::

    from customer_sdk import ChargeOverClient
    from customer_sdk.sandbox import Sandbox

    async with Sandbox(faults="create:reset_after_commit=0.1", seed=7) as sb:
        async with ChargeOverClient(sb.base_url, username=sb.username,
                                    password=sb.password) as client:
            await client.customers.create(company="Acme", external_key="k-1")
        assert sb.by_key("k-1") is not None

The sandbox serves ``POST /api/v3/customer``, ``GET``, ``PUT`` and ``DELETE /api/v3/customer/{id}``,
``GET /api/v3/customer?where=…&limit=&offset=&order=``, ``GET /api/v3/customer/_count?where=…``,
``GET /api/v3/customer/external_key:{key}`` and ``POST /api/v3/_bulk`` with ChargeOver's
envelopes and messages (docs/chargeover-api.md), checks HTTP Basic and signature auth, throttles
with a token bucket shared by every client, and records every request in ``sb.audit``. It honours
the side-effect flags (``_flag_emails=0`` ...): ``sb.side_effects`` tells which effects each write
would have set off. It is not ChargeOver: nothing persists, and only the customer endpoints exist.

Fault SPEC syntax (also the CLI's ``--faults``)::

    SPEC   := RULE (";" RULE)*
    RULE   := KIND ":" (MIX | SCRIPT)
    KIND   := create | lookup | get | bulk | update | delete
    MIX    := NAME "=" PROB ("," NAME "=" PROB)*
    SCRIPT := "script=" STEP ("|" STEP)*     STEP := NAME | "ok"

A MIX draws once per request of its KIND from an RNG seeded by ``(seed, KIND)``; probabilities
are 0 to 1 and add up to at most 1 (the rest is "no fault"). A SCRIPT gives the n-th request of
its KIND step n; ``ok`` is no fault, and after the last step there are no more faults.
``set_faults`` replaces the plan and restarts scripts. Requests refused by an outage, by auth or
by the rate limit are answered before a fault is dealt and take no draw or step. Examples::

    create:reset_after_commit=0.05,503_after_commit=0.05;lookup:lag=0.2
    create:script=reset_before_commit|ok
    bulk:script=truncated_201;get:500=0.5

Fault names for ``create`` and ``bulk`` ("commit" = the customer(s) stored; a ``_bulk``
success is a 200, so its "201" faults break that 200):

- ``reset_before_commit`` / ``reset_after_commit``: TCP RST (SO_LINGER 0) after reading the
  request, before / after storing.
- ``close_after_commit``: store, then close (FIN) without a response.
- ``stall``: no answer for ``stall_seconds``; the commit lands at the end of the stall (and is
  refused then if the key got taken meanwhile), then close. A stop cuts it short, uncommitted.
- ``truncated_201``: full ``Content-Length``, half the body, close.
- ``malformed_201`` / ``empty_201`` / ``noid_201``: a 201 whose body is broken JSON / empty /
  an envelope with ``response: {}``.
- ``stall_body_201``: the head and half the body, ``stall_seconds`` of nothing, close.
- ``500_before_commit``, ``503_before_commit``, ``500_after_commit``, ``503_after_commit``:
  JSON error envelopes.
- ``502_html``, ``504_html``: a proxy's long HTML page, nothing stored.
- ``garbage_status``: after the commit, a line that is not an HTTP status line, then close.
- ``redirect_301``, ``redirect_302``, ``redirect_307``, ``redirect_308``: ``Location:
  /api/v3/redirect-target``, nothing stored (that path records any hit as kind ``other``).
- ``400``, ``401``, ``403``: the error envelope, nothing stored.
- ``oversized_201``: after the commit, a 201 with an 8 MiB body.
- ``gzip_bomb_201``: after the commit, ~100 KiB of gzip that inflates to over 100 MiB.
- ``429@V``: a 429 whose ``Retry-After`` is V: ``none`` (no header), ``date+N`` / ``date-N``
  (an HTTP-date N seconds ahead / ago), or any number or word sent verbatim (``0``, ``2``,
  ``-1``, ``inf``, ``nan``, ``junk``, ``120``).

The 2xx-shaped faults (``*_201``) fire only when the create succeeded; a create that fails
validation gets its normal 400 and no fault.

A listing or query with a ``where`` is of kind ``lookup``; a plain listing and ``_count`` are
of kind ``other`` and take no faults. Fault names for ``lookup`` and ``get``: ``lag`` (customers
stored less than ``lookup_lag`` seconds ago are invisible), ``500``, ``503``, ``reset``,
``stall`` (no answer for ``stall_seconds``, then close), ``truncated_200``, and ``429@V``.

Fault names for ``update`` and ``delete``: ``reset_before_commit``, ``reset_after_commit``,
``500_before_commit``, ``503_before_commit``, ``500_after_commit``, ``503_after_commit``,
``400``, ``401``, ``403`` and ``429@V`` ("commit" = the change made).

An unknown kind or name, a bad probability or ``429@V`` value raises :class:`FaultSpecError`
naming it.
"""

from __future__ import annotations

from customer_sdk.sandbox._answers import REDIRECT_TARGET
from customer_sdk.sandbox._audit import AuditEntry
from customer_sdk.sandbox._faults import FaultPlan, FaultRule, FaultSpecError, parse_faults
from customer_sdk.sandbox._server import Sandbox
from customer_sdk.sandbox._writes import SideEffects

__all__ = [
    "REDIRECT_TARGET",
    "AuditEntry",
    "FaultPlan",
    "FaultRule",
    "FaultSpecError",
    "Sandbox",
    "SideEffects",
    "parse_faults",
]
