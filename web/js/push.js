// SPDX-License-Identifier: LGPL-2.1-or-later
// push.js: this browser as a Web Push destination. Registers herald's
// service worker (sw.js), asks the person for permission to show
// notifications, reads the webpush sinks' VAPID public keys (GET
// v1/webpush, no sign-in needed), subscribes with the browser's push
// service, and hands back the PushSubscription JSON that becomes the
// destination's address. Not for adding the destination (the page does,
// with api.js) nor for showing notifications (sw.js).

export class PushError extends Error {
	constructor(stage, message) {
		super(message);
		this.stage = stage;
	}
}

// Can this browser take Web Push at all (a secure context, the APIs)?
export function pushSupported() {
	return window.isSecureContext && "serviceWorker" in navigator && "PushManager" in window &&
		"Notification" in window;
}

// The service worker, registered (again: the browser updates it when it changed).
export async function pushRegister() {
	await navigator.serviceWorker.register("sw.js", { updateViaCache: "none" });
	return navigator.serviceWorker.ready;
}

// [{sink, public_key}] of the webpush sinks heraldd has.
export async function pushKeys() {
	const r = await fetch("v1/webpush", { cache: "no-store" });
	if (!r.ok)
		throw new PushError("key", "herald did not give its push keys (" + r.status + ")");
	const body = await r.json();
	return Array.isArray(body.sinks) ? body.sinks : [];
}

function keyBytes(b64url) {
	const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
	const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
	return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

const sameKey = (sub, key) => {
	const have = sub.options && sub.options.applicationServerKey;
	if (!have)
		return false;
	const a = new Uint8Array(have), b = keyBytes(key);
	return a.length === b.length && a.every((x, i) => x === b[i]);
};

// Subscribe this browser for `sink` (or the only webpush sink). Resolves
// to {sink, address}; rejects with a PushError naming the stage that
// failed: "support", "permission", "worker", "key" or "subscribe".
// onStage(stage) is told each stage as it starts.
export async function pushSubscribe(sink, onStage = () => {}) {
	const stage = (s) => onStage(s);
	stage("support");
	if (!pushSupported())
		throw new PushError("support", "this browser cannot receive push notifications here (it needs https)");
	stage("permission");
	const perm = await Notification.requestPermission();
	if (perm !== "granted")
		throw new PushError("permission", "notifications are " + (perm === "denied" ? "blocked" : "not allowed") +
			" for this site: allow them in the browser's site settings");
	stage("worker");
	let reg;
	try {
		reg = await pushRegister();
	} catch (e) {
		throw new PushError("worker", "the service worker could not be registered (" + e.message + ")");
	}
	stage("key");
	const keys = await pushKeys();
	const entry = keys.find((k) => !sink || k.sink === sink);
	if (!entry)
		throw new PushError("key", sink ? "herald has no webpush sink " + sink : "herald has no webpush sink");
	stage("subscribe");
	try {
		let sub = await reg.pushManager.getSubscription();
		if (sub && !sameKey(sub, entry.public_key)) {
			await sub.unsubscribe(); // made for another key: the push service would refuse ours
			sub = null;
		}
		sub = sub || await reg.pushManager.subscribe({ userVisibleOnly: true,
			applicationServerKey: keyBytes(entry.public_key) });
		return { sink: entry.sink, address: JSON.stringify(sub.toJSON()) };
	} catch (e) {
		throw new PushError("subscribe", "the browser's push service refused (" + e.name + ": " + e.message + ")");
	}
}
