// SPDX-License-Identifier: LGPL-2.1-or-later
// dashboard.js: the live dashboard: an EventSource on "events"; each
// "message" event is one accepted bus message ({id, topic, app, title,
// link, time}), prepended to a list kept at MAX entries; each "rate" event
// carries messages per minute by app. Shown to whoever v1/session's
// "dashboard" allows (public, signed-in, off).

import { clear, el, when } from "./api.js";
import { start } from "./nav.js";
import { messageItem } from "./messages.js";

const $ = (id) => document.getElementById(id);
const MAX = 100;

function setConn(kind, text) {
	$("conn").className = "msg " + kind;
	$("conn").textContent = text;
}

function onMessage(ev) {
	let m;
	try {
		m = JSON.parse(ev.data);
	} catch (e) {
		return;
	}
	const list = $("messages");
	list.insertBefore(messageItem(m), list.firstChild);
	while (list.children.length > MAX)
		list.removeChild(list.lastChild);
	$("messages-empty").hidden = true;
	setConn("ok", "Live: last message " + when(m.time || Date.now()) + ".");
}

// {"window_s", "per_min": {APP: N}, "total_per_min"}
function onRate(ev) {
	let d;
	try {
		d = JSON.parse(ev.data);
	} catch (e) {
		return;
	}
	const rates = d && typeof d.per_min === "object" ? d.per_min : {};
	const total = typeof d.total_per_min === "number" ? d.total_per_min : null;
	$("rate-total").textContent = total === null ? "" :
		"All apps: " + total.toFixed(total < 10 ? 1 : 0) + " per minute" + (d.window_s ? ", over the last " + d.window_s + " s." : ".");
	const rows = Object.entries(rates || {}).filter(([, v]) => typeof v === "number").sort((a, b) => b[1] - a[1]);
	const top = rows.length ? rows[0][1] : 0;
	const body = clear($("rates").tBodies[0]);
	for (const [app, n] of rows)
		body.appendChild(el("tr", {}, el("td", {}, app), el("td", { class: "num" }, n.toFixed(n < 10 ? 1 : 0)),
			el("td", {}, el("meter", { min: 0, max: top || 1, value: n, "aria-label": app + ": " + n + " per minute" }))));
}

async function main() {
	const s = await start({ need: "none" });
	if (!s)
		return;
	if (s.dashboard === "off" || (s.dashboard !== "public" && !s.user)) {
		$("page").hidden = true;
		const gate = $("gate");
		gate.hidden = false;
		gate.textContent = s.dashboard === "off" ? "The dashboard is turned off on this herald." : "Sign in to watch the dashboard.";
		return;
	}
	const es = new EventSource("events", { withCredentials: true });
	es.addEventListener("open", () => setConn("ok", "Live: connected, waiting for messages."));
	es.addEventListener("error", () => setConn("error", es.readyState === EventSource.CLOSED ? "The stream closed: reload the page." : "Connection lost, reconnecting…"));
	es.addEventListener("message", onMessage);
	es.addEventListener("rate", onRate);
}

main();
