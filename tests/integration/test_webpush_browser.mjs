// SPDX-License-Identifier: LGPL-2.1-or-later
//
// test_webpush_browser.mjs: the browser half of the Web Push tests. Debian's
// chromium, headless, driven over the DevTools protocol (npm
// chrome-remote-interface, installed in tests/webpush): it opens herald's
// web app, registers herald's service worker with the page's own code
// (js/push.js), grants notifications, delivers one push message to the
// worker with ServiceWorker.deliverPushMessage, and checks the notification
// the worker shows (its showNotification call, recorded in the worker:
// title, body, tag, data.link; and registration.getNotifications(), which
// must agree when it lists it) and what a click on it opens (the worker's
// own notificationclick handler, with clients.openWindow recorded instead
// of opening a window).
//
//   node test_webpush_browser.mjs --base URL --payload JSON --title T --body B
//        --link L [--tag TAG] [--sink NAME --public-key B64URL] [--work DIR]
//
// --payload is the text the push service decrypted (pushsvc.mjs's record's
// "payload"), --payload-file FILE the same from a file. --link "" means no
// link: a click then opens the web app's history page. With --sink and
// --public-key, GET v1/webpush must list that key, and the subscribe
// button's code (pushSubscribe) must get through permission, the service
// worker and the key to the browser's push service; that last step needs
// Google's push service, which a test cannot reach, so it is expected to
// fail there and only there. Each check prints "ok - WHAT" or
// "not ok - WHAT: why"; exit 0 when all passed, 1 when one failed, 2 on a
// usage error. The browser's profile and log go to --work (default: a
// temporary folder, removed). Not for the push service or the sink: those
// are pushsvc.mjs and test_webpush.sh.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const depsDir = process.env.HERALD_WEBPUSH_DIR || join(here, '..', 'webpush');
const CDP = createRequire(join(depsDir, 'package.json'))('chrome-remote-interface');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT_MS = 30000;

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length)
      usage('bad argument ' + argv[i]);
    a[argv[i].slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = argv[i + 1];
  }
  if (a.payloadFile)
    a.payload = readFileSync(a.payloadFile, 'utf8');
  for (const k of ['base', 'payload', 'title', 'body', 'link'])
    if (a[k] === undefined)
      usage('--' + k + ' is required');
  if (!!a.sink !== !!a.publicKey)
    usage('--sink and --public-key go together');
  a.base = a.base.replace(/\/+$/, '') + '/';
  return a;
}

function usage(why) {
  console.error('test_webpush_browser.mjs: ' + why + '\nusage: node test_webpush_browser.mjs --base URL ' +
    '(--payload JSON | --payload-file FILE) --title T --body B --link L [--tag TAG] ' +
    '[--sink NAME --public-key B64URL] [--work DIR]');
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = WAIT_MS) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v)
        return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error('timed out waiting for ' + what + (last ? ' (' + last.message + ')' : ''));
}

let failed = 0;
async function step(what, fn) {
  try {
    const r = await fn();
    console.log('ok - ' + what);
    return r === undefined ? true : r;
  } catch (e) {
    failed++;
    console.log('not ok - ' + what + ': ' + String(e.message || e).split('\n')[0].slice(0, 400));
    return null;
  }
}

// ---- the browser ----
async function launch(work) {
  const profile = join(work, 'chromium-profile');
  mkdirSync(work, { recursive: true });
  const log = openSync(join(work, 'chromium.log'), 'a');
  // Loopback only: no background traffic, and the browser's push service
  // (Google's GCM, which pushManager.subscribe asks) pointed at a closed port.
  const gcm = 'https://127.0.0.1:9/';
  const proc = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--no-first-run', '--no-default-browser-check', '--disable-extensions', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-domain-reliability',
    '--gcm-checkin-url=' + gcm, '--gcm-registration-url=' + gcm, '--gcm-mcs-endpoint=' + gcm,
    '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', '--user-data-dir=' + profile,
    'about:blank'],
  { detached: true, stdio: ['ignore', log, log] });
  const portFile = join(profile, 'DevToolsActivePort');
  const port = await until('chromium to listen for DevTools', () =>
    existsSync(portFile) && Number(readFileSync(portFile, 'utf8').split('\n')[0]));
  return { proc, port };
}

function stop(proc) {
  try {
    process.kill(-proc.pid, 'SIGTERM'); // its own process group: the browser and its helpers
  } catch (e) {
    // already gone
  }
}

async function evaluate(client, expression) {
  const r = await client.Runtime.evaluate({ expression, awaitPromise: true, returnByValue: true });
  if (r.exceptionDetails)
    throw new Error((r.exceptionDetails.exception && r.exceptionDetails.exception.description) ||
      r.exceptionDetails.text);
  return r.result.value;
}

// ---- the checks ----
async function register(client, a, regs) {
  await client.Page.navigate({ url: a.base });
  await until('the page to load', async () => (await evaluate(client, 'document.readyState')) === 'complete');
  const scope = await evaluate(client, `import(new URL('js/push.js', document.baseURI).href)
    .then(async (m) => (await m.pushRegister()).scope)`);
  if (scope !== a.base)
    throw new Error('the worker\'s scope is ' + scope + ', not ' + a.base);
  const reg = await until('the worker to be activated', () =>
    [...regs.values()].find((r) => r.scopeURL === a.base && r.activated));
  return reg.registrationId;
}

async function subscribeButton(client, a) {
  const keys = await evaluate(client, `import(new URL('js/push.js', document.baseURI).href)
    .then((m) => m.pushKeys())`);
  if (!keys.some((k) => k.sink === a.sink && k.public_key === a.publicKey))
    throw new Error('GET v1/webpush gave ' + JSON.stringify(keys) + ', not sink ' + a.sink + ' with ' + a.publicKey);
  const r = await evaluate(client, `import(new URL('js/push.js', document.baseURI).href).then(async (m) => {
      const stages = [];
      const run = m.pushSubscribe(${JSON.stringify(a.sink)}, (s) => stages.push(s))
        .then((v) => ({ ok: true, v }), (e) => ({ ok: false, stage: e.stage, message: e.message }));
      const timeout = new Promise((res) => setTimeout(() => res({ ok: false, stage: 'timeout' }), 8000));
      return { stages, result: await Promise.race([run, timeout]) };
    })`);
  const want = ['support', 'permission', 'worker', 'key', 'subscribe'];
  if (JSON.stringify(r.stages) !== JSON.stringify(want))
    throw new Error('stages ' + JSON.stringify(r.stages) + ' (' + JSON.stringify(r.result) + ')');
  // Only the browser's own push service (Google's) may stop it, and a test cannot reach that.
  if (!r.result.ok && !['subscribe', 'timeout'].includes(r.result.stage))
    throw new Error('stopped at ' + r.result.stage + ': ' + r.result.message);
  return r.result.ok ? 'subscribed' : r.result.stage === 'timeout' ? 'no answer from the push service'
    : r.result.message;
}

// The worker's DevTools session. Attached before the push, it also keeps
// the worker from being stopped between the steps.
async function attachWorker(port, a) {
  const target = await until('the service worker\'s DevTools target', async () =>
    (await CDP.List({ port })).find((t) => t.type === 'service_worker' && t.url === a.base + 'sw.js'));
  const sw = await CDP({ port, target });
  await sw.Runtime.enable();
  return sw;
}

// Every showNotification the worker makes, recorded as it is made (title,
// options, and whether it resolved), before the call goes on as usual.
// getNotifications() alone does not do: headless chromium 156 leaves about
// one notification in three out of it though showNotification resolved.
const OBSERVE = `(() => {
  const show = ServiceWorkerRegistration.prototype.showNotification;
  self.__heraldShown = [];
  ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
    const rec = { title, options: JSON.parse(JSON.stringify(options || {})), state: 'pending' };
    self.__heraldShown.push(rec);
    return show.call(this, title, options).then((v) => { rec.state = 'resolved'; return v; },
      (e) => { rec.state = 'rejected: ' + e; throw e; });
  };
})()`;

function compare(a, n) {
  const link = (n.data && n.data.link) || '';
  const bad = [];
  if (n.title !== a.title)
    bad.push('title ' + JSON.stringify(n.title) + ' != ' + JSON.stringify(a.title));
  if (n.body !== a.body)
    bad.push('body ' + JSON.stringify(n.body) + ' != ' + JSON.stringify(a.body));
  if (link !== a.link)
    bad.push('data.link ' + JSON.stringify(link) + ' != ' + JSON.stringify(a.link));
  if (a.tag !== undefined && n.tag !== a.tag)
    bad.push('tag ' + JSON.stringify(n.tag) + ' != ' + JSON.stringify(a.tag));
  if (bad.length)
    throw new Error(bad.join('; '));
}

async function shown(sw, a) {
  const calls = await until('the worker to show a notification', async () => {
    const c = await evaluate(sw, 'self.__heraldShown');
    return c.length && c.every((x) => x.state !== 'pending') ? c : null;
  });
  if (calls.length !== 1 || calls[0].state !== 'resolved')
    throw new Error('showNotification calls: ' + JSON.stringify(calls));
  const o = calls[0].options;
  compare(a, { title: calls[0].title, body: o.body, tag: o.tag, data: o.data });
  return calls[0];
}

// What registration.getNotifications() lists, when headless chromium lists it (see OBSERVE).
async function listed(sw, a) {
  let list = [];
  try {
    list = await until('getNotifications() to list it', () => evaluate(sw, `self.registration.getNotifications()
      .then((ns) => ns.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data })))`)
      .then((ns) => (ns.length ? ns : null)), 5000);
  } catch (e) {
    return false;
  }
  if (list.length !== 1)
    throw new Error(list.length + ' notifications: ' + JSON.stringify(list));
  compare(a, list[0]);
  return true;
}

// The worker's notificationclick handler, on the notification it showed. A
// synthetic event cannot open windows, so clients.openWindow and matchAll
// are replaced in the worker by recorders first.
async function click(sw, a) {
  const opened = await evaluate(sw, `(async () => {
    const rec = self.__heraldShown[0];
    const opened = [];
    self.clients.openWindow = async (u) => { opened.push(u); return null; };
    self.clients.matchAll = async () => [];
    const ev = new Event('notificationclick');
    ev.notification = { title: rec.title, data: rec.options.data, close() {} };
    ev.waitUntil = () => {};
    self.dispatchEvent(ev);
    for (let i = 0; i < 50 && !opened.length; i++)
      await new Promise((r) => setTimeout(r, 100));
    return opened;
  })()`);
  const want = /^https?:/.test(a.link) ? new URL(a.link).href : a.base + 'history.html';
  if (opened.length !== 1 || opened[0] !== want)
    throw new Error('a click opened ' + JSON.stringify(opened) + ', not ' + want);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const work = a.work || mkdtempSync(join(tmpdir(), 'herald-wpb-'));
  const origin = new URL(a.base).origin;
  const { proc, port } = await launch(work);
  let client, sw;
  try {
    const page = await until('a page target', async () =>
      (await CDP.List({ port })).find((t) => t.type === 'page'));
    client = await CDP({ port, target: page });
    const regs = new Map();
    client.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      for (const r of registrations)
        regs.set(r.registrationId, { ...regs.get(r.registrationId), ...r });
    });
    client.on('ServiceWorker.workerVersionUpdated', ({ versions }) => {
      for (const v of versions)
        if (v.status === 'activated' && regs.has(v.registrationId))
          regs.get(v.registrationId).activated = true;
    });
    await client.Page.enable();
    await client.Runtime.enable();
    await client.ServiceWorker.enable();
    await client.Browser.grantPermissions({ origin, permissions: ['notifications'] });
    const regId = await step('herald\'s page registers its service worker (js/push.js, sw.js) for ' + a.base,
      () => register(client, a, regs));
    if (!regId)
      return 1;
    await step('notifications are granted to ' + origin, async () => {
      const p = await evaluate(client, 'Notification.permission');
      if (p !== 'granted')
        throw new Error('Notification.permission is ' + p);
    });
    sw = await attachWorker(port, a);
    await evaluate(sw, OBSERVE);
    await client.ServiceWorker.deliverPushMessage({ origin, registrationId: regId, data: a.payload });
    const n = await step('the worker shows the pushed payload: title, body, data.link' +
      (a.tag !== undefined ? ', tag' : '') + ' (showNotification resolved)', () => shown(sw, a));
    if (n) {
      await step('if registration.getNotifications() lists it, with that title, body, tag and link', async () => {
        if (!(await listed(sw, a)))
          console.log('# headless chromium did not list it in getNotifications() (see OBSERVE)');
      });
      await step('a click on it opens ' + (/^https?:/.test(a.link) ? 'its link' : 'the history page'),
        () => click(sw, a));
    }
    // Last: a subscribe that the unreachable push service never answers
    // holds the registration's push state, and a push delivered after it is lost.
    if (a.sink) {
      await step('the subscribe button\'s code gets its key from GET v1/webpush and through permission and the ' +
        'service worker to the browser\'s push service', async () => {
        const note = await subscribeButton(client, a);
        console.log('# the push service step: ' + note);
      });
    }
  } finally {
    for (const c of [sw, client])
      if (c)
        await c.close().catch(() => {});
    stop(proc);
    await sleep(300);
    if (!a.work)
      rmSync(work, { recursive: true, force: true });
  }
  return failed ? 1 : 0;
}

main().then((rc) => process.exit(rc), (e) => {
  console.log('not ok - the browser test ran: ' + (e.stack || e));
  process.exit(1);
});
