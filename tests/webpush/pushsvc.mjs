// SPDX-License-Identifier: LGPL-2.1-or-later
//
// pushsvc.mjs: a Web Push service (RFC 8030) on 127.0.0.1 for herald's
// tests, built on the reference library http_ece for the decryption. It
// checks each push the way a real push service does (the VAPID JWT of RFC
// 8292, TTL, the aes128gcm content coding of RFC 8291, the 4,096-byte
// limit), decrypts it with the subscription's private key and records what
// the browser's service worker would get. Not a real push service: no
// delivery to browsers, everything in memory, loopback only.
//
//   node pushsvc.mjs --port P --cert CERT --key KEY --record FILE --control-port Q
//
// --port 0 / --control-port 0 pick free ports. Prints "ready PORT CONTROL_PORT"
// on stdout once both listen.
//
// The push side, HTTPS (HTTP/2, or HTTP/1.1 for clients without ALPN h2):
//   POST /push/ID   201 + Location when accepted; else a text/plain reason:
//     401  Authorization is not "vapid t=JWT, k=KEY" (or "WebPush JWT" with
//          Crypto-Key: p256ecdsa=KEY), k is not a P-256 point, the JWT's
//          header is not {"typ":"JWT","alg":"ES256"}, its ES256 signature
//          does not verify against k, aud is not this service's origin
//          (https://127.0.0.1:P), exp is past or more than 24 h ahead, sub
//          is not a mailto: or https: URL
//     403  k is not the applicationServerKey the subscription was made with
//     400  TTL missing or not a non-negative integer, Urgency not one of
//          very-low/low/normal/high, Topic longer than 32 or not base64url,
//          Content-Encoding not aes128gcm (with a body), more than one
//          record, a body that does not decrypt
//     413  a body over 4,096 bytes
//     404  no such subscription; 410 a deleted one
//   Checks come first; then a scripted answer (below) if one is set.
//   Each accepted push appends one JSON line to the record file:
//   {"id","ttl","urgency","topic","payload","jwt":{claims},"k","body_len","at_ms"}
//   (urgency and topic null when not sent; payload the decrypted text, null
//   for a push without a body).
//
// The control side, plain HTTP on 127.0.0.1:
//   POST /subscriptions [{"applicationServerKey":"B64URL"}]
//        a subscription made the way a browser makes one (a fresh P-256 key
//        pair and 16 random auth bytes); answers its PushSubscription JSON:
//        {"endpoint":"https://127.0.0.1:P/push/ID","expirationTime":null,
//         "keys":{"p256dh":"...","auth":"..."}}
//   DELETE /subscriptions/ID  pushes to it get 410 from then on
//   POST /script/ID {"status":N, "retry_after":S, "times":T, "over":L, "text":"..."}
//        answer the next T (default: every) valid pushes to ID with status N
//        (Retry-After: S when given); with "over", only pushes whose body is
//        longer than L bytes (413 for a shorter retry, say). {"status":0}
//        clears it.
//   GET /record   the record file's lines (application/x-ndjson)
//   GET /log      one JSON line per push request, accepted or not:
//                 {"id","status","reason","body_len","at_ms"}
//   GET /origin   this service's origin (the VAPID aud it wants)
import { createECDH, createPublicKey, randomBytes, verify } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ece = require('http_ece');

const MAX_BODY = 4096;
const MAX_EXP_S = 24 * 3600;
const READ_LIMIT = 1 << 20;
const URGENCIES = ['very-low', 'low', 'normal', 'high'];
const B64URL = /^[A-Za-z0-9_-]*$/;

function parseArgs(argv) {
  const a = { port: 0, controlPort: 0 };
  const names = { '--port': 'port', '--cert': 'cert', '--key': 'key', '--record': 'record',
    '--control-port': 'controlPort' };
  for (let i = 0; i < argv.length; i++) {
    const k = names[argv[i]];
    if (!k || i + 1 >= argv.length)
      usage();
    a[k] = argv[++i];
  }
  if (!a.cert || !a.key || !a.record)
    usage();
  a.port = Number(a.port);
  a.controlPort = Number(a.controlPort);
  return a;
}

function usage() {
  console.error('usage: node pushsvc.mjs --port P --cert CERT --key KEY --record FILE --control-port Q');
  process.exit(2);
}

const args = parseArgs(process.argv.slice(2));
writeFileSync(args.record, '');
const subs = new Map();   // id -> {ecdh, auth, appKey, gone, script}
const log = [];
let origin = '';
let msgSeq = 0;

class Refusal extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
  }
}

const b64 = (buf) => Buffer.from(buf).toString('base64url');
function unb64(s, what) {
  if (typeof s !== 'string' || !B64URL.test(s.replace(/=+$/, '')))
    throw new Refusal(401, what + ' is not base64url');
  return Buffer.from(s, 'base64url');
}

// The P-256 public key in k=: a KeyObject, which also proves it is on the curve.
function vapidKey(k) {
  const raw = unb64(k, 'k');
  if (raw.length !== 65 || raw[0] !== 4)
    throw new Refusal(401, 'k is not an uncompressed P-256 point (' + raw.length + ' bytes)');
  try {
    return createPublicKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', x: b64(raw.subarray(1, 33)),
      y: b64(raw.subarray(33)) } });
  } catch (e) {
    throw new Refusal(401, 'k is not a point on P-256 (' + e.message + ')');
  }
}

// "vapid t=JWT, k=KEY" (RFC 8292), or the older "WebPush JWT" + Crypto-Key: p256ecdsa=KEY.
function authorization(h) {
  const auth = h.authorization;
  if (!auth)
    throw new Refusal(401, 'no Authorization header');
  let m = /^vapid\s+(.*)$/i.exec(auth);
  if (m) {
    const params = {};
    for (const part of m[1].split(',')) {
      const eq = part.indexOf('=');
      if (eq < 0)
        throw new Refusal(401, 'Authorization: vapid parameter without "=": ' + part.trim());
      params[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
    }
    if (!params.t || !params.k)
      throw new Refusal(401, 'Authorization: vapid needs t= and k=');
    return { jwt: params.t, k: params.k };
  }
  m = /^WebPush\s+(\S+)$/i.exec(auth);
  const ck = /(?:^|[;,]\s*)p256ecdsa=([A-Za-z0-9_=-]+)/.exec(h['crypto-key'] || '');
  if (m && ck)
    return { jwt: m[1], k: ck[1] };
  throw new Refusal(401, 'Authorization is not "vapid t=..., k=...": ' + auth.slice(0, 80));
}

function jsonPart(s, what) {
  try {
    const v = JSON.parse(unb64(s, 'the JWT ' + what).toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v))
      return v;
  } catch (e) {
    if (e instanceof Refusal)
      throw e;
  }
  throw new Refusal(401, 'the JWT ' + what + ' is not a JSON object');
}

function checkJwt(jwt, k) {
  const parts = jwt.split('.');
  if (parts.length !== 3)
    throw new Refusal(401, 'the JWT has ' + parts.length + ' parts, not 3');
  const header = jsonPart(parts[0], 'header');
  const claims = jsonPart(parts[1], 'claims');
  if (header.alg !== 'ES256' || (header.typ !== undefined && header.typ !== 'JWT'))
    throw new Refusal(401, 'the JWT header is ' + JSON.stringify(header) + ', not ES256');
  const sig = unb64(parts[2], 'the JWT signature');
  if (sig.length !== 64)
    throw new Refusal(401, 'the ES256 signature is ' + sig.length + ' bytes, not 64 (r||s)');
  const key = vapidKey(k);
  const ok = verify('sha256', Buffer.from(parts[0] + '.' + parts[1]), { key, dsaEncoding: 'ieee-p1363' }, sig);
  if (!ok)
    throw new Refusal(401, 'the JWT signature does not verify against k');
  if (claims.aud !== origin)
    throw new Refusal(401, 'aud ' + JSON.stringify(claims.aud) + ' is not this push service (' + origin + ')');
  const now = Math.floor(Date.now() / 1000);
  if (!Number.isInteger(claims.exp))
    throw new Refusal(401, 'exp is not an integer');
  if (claims.exp <= now)
    throw new Refusal(401, 'the JWT expired ' + (now - claims.exp) + ' s ago');
  if (claims.exp > now + MAX_EXP_S)
    throw new Refusal(401, 'exp is ' + (claims.exp - now) + ' s ahead, more than 24 h');
  if (typeof claims.sub !== 'string' || !/^(mailto:.+|https:\/\/.+)$/.test(claims.sub))
    throw new Refusal(401, 'sub ' + JSON.stringify(claims.sub) + ' is not a mailto: or https: URL');
  return claims;
}

function checkHeaders(h) {
  const out = {};
  if (h.ttl === undefined)
    throw new Refusal(400, 'no TTL header');
  if (!/^[0-9]{1,10}$/.test(h.ttl))
    throw new Refusal(400, 'TTL ' + JSON.stringify(h.ttl) + ' is not a non-negative integer');
  out.ttl = Number(h.ttl);
  out.urgency = h.urgency === undefined ? null : h.urgency;
  if (out.urgency !== null && !URGENCIES.includes(out.urgency))
    throw new Refusal(400, 'Urgency ' + JSON.stringify(out.urgency) + ' is not one of ' + URGENCIES.join(', '));
  out.topic = h.topic === undefined ? null : h.topic;
  if (out.topic !== null && (out.topic.length > 32 || !out.topic.length || !B64URL.test(out.topic)))
    throw new Refusal(400, 'Topic ' + JSON.stringify(out.topic) + ' is not 1..32 base64url characters');
  return out;
}

// RFC 8291: one aes128gcm record, the sender's key in keyid.
function decrypt(sub, body, h) {
  if (!body.length)
    return null;
  const enc = (h['content-encoding'] || '').trim().toLowerCase();
  if (enc !== 'aes128gcm')
    throw new Refusal(400, 'Content-Encoding ' + JSON.stringify(h['content-encoding'] || null) + ' is not aes128gcm');
  if (body.length < 21 + 65 + 17)
    throw new Refusal(400, 'the body is too short for an aes128gcm record (' + body.length + ' bytes)');
  const rs = body.readUInt32BE(16), idlen = body[20];
  if (idlen !== 65)
    throw new Refusal(400, 'the keyid is ' + idlen + ' bytes, not a 65-byte P-256 point');
  if (rs < 18 || body.length - 21 - idlen > rs)
    throw new Refusal(400, 'more than one record (rs ' + rs + ', ' + (body.length - 86) + ' bytes of records)');
  try {
    return ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: b64(sub.auth) });
  } catch (e) {
    throw new Refusal(400, 'the body does not decrypt (' + e.message + ')');
  }
}

function scripted(sub, bodyLen) {
  const s = sub.script;
  if (!s || (s.over !== undefined && bodyLen <= s.over))
    return null;
  if (s.times !== undefined && --s.times <= 0)
    sub.script = null;
  return s;
}

function push(id, h, body) {
  const sub = subs.get(id);
  if (!sub)
    throw new Refusal(404, 'no such subscription');
  if (sub.gone)
    throw new Refusal(410, 'the subscription was unsubscribed');
  const { jwt, k } = authorization(h);
  const claims = checkJwt(jwt, k);
  if (sub.appKey && sub.appKey !== k.replace(/=+$/, ''))
    throw new Refusal(403, 'k is not the applicationServerKey this subscription was made with');
  const meta = checkHeaders(h);
  if (body.length > MAX_BODY)
    throw new Refusal(413, 'the body is ' + body.length + ' bytes, more than ' + MAX_BODY);
  const plain = decrypt(sub, body, h);
  const s = scripted(sub, body.length);
  if (s) {
    const r = new Refusal(s.status, s.text || 'scripted answer ' + s.status);
    r.retryAfter = s.retry_after;
    throw r;
  }
  const rec = { id, ...meta, payload: plain === null ? null : plain.toString('utf8'), jwt: claims,
    k: k.replace(/=+$/, ''), body_len: body.length, at_ms: Date.now() };
  appendFileSync(args.record, JSON.stringify(rec) + '\n');
  return rec;
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n <= limit)
        chunks.push(c);
    });
    req.on('end', () => resolve(n > limit ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function answer(res, status, type, text, extra = {}) {
  res.writeHead(status, { 'content-type': type, ...extra });
  res.end(text);
}

async function onPush(req, res) {
  const m = /^\/push\/([A-Za-z0-9_-]{1,64})$/.exec(req.url);
  if (!m || req.method !== 'POST') {
    answer(res, m ? 405 : 404, 'text/plain', m ? 'POST only\n' : 'not a push endpoint\n');
    return;
  }
  const body = await readBody(req, READ_LIMIT);
  const entry = { id: m[1], status: 201, reason: 'accepted', body_len: body ? body.length : READ_LIMIT + 1,
    at_ms: Date.now() };
  try {
    if (!body)
      throw new Refusal(413, 'the body is over ' + READ_LIMIT + ' bytes');
    const rec = push(m[1], req.headers, body);
    answer(res, 201, 'text/plain', '', { location: origin + '/m/' + (++msgSeq), ttl: String(rec.ttl) });
  } catch (e) {
    if (!(e instanceof Refusal))
      throw e;
    entry.status = e.status;
    entry.reason = e.message;
    const extra = e.retryAfter !== undefined ? { 'retry-after': String(e.retryAfter) } : {};
    answer(res, e.status, 'text/plain; charset=utf-8', e.message + '\n', extra);
  }
  log.push(entry);
}

function subscribe(body) {
  let appKey = null;
  if (body.length) {
    const o = JSON.parse(body.toString('utf8'));
    if (o.applicationServerKey !== undefined) {
      vapidKey(o.applicationServerKey);
      appKey = o.applicationServerKey.replace(/=+$/, '');
    }
  }
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const id = randomBytes(16).toString('base64url');
  const auth = randomBytes(16);
  subs.set(id, { ecdh, auth, appKey, gone: false, script: null });
  return { endpoint: origin + '/push/' + id, expirationTime: null,
    keys: { p256dh: b64(ecdh.getPublicKey()), auth: b64(auth) } };
}

function setScript(id, o) {
  const sub = subs.get(id);
  if (!sub)
    return false;
  if (!Number.isInteger(o.status) || o.status < 0 || o.status > 599)
    throw new Error('status must be an HTTP status (0 clears)');
  sub.script = o.status ? { ...o } : null;
  return true;
}

async function onControl(req, res) {
  const body = await readBody(req, 65536);
  const url = req.url;
  try {
    let m;
    if (req.method === 'POST' && url === '/subscriptions') {
      answer(res, 201, 'application/json', JSON.stringify(subscribe(body)) + '\n');
    } else if (req.method === 'DELETE' && (m = /^\/subscriptions\/([A-Za-z0-9_-]+)$/.exec(url))) {
      const sub = subs.get(m[1]);
      if (sub)
        sub.gone = true;
      answer(res, sub ? 204 : 404, 'text/plain', '');
    } else if (req.method === 'POST' && (m = /^\/script\/([A-Za-z0-9_-]+)$/.exec(url))) {
      const found = setScript(m[1], JSON.parse(body.toString('utf8')));
      answer(res, found ? 204 : 404, 'text/plain', found ? '' : 'no such subscription\n');
    } else if (req.method === 'GET' && url === '/record') {
      answer(res, 200, 'application/x-ndjson', readFileSync(args.record));
    } else if (req.method === 'GET' && url === '/log') {
      answer(res, 200, 'application/x-ndjson', log.map((e) => JSON.stringify(e) + '\n').join(''));
    } else if (req.method === 'GET' && url === '/origin') {
      answer(res, 200, 'text/plain', origin + '\n');
    } else {
      answer(res, 404, 'text/plain', 'no such control resource\n');
    }
  } catch (e) {
    answer(res, 400, 'text/plain', (e.message || String(e)) + '\n');
  }
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server.address().port));
  });
}

const pushServer = createSecureServer({ cert: readFileSync(args.cert), key: readFileSync(args.key),
  allowHTTP1: true }, (req, res) => onPush(req, res).catch((e) => {
  console.error('pushsvc: ' + (e.stack || e));
  answer(res, 500, 'text/plain', 'internal error\n');
}));
const controlServer = createServer((req, res) => onControl(req, res).catch((e) => {
  console.error('pushsvc: ' + (e.stack || e));
  answer(res, 500, 'text/plain', 'internal error\n');
}));
const port = await listen(pushServer, args.port);
origin = 'https://127.0.0.1' + (port === 443 ? '' : ':' + port);
const cport = await listen(controlServer, args.controlPort);
console.log('ready ' + port + ' ' + cport);
