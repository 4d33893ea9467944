"""A webhook receiver that verifies and parses events with the official
Straddle Python SDK (pip install 'straddle[webhooks]==1.0.5').

    STRADDLE_WEBHOOK_SECRET=whsec_… python examples/webhooks/receiver.py 4242

Then register http://127.0.0.1:4242/webhooks as an endpoint:

    straddle webhook-endpoints create --url http://127.0.0.1:4242/webhooks

and put the `secret` it returns in STRADDLE_WEBHOOK_SECRET. Answering 2xx
acknowledges an event; anything else makes the server retry it later with
the same `webhook-id`, so handle each event id once.
"""

from __future__ import annotations

import http.server
import sys

import straddle

# The SDK reads the secret from STRADDLE_WEBHOOK_SECRET; unwrap() needs no API call.
client = straddle.Client(bearer="unused-for-webhooks")
handled: set[str] = set()


class Webhooks(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        try:
            event = client.webhooks.unwrap(body, headers=dict(self.headers))
        except Exception as refused:  # bad signature, stale timestamp, not an event
            print(f"refused: {refused}", flush=True)
            self.send_response(400)
            self.end_headers()
            return
        if event.event_id not in handled:
            handled.add(event.event_id)
            print(f"{event.event_type} {event.data.id} status={event.data.status}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 4242
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Webhooks).serve_forever()
