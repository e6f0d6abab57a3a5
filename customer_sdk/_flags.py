"""Side-effect flags: which of ChargeOver's side effects a write may set off.

ChargeOver takes four query parameters on a request, ``_flag_emails``, ``_flag_webhooks``,
``_flag_quickbooks`` and ``_flag_events``, each ``0`` or ``1``; ``0`` turns that side effect
off for the request (no e-mail sent, no webhook fired, no QuickBooks sync queued, no event
recorded). docs/chargeover-api.md, "Query flags" gives the sources and what is known of each.
A flag left unset is not sent, so the account's own setting applies.

The flags are a value of their own (``flags=Flags(emails=False)``), never keyword fields, so no
flag can collide with a customer field. They are rendered once into a query string, which is part
of the request's URL: the same on every retry and every resend after a reconciliation, and
signed with it under signature auth. This module imports nothing of the SDK.
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = ["FLAG_PARAMS", "NO_FLAGS", "Flags"]

#: Each flag's attribute and its query parameter (docs/chargeover-api.md, "Query flags").
FLAG_PARAMS: Final = (
    ("emails", "_flag_emails"),
    ("webhooks", "_flag_webhooks"),
    ("quickbooks", "_flag_quickbooks"),
    ("events", "_flag_events"),
)


def _bool_or_none(_: object, attribute: attrs.Attribute[bool | None], value: object) -> None:
    # A truthy string such as "no" must not silently mean True: flags are exactly bool or None.
    if value is not None and type(value) is not bool:
        raise TypeError(f"Flags.{attribute.name} must be True, False or None, got {value!r}")


@attrs.frozen
class Flags:
    """Which side effects ChargeOver may set off for a create, an update or an import.

    ``None`` (the default for each) sends nothing, so the account's setting applies; ``False``
    sends ``_flag_<name>=0`` (off for this request), ``True`` sends ``=1``.

    Example: ``await client.customers.create(company="Acme", flags=Flags(emails=False))``.

    Args:
        emails: Send ChargeOver's e-mails (e.g. a welcome e-mail to the new customer's contact).
        webhooks: Fire the account's webhooks (e.g. ``customer`` ``insert`` / ``update``).
        quickbooks: Queue the change for the QuickBooks sync.
        events: Record the change as an event (what triggers ChargeOver's workflows).

    Raises:
        TypeError: A flag that is not True, False or None.
    """

    emails: bool | None = attrs.field(default=None, validator=_bool_or_none, kw_only=True)
    webhooks: bool | None = attrs.field(default=None, validator=_bool_or_none, kw_only=True)
    quickbooks: bool | None = attrs.field(default=None, validator=_bool_or_none, kw_only=True)
    events: bool | None = attrs.field(default=None, validator=_bool_or_none, kw_only=True)
    query: str = attrs.field(init=False, repr=False, eq=False)
    """The flags as a query string (``_flag_emails=0&...``), "" when none is set."""

    def __attrs_post_init__(self) -> None:
        parts = [
            f"{param}={int(value)}"
            for name, param in FLAG_PARAMS
            if (value := getattr(self, name)) is not None
        ]
        object.__setattr__(self, "query", "&".join(parts))

    @classmethod
    def none_off(cls) -> Flags:
        """No flag sent: every side effect as the account has it (the default).

        Returns:
            The flags.
        """
        return NO_FLAGS

    @classmethod
    def all_off(cls) -> Flags:
        """Every side effect off: a quiet data migration.

        Returns:
            The flags.
        """
        return cls(emails=False, webhooks=False, quickbooks=False, events=False)


NO_FLAGS: Final = Flags()
"""No flag sent (the default of every call)."""
