// SPDX-License-Identifier: LGPL-2.1-or-later
// sw.js: herald's service worker. Shows each Web Push message the webpush
// sink sends as a notification and opens its link when it is clicked.
// The payload (doc/herald-webpush.7) is JSON: {"title", "body", "link",
// "tag", "app", "icon", "timestamp", "id", "digest", "unsubscribe"}; anything else
// is shown as plain text under the title "herald". Served from the top
// (/sw.js) so that its scope is the whole web app.
//
// Not for caching or serving pages (no fetch handler: the pages always
// come from heraldd), nor for subscribing (js/push.js does that in the page).

function payload(event) {
	if (!event.data)
		return {};
	try {
		const p = event.data.json();
		if (p && typeof p === "object" && !Array.isArray(p))
			return p;
	} catch (e) {
		// not JSON: shown as text below
	}
	return { body: event.data.text() };
}

const str = (v) => (typeof v === "string" ? v : "");

// What a click opens: the notification's own http(s) link, else the web
// app's history page, where every delivered notification is listed.
function clickTarget(link) {
	try {
		const u = new URL(str(link));
		if (u.protocol === "https:" || u.protocol === "http:")
			return u.href;
	} catch (e) {
		// not a URL: the history page
	}
	return new URL("history.html", self.registration.scope).href;
}

async function focusOrOpen(url) {
	const wins = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
	for (const w of wins)
		if (w.url === url && "focus" in w)
			return w.focus();
	return self.clients.openWindow(url);
}

self.addEventListener("push", (event) => {
	const p = payload(event);
	const options = {
		body: str(p.body),
		// the item's id: a retry of the same notification replaces it, never shows twice
		tag: str(p.tag) || str(p.id),
		data: { link: str(p.link), id: str(p.id), unsubscribe: str(p.unsubscribe) },
	};
	if (str(p.icon))
		options.icon = p.icon;
	if (Number.isFinite(p.timestamp) && p.timestamp > 0)
		options.timestamp = p.timestamp; // when the bus message was sent, not when it arrived
	event.waitUntil(self.registration.showNotification(str(p.title) || "herald", options));
});

self.addEventListener("notificationclick", (event) => {
	event.notification.close();
	const data = event.notification.data || {};
	event.waitUntil(focusOrOpen(clickTarget(data.link)));
});

// A new version takes over at once: it holds no state worth waiting for.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
