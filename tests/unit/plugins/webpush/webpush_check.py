#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The other side of test_webpush_unit, written with python3-cryptography
(an implementation independent of the sink's C code and of its use of
OpenSSL's EVP calls): it is the browser that decrypts a message and the push
service that checks a VAPID header. Not a test by itself.

  webpush_check.py keys
      a subscription's keys made the way a browser makes them: prints the
      P-256 private value, the uncompressed public point and 16 random auth
      bytes, base64url, on one line
  webpush_check.py decrypt PRIV PUB AUTH BODY OUT
      RFC 8291/8188 aes128gcm: decrypt the request body in file BODY with the
      subscription's keys, write the plaintext (padding removed) to OUT
  webpush_check.py pub PEM
      prints the key's public point in base64url
  webpush_check.py jwt VALUE ORIGIN SUBJECT NOW
      checks an Authorization value "vapid t=JWT, k=KEY" as a push service
      does: ES256 signature against k, header, aud, sub, now < exp <= now+24h

Exit 0 when all is well, 1 with the reason on stderr otherwise.
"""
import base64
import json
import os
import struct
import sys

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def point(key):
    return key.public_bytes(serialization.Encoding.X962,
                            serialization.PublicFormat.UncompressedPoint)


def fail(why):
    print(why, file=sys.stderr)
    sys.exit(1)


def keys():
    k = ec.generate_private_key(ec.SECP256R1())
    d = k.private_numbers().private_value.to_bytes(32, "big")
    print(b64e(d), b64e(point(k.public_key())), b64e(os.urandom(16)))


def hkdf(salt, ikm, info, n):
    return HKDF(hashes.SHA256(), n, salt, info).derive(ikm)


def decrypt(priv, pub, auth, body_path, out_path):
    ua = ec.derive_private_key(int.from_bytes(b64d(priv), "big"), ec.SECP256R1())
    ua_pub, auth = b64d(pub), b64d(auth)
    body = open(body_path, "rb").read()
    if len(body) < 86 + 17:
        fail("body of %d bytes is shorter than a header and an empty record" % len(body))
    salt, rs, idlen = body[:16], struct.unpack(">I", body[16:20])[0], body[20]
    if rs < 18 or idlen != 65:
        fail("rs %d or idlen %d out of range" % (rs, idlen))
    as_pub, record = body[21:86], body[86:]
    if len(record) > rs:
        fail("one record of %d bytes does not fit rs %d" % (len(record), rs))
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), as_pub)
    secret = ua.exchange(ec.ECDH(), peer)
    ikm = hkdf(auth, secret, b"WebPush: info\0" + ua_pub + as_pub, 32)
    cek = hkdf(salt, ikm, b"Content-Encoding: aes128gcm\0", 16)
    nonce = hkdf(salt, ikm, b"Content-Encoding: nonce\0", 12)
    try:
        plain = AESGCM(cek).decrypt(nonce, record, None)
    except InvalidTag:
        fail("the GCM tag does not verify")
    stripped = plain.rstrip(b"\0")
    if not stripped or stripped[-1] != 2:
        fail("no 0x02 delimiter: not the last record")
    open(out_path, "wb").write(stripped[:-1])
    print("rs=%d pad=%d" % (rs, len(plain) - len(stripped)))


def pub(pem_path):
    k = serialization.load_pem_private_key(open(pem_path, "rb").read(), None)
    print(b64e(point(k.public_key())))


def jwt(value, origin, subject, now):
    if not value.startswith("vapid t=") or ", k=" not in value:
        fail("not 'vapid t=..., k=...': %r" % value)
    t, k = value[len("vapid t="):].split(", k=", 1)
    parts = t.split(".")
    if len(parts) != 3:
        fail("the token has %d parts, not 3" % len(parts))
    header, claims = json.loads(b64d(parts[0])), json.loads(b64d(parts[1]))
    if header != {"typ": "JWT", "alg": "ES256"}:
        fail("header %r" % header)
    sig = b64d(parts[2])
    if len(sig) != 64:
        fail("signature of %d bytes, not 64 (r||s)" % len(sig))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(k))
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        key.verify(der, (parts[0] + "." + parts[1]).encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        fail("the ES256 signature does not verify against k")
    if claims.get("aud") != origin or claims.get("sub") != subject:
        fail("claims %r, wanted aud %r sub %r" % (claims, origin, subject))
    exp = claims.get("exp")
    if not isinstance(exp, int) or not now < exp <= now + 86400:
        fail("exp %r not within 24 h after %d" % (exp, now))


def main(argv):
    cmds = {"keys": (keys, 0), "decrypt": (decrypt, 5), "pub": (pub, 1), "jwt": (jwt, 4)}
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        fail(__doc__)
    args = argv[2:]
    if argv[1] == "jwt":
        args[3] = int(args[3])
    cmds[argv[1]][0](*args)


if __name__ == "__main__":
    main(sys.argv)
