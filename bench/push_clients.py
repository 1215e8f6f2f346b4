#!/usr/bin/env python3
"""Pushes COUNT signed call.ended events to surveyd's feed endpoint from CLIENTS concurrent
clients, one event per request, each client on its own kept-alive connection. Prints
"EVENTS SECONDS" (from the first request to the last answer). Fails if an event is not stored
as new. For the HTTP push part of bench/ingest.sh.

usage: push_clients.py HOST PORT SECRET COUNT CLIENTS PREFIX
"""
import http.client
import sys
import threading
import time

from feed_push import call_ended, push


def main() -> int:
    host, port, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    count, clients, prefix = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    failures = []
    start_gate = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        start_gate.wait()
        for i in range(index, count, clients):
            # Every event its own number (07801 000000 upwards; the feed simulator's are
            # 07700 9xxxxx): the figure is of group commit, not of deciding a number seen
            # hundreds of times (each of its events is read back as related).
            body = call_ended(prefix, i, f"07801 {i:06d}")
            while True:
                response = push(conn, secret, body)
                answer = response.read().decode()
                if response.status != 503:
                    break
                # Busy (more pushes at once than the service takes): as a pusher should.
                time.sleep(float(response.getheader("Retry-After", "1")))
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
