// SPDX-License-Identifier: LGPL-2.1-or-later
// api.js: how every page talks to heraldd and builds its DOM. The session
// (user, admin, CSRF token) is read once per page from v1/session; every
// request that changes something carries X-CSRF-Token; every refusal
// becomes an ApiError holding the API's own {"error"} text. el() is the
// only way pages create content: strings become text nodes, never markup,
// so whatever comes from the bus or from a user is shown literally.
// Not for page layout (nav.js) nor for any one page's logic.
//
// Paths are relative ("v1/..."), so the pages work under a base URL with a
// path prefix (https://example.org/herald/).

let current = null;

export class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

// The session, fetched once: {user, admin, csrf, dashboard, expires}.
export async function session() {
	if (current)
		return current;
	const r = await fetch("v1/session", { cache: "no-store", credentials: "same-origin" });
	if (!r.ok)
		throw new ApiError(r.status, "the session could not be read (" + r.status + ")");
	current = await r.json();
	return current;
}

async function errorText(r) {
	try {
		const body = await r.json();
		if (body && typeof body.error === "string")
			return body.error;
	} catch (e) {
		// not JSON: fall through to the status line
	}
	if (r.status === 401)
		return "your session has ended: sign in again";
	return "the server answered " + r.status + (r.statusText ? " " + r.statusText : "");
}

// One API call. Resolves to the parsed answer (null when empty); rejects
// with ApiError(status, the server's message).
export async function api(method, path, body) {
	const headers = { Accept: "application/json" };
	if (method !== "GET" && method !== "HEAD") {
		const s = await session();
		headers["X-CSRF-Token"] = s.csrf || "";
	}
	const init = { method, headers, credentials: "same-origin", cache: "no-store" };
	if (body !== undefined) {
		headers["Content-Type"] = "application/json";
		init.body = JSON.stringify(body);
	}
	let r;
	try {
		r = await fetch(path, init);
	} catch (e) {
		throw new ApiError(0, "herald could not be reached (" + e.message + ")");
	}
	if (!r.ok)
		throw new ApiError(r.status, await errorText(r));
	const text = await r.text();
	return text ? JSON.parse(text) : null;
}

// "v1/users/NAME" + rest, for the signed-in user.
export function userPath(rest) {
	return "v1/users/" + encodeURIComponent(current.user) + (rest || "");
}

// Whether a destination's sink asks for a code: the destination document
// says so ("needs_code"). Before it did, the add answer ("verification") or
// a 409 to a code told, remembered in this browser: kept as the fallback.
const CODES_KEY = "herald.needs-code";
export function needsCode(d) {
	if (typeof d.needs_code === "boolean")
		return d.needs_code;
	try {
		return JSON.parse(localStorage.getItem(CODES_KEY) || "{}")[userPath("/" + d.id)];
	} catch (e) {
		return undefined;
	}
}
export function rememberNeedsCode(id, yes) {
	try {
		const m = JSON.parse(localStorage.getItem(CODES_KEY) || "{}");
		m[userPath("/" + id)] = yes;
		localStorage.setItem(CODES_KEY, JSON.stringify(m));
	} catch (e) {
		// no storage: the state stays "not verified"
	}
}

// A URL from the bus or a user is a link only when it is http(s): a
// "javascript:" link would run in our origin.
export function safeHref(url) {
	if (typeof url !== "string" || !url)
		return null;
	try {
		const u = new URL(url, document.baseURI);
		return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
	} catch (e) {
		return null;
	}
}

// el("tag", {attr: value, onclick: fn, ...}, child...): children are
// nodes, strings (text), numbers, null/undefined/false (skipped) or arrays.
export function el(tag, attrs, ...children) {
	const node = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k.startsWith("on") && typeof v === "function")
			node.addEventListener(k.slice(2), v);
		else if (k === "href") {
			const h = safeHref(v);
			if (h)
				node.setAttribute("href", h);
		}
		else if (k === "class")
			node.className = v;
		else
			node.setAttribute(k, v === true ? "" : String(v));
	}
	append(node, children);
	return node;
}

function append(node, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false)
			continue;
		if (Array.isArray(c))
			append(node, c);
		else if (c instanceof Node)
			node.appendChild(c);
		else
			node.appendChild(document.createTextNode(String(c)));
	}
}

// A link to one of our own pages (relative; not checked like bus links).
export function pageLink(href, ...children) {
	const a = el("a", {}, ...children);
	a.setAttribute("href", href);
	return a;
}

export function clear(node) {
	while (node.firstChild)
		node.removeChild(node.firstChild);
	return node;
}

// Show a message in a status area (role=status / role=alert set in HTML).
export function say(node, text, kind) {
	clear(node);
	node.className = "msg " + (kind || "info");
	node.hidden = !text;
	if (text)
		node.appendChild(document.createTextNode(text));
}

// An error in a status area; a 401 (the session ended) gets a way back in.
export function sayError(node, err) {
	say(node, err instanceof Error ? err.message : String(err), "error");
	if (err instanceof ApiError && err.status === 401) {
		node.appendChild(document.createTextNode(" "));
		node.appendChild(pageLink("auth/login?return=" + encodeURIComponent(location.pathname + location.search), "Sign in again"));
	}
}

// 3600 -> "hour", 7200 -> "2 hours", 90 -> "90 seconds"
export function interval(s) {
	for (const [n, unit] of [[604800, "week"], [86400, "day"], [3600, "hour"], [60, "minute"]]) {
		if (s % n === 0)
			return s === n ? unit : s / n + " " + unit + "s";
	}
	return s + " seconds";
}

// Wall-clock Unix milliseconds (or seconds when small) as local time.
export function when(t) {
	if (typeof t !== "number" || t <= 0)
		return "";
	const ms = t < 1e11 ? t * 1000 : t;
	return new Date(ms).toLocaleString();
}

// A button that runs an async action, disabled while it runs; errors go
// to `status`.
export function actionButton(label, status, fn, cls) {
	const b = el("button", { type: "button", class: cls || "" }, label);
	b.addEventListener("click", async () => {
		b.disabled = true;
		try {
			await fn();
		} catch (e) {
			sayError(status, e);
		} finally {
			b.disabled = false;
		}
	});
	return b;
}
