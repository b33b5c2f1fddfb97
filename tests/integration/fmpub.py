#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Publish (or consume) fedora-messaging messages with pika, for heraldd's
AMQP tests and bench/amqp. What it sends is what fedora-messaging's
Message._build_properties and the publisher send: routing key = topic,
json.dumps(body) in UTF-8, content_type application/json, content_encoding
utf-8, delivery_mode 2, a uuid4 message_id, and the headers
fedora_messaging_schema, sent-at (ISO 8601, UTC, no microseconds),
fedora_messaging_severity and the flag headers fedora_messaging_user_NAME /
_rpm_NAME = True.

  fmpub.py publish URL N [--start K] [--topic T] [--severity S] [--bad]
                         [--id-prefix P] [--queue Q]...
  fmpub.py consume URL QUEUE N     (pika's own consume rate, for bench/amqp)

publish prints one line, "published N"; with --bad it also sends one
delivery of each malformed kind first. URL is a pika URL (amqp:// or
amqps://); for amqps, --ca, --cert and --key name the files.
"""
import argparse
import datetime
import json
import ssl
import sys
import time
import uuid

import pika


def params(args):
    p = pika.URLParameters(args.url)
    if args.url.startswith("amqps://"):
        ctx = ssl.create_default_context(cafile=args.ca)
        if args.cert:
            ctx.load_cert_chain(args.cert, args.key)
        p.ssl_options = pika.SSLOptions(ctx, "localhost")
    return p


def properties(severity, users, packages, message_id=None, headers=None):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    h = {
        "fedora_messaging_schema": "base.message",
        "sent-at": now.isoformat(),
        "fedora_messaging_severity": severity,
    }
    for u in users:
        h["fedora_messaging_user_" + u] = True
    for p in packages:
        h["fedora_messaging_rpm_" + p] = True
    if headers is not None:
        h = headers
    return pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        delivery_mode=2,
        headers=h,
        message_id=message_id or str(uuid.uuid4()),
    )


def malformed(ch, topic):
    """One delivery of each kind heraldd must reject without requeue."""
    good = properties(20, [], [])
    ch.basic_publish("amq.topic", topic, b"{not json", good)
    ch.basic_publish("amq.topic", topic, b"[1, 2]", good)
    ch.basic_publish("amq.topic", topic, b'{"a": "\xc3\x28"}', good)
    ch.basic_publish("amq.topic", topic, b"{}", properties(20, [], [], headers={
        "fedora_messaging_severity": 25}))
    latin = properties(20, [], [])
    latin.content_encoding = "latin-1"
    ch.basic_publish("amq.topic", topic, b"{}", latin)
    return 5


def publish(args):
    conn = pika.BlockingConnection(params(args))
    ch = conn.channel()
    for q in args.queue or []:  # bench/amqp: pika's own queue, filled too
        ch.queue_declare(q, durable=True)
        ch.queue_bind(q, "amq.topic", args.topic)
    ch.confirm_delivery()
    bad = malformed(ch, args.topic) if args.bad else 0
    for i in range(args.start, args.start + args.count):
        body = {"n": i, "k": "abc"[i % 3], "agent": "ralph"}
        users = ["ralph"] + (["bob"] if i % 3 == 1 else [])
        mid = "%s-%08d" % (args.id_prefix, i) if args.id_prefix else None
        ch.basic_publish("amq.topic", args.topic, json.dumps(body).encode("utf-8"),
                         properties(args.severity, users, ["kernel"], mid))
    conn.close()
    print("published %d (%d malformed)" % (args.count, bad))


def consume(args):
    """Consume N messages with pika as fedora-messaging's consumer does (one
    basic_ack per message, after reading it) and print the rate: the
    baseline of bench/amqp, with heraldd's prefetch (--prefetch)."""
    conn = pika.BlockingConnection(params(args))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=args.prefetch)
    got = 0
    start = None
    for method, props, body in ch.consume(args.queue):
        if start is None:
            start = time.monotonic()
        json.loads(body.decode(props.content_encoding or "utf-8"))
        ch.basic_ack(method.delivery_tag)
        got += 1
        if got == args.count:
            break
    secs = time.monotonic() - start
    ch.cancel()
    conn.close()
    print(json.dumps({"consumed": got, "seconds": round(secs, 3),
                      "msgs_per_s": round(got / secs, 1)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["publish", "consume"])
    ap.add_argument("url")
    ap.add_argument("rest", nargs="+")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--topic", default="org.fedoraproject.prod.test.amqp")
    ap.add_argument("--severity", type=int, default=20)
    ap.add_argument("--id-prefix", default="", help="message_id = PREFIX-NNNNNNNN (else uuid4)")
    ap.add_argument("--bad", action="store_true")
    ap.add_argument("--prefetch", type=int, default=4096, help="consume: heraldd's default")
    ap.add_argument("--queue", action="append", help="publish: declare and bind this queue first")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    if args.mode == "publish":
        args.count = int(args.rest[0])
        publish(args)
    else:
        args.queue, args.count = args.rest[0], int(args.rest[1])
        consume(args)


if __name__ == "__main__":
    sys.exit(main())
