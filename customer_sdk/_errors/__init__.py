"""The classes of :mod:`customer_sdk.errors`, one module per branch of the tree.

:mod:`customer_sdk.errors` is the public face: it draws the whole tree in its docstring and
re-exports every class from here. The classes are kept apart by who raises them, so each
module stays short: :mod:`._base` (the root and the errors raised before any I/O),
:mod:`._transport` (no usable HTTP answer), :mod:`._api` (what ChargeOver answered) and
:mod:`._safety` (where the SDK stops on purpose). Import them from :mod:`customer_sdk.errors`.
"""
