"""Schemathesis hooks: keep generated requests within the documented
rules that JSON Schema cannot state, so that `positive_data_acceptance`
stays on for these operations instead of being relaxed.

- A typed-in routing number must carry a valid ABA check digit (document:
  "its check digit must be valid"): a 9-digit number gets its ninth digit
  set to the one the first eight call for.
- A date of birth must be in the past: a well-formed future date is moved
  back to 1990.
- A webhook endpoint's URL must name a host that resolves: an `http(s)://`
  URL is pointed at a local port (sandbox servers accept loopback).

Nothing else is changed; a request that breaks the schema elsewhere still does.
"""

from __future__ import annotations

import datetime
import re

import schemathesis

TYPED_ROUTING = {"/v1/bridge/bank_account", "/v1/bridge/tan"}
CUSTOMER_WRITES = {"/v1/customers", "/v1/customers/{id}"}
WEBHOOK_ENDPOINT_WRITES = {"/v1/webhook_endpoints", "/v1/webhook_endpoints/{id}"}
WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7)


def with_check_digit(routing: str) -> str:
    total = sum(int(d) * w for d, w in zip(routing[:8], WEIGHTS))
    return routing[:8] + str((10 - total % 10) % 10)


def in_the_past(dob: str) -> str:
    try:
        date = datetime.date.fromisoformat(dob)
    except ValueError:
        return dob
    if date < datetime.datetime.now(datetime.timezone.utc).date():  # the server compares in UTC
        return dob
    return "1990" + dob[4:] if dob[4:] != "-02-29" else "1990-02-28"


@schemathesis.hook
def map_body(ctx, body):
    path = ctx.operation.path if ctx.operation else None
    if not isinstance(body, dict):
        return body
    if path in TYPED_ROUTING:
        routing = body.get("routing_number")
        if isinstance(routing, str) and re.fullmatch(r"[0-9]{9}", routing):
            body["routing_number"] = with_check_digit(routing)
    if path in CUSTOMER_WRITES:
        profile = body.get("compliance_profile")
        if isinstance(profile, dict) and isinstance(profile.get("dob"), str):
            profile["dob"] = in_the_past(profile["dob"])
    if path in WEBHOOK_ENDPOINT_WRITES:
        url = body.get("url")
        if isinstance(url, str) and re.match(r"https?://", url):
            body["url"] = "http://127.0.0.1:9/webhooks"
    return body
