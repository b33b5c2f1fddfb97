#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# test_describe: `herald describe` end to end with the shipped rules, as TAP:
# one envelope from a file and from stdin, JSON lines, --rule, the output's
# fields, and the exit codes for bad input, bad rules and bad options. The
# rule engine itself is tested by tests/unit/test_schema and the rule set by
# tests/integration/test_schema_meta.
. "${top_srcdir:-.}/tests/integration/lib.sh"

RULES=$top_srcdir/src/schema/rules
IDMAP=$top_srcdir/tests/data/identity-map.json
CORPUS=$top_srcdir/tests/data/fedmsg-messages.jsonl
PY=$PYTHON3

# The first corpus line: a wiki edit by "Ralph", who is account "ralph".
head -n 1 "$CORPUS" > "$WORK/one.json"

out=$("$HERALD" describe -r "$RULES" -i "$IDMAP" "$WORK/one.json")
ok $? "describe one envelope from a file"
printf '%s\n' "$out" | "$PY" -c '
import json, sys
o = json.loads(sys.stdin.read())
want = ["topic", "app", "title", "summary", "link", "usernames", "packages", "agent", "severity"]
assert list(o) == want, list(o)
assert o["app"] == "wiki" and o["usernames"] == ["ralph"] and o["agent"] == "ralph", o
assert o["link"] == "https://this-is-a-link.org" and o["severity"] == "info", o
' >/dev/null 2>&1
ok $? "the object has every field, in order, with the rule's values"

out2=$("$HERALD" describe -r "$RULES" -i "$IDMAP" < "$WORK/one.json")
[ "$out2" = "$out" ]
ok $? "stdin gives the same as a file"

n=$("$HERALD" describe -r "$RULES" -i "$IDMAP" --lines "$CORPUS" | wc -l)
[ "$n" -eq 832 ]
ok $? "--lines: one object per corpus line ($n)"

"$HERALD" describe -r "$RULES" --lines --rule < "$CORPUS" | "$PY" -c '
import json, sys
rules = [json.loads(l)["rule"] for l in sys.stdin]
assert len(rules) == 832 and all(rules), [r for r in rules if not r][:3]
' >/dev/null 2>&1
ok $? "--rule: every corpus message names the rule that matched"

out=$(echo '{"topic": "org.example.prod.newthing.happened", "msg": {"agent": "zoe"}}' |
	"$HERALD" describe -r "$RULES" --rule)
case $out in
*'"title":"newthing.happened by zoe"'*'"usernames":["zoe"]'*'"rule":null'*) ok 0 "an unknown topic gets the fallback" ;;
*) ok 1 "an unknown topic gets the fallback ($out)" ;;
esac

# fedora-messaging's AMQP headers ride along as "headers": their flags join
# the lists, their severity counts, and containers etc. appear only when set.
out=$(echo '{"topic": "org.example.prod.newthing.happened", "msg": {"agent": "zoe"},
	"headers": {"fedora_messaging_user_amy": true, "fedora_messaging_rpm_kernel": true,
	"fedora_messaging_container_f39/x": true, "fedora_messaging_severity": 30}}' |
	"$HERALD" describe -r "$RULES")
[ "$out" = '{"topic":"org.example.prod.newthing.happened","app":"newthing","title":"newthing.happened by zoe","summary":"newthing.happened by zoe","link":null,"usernames":["amy","zoe"],"packages":["kernel"],"agent":"zoe","severity":"warning","containers":["f39/x"]}' ]
ok $? "headers: flags join the lists, severity from the header ($out)"

echo '{"topic": "a.b", "msg": {}, "headers": "x"}' | "$HERALD" describe -r "$RULES" > "$WORK/out" 2> "$WORK/err"
[ $? -eq 1 ] && grep -q '"headers" must be a JSON object' "$WORK/err" && [ ! -s "$WORK/out" ]
ok $? "headers that are not an object: exit 1, a clear error, nothing printed"

out=$(echo '{"topic": "a.b", "msg": {}, "headers": null}' | "$HERALD" describe -r "$RULES")
case $out in *'"topic":"a.b"'*) ok 0 "headers: null is no headers" ;; *) ok 1 "headers: null ($out)" ;; esac

printf '%s\n\nnot json\n%s\n' "$(cat "$WORK/one.json")" "$(cat "$WORK/one.json")" > "$WORK/mixed.jsonl"
"$HERALD" describe -r "$RULES" --lines "$WORK/mixed.jsonl" > "$WORK/mixed.out" 2> "$WORK/mixed.err"
rc=$?
[ $rc -eq 1 ] && [ "$(wc -l < "$WORK/mixed.out")" -eq 2 ] && grep -q 'line 3: bad_json' "$WORK/mixed.err"
ok $? "a bad line is reported with its number, the others still printed, exit 1"

echo '{"msg": {}}' | "$HERALD" describe -r "$RULES" > /dev/null 2> "$WORK/err"
[ $? -eq 1 ] && grep -q no_topic "$WORK/err"
ok $? "an envelope without topic: exit 1"

"$HERALD" describe -r "$WORK/nowhere" < "$WORK/one.json" > /dev/null 2> "$WORK/err"
[ $? -eq 2 ] && grep -q nowhere "$WORK/err"
ok $? "a missing rules directory: exit 2 with its name"

mkdir "$WORK/bad"
echo '{"rules": [{"topic": "a.*", "title": "{msg.x | nope}"}]}' > "$WORK/bad/x.json"
"$HERALD" describe -r "$WORK/bad" < "$WORK/one.json" > /dev/null 2> "$WORK/err"
[ $? -eq 2 ] && grep -q "x.json: rule 1 (topic \"a.\*\"): key 'title'" "$WORK/err" &&
	grep -q "unknown transform 'nope'" "$WORK/err"
ok $? "a bad rule file: exit 2, file, rule, key and reason"

"$HERALD" describe -r "$RULES" --bogus < /dev/null > /dev/null 2>&1
[ $? -eq 2 ]
ok $? "an unknown option: exit 2"

"$HERALD" describe --help | grep -q 'herald describe'
ok $? "--help"

done_testing
