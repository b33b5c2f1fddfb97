#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generate tests/data/canon/vectors.jsonl: canonical-JSON test vectors.

What this is for: an independent reference for src/canon.c. The expected
output of every vector comes from CPython itself,
json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")), so the
C code is checked against the implementation fedmsg actually signs with, not
against a re-reading of its rules. Flag vectors apply the flag's meaning to
the parsed dict in Python (fedmsg's fix_datagrepper_message, the removal of
signature/certificate) before dumping.

What it is not for: inputs CPython accepts but canon.c rejects on purpose
(duplicate keys, lone surrogates, invalid UTF-8); those live in
tests/unit/test_canon.c. Vectors with "out": null are inputs CPython itself
rejects, and canon.c must reject them too.

Each line: {"in": <input text>, "out": <canonical text or null>,
"flags": <canon flags>, "group": <name>}. The file is committed so that
`make check` needs no Python; rerun this script (stdlib only, seeded, so the
output is reproducible for a given CPython) after changing it:

    python3 tests/data/canon/gen_vectors.py > tests/data/canon/vectors.jsonl

For a longer differential run against CPython, generate a bigger set with
another seed into a scratch file and hand it to the unit test:

    python3 tests/data/canon/gen_vectors.py --seed 7 --random 100000 \
        --doubles 100000 > /tmp/v.jsonl && tests/unit/test_canon /tmp/v.jsonl
"""

import argparse
import json
import os
import random
import struct
import sys

STRIP_CREDENTIALS = 1
FIX_ARCHIVE = 2

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "fedmsg-messages.jsonl")


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key: canon.c rejects these on purpose")
    return dict(pairs)


def strict_loads(text):
    """json.loads, refusing what canon.c refuses beyond CPython."""
    obj = json.loads(text, object_pairs_hook=no_dups)
    check_no_surrogates(obj)
    return obj


def check_no_surrogates(obj):
    if isinstance(obj, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in obj):
            raise ValueError("lone surrogate: canon.c rejects these on purpose")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            check_no_surrogates(k)
            check_no_surrogates(v)
    elif isinstance(obj, list):
        for v in obj:
            check_no_surrogates(v)


def apply_flags(obj, flags):
    """What canon.h's flags mean, done to the parsed message."""
    if not isinstance(obj, dict):
        return obj
    obj = dict(obj)
    if flags & STRIP_CREDENTIALS:
        obj.pop("signature", None)
        obj.pop("certificate", None)
    if flags & FIX_ARCHIVE and "source_name" in obj and "source_version" in obj:
        # fedmsg.crypto.utils.fix_datagrepper_message, restricted to numbers
        # (bool is an int in Python, so int(True) == 1 is included).
        del obj["source_name"]
        del obj["source_version"]
        if "headers" in obj and not obj["headers"]:
            del obj["headers"]
        if isinstance(obj.get("timestamp"), (int, float)):
            obj["timestamp"] = int(obj["timestamp"])
    return obj


class Out:
    def __init__(self, f):
        self.f = f
        self.n = 0

    def ok(self, group, text, flags=0):
        out = canon(apply_flags(strict_loads(text), flags))
        self.emit(group, text, out, flags)

    def bad(self, group, text):
        try:
            json.loads(text)
        except ValueError:
            self.emit(group, text, None, 0)
            return
        raise AssertionError("CPython accepts %r" % text)

    def emit(self, group, text, out, flags):
        rec = {"in": text, "out": out, "flags": flags, "group": group}
        # Raw UTF-8 keeps the file small; jansson reads it.
        self.f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.n += 1


def unicode_vectors(o):
    g = "unicode"
    for s in [
        "caf\u00e9", "\u00dcn\u00efc\u00f6d\u00e9 \u00c5ngstr\u00f6m \u00f1 \u00df",
        "\u6f22\u5b57\u30c6\u30b9\u30c8 \ud55c\uad6d\uc5b4", "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
        "e\u0301 combining", "\u2028\u2029 separators", "\ufeff BOM inside", "\uffff\ufffe\ufdd0",
        "\U0001f600\U0001f4a9 emoji", "\U0010ffff max", "\U00010000 min astral",
        "\x7f DEL", "\x00 NUL", "tab\there", "/slash/", "quote\" back\\",
    ]:
        o.ok(g, json.dumps(s, ensure_ascii=False))
        o.ok(g, json.dumps(s, ensure_ascii=True))
        o.ok(g, json.dumps({s: s}, ensure_ascii=False))
    for text in [
        r'"\ud83d\ude00"', r'"\uD83D\uDE00"', r'"\uDBFF\uDFFF"', r'"\ud800\udc00"',
        r'"\u00e9\u00E9\u00c9"', r'"\u0000\u001f\u007f\u0080"', r'"\u2603 snow"',
        r'"\"\\\/\b\f\n\r\t"', r'"a\/b"', r'"\u0041\u0062"', r'"x\u0022y\u005cz"',
        '"raw \U0001f600 and escaped \\ud83d\\ude00"',
    ]:
        o.ok(g, text)
    # Every control character, escaped, and every printable ASCII one, raw.
    o.ok(g, '"' + "".join("\\u%04x" % c for c in range(0x20)) + '"')
    o.ok(g, '"' + "".join("\\u%04X" % c for c in range(0x20)) + '"')
    o.ok(g, json.dumps("".join(chr(c) for c in range(0x20, 0x7F))))
    o.ok(g, json.dumps("".join(chr(c) for c in range(0x80, 0x800, 7)), ensure_ascii=False))
    # One special character at every position of a long plain run: canon.c
    # scans plain ASCII eight bytes at a time.
    for i in range(20):
        for c in ["\x7f", "\u00e9", "\U0001f600", '"', "\\", "\n"]:
            o.ok(g, json.dumps("x" * i + c + "y" * (19 - i), ensure_ascii=False))


def float_vectors(o):
    g = "float"
    for t in [
        "1504643075.0", "1504643075.9", "1e-05", "1e+16", "1e16", "1E16", "1e15", "0.1", repr(1 / 3),
        "5e-324", "4.9e-324", "2e-324", "1.7976931348623157e308", "1.7976931348623158e308",
        "-0.0", "0.0", "0e0", "-0e-0", "0E+00", "123456789.123", "1e22", "1e23", "1e-7", "0.0001",
        "0.001", "1e-4", "9.999e-5", "1E5", "1e400", "-1e400", "1e-400", "-1e-400",
        "0.10000000000000001", "0.30000000000000004", "2.5e-3", "100.0", "1.0", "-1.5",
        "2.2250738585072014e-308", "2.225073858507201e-308", "9007199254740993.0",
        "1234567890123456789.0", "1e+300", "1.5e300", "12345678901234567.0", "9999999999999999.0",
        "3.14159265358979323846264338327950288419716939937510582097494459",
        "0." + "0" * 400 + "1", "1" + "0" * 400 + ".0", "1" + "0" * 300 + ".5e-300",
        "1e000000000000000000000001", "1e-000000000000000000000001", "1e99999999999999999999",
        "7.120236347223045e-307", "1.1754943508222875e-38", "6.103515625e-05",
    ]:
        o.ok(g, t)
        o.ok(g, "[" + t + "]")
    for t in ["NaN", "Infinity", "-Infinity", '[NaN,Infinity,-Infinity]', '{"x":NaN}']:
        o.ok(g, t)
    for k in range(-1074, 1024, 7):
        o.ok(g, repr(2.0 ** k))


def int_vectors(o):
    g = "int"
    for v in [0, 1, -1, 2**53 + 1, 2**63 - 1, -2**63, 2**64, -(10**40), 10**100, 3**2000]:
        o.ok(g, str(v))
        o.ok(g, '{"n":%d}' % v)
    o.ok(g, "-0")
    o.ok(g, "[-0,0,-1,-10,10]")


def nesting_vectors(o):
    g = "nesting"
    o.ok(g, "[" * 100 + "]" * 100)
    o.ok(g, '{"a":' * 100 + "1" + "}" * 100)
    o.ok(g, '[{"a":' * 50 + "[]" + "}]" * 50)
    o.ok(g, "[" * 128 + "]" * 128)
    o.ok(g, '{"k":' * 127 + "[]" + "}" * 127)
    o.ok(g, "[[],{},[[]],{\"a\":{}},[{}]]")


def key_vectors(o):
    g = "keys"
    keys = ["a", "A", "", "ab", "aa", "b", "a\x00", "\x7f", "\u00e9", "\u00ff", "\u0100", "\u20ac",
            "\u6f22", "\uff21", "\uffff", "\U0001f600", "\U00010000", "\U0010ffff", "Z", "z", "~",
            " ", "\u05d0", "\u0627", "key with space", "e\u0301", "\ufeff"]
    rng = random.Random(7)
    for i in range(20):
        ks = keys[:]
        rng.shuffle(ks)
        d = {k: i for i, k in enumerate(ks)}
        o.ok(g, json.dumps(d, ensure_ascii=bool(i % 2)))
    # Escaped keys sort by their decoded value.
    o.ok(g, r'{"\u0062":1,"a":2,"\u00e9":3,"\ud83d\ude00":4,"\uffff":5,"z":6}')
    o.ok(g, r'{"b\u0000":1,"b":2,"\u0000":3}')
    # Many keys: the qsort path.
    d = {("k%04d" % i)[::-1]: i for i in range(300)}
    o.ok(g, json.dumps(d))
    d = {chr(0x4E00 + 37 * i % 5000) + str(i): i for i in range(100)}
    o.ok(g, json.dumps(d, ensure_ascii=False))


def misc_vectors(o):
    g = "misc"
    for t in ["1", "-1", '"x"', '""', "null", "true", "false", " \t\r\n[ 1 , 2 ]\r\n ",
              "{ }", "[ ]", '{"a" : [ 1 , { "b" : null } ] }', "[true,false,null]",
              '{"a":{"b":{"c":[1,2,{"d":"e"}]}}}', "\n\n\n0\n\n"]:
        o.ok(g, t)
    o.ok(g, json.dumps({"b": [1, 2, {"z": 1, "y": [None, True]}], "a": "x"}, indent=4))
    o.ok(g, json.dumps({"b": 1, "a": {"d": 2, "c": 3}}, indent="\t"))


def reject_vectors(o):
    g = "reject"
    for t in ["", " ", "\n", "01", "-01", "00", "1.", ".5", "+1", "-", "--1", "1e", "1e+", "1E-",
              "1.e5", "0x10", "1_000", "[1,]", "[,1]", "[1 2]", "{,}", '{"a":1,}', '{"a"}',
              '{"a" 1}', "{1:2}", "{'a':1}", "[01]", "1 2", "[1]]", "{}}", "[", "{", '{"a":',
              "tru", "nul", "fals", "NAN", "nan", "-NaN", "infinity", "+Infinity", "Infinity1",
              '"abc', '"\t"', '"\n"', '"\x01"', '"\x1f"', r'"\x41"', r'"\u12"', r'"\u12g4"',
              r'"\U0041"', r'"\'"', "\ufeff{}", "\u00a01", "\f1", "\v1", "[1]\x00", "1\u3000",
              "[1e5.0]", "[-]", "[.1]", "[1.]", "//c\n1", "/*c*/1", "[1,,2]", "{\"a\":1 \"b\":2}",
              "\"a\" \"b\"", "True", "None", "[\"a\"\x00]"]:
        o.bad(g, t)
    for i in range(20):
        for c in ["\x00", "\x01", "\x1f", "\n", "\t"]:
            o.bad(g, '"' + "x" * i + c + "y" * (19 - i) + '"')


def flag_vectors(o, corpus):
    g = "flags"
    base = {"topic": "org.fedoraproject.prod.x", "msg": {"signature": "inner stays"}, "i": 3}
    signed = dict(base, signature="c2ln\nbmVk", certificate="Y2VydA==", crypto="x509")
    for f in (0, 1, 2, 3):
        o.ok(g, json.dumps(signed), f)
    o.ok(g, r'{"\u0073ignature":"x","certificat\u0065":"y","a":1}', STRIP_CREDENTIALS)
    o.ok(g, '[{"signature":1}]', STRIP_CREDENTIALS | FIX_ARCHIVE)
    o.ok(g, '"signature"', 3)
    for headers in [None, False, True, 0, 1, 0.0, -0.0, 0.5, "", "x", {}, {"a": 1}, [], [0]]:
        for ts in [1504643075.9, 1504643075, -1.5, -0.5, 0.0, 1e20, 1.5e300, 12, "123", None,
                   True, False, [1.5], {"t": 1.5}]:
            arch = dict(base, source_name="datanommer", source_version="0.9.1",
                        headers=headers, timestamp=ts)
            o.ok(g, json.dumps(arch), FIX_ARCHIVE)
        o.ok(g, json.dumps(dict(base, source_name="d", headers=headers, timestamp=1.5)), FIX_ARCHIVE)
        o.ok(g, json.dumps(dict(base, source_version="1", headers=headers, timestamp=1.5)), FIX_ARCHIVE)
    # Spellings of a zero and of an integer-valued float.
    for t in ["0", "-0", "0.0", "-0.0", "0e5", "1e-400", "[]", "{}", '""', "null", "false"]:
        o.ok(g, '{"source_name":"a","source_version":"b","headers":%s,"timestamp":1e1}' % t,
             FIX_ARCHIVE)
    for t in ["1504643075.000001", "-0.9", "1e19", "2.5E+1", "-1234.5e-1", "5e-324", "-0"]:
        o.ok(g, '{"source_name":"a","source_version":"b","timestamp":%s}' % t, FIX_ARCHIVE)
    # Real messages: signed copies, and every archived (datanommer) message.
    for i, line in enumerate(corpus):
        msg = json.loads(line)
        if i % 40 == 0:
            s = dict(msg, signature="sig%d" % i, certificate="cert%d" % i)
            o.ok("corpus-flags", json.dumps(s), STRIP_CREDENTIALS)
            o.ok("corpus-flags", json.dumps(s), STRIP_CREDENTIALS | FIX_ARCHIVE)
        if "source_name" in msg and i % 4 == 0:
            o.ok("corpus-flags", line, FIX_ARCHIVE)


# ---- random documents -------------------------------------------------------

def rand_char(r):
    k = r.random()
    if k < 0.55:
        return chr(r.randint(0x20, 0x7E))
    if k < 0.62:
        return chr(r.choice([r.randint(0, 0x1F), 0x7F]))
    if k < 0.75:
        return chr(r.randint(0x80, 0x7FF))
    if k < 0.9:
        c = r.randint(0x800, 0xFFFD)
        return chr(c if not 0xD800 <= c <= 0xDFFF else c - 0x800)
    return chr(r.randint(0x10000, 0x10FFFF))


def rand_str(r):
    return "".join(rand_char(r) for _ in range(r.choice([0, 1, 2, 3, 5, 8, 12])))


SHORT_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def u_escape(r, c):
    fmt = r.choice(["\\u%04x", "\\u%04X"])
    cp = ord(c)
    if cp < 0x10000:
        return fmt % cp
    cp -= 0x10000
    return fmt % (0xD800 + (cp >> 10)) + fmt % (0xDC00 + (cp & 0x3FF))


def enc_str(r, s):
    """A JSON string literal for s, escaping each character at random."""
    out = ['"']
    for c in s:
        if c in SHORT_ESC and r.random() < 0.7:
            out.append(SHORT_ESC[c])
        elif c == "/" and r.random() < 0.3:
            out.append("\\/")
        elif ord(c) < 0x20 or c in '"\\' or r.random() < 0.2:
            out.append(u_escape(r, c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def rand_float_text(r):
    k = r.random()
    if k < 0.5:
        while True:
            f = struct.unpack("<d", struct.pack("<Q", r.getrandbits(64)))[0]
            if f == f and f not in (float("inf"), float("-inf")):
                break
    elif k < 0.8:
        f = r.randint(-10**9, 10**10) / 10 ** r.randint(0, 9)
    else:
        f = r.uniform(1.2e9, 1.8e9)  # timestamps
    spell = r.random()
    if spell < 0.5:
        t = repr(f)
    elif spell < 0.7:
        t = "%.17g" % f
    elif spell < 0.85:
        t = "%.*e" % (r.randint(0, 25), f)
    else:
        t = ("%.20E" % f).replace("E+", "E")
    if "." not in t and "e" not in t and "E" not in t:
        t += r.choice([".0", "e0", "E+0", ".000"])
    return t


def ws(r):
    return "" if r.random() < 0.8 else r.choice([" ", "\n", "\t", "\r\n", "  "])


def rand_value(r, depth):
    k = r.random()
    if depth < 4 and k < 0.25:
        n = r.randint(0, 5)
        items = []
        seen = set()
        for _ in range(n):
            key = rand_str(r)
            if key in seen:
                continue
            seen.add(key)
            items.append(ws(r) + enc_str(r, key) + ws(r) + ":" + ws(r) + rand_value(r, depth + 1) + ws(r))
        return "{" + ",".join(items) + ws(r) + "}"
    if depth < 4 and k < 0.4:
        n = r.randint(0, 5)
        return "[" + ",".join(ws(r) + rand_value(r, depth + 1) + ws(r) for _ in range(n)) + ws(r) + "]"
    if k < 0.6:
        return enc_str(r, rand_str(r))
    if k < 0.78:
        return rand_float_text(r)
    if k < 0.9:
        bits = r.choice([4, 16, 32, 53, 64, 65, 128, 300])
        v = r.getrandbits(bits) * r.choice([1, -1])
        return str(v) if v or r.random() < 0.5 else "-0"
    return r.choice(["true", "false", "null", "NaN", "Infinity", "-Infinity"])


def random_vectors(o, n, seed):
    r = random.Random(seed)
    for _ in range(n):
        text = ws(r) + rand_value(r, 0) + ws(r)
        if r.random() < 0.7:  # mostly objects, like messages
            text = "{" + enc_str(r, "k") + ":" + text + "," + enc_str(r, rand_str(r) + "!") + ":1}"
        o.ok("random", text, r.choice([0, 0, 0, 1, 2, 3]))


def double_vectors(o, n, seed):
    """Random bit patterns, spelled the shortest way, with 17 and 25 digits,
    and rounded to 1-17 digits (a different double, mostly)."""
    r = random.Random(seed)
    for _ in range(n):
        f = struct.unpack("<d", struct.pack("<Q", r.getrandbits(64)))[0]
        if f != f or f in (float("inf"), float("-inf")):
            continue
        o.ok("float", "[%r,%.16e,%.24e,%.*e]" % (f, f, f, r.randint(0, 16), f))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20240601, help="seed of the random documents")
    ap.add_argument("--random", type=int, default=2000, help="how many random documents")
    ap.add_argument("--doubles", type=int, default=0, help="how many random doubles")
    args = ap.parse_args()
    with open(CORPUS, encoding="utf-8") as f:
        corpus = f.read().splitlines()
    o = Out(sys.stdout)
    unicode_vectors(o)
    float_vectors(o)
    int_vectors(o)
    nesting_vectors(o)
    key_vectors(o)
    misc_vectors(o)
    reject_vectors(o)
    flag_vectors(o, corpus)
    for line in corpus:
        o.ok("corpus", line)
    random_vectors(o, args.random, args.seed)
    double_vectors(o, args.doubles, args.seed)
    print("%d vectors" % o.n, file=sys.stderr)


if __name__ == "__main__":
    main()
