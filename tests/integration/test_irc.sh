#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The IRC sink end to end: real relay, real heraldd, the irc plugin loaded
# with dlopen, and a real IRC server on 127.0.0.1 (ngircd, started here with
# its own config in $WORK). A test client (tests/integration/ircpeer.py, a
# raw socket) sits in the channels, logs every line it receives with its
# byte length and UTF-8 validity, and sets channel modes for the refusals.
# Checked: exact lines and their order in a channel and in a private
# message; a channel key; hostile titles (CR/LF, controls, 600-byte words
# of multibyte characters, mixed scripts): only PRIVMSG lines from herald,
# each <= 512 bytes and valid UTF-8, nothing lost; no such nick, banned,
# invite-only, wrong key: dead letters with the server's reason; the server
# killed and restarted during a stream: herald reconnects, rejoins and
# delivers the rest; 1,000 notifications to one channel: herald stays
# connected and the channel sees a bounded number of lines that account
# for all of them. Waits are bounded; no timing threshold is asserted.
. "${top_srcdir:-.}/tests/integration/lib.sh"

NGIRCD=$(command -v ngircd || ls /usr/sbin/ngircd 2> /dev/null)
if [ -z "$NGIRCD" ]; then
	echo "Bail out! ngircd is not installed (scripts/install-deps)"
	exit 1
fi
delivery_setup
IRCPORT=$(free_port)

# ngircd drops root for "nobody": give it a directory it may write its PID to.
mkdir -p ngrun
if [ "$(id -u)" = 0 ]; then
	chmod 711 "$WORK"
	chmod 1777 ngrun
fi
cat > ngircd.conf << CONF
[Global]
Name = irc.herald.test
Info = herald test server
AdminInfo1 = herald test
AdminInfo2 = loopback
AdminEMail = root@localhost
Listen = 127.0.0.1
Ports = $IRCPORT
PidFile = $WORK/ngrun/ngircd.pid
MotdPhrase = herald test server
[Limits]
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
PingTimeout = 120
[Options]
DNS = no
Ident = no
PAM = no
CONF
start_ngircd() { # start_ngircd N: output in ngircdN.log; $NGPID
	rm -f ngrun/ngircd.pid # left by a kill -9
	"$NGIRCD" -n -f "$WORK/ngircd.conf" > "ngircd$1.log" 2>&1 &
	NGPID=$!
	PIDS="$PIDS $NGPID"
	wait_for 20 grep -q "ready" "ngircd$1.log"
}
start_ngircd 1
ok $? "ngircd on 127.0.0.1:$IRCPORT"
# a second server that wants a password (PASS)
PWPORT=$(free_port)
sed -e "s/^Ports = .*/Ports = $PWPORT/" -e "s|^PidFile = .*|PidFile = $WORK/ngrun/pw.pid|" \
	-e 's/^\[Limits\]/Password = s3cret\n[Limits]/' ngircd.conf > ngircd-pw.conf
"$NGIRCD" -n -f "$WORK/ngircd-pw.conf" > ngircd-pw.log 2>&1 &
PIDS="$PIDS $!"
wait_for 20 grep -q "ready" ngircd-pw.log
ok $? "and one that requires a password on 127.0.0.1:$PWPORT"
echo s3cret > pw.good

"$PYTHON3" "$top_srcdir/tests/integration/ircpeer.py" peer "$IRCPORT" peer '#herald' '#stream' \
	'#flood' '#locked=sesame' '#vault=secret' '#banned' '#invite' '#t1' '#t2' '#t3' 2> peer.err &
PIDS="$PIDS $!"
peer_up() { grep -q up peer/state; }
wait_for 20 peer_up
ok $? "the test client is in its channels"
ctl() { printf '%s\n' "$@" >> peer/ctl; }
ctl 'MODE #locked +k sesame' 'MODE #vault +k secret' 'MODE #banned +b herald*!*@*' 'MODE #invite +i' 'PING :setup'
wait_for 30 grep -q '"PONG".*"setup"' peer/log.jsonl
ok $? "channel modes set (+k, +b, +i)"

printf 'b4dpass\n' > ngpw
cat > heraldd.conf << CONF
$(daemon_base_conf)
$(sink_test_dispatch 20)
[sink irc]
plugin = irc
server = 127.0.0.1
port = $IRCPORT
nick = herald
flood_rate = 4
flood_burst = 5
timeout_ms = 20000
reconnect_ms = 3000
rate = none
template = {title}{?link}\n{link}{/link}
[sink clash]
plugin = irc
server = 127.0.0.1
port = $IRCPORT
nick = peer
rate = none
template = {title}
[sink tight]
plugin = irc
server = 127.0.0.1
port = $IRCPORT
nick = tight
channel_limit = 2
idle_part_s = 3
colors = yes
rate = none
template = {title}{?link}\n{link}{/link}
[sink ircv]
plugin = irc
server = 127.0.0.1
port = $IRCPORT
nick = verifier
verify = yes
rate = none
template = {title}
[sink pwgood]
plugin = irc
server = 127.0.0.1
port = $PWPORT
password_file = pw.good
[sink pwbad]
plugin = irc
server = 127.0.0.1
port = $PWPORT
password_file = ngpw
[sink tlsirc]
plugin = irc
server = 127.0.0.1
tls = yes
[sink typo]
plugin = irc
server = 127.0.0.1
colour = yes
[sink badnick]
plugin = irc
server = 127.0.0.1
nick = #chan
CONF

start_relay
ok $? "relay is ready"
start_heraldd 1
ok $? "heraldd runs"

grep -q "sink 'irc' ready (plugin irc)" daemon1.err
ok $? "the irc sink loads"
grep "sink tlsirc" daemon1.err | grep -q "tls = yes: this libircclient was built without TLS support" ||
	grep -q "sink 'tlsirc' ready" daemon1.err
ok $? "tls = yes: refused clearly when libircclient has no TLS ($(grep 'sink tlsirc' daemon1.err | head -c 200))"
grep "sink typo" daemon1.err | grep -q "unknown option 'colour'" &&
	grep "sink badnick" daemon1.err | grep -q "nick: '#chan' is not a nick"
ok $? "unknown options and bad nicks are refused"

H() { "$HERALD" "$@" --socket "$SOCK"; }
for u in alice bob carol dan erin frank gina rex flo nina pat pam tina vic; do
	H user add "$u" > /dev/null || echo "user add $u failed"
done
refused() { # refused ADDRESS: dest add fails
	H dest add alice irc "$1" > out 2> err
	[ $? -ne 0 ]
}
refused '#a b c' && refused 'bad nick' && refused 'nick!x' && refused '9lives' &&
	refused "$(printf '#x\r\nQUIT :bye')" && refused '#a,#b' && refused '' &&
	refused "#$(printf '%051d' 0)" && refused 'nick key'
ok $? "destinations: extra spaces, bad nicks, CR/LF, commas, over 50 bytes are refused ($(cat err))"
dest() { H dest add "$1" irc "$2" --json | jfield "d['id']"; }
sub() { # sub USER ADDRESS K
	H sub add "$1" --filter "msg.k == \"$3\"" --dest "$(dest "$1" "$2")" --json | jfield "d['id']"
}
S=$(sub alice '#herald' chan)
sub bob peer pm > /dev/null
sub carol nosuchnick ghost > /dev/null
sub dan '#banned' banned > /dev/null
sub erin '#locked sesame' key > /dev/null
sub frank '#vault wrong' badkey > /dev/null
sub gina '#invite' invite > /dev/null
sub rex '#stream' stream > /dev/null
sub flo '#flood' flood > /dev/null
H sub add pat --filter 'msg.k == "pwgood"' --json \
	--dest "$(H dest add pat pwgood '#pw' --json | jfield "d['id']")" > /dev/null
H sub add pam --filter 'msg.k == "pwbad"' --json \
	--dest "$(H dest add pam pwbad '#pw' --json | jfield "d['id']")" > /dev/null
for c in t1 t2 t3; do
	H sub add tina --filter "msg.k == \"$c\"" --json \
		--dest "$(H dest add tina tight "#$c" --json | jfield "d['id']")" > /dev/null
done
H dest add vic ircv peer --json > vdest.json 2> vdest.err
VD=$(jfield "d['id']" < vdest.json)
H sub add vic --filter 'msg.k == "vk"' --dest "$VD" > /dev/null
H sub add nina --filter 'msg.k == "clash"' --json \
	--dest "$(H dest add nina clash '#herald' --json | jfield "d['id']")" > /dev/null
[ -n "$S" ]
ok $? "destinations (#channel, #channel key, nick) and subscriptions"
say_hello

ANITYA=org.release-monitoring.prod.anitya.project.add
note() { # note K ID NAME: one anitya project.add as a JSON line
	"$PYTHON3" -c 'import json,sys; print(json.dumps({"topic": sys.argv[4], "msg": {"k": sys.argv[1],
	"project": {"id": int(sys.argv[2]), "name": sys.argv[3]}, "message": {"agent": "ralph"}}}))' \
		"$1" "$2" "$3" "$ANITYA"
}
publish_lines() { # publish_lines FILE
	"$HERALD" publish --relay tcp://127.0.0.1:$P_PULL --key demo.key --signer demo \
		--lines "$1" -q > /dev/null 2>&1
}

cat > irclog.py << 'PY'
import json
def log():
    return [json.loads(l) for l in open("peer/log.jsonl")]
def from_herald(nick="herald"):
    return [e for e in log() if "cmd" in e and e["prefix"].split("!")[0].startswith(nick)]
def said(target, nick="herald"):
    return [e["params"][1] for e in from_herald(nick) if e["cmd"] == "PRIVMSG" and
            e["params"][0].lower() == target.lower()]
def title(name):
    return 'A new project, %s, was added to release-monitoring.' % name
def link(i):
    return "https://release-monitoring.org/project/%d/" % i
PY
check_py() { # check_py DESCRIPTION <<'PY' ... : run python, ok if it exits 0
	desc=$1
	PYTHONPATH="$WORK" "$PYTHON3" - > py.out 2>&1
	rc=$?
	ok $rc "$desc ($(tail -1 py.out | head -c 300))"
	[ $rc -eq 0 ] || sed 's/^/# /' py.out
}
said_n() { # said_n TARGET N [NICK]: the peer saw at least N lines from NICK (herald) to TARGET
	PYTHONPATH="$WORK" "$PYTHON3" -c 'import sys; from irclog import *
sys.exit(len(said(sys.argv[1], sys.argv[3])) < int(sys.argv[2]))' "$1" "$2" "${3:-herald}"
}

# ---- a channel: the exact lines, in order ----
# one at a time: the order of the items within one batch is the host's
n=0
rc=0
for name in one two three; do
	n=$((n + 1))
	note chan $n $name > chan.jsonl
	publish_lines chan.jsonl
	wait_for 60 said_n '#herald' $((2 * n)) || { rc=1; break; }
done
ok $rc "three notifications reach #herald"
check_py "exact lines, in order: title then link" << 'PY'
from irclog import *
got = said("#herald")
want = [title("one"), link(1), title("two"), link(2), title("three"), link(3)]
got = [x for x in got if "clash" not in x]
assert got == want, got
print(got[0])
PY

# ---- a private message ----
note pm 4 private > pm.jsonl
publish_lines pm.jsonl
wait_for 60 said_n peer 2
check_py "a nick destination gets a private message" << 'PY'
from irclog import *
assert said("peer") == [title("private"), link(4)], said("peer")
print(said("peer")[0])
PY

# ---- nick collision: a second instance wants the test client's nick ----
note clash 6 clash > clash.jsonl
publish_lines clash.jsonl
wait_for 60 grep -q ':peer_!.*PRIVMSG #herald :.*clash' peer/log.jsonl
ok $? "nick 'peer' is taken: the clash instance registers as peer_ and delivers"

# ---- channel_limit 2, colours, idle parting (the "tight" instance) ----
n=0
rc=0
for c in t1 t2 t3; do
	n=$((n + 1))
	note "$c" $((300 + n)) "tight$n" > tight.jsonl
	publish_lines tight.jsonl
	wait_for 60 said_n "#$c" 2 tight || { rc=1; break; }
done
ok $rc "three channels, one after the other, with channel_limit = 2"
check_py "never more than two channels joined: #t1 parted (least recently used) before #t3 is joined" << 'PY'
from irclog import *
ev = [(e["cmd"], e["params"][0]) for e in log() if "cmd" in e and e["prefix"].startswith("tight!")
      and e["cmd"] in ("JOIN", "PART")]
joined, most = set(), 0
for cmd, ch in ev:
    (joined.add if cmd == "JOIN" else joined.discard)(ch)
    most = max(most, len(joined))
assert most == 2, (most, ev)
assert ev[:4] == [("JOIN", "#t1"), ("JOIN", "#t2"), ("PART", "#t1"), ("JOIN", "#t3")], ev
print(" ".join("%s %s" % x for x in ev))
PY
check_py "colors = yes: each notification's first line is bold (\\x02), its link blue (\\x0312)" << 'PY'
from irclog import *
for i, c in enumerate(["#t1", "#t2", "#t3"]):
    got = said(c, "tight")
    assert got == ["\x02" + title("tight%d" % (i + 1)) + "\x02",
                   "\x0312" + link(301 + i) + "\x03"], got
print(repr(said("#t3", "tight")))
PY
tight_parted() {
	PYTHONPATH="$WORK" "$PYTHON3" -c 'import sys; from irclog import *
p = {e["params"][0] for e in log() if "cmd" in e and e["prefix"].startswith("tight!") and e["cmd"] == "PART"}
sys.exit(not {"#t2", "#t3"} <= p)'
}
wait_for 30 tight_parted && grep -q "sink 'tight'.*parted #t3: idle for 3 s" daemon1.err
ok $? "idle_part_s = 3: both channels parted once idle, and the log says so"
note t1 304 back > tight.jsonl
publish_lines tight.jsonl
wait_for 60 said_n '#t1' 4 tight
ok $? "a parted channel is joined again on demand"

# ---- destination verification for a private message (verify = yes) ----
# (vic's destination and subscription were made with the others, above)
[ "$(jfield "d['verification']" < vdest.json)" = "a code was sent to the address" ]
ok $? "a nick destination on a verify = yes sink is sent a code ($(cat vdest.err))"
note vk 400 verified > vk.jsonl
publish_lines vk.jsonl
CODE=$(PYTHONPATH="$WORK" "$PYTHON3" -c 'import re; from irclog import *
m = [re.search(r"herald dest verify vic \d+ (\w+)", e["params"][1]) for e in log() if "cmd" in e
     and e["cmd"] == "PRIVMSG" and e["prefix"].startswith("verifier!") and e["params"][0] == "peer"]
print([x for x in m if x][-1].group(1))')
parked() { [ "$(H outbox list --user vic --json | jfield "sum(n['due'] == -1 for n in d['notifications'])")" = 1 ]; }
wait_for 30 parked && ! grep -q 'project \\"verified' peer/log.jsonl
ok $? "the notification waits, parked, until the code is confirmed (code $CODE)"
H dest verify vic "$VD" "$CODE" > out 2> err
got_verified() {
	PYTHONPATH="$WORK" "$PYTHON3" -c 'import sys; from irclog import *
sys.exit(title("verified") not in said("peer", "verifier"))'
}
wait_for 60 got_verified
ok $? "the code from the private message verifies it, and what waited arrives ($(cat out err))"

# ---- a channel key ----
note key 5 keyed > key.jsonl
publish_lines key.jsonl
wait_for 60 said_n '#locked' 2
check_py "'#locked sesame': joined with the key, delivered" << 'PY'
from irclog import *
assert said("#locked") == [title("keyed"), link(5)], said("#locked")
PY

# ---- hostile titles ----
cat > hostile.py << 'PY'
import json, sys
names = [
    "evil\r\nQUIT :bye\r\nPRIVMSG #herald :injected\r\n",
    "bell\x07ctcp\x01ACTION x\x01 tab\there del\x7f c1\u0085 bold\x02 colour\x0304",
    "é" * 300,                                   # 600 bytes, one word, 2-byte chars
    "長" * 200 + "x",                             # 601 bytes, one word, 3-byte chars
    "a" + "😀" * 150 + " mixed Ελληνικά русский עברית العربية 中文 " + "ß" * 300,
]
for i, n in enumerate(names):
    print(json.dumps({"topic": sys.argv[1], "msg": {"k": "chan", "project": {"id": 100 + i, "name": n},
                                                    "message": {"agent": "ralph"}}}))
json.dump(names, open("hostile.json", "w"))
PY
"$PYTHON3" hostile.py "$ANITYA" > hostile.jsonl
rc=0
for i in 0 1 2 3 4; do
	sed -n "$((i + 1))p" hostile.jsonl > one.jsonl
	publish_lines one.jsonl
	wait_for 60 grep -q "project/10$i/" peer/log.jsonl || { rc=1; break; }
done
ok $rc "five hostile titles delivered"
sleep 1
check_py "only PRIVMSG (and JOIN) from herald, each line <= 512 bytes and valid UTF-8, nothing lost" << 'PY'
import json, re
from irclog import *
hs = from_herald()
cmds = {e["cmd"] for e in hs}
assert cmds <= {"PRIVMSG", "JOIN"}, cmds
assert {e["params"][0] for e in hs if e["cmd"] == "PRIVMSG"} <= {"#herald", "peer", "#locked"}
assert all(e["len"] <= 512 and e["utf8"] for e in log() if "len" in e), \
    max(e["len"] for e in log() if "len" in e)
assert not any("QUIT" == e["cmd"] or "injected" == e["params"][-1] for e in hs)
got = [x for x in said("#herald") if "clash" not in x][6:]
names = json.load(open("hostile.json"))
def clean(s):
    return re.sub(r"[\x00-\x1f\x7f\x80-\x9f]", " ", s)
# every title's text (spaces aside: a split may fall on one) is there, in order
i = 0
for k, n in enumerate(names):
    want = clean(title(n)).replace(" ", "")
    acc = ""
    while acc != want:
        assert i < len(got) and want.startswith(acc + got[i].replace(" ", "")), (k, acc[:40], got[i:i+1])
        acc += got[i].replace(" ", "")
        i += 1
    assert got[i] == link(100 + k), got[i]
    i += 1
assert i == len(got), got[i:]
longest = max(e["len"] for e in hs)
print("%d lines, longest %d bytes" % (len(got), longest))
PY

# ---- refusals: dead letters with the server's reason ----
{ note ghost 6 ghost; note banned 7 banned; note badkey 8 badkey; note invite 9 invite; } > bad.jsonl
D0=$(stat dead_letters)
publish_lines bad.jsonl
stat_ge() { [ "$(stat "$1")" -ge "$2" ] 2> /dev/null; }
wait_for 60 stat_ge dead_letters $((D0 + 4))
ok $? "no such nick, banned, wrong key, invite only: four dead letters"
reason() { H deadletter list --user "$1" --json | jfield "d['notifications'][0]['reason']"; }
reason carol > r.carol; reason dan > r.dan; reason frank > r.frank; reason gina > r.gina
grep -q "nosuchnick: 401" r.carol && grep -q "cannot join #banned: 474" r.dan &&
	grep -q "cannot join #vault: 475" r.frank && grep -q "cannot join #invite: 473" r.gina
ok $? "with the numerics and texts ($(cat r.carol) / $(cat r.dan) / $(cat r.frank) / $(cat r.gina))"
! grep -q '"ghost"\|"banned"\|"badkey"' peer/log.jsonl
ok $? "nothing of theirs reached a channel"

# ---- the server restarts during a stream ----
# A stream of twenty, one every 0.3 s; the server is stopped (SIGTERM, as a
# restart does) once the first has arrived, and started again. Not SIGKILL:
# a killed ngircd drops what it had queued for the test client's socket
# after it had already answered herald's PING, so a line herald rightly
# counts as acknowledged can vanish in the server (seen once). What piles up while
# it is down may come back as one batch: its tail then is a summary line.
# herald waits reconnect_ms (3 s) before its first attempt, so the test
# client, which retries every 0.2 s, is back in the channel before herald
# posts there (lines posted to a channel nobody is in are seen by nobody).
(for i in $(seq 1 20); do
	note stream $((200 + i)) "s$i" > "stream$i.jsonl"
	publish_lines "stream$i.jsonl"
	sleep 0.3
done) &
STREAM=$!
wait_for 60 said_n '#stream' 2
kill "$NGPID"
wait "$NGPID"
start_ngircd 2
ok $? "ngircd stopped during the stream and started again on the same port"
wait "$STREAM"
wait_for 20 peer_up
cat >> irclog.py << 'PY'
import re
def account(target):
    lines = said(target)
    titles = [x for x in lines if x.startswith("A new project, ")]
    more = [int(m.group(1)) for m in (re.fullmatch(r"\.\.\. and (\d+) more", x) for x in lines) if m]
    return lines, titles, more
PY
stream_done() {
	PYTHONPATH="$WORK" "$PYTHON3" -c 'import sys; from irclog import *
l, t, m = account("#stream"); sys.exit(len(set(t)) + sum(m) < 20)'
}
wait_for 120 stream_done
ok $? "the lines in #stream account for all twenty notifications"
check_py "herald reconnected and rejoined #stream; no title lost (duplicates counted)" << 'PY'
from irclog import *
lg = log()
cut = max(i for i, e in enumerate(lg) if e.get("event") == "disconnected")
rejoin = [e for e in lg[cut:] if "cmd" in e and e["cmd"] == "JOIN" and e["params"][0] == "#stream"
          and e["prefix"].startswith("herald")]
assert rejoin, "no JOIN from herald after the restart"
peer = [e for e in lg[cut:] if "cmd" in e and e["cmd"] == "JOIN" and e["prefix"].startswith("peer!")]
assert peer and peer[0]["t"] < rejoin[0]["t"], "herald was back in #stream before the test client"
lines, titles, more = account("#stream")
names = {t for t in titles}
assert names <= {title("s%d" % i) for i in range(1, 21)}, names
assert len(names) + sum(more) >= 20, (len(names), more)
print("%d titles and %d in summaries for 20, %d duplicate titles, rejoined as %s" % (
      len(names), sum(more), len(titles) - len(names), rejoin[0]["prefix"].split("!")[0]))
PY

# ---- flood: 1,000 notifications to one channel ----
"$PYTHON3" -c '
import json, sys
for i in range(1000):
    print(json.dumps({"topic": sys.argv[1], "msg": {"k": "flood", "project": {"id": 1000 + i,
        "name": "f%d" % i}, "message": {"agent": "ralph"}}}))' "$ANITYA" > flood.jsonl
publish_lines flood.jsonl
flood_count() {
	PYTHONPATH="$WORK" "$PYTHON3" -c 'import re; from irclog import *
n = 0
for x in said("#flood"):
    m = re.fullmatch(r"\.\.\. and (\d+) more", x)
    n += int(m.group(1)) if m else x.startswith("A new project, ")
print(n)'
}
flood_done() { [ "$(flood_count)" -ge 1000 ]; }
wait_for 300 flood_done
ok $? "the lines in #flood account for 1,000 notifications ($(flood_count))"
check_py "a bounded number of lines, every notification once, herald never disconnected" << 'PY'
from irclog import *
lines, titles, more = account("#flood")
assert len(titles) == len(set(titles)), "a title twice"
assert len(titles) + sum(more) == 1000, (len(titles), sum(more))
assert len(lines) <= 400, len(lines)
quits = [e for e in from_herald() if e["cmd"] == "QUIT"]
assert not quits, quits
print("%d lines: %d titles, %d summaries" % (len(lines), len(titles), len(more)))
PY
! grep -i -q "excess flood" ngircd2.log && [ "$(grep -c 'User "herald!' ngircd2.log)" = 1 ]
ok $? "the server log has no excess flood, and herald registered once since the restart"
flood_settled() {
	[ "$(H deadletter list --user flo --json | jfield "len(d['notifications'])")" = 0 ] &&
		[ "$(H outbox list --user flo --json | jfield "len(d['notifications'])")" = 0 ]
}
wait_for 30 flood_settled
ok $? "nothing of the flood left in the outbox or the dead letters"
ctl 'NAMES #flood'
wait_for 30 sh -c "grep '\"353\"' peer/log.jsonl | tail -1 | grep -q herald"
ok $? "herald is still in #flood after the flood"

# ---- a server password: right, delivered; wrong, the instance is broken ----
{ note pwgood 7 pwgood; note pwbad 8 pwbad; } > pw.jsonl
B0=$(stat sink_broken)
publish_lines pw.jsonl
outbox_empty() { [ "$(H outbox list --user "$1" --json | jfield "len(d['notifications'])")" = 0 ]; }
wait_for 60 outbox_empty pat && [ "$(H deadletter list --user pat --json | jfield "len(d['notifications'])")" = 0 ]
ok $? "the right password: registered and delivered"
wait_for 60 stat_ge sink_broken $((B0 + 1))
ok $? "a wrong password: the sink reports itself broken (sink_broken $(stat sink_broken))"
grep -q "sink 'pwbad'.*Bad password" daemon1.err && ! grep -q "s3cret\|b4dpass" daemon1.err
ok $? "the log says why, without the password ($(grep -m1 "Bad password" daemon1.err | head -c 200))"

kill "$DPID"
wait "$DPID"
ok $? "heraldd exits cleanly"
wait_for 30 sh -c "grep -q '\"QUIT\"' peer/log.jsonl"
ok $? "and herald quits IRC on the way out"
done_testing
