#!/usr/bin/env python3
"""Pushes COUNT signed call.ended events to surveyd's feed endpoint from CLIENTS concurrent
clients, one event per request, each client on its own kept-alive connection. Prints
"EVENTS SECONDS" (from the first request to the last answer). Fails if an event is not stored
as new. For the HTTP push part of bench/ingest.sh.

usage: push_clients.py HOST PORT SECRET COUNT CLIENTS PREFIX
"""
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
from datetime import datetime, timezone


def event_body(prefix: str, i: int) -> bytes:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps({
        "event_id": f"{prefix}-{i}", "type": "call.ended", "occurred_at": now,
        "incident": {"id": f"{prefix}-INC-{i}", "type_code": "BURG-RES", "category": "crime",
                     "grade": "P3", "qualifiers": [],
                     "location": {"npu": "Birmingham East", "beat": "BE-14",
                                  "postcode_district": "B33"}},
        "call": {"id": f"{prefix}-C-{i}", "channel": "101", "handler_id": "OP4411",
                 "handler_team": "Force Contact - Team 3"},
        # The Ofcom drama range, 07700 900000-900999 (a number seen again is capped, still stored).
        "caller": {"phone": f"07700 {900000 + i % 1000:06d}", "phone_type": "mobile",
                   "role": "victim", "age": 41, "language": "en"},
    }).encode()


def main() -> int:
    host, port, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    count, clients, prefix = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    failures = []
    start_gate = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        start_gate.wait()
        for i in range(index, count, clients):
            body = event_body(prefix, i)
            ts = str(int(time.time()))
            sig = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
            conn.request("POST", "/api/v1/feed/events", body,
                         {"Content-Type": "application/json", "X-Feed-Timestamp": ts,
                          "X-Feed-Signature": "sha256=" + sig})
            response = conn.getresponse()
            answer = response.read().decode()
            if response.status != 202 or '"accepted":1' not in answer:
                failures.append(f"event {i}: HTTP {response.status} {answer[:200]}")
                return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - began
    if failures:
        print("push_clients.py: " + failures[0], file=sys.stderr)
        return 1
    print(count, f"{seconds:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
