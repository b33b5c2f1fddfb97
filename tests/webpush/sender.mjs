// SPDX-License-Identifier: LGPL-2.1-or-later
//
// sender.mjs: sends one push message with the reference library (npm
// web-push's sendNotification), or, with one of the --bad-* / --no-ttl /
// --encoding / --rs options, a request built by web-push and then spoiled
// in one way, to show that the test push service (pushsvc.mjs) accepts what
// a correct sender sends and refuses what a real push service refuses. Not
// herald's sender: that is the webpush sink.
//
//   node sender.mjs --sub SUB.json --vapid KEY.pem --ca CA.pem [--subject S]
//        [--payload TEXT | --payload-bytes N] [--ttl N] [--urgency U] [--topic T]
//        [--no-ttl] [--encoding E] [--rs N] [--aud A] [--exp-in S] [--sub-claim S]
//        [--bad-sig] [--k-of OTHER.pem]
//
// Prints the status and the service's answer on one line: "201 " or
// "401 the JWT expired 10 s ago". Exit 0 when a status came back.
import { createECDH, createPrivateKey, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const webpush = require('web-push');
const ece = require('http_ece');

const a = { subject: 'mailto:tests@example.org', payload: 'hello from web-push' };
const flags = new Set(['--no-ttl', '--bad-sig']);
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  if (flags.has(argv[i]))
    a[k] = true;
  else if (argv[i].startsWith('--') && i + 1 < argv.length)
    a[k] = argv[++i];
  else {
    console.error('sender.mjs: bad argument ' + argv[i]);
    process.exit(2);
  }
}
if (!a.sub || !a.vapid || !a.ca) {
  console.error('usage: node sender.mjs --sub SUB.json --vapid KEY.pem --ca CA.pem [options]');
  process.exit(2);
}

// web-push wants the raw key pair in base64url.
function rawKeys(pemFile) {
  const jwk = createPrivateKey(readFileSync(pemFile)).export({ format: 'jwk' });
  const pub = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  return { publicKey: pub.toString('base64url'), privateKey: jwk.d, pem: readFileSync(pemFile) };
}

const sub = JSON.parse(readFileSync(a.sub, 'utf8'));
const keys = rawKeys(a.vapid);
const agent = new Agent({ ca: readFileSync(a.ca) });
const payload = a.payloadBytes ? Buffer.alloc(Number(a.payloadBytes), 'x') : Buffer.from(a.payload, 'utf8');
const options = { vapidDetails: { subject: a.subject, publicKey: keys.publicKey, privateKey: keys.privateKey },
  TTL: a.ttl === undefined ? 60 : Number(a.ttl), agent };
if (a.urgency)
  options.urgency = a.urgency;
if (a.topic)
  options.topic = a.topic;

function spoiled() {
  return a.noTtl || a.encoding || a.rs || a.aud || a.expIn || a.subClaim || a.badSig || a.kOf;
}

// A JWT like web-push's, with the claims and the key the options say.
function jwt() {
  const origin = new URL(sub.endpoint).origin;
  const claims = { aud: a.aud || origin, exp: Math.floor(Date.now() / 1000) + Number(a.expIn || 12 * 3600),
    sub: a.subClaim || a.subject };
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = enc({ typ: 'JWT', alg: 'ES256' }) + '.' + enc(claims);
  const sig = sign('sha256', Buffer.from(input), { key: createPrivateKey(keys.pem), dsaEncoding: 'ieee-p1363' });
  if (a.badSig)
    sig[10] ^= 1;
  const k = a.kOf ? rawKeys(a.kOf).publicKey : keys.publicKey;
  return 'vapid t=' + input + '.' + sig.toString('base64url') + ', k=' + k;
}

function send(details) {
  return new Promise((resolve, reject) => {
    const req = request(details.endpoint, { method: 'POST', headers: details.headers, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ statusCode: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end(details.body);
  });
}

let r;
if (!spoiled()) {
  try {
    r = await webpush.sendNotification(sub, payload, options);
  } catch (e) {
    if (e.statusCode === undefined)
      throw e;
    r = e;
  }
} else {
  const details = webpush.generateRequestDetails(sub, payload, options);
  if (a.rs) {
    // one record of the given size, as a sender that ignores the 4,096 limit would
    const local = createECDH('prime256v1');
    local.generateKeys();
    details.body = ece.encrypt(payload, { version: 'aes128gcm', dh: sub.keys.p256dh, privateKey: local,
      salt: randomBytes(16).toString('base64url'), authSecret: sub.keys.auth, rs: Number(a.rs) });
    details.headers['Content-Length'] = details.body.length;
  }
  if (a.noTtl)
    delete details.headers.TTL;
  if (a.encoding)
    details.headers['Content-Encoding'] = a.encoding;
  if (a.aud || a.expIn || a.subClaim || a.badSig || a.kOf)
    details.headers.Authorization = jwt();
  r = await send(details);
}
console.log(r.statusCode + ' ' + String(r.body || '').trim());
