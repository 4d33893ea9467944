"""Webhooks, verified and parsed by the current official SDK
(`straddle[webhooks]==1.0.5`, in its own virtualenv `.venv-sdk1`).

A local receiver gets the server's deliveries; each one is checked with
`client.webhooks.unwrap(body, headers=…)` (the Standard Webhooks verifier the
SDK ships) with STRADDLE_WEBHOOK_SECRET set to the endpoint's secret, and its
`data` is validated strictly against the SDK's own event type.

The API calls go over plain HTTP: this file checks the webhooks, not the
1.0.5 SDK's view of the other endpoints. Under the 0.5.0 suite (no
`standardwebhooks`) the file is skipped.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid

import httpx
import pytest

pytest.importorskip("standardwebhooks")

import straddle  # noqa: E402
from straddle.types.customer_created_v1_webhook_event import CustomerCreatedV1WebhookEvent  # noqa: E402
from straddle.types.customer_event_v1_webhook_event import CustomerEventV1WebhookEvent  # noqa: E402
from straddle.types.paykey_created_v1_webhook_event import PaykeyCreatedV1WebhookEvent  # noqa: E402
from straddle.types.paykey_event_v1_webhook_event import PaykeyEventV1WebhookEvent  # noqa: E402

EVENT_TYPES = {
    "customer.created.v1": CustomerCreatedV1WebhookEvent,
    "customer.event.v1": CustomerEventV1WebhookEvent,
    "paykey.created.v1": PaykeyCreatedV1WebhookEvent,
    "paykey.event.v1": PaykeyEventV1WebhookEvent,
}
WAIT_S = 15.0


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every POST (headers and body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], str]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def wait_for(self, count: int) -> list[tuple[dict[str, str], str]]:
        deadline = time.monotonic() + WAIT_S
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.received) >= count, f"got {len(self.received)} webhooks, expected {count}"
        return list(self.received)


def test_every_event_type_verifies_and_parses_with_the_official_sdk(server, monkeypatch) -> None:
    receiver = Receiver()
    api = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {server.platform_api_key}"})

    def call(method: str, path: str, body: dict | None = None) -> dict:
        response = api.request(method, path, json=body)
        assert response.status_code < 300, response.text
        return response.json()["data"]

    endpoint = call("POST", "/v1/webhook_endpoints", {"url": receiver.url, "description": "sdk 1.0.5"})
    assert endpoint["secret"].startswith("whsec_")

    email = f"{uuid.uuid4().hex}@example.com"
    customer = call(
        "POST",
        "/v1/customers",
        {
            "name": "Ron Swanson",
            "type": "individual",
            "email": email,
            "phone": "+12128675309",
            "device": {"ip_address": "203.0.113.7"},
            "compliance_profile": {"dob": "1969-04-01", "ssn": "123-45-6789"},
            "address": {"address1": "123 Main St", "city": "Pawnee", "state": "IN", "zip": "46001"},
            "config": {"sandbox_outcome": "review"},
        },
    )
    call("PATCH", f"/v1/customers/{customer['id']}/review", {"status": "verified"})
    paykey = call(
        "POST",
        "/v1/bridge/bank_account",
        {
            "customer_id": customer["id"],
            "routing_number": "026009593",
            "account_number": "004417253381",
            "account_type": "checking",
            "metadata": {"plan": "gold"},
        },
    )
    call("PUT", f"/v1/paykeys/{paykey['id']}/cancel", {"reason": "closed"})

    received = receiver.wait_for(4)
    monkeypatch.setenv("STRADDLE_WEBHOOK_SECRET", endpoint["secret"])
    client = straddle.Client(bearer=server.platform_api_key, base_url=server.base_url)
    seen = {}
    for headers, body in received:
        event = client.webhooks.unwrap(body, headers=headers)
        assert event.event_id == headers["webhook-id"]
        typed = EVENT_TYPES[event.event_type].model_validate(json.loads(body), strict=False)
        seen.setdefault(event.event_type, []).append(typed)
    assert sorted(seen) == sorted(EVENT_TYPES)
    assert seen["customer.created.v1"][0].data.id == customer["id"]
    assert seen["customer.created.v1"][0].data.status == "review"
    assert seen["customer.event.v1"][0].data.status == "verified"
    assert seen["paykey.created.v1"][0].data.paykey == paykey["paykey"]
    assert seen["paykey.created.v1"][0].data.bank_data.account_number == "******3381"
    cancelled = seen["paykey.event.v1"][0].data
    assert (cancelled.id, cancelled.status) == (paykey["id"], "inactive")
    assert cancelled.status_details.reason == "user_request"

    # Any change to the signed bytes (events arrive in any order, so change
    # one that every body has) must fail verification.
    headers, body = received[0]
    with pytest.raises(Exception):
        client.webhooks.unwrap(body.replace('"event_id"', '"event_id" '), headers=headers)
    receiver.httpd.shutdown()
