#!/usr/bin/env python3
"""A scripted ControlWorks-style TCP feed (../shared/spec/feed.md, delivery 1) for end-to-end tests.

    feed_server.py PORT FILE

Serves the lines of FILE, one event per line with a leading "seq", to each subscriber: those with
seq > after_seq, in file order, then whatever is appended to FILE later (it is re-read every
100 ms), with a heartbeat every second of silence. Acks are read and ignored: FILE is the feed's
memory. Lines are sent byte for byte, so a test can serve lines no real feed should send.
"""
import json
import re
import socket
import sys
import threading
import time

SEQ = re.compile(rb'^\s*\{\s*"seq"\s*:\s*(\d+)')


def lines_after(path, after_seq, sent):
    with open(path, "rb") as f:
        data = f.read()
    out = []
    for index, line in enumerate(data.split(b"\n")):
        if not line or index in sent:
            continue
        m = SEQ.match(line[:64])
        seq = int(m.group(1)) if m else None
        if seq is not None and seq <= after_seq:
            continue
        sent.add(index)
        out.append(line + b"\n")
    return out


def serve(conn, path):
    conn.settimeout(0.1)
    buf = b""
    while b"\n" not in buf:
        try:
            chunk = conn.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            return
        buf += chunk
    subscribe = json.loads(buf.split(b"\n", 1)[0])
    after = int(subscribe["subscribe"].get("after_seq", 0))
    sent = set()
    last = time.monotonic()
    while True:
        for line in lines_after(path, after, sent):
            conn.sendall(line)
            last = time.monotonic()
        if time.monotonic() - last >= 1:
            beat = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            conn.sendall(json.dumps({"heartbeat": beat}).encode() + b"\n")
            last = time.monotonic()
        try:
            if not conn.recv(65536):  # acks; an empty read: the client went away
                return
        except socket.timeout:
            pass


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(8)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=lambda c=conn: _run(c, path), daemon=True).start()


def _run(conn, path):
    try:
        serve(conn, path)
    except OSError:
        pass
    finally:
        conn.close()


if __name__ == "__main__":
    main()
