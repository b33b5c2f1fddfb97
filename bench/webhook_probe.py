#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/webhook's throughput half (bench/webhook starts the daemons, nginx
and the pipeline half, then calls this).

  webhook_probe.py throughput SOCK PULL ENVELOPES SINK URL NDEST NOTES \\
      HERALDD_PID NGINX_PID STATUS_URL SAMPLE WRK_THREADS WRK_CONNS WRK_SECONDS WORK BATCH

1. Fill: NDEST users, each with one destination on SINK (address URL/dK),
   paused, and one subscription that every message matches; then enough of
   the pre-signed ENVELOPES (JSON lines) pushed to the relay's PULL socket
   for NOTES notifications, and wait until heraldd has stored them all
   (parked: nothing is sent to a paused destination).
2. The ceiling: wrk against the same nginx (WRK_THREADS threads, WRK_CONNS
   connections, WRK_SECONDS), POSTing the request SAMPLE holds (one request
   the webhook sink made in the pipeline run, as received: its path,
   headers and body), through a generated Lua script.
3. Drain: resume every destination and time until heraldd's "delivered"
   counter has grown by NOTES: dispatch + sink plugin + nginx. heraldd's and
   nginx's CPU over the interval come from /proc; nginx's request count from
   its stub_status (STATUS_URL), to tell notifications from requests. BATCH
   is the [sink] batch heraldd was given, for the record. A drain that makes
   no progress for 30 s (a sink retrying) ends the run as a failure.

Output: JSON lines (wrk, drain), then the comparison line.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True  # no bench/__pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("E2E_PROBE_NAME", "webhook")  # its error messages' "bench/NAME"
from e2e_probe import Api, cpu_pct, cpu_ticks, load_envelopes, processed, stats  # noqa: E402

import zmq  # noqa: E402


def fail(msg):
    raise SystemExit("bench/webhook: " + msg)


def children(pid):
    """Direct children of pid (nginx's workers), from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def proc_ticks(pids):
    """utime + stime of whole processes, summed."""
    n = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            n += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return n


def pct_of_core(ticks, secs):
    return round(100 * ticks / os.sysconf("SC_CLK_TCK") / secs, 1) if secs > 0 else None


def nginx_requests(status_url):
    """nginx's total request count (stub_status' third number), itself included."""
    with urllib.request.urlopen(status_url, timeout=10) as r:
        text = r.read().decode()
    return int(re.search(r"\n\s*(\d+)\s+(\d+)\s+(\d+)", text).group(3))


def lua_str(b):
    """A Lua string literal of the bytes b."""
    out = []
    for c in b:
        if c in (0x22, 0x5c) or c < 0x20 or c > 0x7e:
            out.append("\\%03d" % c)
        else:
            out.append(chr(c))
    return '"' + "".join(out) + '"'


SKIP = {b"host", b"content-length", b"expect", b"connection", b"transfer-encoding"}


def wrk_script(sample, path):
    """wrk's Lua script from the sampled request; returns (script, body size, path)."""
    with open(sample, "rb") as f:
        raw = f.read()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    method, target = lines[0].split(b" ")[:2]
    s = ["wrk.method = %s" % lua_str(method), "wrk.path = %s" % lua_str(target),
         "wrk.body = %s" % lua_str(body)]
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() not in SKIP:
            s.append("wrk.headers[%s] = %s" % (lua_str(k.strip()), lua_str(v.strip())))
    # One JSON line at the end, so nothing is parsed from wrk's prose.
    s.append("""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": %d, "non_2xx": %d, "latency_p50_us": %d, "latency_p99_us": %d}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
""")
    with open(path, "w") as f:
        f.write("\n".join(s))
    return len(body), target.decode("latin-1")


def run_wrk(url, sample, work, threads, conns, secs, nginx):
    body_bytes, target = wrk_script(sample, os.path.join(work, "wrk.lua"))
    workers = children(nginx) or [nginx]
    base = url.split("/", 3)
    root = "%s//%s" % (base[0], base[2])
    n0, t0 = proc_ticks(workers), time.time()
    p = subprocess.Popen(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % secs,
                          "-s", os.path.join(work, "wrk.lua"), root + target],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def stop(signum, frame):  # bench/webhook's cleanup: wrk goes too
        p.kill()
        os._exit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    out = p.stdout.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    t1, n1 = time.time(), proc_ticks(workers)
    m = re.search(r"^WRK (\{.*\})$", out, re.M)
    if status or not m:
        fail("wrk failed:\n" + out)
    w = json.loads(m.group(1))
    secs = w["duration_us"] / 1e6
    rate = w["requests"] / secs
    line = {"bench": "webhook", "variant": "wrk", "threads": threads, "connections": conns,
            "seconds": round(secs, 2), "requests": w["requests"],
            "requests_per_s": round(rate), "errors": w["errors"], "non_2xx": w["non_2xx"],
            "latency_p50_ms": round(w["latency_p50_us"] / 1000, 3),
            "latency_p99_ms": round(w["latency_p99_us"] / 1000, 3),
            "body_bytes": body_bytes,
            "wrk_cpu_pct": pct_of_core((ru.ru_utime + ru.ru_stime) * os.sysconf("SC_CLK_TCK"),
                                       t1 - t0),
            "nginx_cpu_pct": pct_of_core(n1 - n0, t1 - t0),
            "loadavg_1m": round(os.getloadavg()[0], 2)}
    print(json.dumps(line), flush=True)
    if w["errors"] or w["non_2xx"]:
        fail("wrk saw errors: %s" % out)
    return rate


def fill(api, pull, env_path, sink, url, ndest, notes, prefix="drain"):
    frames, _ = load_envelopes(env_path)
    n_msgs = -(-notes // ndest)
    if n_msgs > len(frames):
        fail("%d envelopes, %d needed" % (len(frames), n_msgs))
    dests = []
    for k in range(ndest):
        u = "%s%02d" % (prefix, k)
        api.call("POST", "/v1/users", {"name": u})
        d = api.call("POST", "/v1/users/%s/destinations" % u,
                     {"sink": sink, "address": "%s/d%02d" % (url, k)})
        api.call("POST", "/v1/users/%s/destinations/%d/pause" % (u, d["id"]),
                 {"reason": "bench/webhook: filling the outbox"})
        api.call("POST", "/v1/users/%s/subscriptions" % u,
                 {"filter": 'topic ~ "*"', "destinations": [d["id"]], "name": "everything"})
        dests.append((u, d["id"]))
    time.sleep(1)  # the matcher polls the store every 100 ms, then builds its index
    before = stats(api)
    t0 = time.time()
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDHWM, 0)
    push.connect(pull)
    # Slow joiner: one message at a time until heraldd has one, then the rest.
    sent = 0
    while sent < min(20, n_msgs):
        push.send_multipart(list(frames[sent]))
        sent += 1
        time.sleep(0.2)
        if processed(stats(api)) > processed(before):
            break
    else:
        fail("heraldd accepts nothing from the relay")
    for f in frames[sent:n_msgs]:
        push.send_multipart(list(f))
    want = before["stored"] + n_msgs * ndest
    end = time.time() + 300
    while time.time() < end:
        st = stats(api)
        if processed(st) - processed(before) >= n_msgs and st["stored"] >= want:
            break
        time.sleep(0.05)
    else:
        fail("filling the outbox: %d of %d stored" % (st["stored"] - before["stored"],
                                                      n_msgs * ndest))
    push.close(linger=0)
    ctx.term()
    secs = time.time() - t0
    print(json.dumps({"bench": "webhook", "variant": "fill", "messages": n_msgs,
                      "destinations": ndest, "notifications": st["stored"] - before["stored"],
                      "seconds": round(secs, 2),
                      "stored_per_s": round((st["stored"] - before["stored"]) / secs),
                      "delivered_while_paused": st["delivered"] - before["delivered"]}),
          flush=True)
    if st["delivered"] != before["delivered"] or st["stored"] != want:
        fail("a paused destination was delivered to, or more was stored than planned")
    return dests, n_msgs * ndest


def drain(api, dests, notes, daemon, nginx, status_url, batch, per_host):
    workers = children(nginx) or [nginx]
    before = stats(api)
    r0 = nginx_requests(status_url)
    released = 0
    t0 = time.time()
    h0, n0 = cpu_ticks(daemon), proc_ticks(workers)
    for u, d in dests:
        released += api.call("POST", "/v1/users/%s/destinations/%d/resume" % (u, d)).get(
            "released", 0)
    def done(st):
        return st["delivered"] - before["delivered"] + st["dead_letters"] - before["dead_letters"]
    last, last_t = -1, time.time()
    while True:
        st = stats(api)
        n = done(st)
        if n >= notes:
            break
        if n != last:
            last, last_t = n, time.time()
        elif time.time() - last_t > 30:
            break
        time.sleep(0.02)  # each poll costs heraldd an API request (~5% of its CPU at 10 ms)
    t1 = time.time()
    h1, n1 = cpu_ticks(daemon), proc_ticks(workers)
    r1 = nginx_requests(status_url)
    secs = t1 - t0
    delivered = st["delivered"] - before["delivered"]
    rate = delivered / secs
    heraldd_cpu, heraldd_thread = cpu_pct(h0, h1, secs)
    # heraldd's threads are not named: the busiest four, to see whether one
    # of them (the sink's worker, which also runs the plugin) is saturated.
    per = sorted((h1[t] - h0.get(t, 0) for t in h1), reverse=True)[:4]
    print(json.dumps({"bench": "webhook", "variant": "outbox_drain", "notifications": notes,
                      "released": released, "delivered": delivered,
                      "dead_letters": st["dead_letters"] - before["dead_letters"],
                      "left_in_outbox": st["stored"] - st["delivered"] - st["dead_letters"],
                      "http_requests": r1 - r0 - 1, "batch": batch, "max_per_host": per_host,
                      "seconds": round(secs, 3), "deliveries_per_s": round(rate),
                      "heraldd_cpu_pct": heraldd_cpu,
                      "heraldd_busiest_thread_cpu_pct": heraldd_thread,
                      "heraldd_top_threads_cpu_pct": [pct_of_core(t, secs) for t in per],
                      "nginx_cpu_pct": pct_of_core(n1 - n0, secs),
                      "loadavg_1m": round(os.getloadavg()[0], 2)}), flush=True)
    if delivered < notes:
        fail("only %d of %d notifications were delivered" % (delivered, notes))
    return rate


def throughput(argv):
    (sock, pull, env_path, sink, url, ndest, notes, daemon, nginx, status_url, sample,
     wthreads, wconns, wsecs, work, batch) = argv
    api = Api(sock)
    dests, notes = fill(api, pull, env_path, sink, url, int(ndest), int(notes))
    ceiling = run_wrk(url, sample, work, int(wthreads), int(wconns), int(wsecs), int(nginx))
    rate = drain(api, dests, notes, int(daemon), int(nginx), status_url, int(batch), int(wconns))
    print(json.dumps({"bench": "webhook", "metric": "deliveries_per_s", "value": round(rate),
                      "baseline": round(ceiling), "ratio": round(rate / ceiling, 3),
                      "goal": 0.5}), flush=True)
    return 0


def main(argv):
    if len(argv) == 18 and argv[1] == "throughput":
        return throughput(argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
