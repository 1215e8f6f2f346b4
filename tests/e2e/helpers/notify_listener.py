#!/usr/bin/env python3
"""Stands in for systemd's notification socket: receives sd_notify datagrams and writes one line
per message, "<monotonic seconds> <message with newlines as |>", flushed at once.
  notify_listener.py SOCKET OUTPUT     SOCKET "@name" is in the abstract namespace
"""
import socket
import sys
import time

path, output = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("\0" + path[1:] if path.startswith("@") else path)
with open(output, "a", buffering=1) as out:
    out.write(f"{time.monotonic():.3f} LISTENING\n")
    while True:
        data = sock.recv(4096)
        out.write(f"{time.monotonic():.3f} {data.decode(errors='replace').replace(chr(10), '|')}\n")
