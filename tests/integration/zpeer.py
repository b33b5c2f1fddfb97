# SPDX-License-Identifier: LGPL-2.1-or-later
"""zpeer: a scriptable ZeroMQ peer for heraldd's integration tests.

It binds a PUB socket (XPUB, so it can wait until heraldd has subscribed and
nothing is lost to the slow-joiner effect), sends the frames listed in a
JSON-lines script, and optionally answers fedmsg-style replay requests on a
REP socket from messages it was told to hold back. Real sockets, no mocks.

Script lines: {"frames": ["topic", "envelope text", ...]} sends those frames;
add "hold": true to keep a message for replay only (keyed by its envelope "i");
{"raw": ["base64", ...]} sends arbitrary bytes; {"huge": ["topic", N]} sends a
topic and an N-byte envelope frame.
"""
import argparse, base64, json, sys, time
import zmq

ap = argparse.ArgumentParser()
ap.add_argument("--bind", required=True)
ap.add_argument("--replay")
ap.add_argument("--script", required=True)
ap.add_argument("--linger", type=float, default=0, help="seconds to keep serving replays")
a = ap.parse_args()

ctx = zmq.Context()
pub = ctx.socket(zmq.XPUB)
pub.setsockopt(zmq.SNDHWM, 0)
pub.bind(a.bind)
rep = None
if a.replay:
    rep = ctx.socket(zmq.REP)
    rep.bind(a.replay)
print("zpeer: ready", file=sys.stderr, flush=True)

poller = zmq.Poller()
poller.register(pub, zmq.POLLIN)
if not poller.poll(10000):
    sys.exit("zpeer: nobody subscribed within 10 s")
pub.recv()  # the subscription message

held = {}
sent = 0
for line in open(a.script):
    line = line.strip()
    if not line:
        continue
    item = json.loads(line)
    if "raw" in item:
        frames = [base64.b64decode(f) for f in item["raw"]]
    elif "huge" in item:  # {"huge": [topic, bytes]}: one enormous envelope frame
        frames = [item["huge"][0].encode(), b"x" * int(item["huge"][1])]
    else:
        frames = [f.encode() for f in item["frames"]]
    if item.get("hold"):
        held[json.loads(frames[1])["i"]] = frames[1]
        continue
    pub.send_multipart(frames)
    sent += 1
print(f"zpeer: sent {sent}, holding {len(held)}", file=sys.stderr, flush=True)

end = time.time() + a.linger
while rep and time.time() < end:
    if not rep.poll(100):
        continue
    q = json.loads(rep.recv())
    lo, hi = q["seq_range"]
    hi = hi if hi is not None else max(held, default=0)
    out = [held[i] for i in sorted(held) if lo <= i <= hi]
    print(f"zpeer: replay {lo}..{hi}: {len(out)} messages", file=sys.stderr, flush=True)
    # fedmsg's replay servers answer with bare envelopes, one per frame.
    rep.send_multipart(out or [b'{"count":0,"more":false}'])
time.sleep(0.3)
