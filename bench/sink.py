#!/usr/bin/env python3
"""A fast feed client for bench/ingest.sh: subscribes to cw-sim, reads N lines as fast as the
socket allows, acks the last seq so that `cw-sim --exit-when-acked` ends, and prints
"LINES SECONDS" (first byte to the N-th newline). It does no parsing, so what it measures is the
simulator's send rate, not its own.

usage: sink.py HOST PORT LINES
"""
import socket
import sys
import time


def main() -> int:
    host, port, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.sendall(b'{"subscribe":{"after_seq":0,"client":"bench-sink"}}\n')
    lines = 0
    first = None
    tail = b""
    while lines < want:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        if first is None:
            first = time.monotonic()
        lines += chunk.count(b"\n")
        tail = (tail + chunk)[-4096:]
    elapsed = time.monotonic() - (first or time.monotonic())
    # The last complete line is the highest seq received: ack it.
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    seq = last.split(b'"seq":', 1)[1].split(b",", 1)[0] if b'"seq":' in last else b"0"
    sock.sendall(b'{"ack":' + seq.strip() + b"}\n")
    time.sleep(0.2)
    sock.close()
    print(lines, f"{elapsed:.6f}")
    return 0 if lines >= want else 1


if __name__ == "__main__":
    sys.exit(main())
