"""The listing's wire numbers and the answer of ``_count``.

Sans-I/O, like the rest of the package. The page-size numbers are ours, not ChargeOver's:
no public source states a default or a maximum (docs/chargeover-api.md, "Paging").
"""

from __future__ import annotations

from typing import Final

from customer_sdk._protocol._envelope import HttpResponse, parse_envelope
from customer_sdk._protocol._status import error_for
from customer_sdk.errors import MalformedResponseError

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "parse_count"]

#: Rows asked for per page unless told otherwise. docs/chargeover-api.md, "Paging": no default
#: is documented; ChargeOver's own Ruby SDK pages by 100 (its Python SDK defaults to 10, its PHP
#: example to 10), so 100 rows keep a page near 100-200 KB and a listing at 1 request per 100.
DEFAULT_PAGE_SIZE: Final = 100
#: The largest page the SDK asks for. docs/chargeover-api.md, "Paging": no maximum is
#: documented; 500 is the largest page seen asked of a live account (a third-party connector,
#: 2026), so a short page below it is taken as the end and not as a server-side cap.
MAX_PAGE_SIZE: Final = 500


def parse_count(resp: HttpResponse) -> int:
    """Decipher ``GET /api/v3/customer/_count``: ``response`` is the number of matches.

    docs/chargeover-api.md, "Counting" (ChargeOver's PHP example prints ``$resp->response``
    as the count). A count sent as a string of digits is read too.

    Args:
        resp: The response.

    Returns:
        The count, 0 or more.

    Raises:
        APIError: The mapped subclass for any non-2xx status.
        MalformedResponseError: A 2xx whose ``response`` is not a count.
    """
    if not 200 <= resp.status < 300:
        raise error_for(resp)
    env = parse_envelope(resp.body)
    value = None if env is None else env.response
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if type(value) is not int or value < 0:
        raise MalformedResponseError(
            f"HTTP {resp.status}: expected a count in response", status=resp.status
        )
    return value
