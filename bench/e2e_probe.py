#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/e2e's client side (bench/e2e starts the daemons and calls this).

  e2e_probe.py populate SOCK TOP USERS SUBS_PER_USER [SINK ADDRESS]
      Users, one destination each (sink SINK, default "inbox"; its address is
      ADDRESS with %s replaced by the user's name, default the name alone) and
      subscriptions, through heraldd's API on its unix socket: one HTTP/1.1
      connection reused for every request. The population is seeded (the
      same every run): names, packages and topics come from the corpus
      (tests/data) mixed with many synthetic ones, so a message concerns a
      few users, as in real life.

  e2e_probe.py health SOCK SECONDS
      Wait until heraldd is ready.

  e2e_probe.py run SOCK PULL ENVELOPES INBOX RATE WARMUP_S BURST HERALDD_PID RELAY_PID
      Sends the pre-signed envelopes (JSON lines, made by `herald publish
      --stdout`) to the relay's PULL socket at RATE messages/s, and tails the
      file sink's output (INBOX) for the notifications they cause. The first
      WARMUP_S seconds are sent but not counted. Then, optionally, BURST more
      envelopes (the file's last BURST lines) as fast as possible, for the
      pipeline's throughput. The daemons' pids are for their CPU use (from
      /proc) during the counted part of the steady run.

How latency is measured (honestly, end to end): the envelopes are signed
ahead of time (signing is the publisher's cost, not herald's), each one
carries its own msg_id, and a sender process pushes each at its scheduled
moment t0 + i/RATE, recording time.time_ns() right before the send. A reader
process polls the sink's file (every 0.5 ms: that is the resolution, adding
~0.25 ms on average) and stamps each new line with time.time_ns() when it
sees it; the line's "msg_id" finds the send time. Latency = arrival - send,
per notification, same host and clock. Sender and reader are separate
processes, so neither waits on the other's GIL.

Output: JSON lines on stdout, ending with the two comparison lines.

bench/webhook runs the same populate and run (without a burst) with
E2E_PROBE_NAME=webhook: its lines then say "bench": "webhook", its
comparison lines are pipeline_latency_p50_ms and _p99_ms, and INBOX is
bench/webhook_receiver.py's output, whose lines carry their own arrival time
("arrived_ns", stamped by the HTTP server when the request was read), which
is used instead of the moment the line is seen.
"""
import http.client
import json
import os
import random
import signal
import socket
import sys
import time

import zmq

NAME = os.environ.get("E2E_PROBE_NAME", "e2e")  # "bench" in the JSON lines


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.path)
        self.sock = s


class Api:
    def __init__(self, path):
        self.path = path
        self.c = UnixHTTP(path)

    def call(self, method, url, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (0, 1):
            try:
                self.c.request(method, url, body=data, headers=headers)
                r = self.c.getresponse()
                out = r.read()
                break
            except (http.client.HTTPException, OSError):
                if attempt:
                    raise
                self.c.close()  # the server closed a kept-alive connection: reconnect once
                self.c = UnixHTTP(self.path)
        if r.status >= 300:
            raise SystemExit("bench/%s: %s %s -> %d %s" % (NAME, method, url, r.status, out[:300]))
        return json.loads(out) if out else None


def vocabulary(top):
    """Packages, usernames and topics the corpus mentions."""
    pk, us, topics = set(), set(), set()
    with open(os.path.join(top, "tests/data/expected-meta.jsonl")) as f:
        for line in f:
            m = json.loads(line)
            pk.update(m.get("packages") or [])
            us.update(m.get("usernames") or [])
    with open(os.path.join(top, "tests/data/fedmsg-messages.jsonl")) as f:
        for line in f:
            topics.add(json.loads(line)["topic"])
    ok = lambda n: 0 < len(n) <= 64 and n[0].isalnum() and all(
        c.isdigit() or "a" <= c <= "z" or c in "._-" for c in n)
    return sorted(pk), sorted(u for u in us if ok(u)), sorted(topics)


def glob_of(topic, rng):
    """A topic glob as people write them: one event, or a whole app."""
    parts = topic.split(".")
    app = parts[3:] if len(parts) > 4 else parts[-2:]
    if rng.random() < 0.5:
        return "*." + ".".join(app)
    return "*.%s.*" % app[0]


def populate(sock, top, n_users, per_user, sink="inbox", address="%s"):
    rng = random.Random(20261122)
    cpk, cus, topics = vocabulary(top)
    synth_pk = ["pkg-%04d" % i for i in range(5000)]
    names = list(cus) + ["user%04d" % i for i in range(len(cus), n_users)]
    names = names[:n_users]

    # A corpus package with probability 4% per pick (each then has ~2 maintainers
    # among 2,000 users), a corpus user with 3% per watched name.
    def package(p=0.04):
        return rng.choice(cpk) if rng.random() < p else rng.choice(synth_pk)

    def person():
        return rng.choice(cus) if rng.random() < 0.03 else rng.choice(names)

    api = Api(sock)
    t0 = time.time()
    requests = 0
    dests = {}
    for u in names:
        mine = sorted({package() for _ in range(rng.randint(1, 4))})
        watched = sorted({person() for _ in range(rng.randint(0, 3))} - {u})
        lists = {"mine": mine}
        if watched:
            lists["watched"] = watched
        api.call("POST", "/v1/users", {"name": u, "lists": lists})
        d = api.call("POST", "/v1/users/%s/destinations" % u,
                     {"sink": sink, "address": address.replace("%s", u)})
        dests[u] = (d["id"], bool(watched))
        requests += 2
    kinds = {}
    for u in names:
        dest, has_watched = dests[u]
        srcs = [
            "packages & @mine",
            "agent != me and usernames has me",
            'topic ~ "%s" and packages & @mine' % glob_of(rng.choice(topics), rng),
            'package in ["%s", "%s"]' % (package(0.02), package(0.02)),
            "usernames & @watched" if has_watched else
            'topic ~ "%s" and username == "%s"' % (glob_of(rng.choice(topics), rng), person()),
            "packages & @mine and severity >= info",
            'topic ~ "%s" and usernames has me' % glob_of(rng.choice(topics), rng),
        ]
        for k in range(per_user):
            src = srcs[k % len(srcs)]
            kinds[src.split(" ")[0]] = kinds.get(src.split(" ")[0], 0) + 1
            api.call("POST", "/v1/users/%s/subscriptions" % u,
                     {"filter": src, "destinations": [dest], "name": "bench-%d" % k})
            requests += 1
    secs = time.time() - t0
    print(json.dumps({"bench": NAME, "variant": "setup", "users": len(names),
                      "subscriptions": len(names) * per_user, "requests": requests,
                      "seconds": round(secs, 2), "requests_per_s": round(requests / secs)}),
          flush=True)


def stats(api):
    return api.call("GET", "/v1/stats")


def load_envelopes(path):
    frames, ids = [], []
    with open(path, "rb") as f:
        for line in f:
            e = json.loads(line)
            frames.append((e["topic"].encode(), line.rstrip(b"\n")))
            ids.append(e["msg_id"].encode())
    return frames, ids


def sender(endpoint, frames, start, rate, t0_ns, out_path):
    """Child process: push frames[start:] on schedule, then write the send times."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.SNDHWM, 0)
    s.setsockopt(zmq.LINGER, 10000)
    s.connect(endpoint)
    sent = []
    lag = []
    step = 1e9 / rate if rate else 0
    parent = os.getppid()
    for k, (topic, env) in enumerate(frames[start:]):
        if k % 100 == 0 and os.getppid() != parent:
            os._exit(1)  # the reader is gone (interrupted): stop too
        due = t0_ns + int(k * step)
        now = time.time_ns()
        if due - now > 200000:
            time.sleep((due - now - 100000) / 1e9)
        while time.time_ns() < due:
            pass  # the last 0.1 ms spinning: sleep alone overshoots by ~0.1 ms
        t = time.time_ns()
        s.send_multipart([topic, env])
        sent.append(t)
        lag.append(t - due)
    s.close()
    ctx.term()
    with open(out_path + ".tmp", "w") as f:
        json.dump({"sent": sent, "lag": lag}, f)
    os.rename(out_path + ".tmp", out_path)
    os._exit(0)


class Tail:
    """New complete lines of the sink's file, each stamped when first seen."""

    def __init__(self, path):
        end = time.time() + 10
        while not os.path.exists(path):
            if time.time() > end:
                raise SystemExit("bench/%s: the file sink did not create %s" % (NAME, path))
            time.sleep(0.01)
        self.fd = os.open(path, os.O_RDONLY)
        os.lseek(self.fd, 0, os.SEEK_END)
        self.rest = b""

    def poll(self, seen):
        chunk = os.read(self.fd, 1 << 22)
        if not chunk:
            return 0
        now = time.time_ns()
        data = self.rest + chunk
        lines = data.split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            t = int(line[14:line.index(b",")]) if line.startswith(b'{"arrived_ns":') else now
            # The top-level "msg_id" comes before the body; check it is ours.
            i = line.find(b'"msg_id":"')
            mid = line[i + 10:line.index(b'"', i + 10)] if i >= 0 else None
            j = line.find(b'"created":')
            created = int(line[j + 10:line.index(b",", j)]) if j >= 0 else 0
            if mid not in seen.ids:
                doc = json.loads(line)
                mid, created = doc.get("msg_id", "").encode(), doc.get("created", 0)
            seen.add(mid, t, created)
        return len(lines)


class Seen:
    def __init__(self, ids):
        self.index = {m: k for k, m in enumerate(ids)}
        self.ids = self.index
        self.arrivals = []  # (message index, arrival ns, "created" ms)
        self.foreign = 0

    def add(self, mid, t, created):
        k = self.index.get(mid)
        if k is None:
            self.foreign += 1
        else:
            self.arrivals.append((k, t, created))


def cpu_ticks(pid):
    """{tid: utime + stime} of a process's threads (empty when it is gone)."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return out


def cpu_pct(before, after, secs):
    """Whole process and busiest thread, in % of one core."""
    hz = os.sysconf("SC_CLK_TCK")
    per = [after[t] - before.get(t, 0) for t in after]
    if not per or secs <= 0:
        return None, None
    return round(100 * sum(per) / hz / secs, 1), round(100 * max(per) / hz / secs, 1)


def pct(v, q):
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))] if v else float("nan")


def pct_or_none(v, q):
    """A percentile rounded to 0.1, None (JSON null, not NaN) when v is empty:
    a sink's output without "created" has no split."""
    return round(pct(v, q), 1) if v else None


def processed(st):
    return st["accepted"] + st["rejected"] + st["duplicates"]


def wait_drained(api, tail, seen, limit_s, want_processed=None):
    """Read the sink until heraldd has taken `want_processed` messages and
    delivered everything it stored."""
    end = time.time() + limit_s
    st = stats(api)
    while time.time() < end:
        if not tail.poll(seen):
            st = stats(api)
            if (want_processed is None or processed(st) >= want_processed) and \
                    st["delivered"] + st["dead_letters"] + st["rate_limited"] >= st["stored"]:
                tail.poll(seen)
                return st, True
            time.sleep(0.02)
    return st, False


def run(sock, pull, env_path, inbox, rate, warmup_s, burst, daemon_pid, relay_pid):
    api = Api(sock)
    frames, ids = load_envelopes(env_path)
    n_hello = 20
    steady_end = len(frames) - burst
    seen = Seen(ids)
    tail = Tail(inbox)

    # Slow joiner: heraldd's SUB must be subscribed before anything counts.
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(pull)
    base = stats(api)["accepted"]
    for k in range(n_hello):
        push.send_multipart(list(frames[k]))
        time.sleep(0.2)
        if stats(api)["accepted"] > base:
            break
    else:
        raise SystemExit("bench/%s: heraldd accepts nothing from the relay" % NAME)
    push.close(linger=5000)
    ctx.term()  # before fork(): the sender makes its own context
    wait_drained(api, tail, seen, 10)
    before = stats(api)

    # The steady run: a sender process on schedule, this process reads.
    steady = frames[:steady_end]
    sends_path = env_path + ".sends"
    t0 = time.time_ns() + 200_000_000
    pid = os.fork()
    if pid == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            sender(pull, steady, n_hello, rate, t0, sends_path)
        finally:
            os._exit(1)

    def stop(signum, frame):
        os.kill(pid, signal.SIGKILL)
        os._exit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    cpu0 = None
    done = False
    while not done:
        if cpu0 is None and time.time_ns() > t0 + int(warmup_s * 1e9):
            cpu0 = (time.time(), cpu_ticks(daemon_pid), cpu_ticks(relay_pid))
        if not tail.poll(seen):
            if os.waitpid(pid, os.WNOHANG)[0]:
                done = True
            else:
                time.sleep(0.0005)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the sender has been reaped
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cpu1 = (time.time(), cpu_ticks(daemon_pid), cpu_ticks(relay_pid))
    st, drained = wait_drained(api, tail, seen, 60, processed(before) + steady_end - n_hello)
    if cpu0 is None:
        cpu0 = cpu1
    heraldd_cpu, heraldd_thread = cpu_pct(cpu0[1], cpu1[1], cpu1[0] - cpu0[0])
    relay_cpu = cpu_pct(cpu0[2], cpu1[2], cpu1[0] - cpu0[0])[0]
    with open(sends_path) as f:
        s = json.load(f)
    sent = {n_hello + k: t for k, t in enumerate(s["sent"])}
    first = n_hello + int(warmup_s * rate)
    lat, per_msg, lag = [], {}, sorted(s["lag"][first - n_hello:])
    # Where the time goes: a note's "created" is the wall clock (ms, so +-1 ms)
    # when the committer began the batch that stored it.
    before_commit, after_commit = [], []
    for k, t, created in seen.arrivals:
        if k >= first and k in sent:
            lat.append((t - sent[k]) / 1e6)
            per_msg[k] = per_msg.get(k, 0) + 1
            if created:
                before_commit.append(created - sent[k] / 1e6)
                after_commit.append(t / 1e6 - created)
    lat.sort()
    before_commit.sort()
    after_commit.sort()
    n_msgs = steady_end - first
    span = (s["sent"][-1] - s["sent"][first - n_hello]) / 1e9
    d = {k: st[k] - before[k] for k in ("accepted", "rejected", "duplicates", "stored",
                                         "delivered", "rate_limited", "dead_letters", "commits",
                                         "notifications")}
    result = {"bench": NAME, "variant": "steady", "messages": n_msgs,
              "rate_msgs_per_s": round((n_msgs - 1) / span, 1) if span > 0 else None,
              "notifications": len(lat),
              "notifications_per_msg": round(len(lat) / n_msgs, 2),
              "msgs_with_notifications": len(per_msg),
              "p50_ms": round(pct(lat, 0.50), 2), "p90_ms": round(pct(lat, 0.90), 2),
              "p99_ms": round(pct(lat, 0.99), 2), "p999_ms": round(pct(lat, 0.999), 2),
              "max_ms": round(lat[-1], 2) if lat else None,
              "send_lag_p99_ms": round(pct(lag, 0.99) / 1e6, 3),
              "to_batch_p50_ms": pct_or_none(before_commit, 0.5),
              "to_batch_p99_ms": pct_or_none(before_commit, 0.99),
              "batch_to_sink_p50_ms": pct_or_none(after_commit, 0.5),
              "batch_to_sink_p99_ms": pct_or_none(after_commit, 0.99),
              "heraldd_cpu_pct": heraldd_cpu, "heraldd_busiest_thread_cpu_pct": heraldd_thread,
              "relay_cpu_pct": relay_cpu, "loadavg_1m": round(os.getloadavg()[0], 2),
              "heraldd": d, "drained": drained, "foreign_lines": seen.foreign}
    print(json.dumps(result), flush=True)

    if burst:
        # Full speed: everything at once; accepted/s and delivered/s as heraldd counts.
        before = stats(api)
        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, 0)
        push.connect(pull)
        t_start = time.time()
        for f in frames[steady_end:]:
            push.send_multipart(list(f))
        t_sent = time.time()
        acc_t = None
        end = time.time() + 120
        while time.time() < end:
            tail.poll(seen)
            st = stats(api)
            if acc_t is None and processed(st) - processed(before) >= burst:
                acc_t = time.time()
            if acc_t and st["delivered"] + st["dead_letters"] + st["rate_limited"] >= \
                    st["stored"]:
                break
            time.sleep(0.01)
        del_t = time.time()
        push.close(linger=0)
        stored = st["stored"] - before["stored"]
        print(json.dumps({"bench": NAME, "variant": "full_speed", "messages": burst,
                          "send_s": round(t_sent - t_start, 3),
                          "accepted_msgs_per_s": round(burst / (acc_t - t_start)) if acc_t else None,
                          "notifications": stored,
                          "delivered_per_s": round(stored / (del_t - t_start)),
                          "drained": acc_t is not None and del_t < end,
                          "commits": st["commits"] - before["commits"]}), flush=True)
        ctx.term()
    # Lower is better for latency, so the comparison lines are against a
    # budget: value = the measured percentile, baseline = its budget (p50:
    # 2 ms, p99: 10 ms), ratio = baseline / value (>= 1: within budget),
    # goal = 1. p99 comes last: it is the headline.
    for q, budget in (("p50", 2), ("p99", 10)):
        v = result[q + "_ms"]
        metric = ("latency_%s_ms" if NAME == "e2e" else "pipeline_latency_%s_ms") % q
        print(json.dumps({"bench": NAME, "metric": metric, "value": v,
                          "baseline": budget, "ratio": round(budget / v, 3) if v else None,
                          "goal": 1}), flush=True)
    if not drained or not lat:
        sys.stderr.write("bench/%s: the pipeline did not deliver everything it stored "
                         "(see heraldd's counters above)\n" % NAME)
        return 1
    return 0


def health(sock, limit_s):
    """Wait until heraldd answers /healthz with 200."""
    end = time.time() + limit_s
    while time.time() < end:
        try:
            c = UnixHTTP(sock)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return 0
        except OSError:
            pass
        time.sleep(0.1)
    return 1


def main(argv):
    if len(argv) == 4 and argv[1] == "health":
        return health(argv[2], float(argv[3]))
    if len(argv) in (6, 8) and argv[1] == "populate":
        populate(argv[2], argv[3], int(argv[4]), int(argv[5]), *argv[6:])
        return 0
    if len(argv) == 11 and argv[1] == "run":
        return run(argv[2], argv[3], argv[4], argv[5], float(argv[6]), float(argv[7]),
                   int(argv[8]), int(argv[9]), int(argv[10]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
