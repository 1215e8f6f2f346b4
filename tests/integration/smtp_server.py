#!/usr/bin/env python3
"""A minimal SMTP relay for the tests (standard library only): EHLO/HELO, STARTTLS when given a
certificate, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT. Every message it accepts is
appended to --out as one JSON line: {"from", "to", "data", "tls", "user"}. It binds 127.0.0.1
on a free port and writes the port to --port-file once it listens.

  --fail-first N   answer "451" to the first N MAIL commands (a relay that is busy)
  --fail-reply R   answer R to them instead ("550 5.7.1 relaying denied": a relay that refuses
                   us until ops put it right)
  --reject-rcpt A  answer "550" to RCPT TO:<A> (a recipient that does not exist)
  --user U:P       require AUTH PLAIN with these credentials before MAIL
  --maildir DIR    also write each message to DIR as a text file a person can read (NNNN.txt:
                   its envelope, headers and decoded body); scripts/demo shows the alert e-mails
                   and the praise digests this way
"""
import argparse
import base64
import email
import email.policy
import json
import os
import socketserver
import ssl
import sys
import threading

LOCK = threading.Lock()


class Relay(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def write_readable(maildir, record):
    """One message as text: who it went to, its headers, and the body decoded."""
    message = email.message_from_string(record["data"], policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else record["data"]
    # Numbered in order of arrival (the caller holds LOCK; each file is in place before the next).
    path = os.path.join(maildir, f"{len(os.listdir(maildir)) + 1:04d}.txt")
    with open(path + ".tmp", "w", encoding="utf-8") as out:
        out.write(f"To: {', '.join(record['to'])}\n")
        for name in ("From", "Subject", "Date"):
            if message[name]:
                out.write(f"{name}: {message[name]}\n")
        out.write("\n" + text)
    os.rename(path + ".tmp", path)



def make_handler(args):
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    state = {"mail_commands": 0}

    class Handler(socketserver.StreamRequestHandler):
        def setup(self):
            super().setup()
            self.tls = False
            self.user = None
            self.reset()

        def reset(self):
            self.mail_from = None
            self.rcpt = []

        def send(self, line):
            self.wfile.write((line + "\r\n").encode())
            self.wfile.flush()

        def readline(self):
            line = self.rfile.readline(65536)
            if not line:
                return None
            return line.decode("utf-8", "replace").rstrip("\r\n")

        def handle(self):
            self.send("220 localhost test relay")
            while True:
                line = self.readline()
                if line is None:
                    return
                verb = line[:4].upper()
                arg = line[5:] if len(line) > 5 else ""
                if verb in ("EHLO", "HELO"):
                    self.reset()
                    lines = ["250-localhost"]
                    if context and not self.tls:
                        lines.append("250-STARTTLS")
                    if self.tls:
                        lines.append("250-AUTH PLAIN")
                    lines.append("250 8BITMIME")
                    for out in lines:
                        self.send(out)
                elif line.upper() == "STARTTLS":
                    if not context or self.tls:
                        self.send("502 5.5.1 not here")
                        continue
                    self.send("220 2.0.0 go ahead")
                    try:
                        self.request = context.wrap_socket(self.request, server_side=True)
                    except ssl.SSLError:
                        return  # the client refused our certificate: the test expects that
                    self.rfile = self.request.makefile("rb")
                    self.wfile = self.request.makefile("wb")
                    self.tls = True
                    self.reset()
                elif verb == "AUTH":
                    parts = arg.split()
                    if len(parts) != 2 or parts[0].upper() != "PLAIN":
                        self.send("504 5.5.4 PLAIN only")
                        continue
                    try:
                        _, user, password = base64.b64decode(parts[1]).decode().split("\0")
                    except Exception:  # noqa: BLE001 - anything malformed is refused
                        self.send("501 5.5.2 bad credentials")
                        continue
                    if args.user and f"{user}:{password}" == args.user:
                        self.user = user
                        self.send("235 2.7.0 ok")
                    else:
                        self.send("535 5.7.8 authentication failed")
                elif verb == "MAIL":
                    if args.user and not self.user:
                        self.send("530 5.7.0 authentication required")
                        continue
                    with LOCK:
                        state["mail_commands"] += 1
                        busy = state["mail_commands"] <= args.fail_first
                    if busy:
                        self.send(args.fail_reply)
                        continue
                    self.mail_from = arg.split(":", 1)[1].strip().strip("<>")
                    self.send("250 2.1.0 ok")
                elif verb == "RCPT":
                    address = arg.split(":", 1)[1].strip().strip("<>")
                    if address == args.reject_rcpt:
                        self.send("550 5.1.1 no such user")
                        continue
                    self.rcpt.append(address)
                    self.send("250 2.1.5 ok")
                elif verb == "DATA":
                    if not self.mail_from or not self.rcpt:
                        self.send("503 5.5.1 MAIL and RCPT first")
                        continue
                    self.send("354 go ahead")
                    data = []
                    while True:
                        body_line = self.readline()
                        if body_line is None:
                            return
                        if body_line == ".":
                            break
                        data.append(body_line[1:] if body_line.startswith(".") else body_line)
                    record = {"from": self.mail_from, "to": self.rcpt, "data": "\r\n".join(data),
                              "tls": self.tls, "user": self.user}
                    with LOCK:
                        with open(args.out, "a", encoding="utf-8") as out:
                            out.write(json.dumps(record) + "\n")
                        if args.maildir:
                            write_readable(args.maildir, record)
                    self.send("250 2.0.0 queued")
                    self.reset()
                elif verb == "RSET":
                    self.reset()
                    self.send("250 2.0.0 ok")
                elif verb == "NOOP":
                    self.send("250 2.0.0 ok")
                elif verb == "QUIT":
                    self.send("221 2.0.0 bye")
                    return
                else:
                    self.send("500 5.5.2 what?")

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-reply", default="451 4.3.0 busy, try again later")
    parser.add_argument("--reject-rcpt", default="")
    parser.add_argument("--user", default="")
    parser.add_argument("--maildir", default="")
    args = parser.parse_args()
    if args.maildir:
        os.makedirs(args.maildir, exist_ok=True)
    server = Relay(("127.0.0.1", 0), make_handler(args))
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
