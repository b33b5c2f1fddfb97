// SPDX-License-Identifier: LGPL-2.1-or-later
// history.js: the history page: the user's outbox (waiting, with
// last_error; retry now or drop), dead letters (retry, delete) and the
// delivery log, each notification linking to its "why" page. Lists page
// with "after"/"next" as the API gives them. Not for admin-wide views.

import { actionButton, api, clear, el, pageLink, say, userPath, when } from "./api.js";
import { start } from "./nav.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;

function whyLink(id, text) {
	return pageLink("why.html?id=" + encodeURIComponent(id), text || "why?");
}

// Title (or topic) and the topic below it.
function noteCell(n) {
	return el("td", {}, el("span", { class: "title" }, n.title || n.topic || n.id),
		el("br"), el("span", { class: "meta" }, n.topic || "", " · ", whyLink(n.id)));
}

function dueText(n) {
	if (n.due === -1)
		return "held: destination paused or unverified";
	return n.digest ? when(n.due) + " (in a digest)" : when(n.due);
}

function outboxRow(n) {
	const st = $("action-status");
	return el("tr", { "data-id": n.id }, noteCell(n), el("td", {}, dueText(n)), el("td", {}, n.attempts),
		el("td", { class: "err" }, n.last_error || ""),
		el("td", {}, el("div", { class: "row" },
			actionButton("Send now", st, async () => {
				await api("POST", userPath("/outbox/" + n.id + "/retry"), {});
				say(st, "It is due now.", "ok");
				await reload();
			}),
			actionButton("Drop", st, async () => {
				if (!confirm("Drop this notification? It will not be sent."))
					return;
				await api("DELETE", userPath("/outbox/" + n.id));
				await reload();
			}, "danger"))));
}

function deadRow(n) {
	const st = $("action-status");
	return el("tr", { "data-id": n.id }, noteCell(n), el("td", {}, when(n.dead_at)), el("td", { class: "err" }, n.reason || ""),
		el("td", {}, el("div", { class: "row" },
			actionButton("Retry", st, async () => {
				await api("POST", userPath("/deadletter/" + n.id + "/retry"), {});
				say(st, "Back in the queue, due now.", "ok");
				await reload();
			}),
			actionButton("Delete", st, async () => {
				await api("DELETE", userPath("/deadletter/" + n.id));
				await reload();
			}, "danger"))));
}

let dests = new Map(); // destination id -> address, for the delivery log

function deliveredRow(d) {
	return el("tr", { "data-id": d.id }, el("td", {}, when(d.at)), el("td", {}, d.sink),
		el("td", { class: "addr" }, dests.get(d.destination) || "#" + d.destination), el("td", {}, d.digest ? d.count + " (digest)" : d.count),
		el("td", {}, d.attempts), el("td", {}, whyLink(d.id)));
}

// A paged list: fill `table` from `path`, "More" fetches the next page.
function pager(path, key, table, empty, more, row) {
	let after = null;
	const next = async (reset) => {
		const body = $(table).tBodies[0];
		if (reset) {
			after = null;
			clear(body);
		}
		const q = "?limit=" + PAGE + (after ? "&after=" + encodeURIComponent(after) : "");
		const r = await api("GET", userPath(path + q));
		for (const n of r[key] || [])
			body.appendChild(row(n));
		after = r.next || null;
		$(more).hidden = !after;
		$(empty).hidden = body.rows.length > 0;
		$(table).hidden = body.rows.length === 0;
	};
	$(more).addEventListener("click", () => next(false).catch((e) => say($("action-status"), e.message, "error")));
	return next;
}

let lists = [];

async function reload() {
	for (const next of lists)
		await next(true);
}

async function main() {
	if (!(await start({ need: "user" })))
		return;
	lists = [
		pager("/outbox", "notifications", "outbox", "outbox-empty", "outbox-more", outboxRow),
		pager("/deadletter", "notifications", "dead", "dead-empty", "dead-more", deadRow),
	];
	try {
		await reload();
		const ds = await api("GET", userPath("/destinations"));
		dests = new Map((ds.destinations || []).map((x) => [x.id, x.address]));
		const d = await api("GET", userPath("/delivered?limit=" + PAGE));
		const body = $("delivered").tBodies[0];
		for (const x of d.delivered || [])
			body.appendChild(deliveredRow(x));
		$("delivered-empty").hidden = body.rows.length > 0;
		$("delivered").hidden = body.rows.length === 0;
	} catch (e) {
		say($("status"), e.message, "error");
	}
}

main();
