"""Sans-I/O protocol: build ChargeOver requests and decipher responses; classify failures.

Everything about the wire that is not moving bytes lives here:

- :mod:`._requests`: URLs, the ``where`` escaping, each call's request;
- :mod:`._envelope`: the response, the envelope and all the ways it varies, body excerpts;
- :mod:`._status`: an error answer → its exception (the status decides);
- :mod:`._answers`: the answers of a create, a GET of one customer and a query;
- :mod:`._bulk_items`: the ``_bulk`` call's answer, one item per request;
- :mod:`._writes`: the PUT and DELETE of one customer, their answers, the query flags;
- :mod:`._listing`: the listing's page sizes and the ``_count`` answer;
- :mod:`._classes`: the failure classes of ``docs/faults.md`` and ``Retry-After`` parsing.

It does no I/O and knows nothing of aiohttp, so each rule is tested on plain values. Wire rules
cite ``docs/chargeover-api.md`` (the contract gathered from ChargeOver's developer docs,
https://developer.chargeover.com/apidocs/rest/).
"""

from customer_sdk._protocol._answers import parse_created, parse_list, parse_object
from customer_sdk._protocol._bulk_items import BulkItem, parse_bulk
from customer_sdk._protocol._classes import Outcome, classify, parse_retry_after, says_key_taken
from customer_sdk._protocol._envelope import (
    MESSAGE_LIMIT,
    Envelope,
    HttpResponse,
    parse_envelope,
    short_text,
)
from customer_sdk._protocol._listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, parse_count
from customer_sdk._protocol._requests import (
    API_PREFIX,
    BULK_PATH,
    COUNT_PATH,
    CUSTOMER_PATH,
    MAX_BULK,
    HttpRequest,
    bulk_request,
    count_request,
    create_request,
    escape_where_value,
    find_by_field_request,
    find_by_key_request,
    get_request,
    list_request,
    where_query,
)
from customer_sdk._protocol._status import error_for
from customer_sdk._protocol._writes import (
    delete_request,
    parse_deleted,
    parse_updated,
    update_request,
    with_query,
)

__all__ = [
    "API_PREFIX",
    "BULK_PATH",
    "COUNT_PATH",
    "CUSTOMER_PATH",
    "DEFAULT_PAGE_SIZE",
    "MAX_BULK",
    "MAX_PAGE_SIZE",
    "MESSAGE_LIMIT",
    "BulkItem",
    "Envelope",
    "HttpRequest",
    "HttpResponse",
    "Outcome",
    "bulk_request",
    "classify",
    "count_request",
    "create_request",
    "delete_request",
    "error_for",
    "escape_where_value",
    "find_by_field_request",
    "find_by_key_request",
    "get_request",
    "list_request",
    "parse_bulk",
    "parse_count",
    "parse_created",
    "parse_deleted",
    "parse_envelope",
    "parse_list",
    "parse_object",
    "parse_retry_after",
    "parse_updated",
    "says_key_taken",
    "short_text",
    "update_request",
    "with_query",
    "where_query",
]
