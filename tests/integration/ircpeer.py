#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ircpeer: a small IRC client on a raw socket for test_irc.sh (stdlib only).

    ircpeer.py DIR PORT NICK [CHANNEL[=KEY]]...

Connects to 127.0.0.1:PORT as NICK, joins the channels (the first one in is
the channel operator, so the test can set modes), answers PINGs, and logs
every line the server sends, one JSON object per line, to DIR/log.jsonl:
{"t": time, "len": bytes with CR LF, "utf8": valid UTF-8?, "line": the text,
"prefix", "cmd", "params"}. Lines appended to DIR/ctl are sent as they are
(raw IRC commands). When the server goes away it reconnects (every 0.2 s) and
joins again; DIR/state holds "up" while registered and joined, "down" else.
"""
import json
import os
import socket
import sys
import time

top, port, nick = sys.argv[1], int(sys.argv[2]), sys.argv[3]
chans = [c.split("=", 1) if "=" in c else [c, ""] for c in sys.argv[4:]]
os.makedirs(top, exist_ok=True)
log = open(os.path.join(top, "log.jsonl"), "a", buffering=1)
ctl_path = os.path.join(top, "ctl")
open(ctl_path, "a").close()
ctl_off = os.path.getsize(ctl_path)


def state(s):
    with open(os.path.join(top, "state.tmp"), "w") as f:
        f.write(s + "\n")
    os.replace(os.path.join(top, "state.tmp"), os.path.join(top, "state"))


def parse(line):
    prefix = ""
    if line.startswith(":"):
        prefix, _, line = line[1:].partition(" ")
    trailing = None
    if " :" in line:
        line, _, trailing = line.partition(" :")
    parts = line.split()
    cmd, params = (parts[0] if parts else ""), parts[1:]
    if trailing is not None:
        params.append(trailing)
    return prefix, cmd, params


def session():
    global ctl_off
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(0.1)
    send = lambda b: s.sendall(b + b"\r\n")
    send(b"NICK " + nick.encode())
    send(b"USER peer 0 * :test peer")
    buf = b""
    joined = set()
    while True:
        try:
            data = s.recv(65536)
            if not data:
                return
            buf += data
        except socket.timeout:
            pass
        while b"\r\n" in buf or b"\n" in buf:
            i = buf.find(b"\n")
            raw, buf = buf[:i + 1], buf[i + 1:]
            body = raw.rstrip(b"\r\n")
            try:
                text, ok = body.decode("utf-8"), True
            except UnicodeDecodeError:
                text, ok = body.decode("utf-8", "replace"), False
            prefix, cmd, params = parse(text)
            log.write(json.dumps({"t": time.time(), "len": len(raw), "utf8": ok, "line": text,
                                  "prefix": prefix, "cmd": cmd, "params": params}) + "\n")
            if cmd == "PING":
                send(b"PONG :" + (params[-1] if params else "").encode())
            elif cmd == "001":
                for c, k in chans:
                    send(("JOIN %s %s" % (c, k)).strip().encode())
            elif cmd == "JOIN" and prefix.split("!")[0] == nick:
                joined.add(params[0].lower())
                if len(joined) == len(chans):
                    state("up")
        if os.path.getsize(ctl_path) > ctl_off:
            with open(ctl_path, "rb") as f:
                f.seek(ctl_off)
                new = f.read()
            end = new.rfind(b"\n") + 1
            ctl_off += end
            for l in new[:end].splitlines():
                if l:
                    send(l)


state("down")
while True:
    try:
        session()
    except OSError:
        pass
    state("down")
    log.write(json.dumps({"t": time.time(), "event": "disconnected"}) + "\n")
    time.sleep(0.2)
