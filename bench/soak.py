#!/usr/bin/env python3
"""The driver of bench/soak.sh: while the TCP feed (cw-sim), the gateway simulator and its
citizens run, it pushes signed events over HTTP, polls the dashboard's endpoints, runs a
retention pass every minute, samples each daemon's memory and open files, and prints one line
per minute. At the end it prints a summary with the goals met or missed and writes them to
--goals (bench/soak.sh adds the invariants and decides the exit status).

  soak.py --database URL --minutes N --push-rate R --push-url URL [--push-url URL2]
          --feed-secret S --token T --daemon NAME=PID [--daemon ...] --surveyd BIN
          --config FILE --work DIR [--timing-goals] [--retention-lag-s 60]

Numbers pushed are 078 followed by 8 digits (one per event, so that each is surveyed); the
feed's are the drama range. Nothing here prints a number, a token or a citizen's words.
"""
import argparse
import csv
import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

from feed_push import call_ended, push

STOP = threading.Event()
# The shortest run whose memory is held to the flat-memory goal (see the goals below).
MEMORY_FLAT_MINUTES = 30


def query(url, sql):
    out = subprocess.run(["psql", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    return rows[1:] if rows else []


def number(value, default=0.0):
    return float(value) if value not in (None, "") else default


# --- HTTP pushes ---------------------------------------------------------------------------


class Pushes:
    """Clients each on a kept-alive connection to one instance, paced together to `rate`
    events/s, one signed event per request. An event is recorded (for the checker's I1) once
    answered 202; a 503 or a broken connection is retried, any other answer is counted wrong."""

    def __init__(self, urls, secret, rate, clients, record_path, prefix="SOAK"):
        self.urls, self.secret, self.rate, self.prefix = urls, secret.encode(), rate, prefix
        self.clients = clients
        self.record = open(record_path, "w")
        self.lock = threading.Lock()
        self.acked = self.retried = self.wrong = 0
        self.first_wrong = ""
        self.threads = []

    def start(self):
        self.started = time.monotonic()
        for c in range(self.clients):
            thread = threading.Thread(target=self.client, args=(c,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        STOP.set()
        for thread in self.threads:
            thread.join(timeout=15)
        self.record.close()

    def client(self, c):
        parts = urllib.parse.urlsplit(self.urls[c % len(self.urls)])
        conn = None
        per_client = self.rate / self.clients
        i = c
        k = 0
        while not STOP.is_set():
            due = self.started + k / per_client
            pause = due - time.monotonic()
            if pause > 0:
                if STOP.wait(pause):
                    break
            body = call_ended(self.prefix, i, f"078{i:08d}", spread=True)
            while not STOP.is_set():
                if conn is None:
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                try:
                    response = push(conn, self.secret, body)
                    answer = response.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = None
                    with self.lock:
                        self.retried += 1
                    STOP.wait(0.2)
                    continue
                if response.status == 202:
                    with self.lock:
                        self.acked += 1
                        self.record.write(f"{self.prefix}-{i}\n")
                    break
                if response.status == 503 and response.getheader("Retry-After"):
                    with self.lock:
                        self.retried += 1
                    STOP.wait(0.5)
                    continue
                with self.lock:
                    self.wrong += 1
                    if not self.first_wrong:
                        self.first_wrong = f"HTTP {response.status} {answer[:120]!r}"
                break
            i += self.clients
            k += 1


# --- the dashboard --------------------------------------------------------------------------


class Dashboard:
    """Polls what a supervisor's dashboard asks for, every `period` seconds, with a token."""

    def __init__(self, url, token, period):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port, self.token, self.period = parts.hostname, parts.port, token, period
        self.lock = threading.Lock()
        self.times = []  # (monotonic, ms)
        self.requests = self.errors = 0
        self.first_error = ""

    def targets(self):
        today = datetime.now(timezone.utc).date()
        month = today - timedelta(days=30)
        return [f"/api/v1/stats?from={month}&to={today}",
                f"/api/v1/stats?group_by=day&from={month}&to={today}",
                f"/api/v1/funnel?from={month}&to={today}",
                "/api/v1/alerts?status=open&limit=50"]

    def start(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        conn = None
        while not STOP.wait(self.period):
            for target in self.targets():
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                began = time.monotonic()
                try:
                    conn.request("GET", target, headers={"Authorization": "Bearer " + self.token,
                                                         "Accept": "application/json"})
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    conn = None
                    status = f"no answer ({type(e).__name__})"
                ms = (time.monotonic() - began) * 1000
                with self.lock:
                    self.requests += 1
                    self.times.append((began, ms))
                    if status != 200:
                        self.errors += 1
                        if not self.first_error:
                            self.first_error = f"{target.split('?')[0]}: {status}"

    def window(self, since):
        with self.lock:
            return sorted(ms for t, ms in self.times if t >= since)


# --- samples of each daemon -----------------------------------------------------------------


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


TCP_CLOSE_WAIT = "08"  # /proc/net/tcp's st column


def tcp_sockets():
    """{inode: (local port, remote port, state)} of every TCP socket on the machine."""
    sockets = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    sockets[cols[9]] = (int(cols[1].rsplit(":", 1)[1], 16),
                                        int(cols[2].rsplit(":", 1)[1], 16), cols[3])
        except OSError:
            pass
    return sockets


def open_files_by_kind(pid, listen_port, database_port, sockets):
    """A daemon's open files by what holds them open: "clients" are the connections others opened
    to it and still use (the soak's push clients, the dashboard, the gateway's callbacks: as many
    as they choose); "own" is everything the daemon opened itself (its database and gateway
    pools, the feed, files, epoll) and any client connection it failed to close after the
    client did (CLOSE_WAIT), a leak of its own; "all" every one listed. None when the daemon is
    gone."""
    kinds = {"clients": 0, "database": 0, "own": 0}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    kinds["all"] = len(fds)
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed since the listing
        found = sockets.get(link[8:-1]) if link.startswith("socket:[") else None
        if found and found[0] == listen_port and found[2] != TCP_CLOSE_WAIT:
            kinds["clients"] += 1
        elif found and found[1] == database_port:
            kinds["database"] += 1
            kinds["own"] += 1
        else:
            kinds["own"] += 1
    return kinds


def heap_in_use_kib(url):
    """The daemon's heap in use (surveyd_heap_in_use_bytes on its /metrics), or None. RSS alone
    cannot tell a leak from the allocator's arenas keeping their high-water marks."""
    parts = urllib.parse.urlsplit(url)
    try:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode()
        conn.close()
    except (OSError, http.client.HTTPException):
        return None
    for line in body.splitlines():
        if line.startswith("surveyd_heap_in_use_bytes "):
            return float(line.split()[1]) / 1024
    return None


class Sampler:
    """Every `period` seconds: each daemon's RSS, heap in use and open files, and the age of the
    oldest text that is due and not yet claimed (the dispatch queue's age)."""

    def __init__(self, database, daemons, urls, period):
        self.database, self.daemons, self.urls, self.period = database, daemons, urls, period
        self.lock = threading.Lock()
        self.samples = []  # (monotonic, {name: (rss_kib, fds, heap_kib, kinds)}, age_s, due)
        self.database_port = urllib.parse.urlsplit(database).port or 5432
        self.dead = []

    def start(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def sample(self):
        procs = {}
        sockets = tcp_sockets()
        for name, pid in self.daemons.items():
            rss = rss_kib(pid)
            kinds = open_files_by_kind(pid, urllib.parse.urlsplit(self.urls[name]).port,
                                       self.database_port, sockets)
            if rss is None or kinds is None:
                if name not in self.dead:
                    self.dead.append(name)
                continue
            procs[name] = (rss, kinds["all"], heap_in_use_kib(self.urls[name]), kinds)
        try:
            age, due = query(self.database, """
                SELECT COALESCE(extract(epoch FROM now() - min(next_attempt_at)), 0), count(*)
                  FROM outbox WHERE state = 'pending' AND next_attempt_at <= now()""")[0]
        except subprocess.CalledProcessError:
            age, due = "", ""
        with self.lock:
            self.samples.append((time.monotonic(), procs, number(age), int(number(due))))

    def run(self):
        while not STOP.is_set():
            self.sample()
            STOP.wait(self.period)

    def window(self, since, until):
        with self.lock:
            return [s for s in self.samples if since <= s[0] < until]


# --- retention ------------------------------------------------------------------------------

# What a pass must remove when its cut-off is :'cut': what docs/data-protection.md promises,
# counted directly (a survey finished at the earliest of its answer, its text's failure and its
# close; its number kept while a safeguarding or complaint alert of it is open or acknowledged), not by the store's index-driven walks (src/store/pg_privacy.cpp), with every period one
# day but the comments' (bench/soak.sh keeps those for the checker's I5, which judges each stored
# answer again by its words).
# What retention should remove at the cut-off, counted as its rules say, from candidates found
# through the indexes retention has (a finished survey's number: answered, closed, or its text
# never to be delivered), not by reading every survey: a full read grew to 1.3 s a call by the
# end of the hour, twice a minute.
DUE_SQL = """
WITH candidates AS MATERIALIZED (
  SELECT id FROM surveys WHERE responded_at < {cut}
     AND responded_at IS NOT NULL AND (phone_enc IS NOT NULL OR phone_e164 IS NOT NULL)
  UNION SELECT id FROM surveys WHERE closes_at < {cut}
     AND (phone_enc IS NOT NULL OR phone_e164 IS NOT NULL)
  UNION SELECT survey_id FROM outbox WHERE updated_at < {cut} AND kind = 'survey'
     AND state IN ('failed', 'undeliverable', 'delivery_expired', 'expired', 'cancelled'))
SELECT
 (SELECT count(*) FROM raw_events WHERE received_at < {cut})
 + (SELECT count(*) FROM rejected_events WHERE raw IS NOT NULL AND received_at < {cut})
 + (SELECT count(*) FROM surveys s JOIN outbox o ON o.survey_id = s.id AND o.kind = 'survey'
     WHERE s.id = ANY (ARRAY(SELECT id FROM candidates))
       AND (s.phone_enc IS NOT NULL OR s.phone_e164 IS NOT NULL)
       AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.survey_id = s.id
                       AND p.state IN ('pending', 'claimed', 'sending'))
       AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.survey_id = s.id
                       AND a.kind IN ('safeguarding', 'complaint')
                       AND a.status IN ('open', 'acknowledged'))
       AND LEAST(s.responded_at, s.closes_at, CASE WHEN o.state IN ('failed', 'undeliverable',
           'delivery_expired', 'expired', 'cancelled') THEN o.updated_at END) < {cut})
 + (SELECT count(*) FROM inbound_messages WHERE (body <> '' OR phone_hash IS NOT NULL)
     AND received_at < {cut})
"""


def faketime_preload(asan_runtime):
    """LD_PRELOAD for running surveyd under libfaketime: after the AddressSanitizer runtime if
    it has one (scripts/lib/common.sh, asan_runtime), or it refuses to start."""
    listing = subprocess.run(["dpkg", "-L", "libfaketime"], capture_output=True, text=True).stdout
    faketime = next((p for p in listing.split() if p.endswith("/libfaketimeMT.so.1")), None)
    if faketime is None:
        sys.exit("soak: libfaketime is not installed (package faketime; bench/soak.sh installs it)")
    return ":".join(([asan_runtime] if asan_runtime else []) + [faketime])


class Retention:
    """A pass of the real retention code (`surveyd retention run`) every minute, under faketime
    one day minus the lag ahead: every period is a day (the least the config takes), so the
    pass removes what arrived more than the lag ago, as a pass of production does with what
    arrived a period ago. Before it, what is due at its cut-off is counted; after it, what is
    left of that (keeping up: nothing)."""

    def __init__(self, database, surveyd, config, lag_s, asan_runtime):
        self.database, self.surveyd, self.config, self.lag_s = database, surveyd, config, lag_s
        self.preload = faketime_preload(asan_runtime)

    def due(self, cut):
        return int(query(self.database, DUE_SQL.format(cut=f"to_timestamp({cut})"))[0][0])

    def run(self):
        cut = time.time() - self.lag_s
        due = self.due(cut)
        # libfaketime preloaded, as tests/fault/clock_skew_test.sh does, rather than through the
        # faketime wrapper: the wrapper makes a named semaphore per pid, and one left by a
        # wrapper killed earlier on this machine makes a later wrapper with that pid fail.
        env = dict(os.environ, LD_PRELOAD=self.preload, FAKETIME=f"+{86400 - self.lag_s}s",
                   FAKETIME_DONT_FAKE_MONOTONIC="1")
        began = time.monotonic()
        output = ""
        for _ in range(10):
            done = subprocess.run([self.surveyd, "retention", "run", "-c", self.config],
                                  capture_output=True, text=True, env=env)
            output = (done.stdout + done.stderr).strip()
            if done.returncode != 0:
                return {"due": due, "removed": 0, "left": due, "seconds": 0,
                        "error": output[-200:]}
            if "nothing done" not in output:  # an instance's own pass holds the lock
                break
            time.sleep(1)
        seconds = time.monotonic() - began
        removed = 0
        row = query(self.database, "SELECT done FROM retention_runs "
                    "WHERE worker = 'surveyd retention run' ORDER BY id DESC LIMIT 1")
        if row:
            removed = sum(v for k, v in json.loads(row[0][0]).items() if isinstance(v, int))
        return {"due": due, "removed": removed, "left": self.due(cut), "seconds": seconds,
                "error": "" if "nothing done" not in output else "the lock was never free"}


# --- per minute -----------------------------------------------------------------------------

# Read through indexes and id ranges only: a scan of the run's whole tables each minute grew to
# 6 s a call by the end of the hour and took 356 s of the database's time (and with it the
# service's), most of all in the minutes it was meant to judge. Events are found by the index on
# (received_at) of those holding facts (every event of a run: facts go after 400 days or on
# erasure); texts begun in the minute among those with a send attempt recorded since the
# sample two minutes before ({attempts_after}: a send records its attempt when it ends, in
# milliseconds or a gateway timeout of seconds), by their ids as an array: joined instead, a
# plan made on statistics that knew none of the minute's texts scanned the outbox for them and
# matched each against every attempt (a minute of CPU a call from minute 48 of the hour, and the
# service's rate fell with it). Answers and alerts are a tenth of the events or fewer, and read
# whole.
MINUTE_SQL = """
WITH ev AS (SELECT extract(epoch FROM pg_xact_commit_timestamp(e.xmin) - e.received_at) * 1000 AS ms
              FROM events e WHERE e.facts IS NOT NULL
               AND e.received_at >= to_timestamp({a}) AND e.received_at < to_timestamp({b})),
snd AS (SELECT extract(epoch FROM o.begun_at - pg_xact_commit_timestamp(e.xmin)) * 1000 AS ms
          FROM outbox o JOIN surveys s ON s.id = o.survey_id JOIN events e ON e.event_id = s.event_id
         WHERE o.id = ANY (ARRAY(SELECT outbox_id FROM send_attempts WHERE id > {attempts_after}))
           AND o.kind = 'survey'
           AND o.begun_at >= to_timestamp({a}) AND o.begun_at < to_timestamp({b}))
SELECT
 (SELECT count(*) FROM ev) + (SELECT count(*) FROM rejected_events r
                               WHERE r.received_at >= to_timestamp({a})
                                 AND r.received_at < to_timestamp({b})),
 (SELECT count(*) FROM snd),
 (SELECT count(*) FROM responses r WHERE r.submitted_at >= to_timestamp({a}) AND r.submitted_at < to_timestamp({b})),
 (SELECT count(*) FROM alerts x WHERE x.created_at >= to_timestamp({a})
     AND x.created_at < to_timestamp({b})),
 (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM ev WHERE ms >= 0),
 (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FROM ev WHERE ms >= 0),
 (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM snd WHERE ms >= 0),
 (SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) FROM snd WHERE ms >= 0),
 pg_database_size(current_database()),
 (SELECT COALESCE(max(id), 0) FROM send_attempts)
"""


COLUMNS = ("min", "events", "texts", "answers", "alerts", "RSS MiB", "heap MiB", "open files",
           "commit p50/p99 ms", "send p50/p99 ms", "queue age s", "DB MiB (+)",
           "retention removed/due/left")
WIDTHS = (4, 7, 6, 7, 6, 11, 9, 10, 17, 17, 11, 12, 26)


def row_text(cells):
    return "  ".join(str(c).rjust(w) for c, w in zip(cells, WIDTHS))


def slope_per_10min(points):
    """Least-squares slope of (seconds, MiB) points, in MiB per 10 minutes."""
    if len(points) < 3:
        return 0.0
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    var = sum((p[0] - mx) ** 2 for p in points)
    if var == 0:
        return 0.0
    return sum((p[0] - mx) * (p[1] - my) for p in points) / var * 600


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--push-rate", type=float, required=True)
    parser.add_argument("--push-url", action="append", required=True)
    parser.add_argument("--push-clients", type=int, default=0,
                        help="concurrent push clients (default: one per 3 events/s, 4 to 96)")
    parser.add_argument("--feed-secret", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--poll-s", type=float, default=5)
    parser.add_argument("--daemon", action="append", default=[], metavar="NAME=PID")
    parser.add_argument("--surveyd", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--rate", type=float, required=True, help="events/s asked (feed + pushes)")
    parser.add_argument("--retention-lag-s", type=int, default=60)
    parser.add_argument("--timing-goals", action="store_true",
                        help="also hold the run to the rate and to a steady p99 send latency")
    parser.add_argument("--rss-slope-max", type=float, default=8.0,
                        help="MiB per 10 minutes over the run's second half (long runs)")
    parser.add_argument("--rss-max", type=float, default=1024.0, help="MiB, any daemon, any time")
    parser.add_argument("--asan-runtime", metavar="PATH",
                        help="the daemons are built with AddressSanitizer, whose runtime this is: "
                        "preloaded first, and their memory shown, not judged (its shadow memory "
                        "and quarantine)")
    parser.add_argument("--fds-slack", type=int, default=24,
                        help="open files of its own in the second half above the first "
                        "half's most")
    args = parser.parse_args()

    daemons = dict(d.split("=", 1) for d in args.daemon)
    # The daemons' own addresses, in the order given (soak.sh gives each --push-url with its
    # --daemon).
    urls = dict(zip((d.split("=", 1)[0] for d in args.daemon), args.push_url))
    sampler = Sampler(args.database, daemons, urls, 5)
    # A client waits for each answer (up to a few hundred ms on a loaded machine): enough of
    # them that the rate does not depend on how fast each is answered.
    clients = args.push_clients or max(4, min(96, round(args.push_rate / 3)))
    pushes = Pushes(args.push_url, args.feed_secret, args.push_rate, clients,
                    os.path.join(args.work, "acked-push.txt"))
    dashboard = Dashboard(args.push_url[0], args.token, args.poll_s)
    retention = Retention(args.database, args.surveyd, args.config, args.retention_lag_s,
                          args.asan_runtime)

    minutes = max(1, round(args.minutes))
    names = sorted(daemons)
    print(f"soak: {minutes} min at {args.rate:g} events/s ({args.push_rate:g}/s pushed over HTTP, "
          f"the rest from the TCP feed); daemons {', '.join(names)} (RSS and open files in "
          f"that order); retention every minute, lag {args.retention_lag_s} s", flush=True)
    print(row_text(COLUMNS), flush=True)
    sampler.start()
    pushes.start()
    dashboard.start()
    start_wall, start_mono = time.time(), time.monotonic()
    rows, last_size = [], None
    attempts_seen = [0, 0]  # send_attempts' greatest id at the last two samples
    for m in range(1, minutes + 1):
        end_mono = start_mono + 60 * m
        while time.monotonic() < end_mono:
            time.sleep(min(1.0, end_mono - time.monotonic()))
            missing = [n for n in names if rss_kib(daemons[n]) is None]
            if missing:
                STOP.set()
                print(f"soak: {', '.join(missing)} stopped at minute {m}", file=sys.stderr)
                return 2
        a, b = start_wall + 60 * (m - 1), start_wall + 60 * m
        (events, texts, answers, alerts, c50, c99, s50, s99, size, attempts) = query(
            args.database, MINUTE_SQL.format(a=a, b=b, attempts_after=attempts_seen[0]))[0]
        attempts_seen = [attempts_seen[1], int(attempts)]
        samples = sampler.window(end_mono - 60, end_mono + 1)
        rss = {n: max((s[1][n][0] for s in samples if n in s[1]), default=0) / 1024 for n in names}
        fds = {n: max((s[1][n][1] for s in samples if n in s[1]), default=0) for n in names}
        heap = {n: max((s[1][n][2] or 0 for s in samples if n in s[1]), default=0) / 1024
                for n in names}
        age = max((s[2] for s in samples), default=0.0)
        size_mib = int(size) / 1048576
        growth = size_mib - last_size if last_size is not None else size_mib
        last_size = size_mib
        ret = retention.run()
        row = {"minute": m, "events": int(events), "texts": int(texts), "answers": int(answers),
               "alerts": int(alerts), "rss": rss, "heap": heap, "fds": fds,
               "commit_p50": number(c50), "commit_p99": number(c99),
               "send_p50": number(s50), "send_p99": number(s99), "queue_age": age,
               "db_mib": size_mib, "db_growth": growth, "retention": ret}
        rows.append(row)
        print(row_text((
            m, row["events"], row["texts"], row["answers"], row["alerts"],
            "/".join(f"{rss[n]:.0f}" for n in names), "/".join(f"{heap[n]:.0f}" for n in names),
            "/".join(str(fds[n]) for n in names),
            f"{row['commit_p50']:.1f}/{row['commit_p99']:.1f}",
            f"{row['send_p50']:.1f}/{row['send_p99']:.1f}", f"{age:.1f}",
            f"{size_mib:.0f} (+{growth:.0f})",
            f"{ret['removed']}/{ret['due']}/{ret['left']}" + (" !" if ret["error"] else ""))),
            flush=True)
        if ret["error"]:
            print(f"soak: retention at minute {m}: {ret['error']}", file=sys.stderr, flush=True)
    pushes.stop()
    total_seconds = time.monotonic() - start_mono

    # The goals.
    goals = []

    def goal(ok, text):
        goals.append(("met   " if ok else "MISSED") + "  " + text)
        return ok

    all_samples = sampler.window(start_mono, time.monotonic() + 1)
    half = start_mono + total_seconds / 2
    for n in names:
        first = [s[1][n] for s in all_samples if n in s[1] and s[0] < half]
        second = [(s[0] - start_mono, s[1][n]) for s in all_samples if n in s[1] and s[0] >= half]
        peak = max((s[1][n][0] for s in all_samples if n in s[1]), default=0) / 1024
        slope = slope_per_10min([(t, v[0] / 1024) for t, v in second])
        heap_slope = slope_per_10min([(t, v[2] / 1024) for t, v in second if v[2] is not None])
        start_rss = first[0][0] / 1024 if first else 0
        end_rss = second[-1][1][0] / 1024 if second else 0
        bounded = (f"{n}: memory bounded: peak RSS {peak:.0f} MiB (start {start_rss:.0f}, end "
                   f"{end_rss:.0f}; bound {args.rss_max:.0f})")
        if args.asan_runtime:
            goals.append(f"info    {bounded}: not judged under AddressSanitizer")
        else:
            goal(peak <= args.rss_max, bounded)
        # An instance's memory rises for its first ten minutes or so (its pools, caches and the
        # allocator's arenas filling up) and is flat after: twenty minutes of a build gave +10.8
        # MiB per 10 minutes over their second half, its hour +0.0 (docs/benchmark-history.md,
        # soak). A shorter run's second half measures that warming, not a leak.
        if args.timing_goals and args.minutes >= MEMORY_FLAT_MINUTES:
            goal(slope <= args.rss_slope_max, f"{n}: memory flat: RSS slope over the second half "
                 f"{slope:+.1f} MiB per 10 min (bound {args.rss_slope_max:g}; heap in use "
                 f"{heap_slope:+.1f})")
        else:
            goals.append(f"info    {n}: RSS slope over the second half {slope:+.1f} MiB per 10 min, "
                         f"heap in use {heap_slope:+.1f} (judged over runs of "
                         f"{MEMORY_FLAT_MINUTES} minutes or more: a shorter one is still warming up)")
        # Bounded are the files the daemon opens itself: its clients' connections are as many as
        # the clients keep open (the push clients, the gateway simulator's callback pool),
        # shown beside them.
        own_first = max((v[3]["own"] for v in first), default=0)
        own_second = max((v[3]["own"] for _, v in second), default=0)

        def most(samples):
            v = max(samples, key=lambda v: v[1], default=None)
            return (f"{v[1]}: {v[3]['clients']} client connections, {v[3]['own']} of its own "
                    f"({v[3]['database']} to the database)") if v else "none"
        goal(own_second <= own_first + args.fds_slack,
             f"{n}: open files bounded: at most {own_second} of its own in the second half, "
             f"{own_first} in the first (slack {args.fds_slack}); most open at once, first half "
             f"{most(first)}, second half {most([v for _, v in second])}")
    if sampler.dead:
        goal(False, f"daemons stopped: {', '.join(sampler.dead)}")

    quarter = max(1, minutes // 4)
    head = [r["send_p99"] for r in rows[min(1, minutes - 1):][:quarter] if r["texts"]]
    tail = [r["send_p99"] for r in rows[-quarter:] if r["texts"]]
    # The median of the minutes' p99s: one slow minute on a shared machine is not a trend.
    p99_first = sorted(head)[len(head) // 2] if head else 0
    p99_last = sorted(tail)[len(tail) // 2] if tail else 0
    steady = p99_last <= 2 * p99_first + 10
    text = (f"p99 send latency steady: {p99_last:.1f} ms over the last {quarter} min against "
            f"{p99_first:.1f} over the first (minute 1 left out when there are more; the median "
            "of the minutes' p99s; bound 2x + 10 ms)")
    if args.timing_goals:
        goal(steady, text)
        asked = args.rate * 60
        slow = [r["minute"] for r in rows[1:] if r["events"] < 0.9 * asked]
        goal(not slow, f"the rate held: at least 90% of {asked:.0f} events each minute after the "
             f"first" + (f" (not in minute(s) {', '.join(map(str, slow[:8]))})" if slow else ""))
    else:
        goals.append("info    " + text + " (a goal of long runs only)")
    behind = [r["minute"] for r in rows if r["retention"]["left"] or r["retention"]["error"]]
    goal(not behind, "retention kept up: each pass removed everything due at its cut-off"
         + (f" (not at minute(s) {', '.join(map(str, behind[:8]))})" if behind else ""))
    goal(pushes.wrong == 0, f"every push answered 202 (or 503 with Retry-After, then retried): "
         f"{pushes.acked} acknowledged ({pushes.acked / total_seconds:.0f}/s of "
         f"{args.push_rate:g}/s asked, {clients} clients), {pushes.retried} retried, "
         f"{pushes.wrong} wrong"
         + (f" (first: {pushes.first_wrong})" if pushes.first_wrong else ""))
    polls = dashboard.window(start_mono)
    p99 = polls[min(len(polls) - 1, int(0.99 * (len(polls) - 1)))] if polls else 0
    goal(dashboard.errors == 0 and dashboard.requests > 0,
         f"the dashboard answered every poll: {dashboard.requests} requests, {dashboard.errors} "
         f"not 200, p99 {p99:.1f} ms" + (f" (first: {dashboard.first_error})"
                                         if dashboard.first_error else ""))

    with open(os.path.join(args.work, "soak.json"), "w") as f:
        json.dump({"rows": rows, "goals": goals, "names": names}, f)
    last = rows[-1]
    totals = {k: sum(r[k] for r in rows) for k in ("events", "texts", "answers", "alerts")}
    with open(os.path.join(args.work, "summary.txt"), "w") as f:
        f.write(f"  {row_text(COLUMNS)}\n")
        f.write("  " + row_text((
            last["minute"], last["events"], last["texts"], last["answers"], last["alerts"],
            "/".join(f"{last['rss'][n]:.0f}" for n in names),
            "/".join(f"{last['heap'][n]:.0f}" for n in names),
            "/".join(str(last["fds"][n]) for n in names),
            f"{last['commit_p50']:.1f}/{last['commit_p99']:.1f}",
            f"{last['send_p50']:.1f}/{last['send_p99']:.1f}", f"{last['queue_age']:.1f}",
            f"{last['db_mib']:.0f} (+{last['db_growth']:.0f})",
            f"{last['retention']['removed']}/{last['retention']['due']}/"
            f"{last['retention']['left']}")) + "   (the last minute)\n")
        f.write(f"  totals: {totals['events']} events in, {totals['texts']} texts sent, "
                f"{totals['answers']} answers, {totals['alerts']} alerts; retention removed "
                f"{sum(r['retention']['removed'] for r in rows)} values\n")
    with open(os.path.join(args.work, "goals.txt"), "w") as f:
        f.write("\n".join(goals) + "\n")
    return 0 if all(not g.startswith("MISSED") for g in goals) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        STOP.set()
