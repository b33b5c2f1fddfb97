#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scriptable SMTP server for the email sink's tests and benchmark.

    smtpd.py DIR [--auth USER:PASSWORD] [--pipelining] [--quiet] [--tls CERT KEY]

aiosmtpd on 127.0.0.1, a free port written to DIR/port once it listens.
Every accepted message is stored as DIR/mail/N.eml (the raw DATA bytes) and
one line in DIR/log.jsonl: {"n", "session", "mail_from", "rcpt", "file"}.
Every connection that says EHLO/HELO is a session, numbered from 1, one line
in DIR/sessions.log; every refusal is a line in DIR/events.jsonl (a refused
DATA also keeps the message it refused, as DIR/refused/N.eml).

Behaviour per recipient: the file DIR/ctl/ADDRESS holds actions, one per
line, each used by one RCPT TO for that address (then removed from the
file; an empty or missing file means ok):
    ok      accept
    rcpt4   450 at RCPT TO          rcpt5   550 at RCPT TO
    data4   451 after the DATA      data5   554 after the DATA
    drop    take the DATA, then close the connection without a reply
With --auth the server requires AUTH PLAIN/LOGIN (without TLS) with those
credentials. --pipelining: advertise PIPELINING (RFC 2920) in the EHLO reply,
as Postfix and Exim do; aiosmtpd reads commands in order from its buffer, so
pipelined MAIL/RCPT/DATA groups work. --quiet: store nothing but the counts
(for the benchmark). --tls: offer STARTTLS with that certificate and key, and
require it before MAIL; each log line then says whether its session was
encrypted ("tls").
SIGTERM or SIGINT stops it.
"""
import argparse
import asyncio
import json
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, top, quiet):
        self.top = top
        self.quiet = quiet
        self.lock = threading.Lock()
        self.sessions = 0
        self.mails = 0
        self.refused = 0
        for d in ("mail", "ctl", "refused"):
            os.makedirs(os.path.join(top, d), exist_ok=True)

    def _append(self, name, obj):
        with open(os.path.join(self.top, name), "a") as f:
            f.write(json.dumps(obj) + "\n")

    def new_session(self, peer):
        with self.lock:
            self.sessions += 1
            n = self.sessions
        if not self.quiet:
            with open(os.path.join(self.top, "sessions.log"), "a") as f:
                f.write("%d %s:%d\n" % (n, peer[0], peer[1]))
        return n

    def action(self, rcpt):
        """The next scripted action for rcpt (consumed)."""
        if self.quiet or "/" in rcpt or rcpt.startswith("."):
            return "ok"
        path = os.path.join(self.top, "ctl", rcpt)
        with self.lock:
            try:
                lines = open(path).read().split()
            except FileNotFoundError:
                return "ok"
            if not lines:
                return "ok"
            with open(path, "w") as f:
                f.write("".join(l + "\n" for l in lines[1:]))
            return lines[0]

    def event(self, sid, kind, rcpt, action, envelope=None):
        if self.quiet:
            return
        ev = {"session": sid, "event": kind, "rcpt": rcpt, "action": action}
        if envelope is not None:  # keep what we refused: a retry must be the same mail
            with self.lock:
                self.refused += 1
                ev["file"] = "refused/%d.eml" % self.refused
            with open(os.path.join(self.top, ev["file"]), "wb") as f:
                f.write(envelope.original_content or envelope.content)
        self._append("events.jsonl", ev)

    def store(self, sid, envelope, tls=False):
        with self.lock:
            self.mails += 1
            n = self.mails
        if self.quiet:
            return
        name = "mail/%d.eml" % n
        with open(os.path.join(self.top, name), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        self._append("log.jsonl", {"n": n, "session": sid, "mail_from": envelope.mail_from,
                                   "rcpt": envelope.rcpt_tos, "file": name, "tls": tls})


class Handler:
    def __init__(self, rec, pipelining):
        self.rec = rec
        self.pipelining = pipelining

    def _sid(self, session):
        if getattr(session, "herald_sid", None) is None:
            session.herald_sid = self.rec.new_session(session.peer)
        return session.herald_sid

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self._sid(session)
        if self.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self._sid(session)
        return "250 %s" % server.hostname

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        sid = self._sid(session)
        act = self.rec.action(address)
        if act == "rcpt4":
            self.rec.event(sid, "rcpt", address, act)
            return "450 4.2.1 Mailbox busy, try later"
        if act == "rcpt5":
            self.rec.event(sid, "rcpt", address, act)
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        if act != "ok":
            if not hasattr(envelope, "herald_acts"):
                envelope.herald_acts = []
            envelope.herald_acts.append((address, act))
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        sid = self._sid(session)
        for rcpt, act in getattr(envelope, "herald_acts", []):
            self.rec.event(sid, "data", rcpt, act, envelope)
            if act == "data4":
                return "451 4.3.0 Temporary local problem, try later"
            if act == "data5":
                return "554 5.6.0 Message refused: content rejected"
            if act == "drop":
                server.transport.abort()
                return "451 dropped"  # never reaches the client
        self.rec.store(sid, envelope, getattr(session, "ssl", None) is not None)
        return "250 2.0.0 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--auth")
    ap.add_argument("--pipelining", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    rec = Recorder(a.dir, a.quiet)
    kw = {}
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user.encode()
                  and auth_data.password == password.encode())
            if not a.quiet:
                rec._append("events.jsonl", {"event": "auth", "mechanism": mechanism,
                                             "ok": ok})
            return AuthResult(success=ok, handled=False)  # False: the server says 535

        kw = dict(auth_require_tls=False, auth_required=True, authenticator=authenticator)
    if a.tls:
        import ssl
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(*a.tls)
        kw.update(tls_context=tls, require_starttls=True)
    # port=0 cannot be used: the Controller connects to its own port to check
    # it is up. Take a free port and retry if someone else got it first.
    import socket
    for _ in range(20):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        ctl = Controller(Handler(rec, a.pipelining), hostname="127.0.0.1", port=port,
                         data_size_limit=64 << 20, **kw)
        try:
            ctl.start()
            break
        except (OSError, RuntimeError):
            continue
    else:
        sys.exit("smtpd.py: no free port")
    tmp = os.path.join(a.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, os.path.join(a.dir, "port"))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    ctl.stop()
    with open(os.path.join(a.dir, "counts"), "w") as f:
        f.write("%d %d\n" % (rec.sessions, rec.mails))


if __name__ == "__main__":
    main()
