#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make_verify_fixtures.sh DIR: keys, certificates and signed envelopes for
# test_verify, made at test time by the openssl command line and python3 only,
# so the test never checks herald's verifier against herald's own signer or
# canonicalizer. Not a tool for real deployments: keys are unencrypted and
# throwaway.
#
# DIR receives:
#   ca.pem ca2.pem            two unrelated CAs (RSA-2048, SHA-256)
#   crl0.pem crl.pem          CA CRLs before / after revoking revoked.pem
#   signer.pem                CN bodhi-app01.example.org, by ca.pem; its PEM
#                             has openssl's text dump first, like easy-rsa's
#   koji.pem                  CN koji01.example.org, by ca.pem
#   wrongca.pem               CN bodhi-app01.example.org, by ca2.pem
#   expired.pem               by ca.pem, valid 2001-2002
#   revoked.pem               by ca.pem, revoked in crl.pem
#   legacy.pem                by ca.pem, RSA-1024 signed with SHA-1, like
#                             deployed fedmsg certificates
#   (each *.pem certificate has its *.key)
#   evict.jsonl               1100 envelopes, each with its own certificate
#                             (CN many.example.org, all for one key)
#   ed.pem ed.pub.pem ed.pub.raw   Ed25519 key "bodhi" (raw: 32 bytes)
#   ed2.pem ed2.pub.raw       another Ed25519 key (the test calls it "koji")
#   rsa.key                   an RSA private key (not usable for Ed25519)
#   *.json                    envelopes (see envelopes.py below)
#   *.span                    "start end" byte offsets of msg in the .json
#   canon.py                  prints the canonical bytes of an envelope file
#   ed_verify.sh ENV PUB      checks ENV's Ed25519 signature with openssl
set -eu

dir=${1:?usage: make_verify_fixtures.sh DIR}
mkdir -p "$dir"
cd "$dir"
dir=$(pwd)

# Our own config: the system openssl.cnf must not change what we make.
cat >openssl.cnf <<EOF
[ req ]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ leaf ]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ca ]
default_ca = ca1
[ ca1 ]
dir = $dir/ca1db
database = \$dir/index.txt
new_certs_dir = \$dir
certificate = $dir/ca.pem
private_key = $dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 3650
default_crl_days = 3650
policy = any
unique_subject = no
x509_extensions = leaf
[ any ]
commonName = supplied
organizationName = optional
EOF
OPENSSL_CONF=$dir/openssl.cnf
export OPENSSL_CONF
mkdir -p ca1db
: >ca1db/index.txt
echo 1000 >ca1db/serial
echo 1000 >ca1db/crlnumber

q() { "$@" >/dev/null 2>&1 || { echo "make_verify_fixtures: failed: $*" >&2; exit 1; }; }

q openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca.key -out ca.pem \
	-subj "/O=Herald Test/CN=Herald Test CA"
q openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca2.key -out ca2.pem \
	-subj "/O=Elsewhere/CN=Some Other CA"

# name CN bits [extra openssl ca options]
leaf() {
	name=$1 cn=$2 bits=$3
	shift 3
	q openssl req -new -newkey "rsa:$bits" -nodes -keyout "$name.key" -out "$name.csr" \
		-subj "/O=Herald Test/CN=$cn"
	q openssl ca -batch -in "$name.csr" -out "$name.pem" "$@"
}
leaf signer bodhi-app01.example.org 2048
leaf koji koji01.example.org 2048 -notext
leaf expired bodhi-app01.example.org 2048 -notext -startdate 010101000000Z -enddate 020101000000Z
leaf revoked bodhi-app01.example.org 2048 -notext
leaf legacy bodhi-app01.example.org 1024 -notext -md sha1
q openssl ca -gencrl -out crl0.pem
q openssl ca -revoke revoked.pem
q openssl ca -gencrl -out crl.pem

# More certificates than the verifier caches (1024), all for one key:
# openssl ca signs the same request again with a new serial each time.
q openssl req -new -newkey rsa:2048 -nodes -keyout many.key -out many.csr \
	-subj "/O=Herald Test/CN=many.example.org"
mkdir -p many
# shellcheck disable=SC2046 # one word per file on purpose
q openssl ca -batch -notext -outdir many -infiles $(i=0; while [ $i -lt 1100 ]; do
	echo many.csr; i=$((i + 1)); done)

q openssl req -new -newkey rsa:2048 -nodes -keyout wrongca.key -out wrongca.csr \
	-subj "/O=Herald Test/CN=bodhi-app01.example.org"
q openssl x509 -req -in wrongca.csr -CA ca2.pem -CAkey ca2.key -CAcreateserial -days 3650 \
	-sha256 -out wrongca.pem

q openssl genpkey -algorithm ed25519 -out ed.pem
q openssl genpkey -algorithm ed25519 -out ed2.pem
q openssl pkey -in ed.pem -pubout -out ed.pub.pem
openssl pkey -in ed.pem -pubout -outform DER 2>/dev/null | tail -c 32 >ed.pub.raw
openssl pkey -in ed2.pem -pubout -outform DER 2>/dev/null | tail -c 32 >ed2.pub.raw
q openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out rsa.key

# The reference canonical form is Python's own, as fedmsg computes it.
cat >canon.py <<'EOF'
import json, sys
env = json.loads(open(sys.argv[1], "rb").read())
for k in ("signature", "certificate"):
    env.pop(k, None)
sys.stdout.buffer.write(json.dumps(env, sort_keys=True, separators=(",", ":")).encode())
EOF

# Independent check of an Ed25519-signed envelope: Python's canonical bytes,
# openssl's verification.
cat >ed_verify.sh <<'EOF'
#!/bin/sh
set -eu
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
python3 "$(dirname "$0")/canon.py" "$1" >"$t/tbs"
python3 -c 'import base64, json, sys; sys.stdout.buffer.write(base64.b64decode(json.load(open(sys.argv[1]))["signature"], validate=True))' "$1" >"$t/sig"
openssl pkeyutl -verify -rawin -pubin -inkey "$2" -in "$t/tbs" -sigfile "$t/sig" >/dev/null
EOF
chmod +x ed_verify.sh

cat >envelopes.py <<'EOF'
import base64, json, os, subprocess, sys

def canon(obj):
    o = {k: v for k, v in obj.items() if k not in ("signature", "certificate")}
    return json.dumps(o, sort_keys=True, separators=(",", ":")).encode()

def run(args, data):
    return subprocess.run(args, input=data, stdout=subprocess.PIPE, check=True).stdout

def rsa_sign(key, md, data):
    return run(["openssl", "dgst", "-" + md, "-sign", key], data)

def ed_sign(key, data):
    with open("tbs.bin", "wb") as f:
        f.write(data)
    return run(["openssl", "pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", "tbs.bin"], b"")

def wrap64(b):
    s = base64.b64encode(b).decode()
    return "\n".join(s[i:i + 64] for i in range(0, len(s), 64))

def fedmsg_b64(b):
    # Python 2's str.encode("base64"), what fedmsg used: 76 columns, final newline.
    return base64.encodebytes(b).decode()

def build(head, msg_text, tail=""):
    """Envelope text with msg spliced in verbatim, so its exact bytes
    (escapes, number spellings) reach the verifier. Returns (text, span)."""
    pre = head[:-1] + (", " if len(head) > 2 else "") + '"msg": '
    text = pre + msg_text + (", " + tail if tail else "") + "}"
    start = len(pre.encode())
    return text, (start, start + len(msg_text.encode()))

def add_fields(text, fields):
    extra = ", ".join(json.dumps(k) + ": " + json.dumps(v) for k, v in fields.items())
    return text[:-1] + ", " + extra + "}"

def write(name, text, span=None):
    with open(name + ".json", "wb") as f:
        f.write(text.encode())
    if span:
        with open(name + ".span", "w") as f:
            f.write("%d %d\n" % span)

def x509(name, head, msg_text, key, cert, md="sha1", b64=fedmsg_b64, tail=""):
    text, span = build(head, msg_text, tail)
    sig = rsa_sign(key, md, canon(json.loads(text)))
    text = add_fields(text, {"signature": b64(sig), "certificate": b64(open(cert, "rb").read())})
    write(name, text, span)
    return text

def ed(name, head, msg_text, key, tail=""):
    text, span = build(head, msg_text, tail)
    sig = ed_sign(key, canon(json.loads(text)))
    text = add_fields(text, {"signature": base64.b64encode(sig).decode()})
    write(name, text, span)
    return text

def hdr(topic, crypto="x509", **kw):
    h = {"topic": topic, "i": 7, "msg_id": "2024-0d1c3a4e-5f6b-4c7d-8e9f-a0b1c2d3e4f5",
         "timestamp": 1344350850, "username": "apache"}
    if crypto:
        h["crypto"] = crypto
    h.update(kw)
    for k in [k for k, v in h.items() if v is None]:
        del h[k]
    return json.dumps(h)

BODHI = "org.example.prod.bodhi.update.comment"
KOJI = "org.example.prod.koji.build.state.change"
WIKI = "org.example.prod.wiki.article.edit"

plain = json.dumps({"comment": {"text": "Works for me", "karma": 1, "author": "ralph"},
                    "agent": "ralph", "update": {"title": "kernel-6.1.1-100.fc37", "critpath": True,
                    "builds": [{"nvr": "kernel-6.1.1-100.fc37"}], "notes": None}})

# Escapes, raw UTF-8, astral characters (raw and as surrogate pairs),
# characters Python escapes and ones it does not ("/" and DEL).
unicode_msg = ('{"raw": "caf\u00e9 \u65e5\u672c\u8a9e \U0001F600 \U0001D11E", '
               '"escaped": "caf\\u00e9 \\u65E5 \\ud83d\\ude00 \\uD834\\uDD1E", '
               '"controls": "tab\\there\\nnewline \\"quoted\\" back\\\\slash \\/slash \\u0001 \\u001f \x7f", '
               '"separators": "\u2028\u2029", "bom": "\ufeff", '
               '"key \u00fc\u00df": ["\u00e9", "\\u00e9"], "Zebra": 1, "apple": 2, "\u00c5ngstr\u00f6m": 3, '
               '"\uff01": "fullwidth", "\U0001F600": "astral key: after U+FF01 by code point"}')

# Number spellings Python rewrites; integers past 64 bits copied exactly.
numbers_msg = ('{"f": [0.1, 1.5, 1E5, 1.0e-5, 1e+16, 1e22, -0.0, 0.5e-3, 123456789.25, 2.5E-310, '
               '1.7976931348623157e308, 100.0, 3.0, 5e-324], '
               '"i": [0, -1, 9223372036854775807, 9223372036854775808, 18446744073709551616, '
               '1180591620717411303424, -36893488147419103232, '
               '123456789012345678901234567890123456789012345678901234567890], '
               '"mix": {"n": null, "t": true, "f": false, "e": [], "o": {}}}')

def deep(n):
    s = '"bottom"'
    for k in range(n):
        s = ('{"k%d": %s}' % (k, s)) if k % 2 else ("[%s, %d]" % (s, k))
    return s

deep_msg = '{"deep": %s}' % deep(100)

# Tamper target: only strings, integers and short floats, so that changing
# any one letter or digit changes the value.
tamper_msg = ('{"agent": "ralph", "count": 42, "ratio": 0.75, "big": 123456789012345678901234, '
              '"names": ["alice", "bob", "caf\u00e9"], "nested": {"Key": "Value", "n": [1, 2, 3]}}')

x509("x509_sha1", hdr(BODHI), plain, "signer.key", "signer.pem")
x509("x509_sha256", hdr(BODHI), plain, "signer.key", "signer.pem", md="sha256")
x509("x509_wrap64", hdr(BODHI), plain, "signer.key", "signer.pem", b64=wrap64)
x509("x509_flat", hdr(BODHI), plain, "signer.key", "signer.pem",
     b64=lambda b: base64.b64encode(b).decode())
x509("x509_nocrypto", hdr(BODHI, crypto=None), plain, "signer.key", "signer.pem")
x509("x509_unicode", hdr(BODHI), unicode_msg, "signer.key", "signer.pem")
# Without "i": see x509_numbers_i.
x509("x509_numbers", hdr(BODHI, i=None), numbers_msg, "signer.key", "signer.pem", md="sha256")
x509("x509_numbers_i", hdr(BODHI), numbers_msg, "signer.key", "signer.pem", md="sha256")
x509("x509_deep", hdr(BODHI), deep_msg, "signer.key", "signer.pem")
x509("x509_tamper", hdr(BODHI, i=None), tamper_msg, "signer.key", "signer.pem")
x509("x509_koji", hdr(BODHI), plain, "koji.key", "koji.pem")
x509("x509_koji_on_koji", hdr(KOJI), plain, "koji.key", "koji.pem")
x509("x509_wiki", hdr(WIKI), plain, "signer.key", "signer.pem")
x509("x509_wrongca", hdr(BODHI), plain, "wrongca.key", "wrongca.pem")
x509("x509_expired", hdr(BODHI), plain, "expired.key", "expired.pem")
x509("x509_revoked", hdr(BODHI), plain, "revoked.key", "revoked.pem")
x509("x509_legacy", hdr(BODHI), plain, "legacy.key", "legacy.pem")
# Signed by one key, presented with another's certificate.
x509("x509_swapped", hdr(BODHI), plain, "koji.key", "signer.pem")

# Archive copies (datanommer/datagrepper): source fields, a float timestamp
# whose integer part is the signed one, empty headers.
signed = json.loads(open("x509_sha1.json").read())
def archived(name, src, changes, drop=()):
    env = dict(src)
    for k in drop:
        env.pop(k, None)
    env.update(changes)
    write(name, json.dumps(env))
archived("archive_full", signed, {"source_name": "datanommer", "source_version": "0.9.1",
                                  "timestamp": 1344350850.886738, "headers": {}})
archived("archive_nullheaders", signed, {"source_name": "datanommer", "source_version": "1.0",
                                         "timestamp": 1344350850.5, "headers": None})
archived("archive_source_only", signed, {"source_name": "datanommer", "source_version": "1.0"})
# Without source_version this is not an archive copy: nothing is undone.
archived("archive_half", signed, {"source_name": "datanommer", "timestamp": 1344350850.886738})
# Non-empty headers are part of the message, archive or not.
archived("archive_headers", signed, {"source_name": "datanommer", "source_version": "1.0",
                                     "headers": {"x": 1}})

# Malformed credentials.
archived("x509_sig_garbage", signed, {"signature": "!!not base64!!"})
archived("x509_sig_dash", signed, {"signature": signed["signature"].strip() + "-garbage"})
archived("x509_sig_midpad", signed, {"signature": "QUJD=REVG"})
archived("x509_sig_trunc", signed, {"signature": signed["signature"].strip()[:-3]})
archived("x509_sig_empty", signed, {"signature": ""})
def flip_last_bits(b64):
    s = b64.strip().replace("\n", "")
    i = len(s) - len(s.rstrip("=")) + 1  # last data character, from the end
    assert i > 1, "needs padding, hence unused bits"
    alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    c = alpha[alpha.index(s[-i]) | 1]
    return s[:-i] + c + s[len(s) - i + 1:]
archived("x509_sig_bits", signed, {"signature": flip_last_bits(signed["signature"])})
archived("x509_cert_garbage", signed, {"certificate": "@@@@"})
archived("x509_cert_notpem", signed, {"certificate": base64.b64encode(b"hello, world\n").decode()})
der = run(["openssl", "x509", "-in", "signer.pem", "-outform", "DER"], b"")
archived("x509_cert_der", signed, {"certificate": base64.b64encode(der).decode()})
archived("x509_nocert", signed, {}, drop=("certificate",))
archived("x509_nocrypto_nocert", signed, {}, drop=("certificate", "crypto"))
archived("gpg", signed, {"crypto": "gpg"})
archived("unsigned_bodhi", signed, {}, drop=("certificate", "signature", "crypto"))
wiki = json.loads(open("x509_wiki.json").read())
archived("unsigned_wiki", wiki, {}, drop=("certificate", "signature", "crypto"))
archived("unsigned_gpg", wiki, {"crypto": "gpg"}, drop=("certificate", "signature"))

# One signature, 1100 certificates: the canonical bytes leave them out.
pems = [open(os.path.join("many", n)).read() for n in sorted(os.listdir("many"))]
assert len(pems) == 1100 and all("BEGIN CERTIFICATE" in p for p in pems), len(pems)
many = json.loads(hdr(BODHI))
many["msg"] = {"n": 1}
many["signature"] = base64.b64encode(rsa_sign("many.key", "sha256", canon(many))).decode()
with open("evict.jsonl", "w") as f:
    for pem in pems:
        many["certificate"] = base64.b64encode(pem.encode()).decode()
        f.write(json.dumps(many) + "\n")

ed("ed_ok", hdr(BODHI, crypto="ed25519", signer="bodhi"), plain, "ed.pem")
ed("ed_unicode", hdr(BODHI, crypto="ed25519", signer="bodhi"), unicode_msg, "ed.pem")
ed("ed_numbers", hdr(BODHI, crypto="ed25519", signer="bodhi", i=None), numbers_msg, "ed.pem")
ed("ed_tamper", hdr(BODHI, crypto="ed25519", signer="bodhi", i=None), tamper_msg, "ed.pem")
ed("ed_wiki", hdr(WIKI, crypto="ed25519", signer="bodhi"), plain, "ed.pem")
ed("ed_unknown", hdr(BODHI, crypto="ed25519", signer="nobody"), plain, "ed.pem")
ed("ed_wrongkey", hdr(BODHI, crypto="ed25519", signer="bodhi"), plain, "ed2.pem")
# The signer name is signed: renaming it to another trusted key fails.
edok = json.loads(open("ed_ok.json").read())
archived("ed_renamed", edok, {"signer": "koji"})
archived("ed_nosigner", edok, {}, drop=("signer",))
archived("ed_short", edok, {"signature": base64.b64encode(base64.b64decode(edok["signature"])[:63]).decode()})
archived("ed_long", edok, {"signature": base64.b64encode(base64.b64decode(edok["signature"]) + b"\0").decode()})
archived("ed_archived", edok, {"source_name": "datanommer", "source_version": "1.0",
                               "timestamp": 1344350850.25, "headers": {}})
EOF
python3 envelopes.py
rm -rf tbs.bin ./*.csr many ca1db/*.pem
