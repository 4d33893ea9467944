"""Shared helpers for test_bridge.py and test_paykeys.py (not a test module).

Values marked F2, F4, F5, F6 and F7 are the example fixtures of the Bridge
spec; the sandbox tokens follow the sandbox provider's token table
(crates/straddle-providers/SANDBOX.md).
"""

from __future__ import annotations

import base64
import re
import time
import uuid

import httpx
import straddle

from sdk import PaykeyObject

# --- known values ---------------------------------------------------------------

BOFA_ROUTING = "026009593"  # F2
BOFA = "BANK OF AMERICA, N.A."
CHASE_ROUTING = "021000021"
CHASE = "JPMORGAN CHASE BANK, NA"
WELLS_ROUTING = "121000248"  # F3
UNLISTED_ROUTING = "011401533"  # passes the check digit, but no bank in the directory has it
BAD_CHECK_DIGIT_ROUTING = "021000022"  # F7

F2_ACCOUNT_NUMBER = "004417253381"
F5_ROUTING, F5_TAN = "322271627", "9847310022651"
F4_PLAID_TOKEN = "processor-sandbox-4c1f0e8a-2b7d-4f3e-9a61-7d2e5b8c0f94"
F6_QUILTT_TOKEN = "YWNjdF8xOUZpeHR1cmVBY2N0MDAxOjlmMmMwZTc3YjFkNDQ4YTA="  # acct_19FixtureAcct001:9f2c0e77b1d448a0

FULL_PAYKEY = re.compile(r"^[0-9a-f]{8}\.02\.[0-9a-f]{7}$")
UNKNOWN_ID = "019b8dda-3333-7444-8555-666677778888"
SETTLE_TIMEOUT_S = 5.0
DEFAULT_CONFIG = {"processing_method": "inline", "sandbox_outcome": "standard"}

# status, status_details.reason and status_details.source per sandbox outcome (spec §C.2)
OUTCOMES = {
    "active": ("active", "ok", "system"),
    "review": ("review", "require_review", "watchtower"),
    "rejected": ("rejected", "failed_verification", "watchtower"),
}


def masked_paykey(full: str) -> str:
    """`a17c4b04.02.4b6a949` → `a17***.02.******949`."""
    return f"{full[:3]}***.02.******{full[-3:]}"


def masked_account(number: str) -> str:
    return "******" + number[-4:]


def unique_tag() -> str:
    return uuid.uuid4().hex[:12]


def idempotency_key() -> str:
    return f"conformance-{uuid.uuid4().hex[:24]}"


def plaid_token(word: str = "", owner: str = "") -> str:
    """A Plaid sandbox processor token. `word` picks a sandbox account or case, `owner` the
    account holder (`ron-swanson`, or `none`); see SANDBOX.md."""
    return f"processor-sandbox-{word}{uuid.uuid4()}" + (f"-owner-{owner}" if owner else "")


def quiltt_token(word: str = "", owner: str = "") -> str:
    """A Quiltt processor token, base64 of `<account id>:<secret>` (F6); `word` and `owner` as for Plaid."""
    account_id = f"acct_{word}{uuid.uuid4().hex[:16]}" + (f"-owner-{owner}" if owner else "")
    return base64.b64encode(f"{account_id}:{uuid.uuid4().hex[:16]}".encode()).decode()


PROVIDER_TOKENS = {"plaid": plaid_token, "quiltt": quiltt_token}


# --- customers and paykeys ------------------------------------------------------------


def new_customer(client: straddle.Straddle, **overrides) -> str:
    """Create a verified individual customer and return its id."""
    fields = {
        "name": "Ron Swanson",
        "type": "individual",
        "email": f"ron.{uuid.uuid4().hex[:16]}@example.com",
        "phone": "+12128675309",
        "device": {"ip_address": "203.0.113.7"},
        **overrides,
    }
    return client.customers.create(**fields).data.id


def account_number(digits: int = 10) -> str:
    return str(uuid.uuid4().int)[:digits]


def link_body(source: str) -> dict:
    """A well-formed body for a link endpoint, less `customer_id`; a new account number or token each call."""
    return {
        "bank_account": {
            "routing_number": BOFA_ROUTING,
            "account_number": account_number(),
            "account_type": "checking",
        },
        "tan": {"routing_number": F5_ROUTING, "tan": account_number(13), "account_type": "checking"},
        "plaid": {"plaid_token": plaid_token()},
        "quiltt": {"quiltt_token": quiltt_token()},
    }[source]


# The SDK method of each link endpoint, by the `source` its paykeys carry.
LINK_METHODS = {"bank_account": "bank_account", "tan": "create_tan", "plaid": "plaid", "quiltt": "create_paykey"}
ALL_SOURCES = list(LINK_METHODS)
PROVIDER_SOURCES = ["plaid", "quiltt"]


def link(client: straddle.Straddle, source: str, customer_id: str, *, raw: bool = False, **fields):
    """Link an account through the endpoint for `source`; `fields` override the body of `link_body`."""
    resource = client.bridge.link.with_raw_response if raw else client.bridge.link
    method = getattr(resource, LINK_METHODS[source])
    return method(customer_id=customer_id, **{**link_body(source), **fields})


def link_bank_account(client: straddle.Straddle, customer_id: str, **fields):
    return link(client, "bank_account", customer_id, **fields)


def wait_until_settled(client: straddle.Straddle, paykey_id: str, **options):
    """Poll `get` until the paykey leaves `pending` (gives up after a few seconds)."""
    return _poll(lambda: client.paykeys.get(paykey_id, **options), lambda p: p.data.status != "pending")


def wait_for_balance(client: straddle.Straddle, paykey_id: str):
    """Poll `get` until the balance check is no longer pending."""
    return _poll(
        lambda: client.paykeys.get(paykey_id),
        lambda p: p.data.balance is not None and p.data.balance.status != "pending",
    )


def _poll(fetch, done):
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        result = fetch()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def paykey_ids(page) -> list[str]:
    return [paykey.id for paykey in page.data]


# --- calls the SDK 0.5.0 does not have ----------------------------------------------------


def simulate_return(client: straddle.Straddle, paykey_id: str, code: str = "R29"):
    """Sandbox only: `POST /v1/sandbox/paykeys/{id}/simulate_return`."""
    return client.post(
        f"/v1/sandbox/paykeys/{paykey_id}/simulate_return", body={"code": code}, cast_to=PaykeyObject
    )


def unblock(client: straddle.Straddle, paykey_id: str, **body):
    """`PATCH /v1/paykeys/{id}/unblock` (in the API, not in SDK 0.5.0)."""
    return client.patch(f"/v1/paykeys/{paykey_id}/unblock", body=body, cast_to=PaykeyObject)


def post_raw(client: straddle.Straddle, path: str, body: dict) -> httpx.Response:
    """POST a hand-made body (to send what the SDK's signatures would not let us)."""
    return client.post(path, body=body, cast_to=httpx.Response)


# --- errors -------------------------------------------------------------------------------------


def assert_error_envelope(error: straddle.APIStatusError, status: int, *types: str) -> None:
    """Errors come as {meta, response_type: "error", error: {status, type, title, detail}}."""
    body = error.body
    assert error.status_code == status
    assert isinstance(body, dict), body
    assert body["response_type"] == "error"
    assert "data" not in body
    assert body["meta"]["api_request_id"]
    assert body["error"]["status"] == status
    assert body["error"]["type"] in types
    assert body["error"]["title"]
    assert body["error"]["detail"]


def error_references(error: straddle.APIStatusError) -> list[str]:
    """The `reference` of every item of an error (`metadata.<key>` counts as `metadata`)."""
    items = error.body["error"].get("items") or []
    return [item["reference"].split(".")[0] for item in items]
