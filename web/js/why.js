// SPDX-License-Identifier: LGPL-2.1-or-later
// why.js: "why did I get this?" for why.html?id=NOTE_ID: GET
// v1/users/NAME/why/ID names the notification, the subscription that
// matched, its filter, the clause-by-clause explanation and the fields
// herald read from the message. Everything is shown as text.

import { api, clear, el, safeHref, say, userPath, when } from "./api.js";
import { start } from "./nav.js";

const $ = (id) => document.getElementById(id);

function facts(dl, pairs) {
	clear(dl);
	for (const [k, v] of pairs) {
		if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length))
			continue;
		dl.append(el("dt", {}, k), el("dd", {}, v instanceof Node ? v : Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v)));
	}
}

// "sink address" of the note's destination (the answer may carry it), or
// its id when it is gone.
async function destLabel(n) {
	if (n.address)
		return n.address;
	if (n.destination === undefined)
		return null;
	try {
		const ds = await api("GET", userPath("/destinations"));
		const d = (ds.destinations || []).find((x) => x.id === n.destination);
		if (d)
			return d.sink + " " + d.address;
	} catch (e) {
		// the id is enough
	}
	return "#" + n.destination;
}

async function main() {
	if (!(await start({ need: "user" })))
		return;
	const id = new URLSearchParams(location.search).get("id") || "";
	if (!/^[0-9a-f]{32}$/i.test(id)) {
		say($("status"), "This page needs a notification id (why.html?id= and 32 hexadecimal digits).", "error");
		$("page").hidden = true;
		return;
	}
	let r;
	try {
		r = await api("GET", userPath("/why/" + encodeURIComponent(id)));
	} catch (e) {
		say($("status"), e.status === 404 ? "No notification " + id + " of yours is known (any more): " + e.message : e.message, "error");
		$("page").hidden = true;
		return;
	}
	const n = r.note || {};
	const dest = await destLabel(n);
	const link = safeHref(n.link) ? el("a", { href: n.link, rel: "noopener noreferrer" }, n.link) : n.link;
	facts($("note"), [["Title", n.title], ["Topic", n.topic], ["Time", when(n.time || n.timestamp || n.created)],
		["State", n.state], ["Sent by", n.sink], ["To", dest], ["Link", link], ["Id", n.id || id]]);
	const s = r.subscription || {};
	facts($("subscription"), [["Name", s.name || (s.id !== undefined ? "#" + s.id : "")], ["Id", s.id]]);
	$("sub-filter").textContent = s.filter || "";
	$("verdict").textContent = r.match ? "The filter matches this message:" : "Re-evaluated now, the filter does not match this message (the subscription, its lists or the message may have changed since):";
	$("why").textContent = r.why || "";
	$("source").textContent = r.source === "notification" ? "The original message has left the recent-message store, so this is evaluated on what the notification kept." : "Evaluated on the original bus message.";
	const others = (r.subscriptions || []).filter((x) => x.id !== s.id);
	if (others.length) {
		const ul = el("ul");
		for (const o of others)
			ul.appendChild(el("li", {}, (o.name || "#" + o.id) + ": " + (o.match ? "matches too" : "does not match now")));
		$("subscription").after(el("p", {}, "The notification was for more than one of your subscriptions:"), ul);
	}
	const m = r.meta || {};
	facts($("meta"), Object.keys(m).sort().map((k) => [k, m[k]]));
	document.title = (n.title ? n.title + " · " : "") + "why · herald";
}

main();
