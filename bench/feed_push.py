#!/usr/bin/env python3
"""Pushes COUNT signed call.ended events to surveyd's feed endpoint at RATE per second (one
keep-alive connection), each with its own incident and number, complete enough for the shipped
rules to survey it. For the latency part of bench/dispatch.sh. Fails if one is not surveyed.

usage: feed_push.py HOST PORT SECRET COUNT RATE PREFIX [FIRST_NUMBER]
"""
import hashlib
import hmac
import http.client
import json
import sys
import time
from datetime import datetime, timezone


def call_ended(prefix: str, i: int, phone: str, spread: bool = False) -> bytes:
    """A call.ended event, happening now, with its own incident, complete enough for the
    shipped rules to survey it (unless the number was surveyed recently). With `spread`, the
    operator, team and caller's age vary with `i`, so that a dashboard has groups to show."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    handler, team, age = ("OP4411", "Force Contact - Team 3", 41) if not spread else (
        f"OP{4400 + i % 50}", f"Force Contact - Team {1 + i % 5}", 18 + i % 60)
    return json.dumps({
        "event_id": f"{prefix}-{i}", "type": "call.ended", "occurred_at": now,
        "incident": {"id": f"{prefix}-INC-{i}", "type_code": "BURG-RES", "category": "crime",
                     "grade": "P3", "qualifiers": [],
                     "location": {"npu": "Birmingham East", "beat": "BE-14",
                                  "postcode_district": "B33"}},
        "call": {"id": f"{prefix}-C-{i}", "channel": "101", "handler_id": handler,
                 "handler_team": team},
        "caller": {"phone": phone, "phone_type": "mobile", "role": "victim", "age": age,
                   "language": "en"},
    }).encode()


def push(conn: http.client.HTTPConnection, secret: bytes, body: bytes) -> http.client.HTTPResponse:
    """POSTs one signed body to the feed endpoint (signed as the contract says) on `conn`."""
    ts = str(int(time.time()))
    sig = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    conn.request("POST", "/api/v1/feed/events", body,
                 {"Content-Type": "application/json", "X-Feed-Timestamp": ts,
                  "X-Feed-Signature": "sha256=" + sig})
    return conn.getresponse()


def main() -> int:
    host, port, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    count, rate, prefix = int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
    first = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    conn = http.client.HTTPConnection(host, port, timeout=10)
    start = time.monotonic()
    for i in range(count):
        due = start + i / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        # 07800 000000 upwards: the backlog's numbers start with 077.
        body = call_ended(prefix, i, f"07800 {first + i:06d}")
        answer = push(conn, secret, body).read().decode()
        if '"decision":"survey"' not in answer:
            print(f"feed_push.py: event {i} was not surveyed: {answer}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
