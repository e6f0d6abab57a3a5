"""How each fault breaks a request's answer, and when relative to the commit.

A fault dealt to a create or ``_bulk`` strikes before anything is stored (a RST, an error
envelope, a proxy's HTML page, a redirect, a stall whose commit lands late) or after (a RST, a
FIN, garbage, a 5xx, or a 2xx whose body is broken: cut, stalled, malformed, empty, id-less,
oversized, a gzip bomb). A fault dealt to a lookup or get breaks the read. Each answer records
its audit entry. The fault names and their meaning are those of :mod:`customer_sdk.sandbox` and
docs/faults.md. This module does not deal faults, store customers or check auth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aiohttp import web

from customer_sdk.sandbox import _answers, _wire
from customer_sdk.sandbox._audit import Arrival
from customer_sdk.sandbox._state import State

__all__ = ["SUCCESS_SHAPED", "FaultedAnswers"]

#: Faults whose answer is a 2xx: they only make sense when the request succeeded. On a create
#: that fails validation the normal 400 goes out instead and the fault does not fire.
SUCCESS_SHAPED: Final = frozenset(
    {
        "truncated_201",
        "malformed_201",
        "empty_201",
        "noid_201",
        "stall_body_201",
        "oversized_201",
        "gzip_bomb_201",
    }
)
_BEFORE_COMMIT_ERRORS: Final = frozenset(
    {"500_before_commit", "503_before_commit", "400", "401", "403"}
)
# invented: the reason phrases a proxy prints on its page (docs/faults.md, F13).
_PROXY_REASONS: Final = {502: "Bad Gateway", 504: "Gateway Timeout"}


class FaultedAnswers:
    """The answers of requests that a fault breaks.

    Args:
        state: The sandbox state (its audit log, stall length and stop signal).
    """

    __slots__ = ("_state",)

    def __init__(self, state: State) -> None:
        self._state = state

    async def early(
        self,
        request: web.BaseRequest,
        fault: str,
        arrival: Arrival,
        commit: Callable[[], int],
    ) -> web.StreamResponse | None:
        """The answer to a fault that strikes before the normal commit, or None.

        ``stall`` holds the connection for ``stall_seconds``, then runs ``commit`` so the commit
        lands after the client gave up (docs/faults.md, F7), then closes without an answer; a
        stop cuts the stall short, uncommitted.

        Args:
            request: The request.
            fault: The fault dealt to it.
            arrival: What the audit entry needs of the request.
            commit: Stores the request's customers and returns how many.

        Returns:
            The answer, or None when the fault strikes later (or not at all).
        """
        audit = self._state.audit
        if fault == "reset_before_commit":
            audit.record(arrival, None, fault)
            return _answers.reset(request)
        if fault in _BEFORE_COMMIT_ERRORS:
            status, message = _answers.ERROR_ANSWERS[fault]
            audit.record(arrival, status, fault)
            return _answers.error_response(status, message, None if status >= 500 else False)
        if fault in ("502_html", "504_html"):
            status = int(fault[:3])
            audit.record(arrival, status, fault)
            page = _wire.html_page(status, _PROXY_REASONS[status])
            return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
        if fault.startswith("redirect_"):
            status = int(fault[-3:])
            audit.record(arrival, status, fault)
            return web.Response(status=status, headers={"Location": _answers.REDIRECT_TARGET})
        if fault != "stall":
            return None
        entry = audit.record(arrival, None, fault)
        if await self._state.hold(self._state.stall_seconds):
            committed = commit()
            if committed:
                audit.amend(entry, committed)
        return _answers.close(request)

    async def after_commit(
        self,
        request: web.BaseRequest,
        fault: str,
        arrival: Arrival,
        committed: int,
        answer: tuple[int, bytes, dict[str, str]],
    ) -> web.StreamResponse:
        """The answer to a fault that strikes once the request has been processed.

        Args:
            request: The request.
            fault: The fault dealt to it (one that :meth:`early` left alone).
            arrival: What the audit entry needs of the request.
            committed: Customers the request stored.
            answer: The status, body and extra headers the request would have had unfaulted.

        Returns:
            The broken answer.
        """
        audit = self._state.audit
        if fault in ("reset_after_commit", "close_after_commit", "garbage_status"):
            audit.record(arrival, None, fault, committed)
            if fault == "reset_after_commit":
                return _answers.reset(request)
            return _answers.close(request, _answers.GARBAGE if fault == "garbage_status" else b"")
        if fault in ("500_after_commit", "503_after_commit"):
            code, message = _answers.ERROR_ANSWERS[fault]
            audit.record(arrival, code, fault, committed)
            return _answers.error_response(code, message, None)
        # The rest are 2xx-shaped: the status line of success, the body broken.
        audit.record(arrival, answer[0], fault, committed)
        return await _broken_success(self._state, request, fault, answer)

    async def read(
        self, request: web.BaseRequest, fault: str, arrival: Arrival
    ) -> web.StreamResponse | None:
        """The answer to a fault dealt to a lookup or get that replaces the read entirely.

        Args:
            request: The request.
            fault: The fault dealt to it.
            arrival: What the audit entry needs of the request.

        Returns:
            The answer, or None for ``lag`` and ``truncated_200``, which act on the read.
        """
        audit = self._state.audit
        if fault == "reset":
            audit.record(arrival, None, fault)
            return _answers.reset(request)
        if fault in ("500", "503"):
            status, message = _answers.ERROR_ANSWERS[fault]
            audit.record(arrival, status, fault)
            return _answers.error_response(status, message, None)
        if fault == "stall":
            audit.record(arrival, None, fault)
            await self._state.hold(self._state.stall_seconds)
            return _answers.close(request)
        return None

    @staticmethod
    def truncated(request: web.BaseRequest, status: int, body: bytes) -> web.StreamResponse:
        """A read's answer with the full Content-Length but half the body, then a FIN.

        Args:
            request: The request.
            status: The read's status.
            body: The read's full body.

        Returns:
            :func:`~customer_sdk.sandbox._answers.gone`.
        """
        head = {"Content-Type": _wire.JSON, "Content-Length": str(len(body))}
        return _answers.close(request, _wire.raw_head(status, head) + body[: len(body) // 2])


async def _broken_success(
    state: State, request: web.BaseRequest, fault: str, answer: tuple[int, bytes, dict[str, str]]
) -> web.StreamResponse:
    """A success's status line with its body broken the way ``fault`` says."""
    status, body, extra = answer
    head = {"Content-Type": _wire.JSON, **extra}
    if fault in ("truncated_201", "stall_body_201"):
        head["Content-Length"] = str(len(body))
        cut = _wire.raw_head(status, head) + body[: len(body) // 2]
        if fault == "truncated_201":
            return _answers.close(request, cut)
        transport = request.transport
        if transport is not None:
            transport.write(cut)
        await state.hold(state.stall_seconds)
        return _answers.close(request)
    if fault == "malformed_201":
        return _answers.json_response(status, body[:-2] + b",}", head)
    if fault == "empty_201":
        return web.Response(body=b"", status=status, headers=head)
    if fault == "noid_201":
        return _answers.json_response(status, _wire.envelope(status, {}), head)
    if fault == "oversized_201":
        big = _wire.oversized_body()
        head["Content-Length"] = str(len(big))
        return _answers.close(request, _wire.raw_head(status, head) + big)
    if fault == "gzip_bomb_201":
        bomb = _wire.gzip_bomb()
        head["Content-Encoding"] = "gzip"
        head["Content-Length"] = str(len(bomb))
        return _answers.close(request, _wire.raw_head(status, head) + bomb)
    raise AssertionError(f"unhandled fault {fault!r}")  # parse_faults admits no other
