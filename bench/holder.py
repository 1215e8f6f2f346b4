#!/usr/bin/env python3
"""Holds connections open against surveyd while bench/page.sh measures, to show the connection cap
holding under load: opens N connections, sends GET /healthz on each, and counts the answers
(200: a connection the server keeps; 503 with Retry-After: refused over the cap). Keeps the
accepted ones open for SECONDS, then prints "ACCEPTED REFUSED REFUSED_WITH_RETRY_AFTER
SLOWEST_REFUSAL_MS".

usage: holder.py HOST PORT N SECONDS
"""
import socket
import sys
import time


def main() -> int:
    host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    held, refused, with_retry, slowest = [], 0, 0, 0.0
    for _ in range(count):
        start = time.monotonic()
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        status = data.split(b" ", 2)[1] if data.startswith(b"HTTP/1.1 ") else b"?"
        if status == b"200":
            held.append(sock)
        else:
            refused += 1
            slowest = max(slowest, (time.monotonic() - start) * 1000)
            if b"\r\nRetry-After: " in data and status == b"503":
                with_retry += 1
            sock.close()
    time.sleep(seconds)
    for sock in held:
        sock.close()
    print(len(held), refused, with_retry, round(slowest, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
