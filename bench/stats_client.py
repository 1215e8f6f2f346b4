#!/usr/bin/env python3
"""Times GET requests to surveyd over one kept-alive connection, for bench/stats.sh.

    stats_client.py HOST PORT TOKEN FILE [--warmup N]

FILE holds one request target per line ("/api/v1/stats?from=..."). Each is requested in order,
after N warm-up requests (the first lines again). Prints "p50 p99 max count" in milliseconds, then
the requests sent (warm-up included) and the CPU seconds this client used for them, and exits
non-zero if any answer is not 200.
"""
import http.client
import sys
import time


def main():
    host, port, token, path = sys.argv[1:5]
    warmup = int(sys.argv[sys.argv.index("--warmup") + 1]) if "--warmup" in sys.argv else 10
    with open(path, encoding="utf-8") as f:
        targets = [line.strip() for line in f if line.strip()]
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}

    def get(target):
        start = time.perf_counter()
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            sys.exit(f"stats_client: {target}: {response.status} {body[:300]!r}")
        return elapsed

    cpu_start = time.process_time()
    for target in targets[:warmup]:
        get(target)
    times = sorted(get(target) for target in targets)

    def percentile(p):
        return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]

    cpu = time.process_time() - cpu_start
    print(f"{percentile(50):.2f} {percentile(99):.2f} {times[-1]:.2f} {len(times)}"
          f" {len(times) + min(warmup, len(targets))} {cpu:.3f}")


if __name__ == "__main__":
    main()
