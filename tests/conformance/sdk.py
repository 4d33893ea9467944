"""The official SDK the suite runs with, under the method names the tests use.

The tests are written against `straddle==0.5.0`. `straddle==1.0.5` speaks the
same wire but renamed the client (`StraddleAPI(bearer=…)`), methods and
types; when it is the installed SDK,
`connect` wraps its client so each 0.5.0 call goes to the 1.0.5 method for
the same endpoint (with 1.0.5's own request building and strict response
types). `/v1/bridge/tan`, which 1.0.5 dropped, goes through the client's
generic `post` with the headers its methods would send.
"""

from __future__ import annotations

from typing import Any

import straddle

VERSION = tuple(int(part) for part in straddle.__version__.split(".")[:2])
IS_1X = VERSION >= (1, 0)

if IS_1X:
    from straddle.types.customer_summary_list import CustomerSummaryList as CustomerSummaryPage
    from straddle.types.paykey_response import PaykeyResponse as PaykeyObject
    from straddle.types.paykey_summary_list import PaykeySummaryList as PaykeySummaryPage
else:
    from straddle.types.customer_summary_paged_v1 import CustomerSummaryPagedV1 as CustomerSummaryPage
    from straddle.types.paykey_summary_paged_v1 import PaykeySummaryPagedV1 as PaykeySummaryPage
    from straddle.types.paykey_v1 import PaykeyV1 as PaykeyObject

__all__ = ["CustomerSummaryPage", "PaykeyObject", "PaykeySummaryPage", "connect", "IS_1X"]

# 0.5.0 method path -> 1.0.5 method path.
RENAMES_1X = {
    "customers.get": "customers.retrieve",
    "customers.unmasked": "customers.list_unmasked",
    "customers.review.get": "customers.review.list",
    "customers.review.decision": "customers.review.set_verification_decision",
    "customers.review.refresh_review": "customers.refresh_review",
    "paykeys.get": "paykeys.retrieve",
    "paykeys.unmasked": "paykeys.list_unmasked",
    "paykeys.update_balance": "paykeys.refresh_balance",
    "paykeys.review.get": "paykeys.review.list",
    "paykeys.review.decision": "paykeys.review.set_verification_decision",
    "paykeys.review.refresh_review": "paykeys.refresh_review",
    "bridge.initialize": "bridge.create_token",
    "bridge.link.bank_account": "bridge.create_bank_account_paykey",
    "bridge.link.plaid": "bridge.create_plaid_paykey",
    "bridge.link.create_paykey": "bridge.create_quiltt_paykey",
}
RAW = "with_raw_response"
HEADER_PARAMS = {
    "straddle_account_id": "Straddle-Account-Id",
    "request_id": "Request-Id",
    "correlation_id": "Correlation-Id",
    "idempotency_key": "Idempotency-Key",
}


class _Renamed:
    """A view of a 1.0.5 client at `path` (e.g. `customers.review`) with 0.5.0 names."""

    def __init__(self, client: Any, path: tuple[str, ...] = ()) -> None:
        self._client = client
        self._path = path

    def __getattr__(self, name: str) -> Any:
        path = self._path + (name,)
        raw = RAW in path
        plain = ".".join(part for part in path if part != RAW)
        if plain == "bridge.link.create_tan":
            return lambda **fields: _create_tan(self._client, raw=raw, **fields)
        if plain in RENAMES_1X:
            *owner, method = RENAMES_1X[plain].split(".")
            return getattr(_walk(self._client, owner + ([RAW] if raw else [])), method)
        if plain in ("customers", "customers.review", "paykeys", "paykeys.review", "bridge", "bridge.link") or name == RAW:
            return _Renamed(self._client, path)
        return getattr(_walk(self._client, list(path[:-1])), name)

    def __enter__(self) -> _Renamed:
        self._client.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._client.__exit__(*exc)


def _walk(obj: Any, names: list[str]) -> Any:
    for name in names:
        obj = getattr(obj, name)
    return obj


def _create_tan(client: Any, *, raw: bool, **fields: Any) -> Any:
    headers = {HEADER_PARAMS[k]: fields.pop(k) for k in list(fields) if k in HEADER_PARAMS}
    headers.update(fields.pop("extra_headers", None) or {})
    if raw:
        from straddle._constants import RAW_RESPONSE_HEADER

        headers[RAW_RESPONSE_HEADER] = "raw"
    return client.post("/v1/bridge/tan", body=fields, cast_to=PaykeyObject, options={"headers": headers})


def connect(**options: Any) -> Any:
    """An SDK client; with 1.0.5, wrapped to answer to the 0.5.0 method names."""
    if not IS_1X:
        return straddle.Straddle(**options)
    return _Renamed(straddle.StraddleAPI(bearer=options.pop("api_key"), **options))
