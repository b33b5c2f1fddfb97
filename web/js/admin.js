// SPDX-License-Identifier: LGPL-2.1-or-later
// admin.js: the admin page (admins only; the API refuses others anyway):
// GET v1/sinks (each instance's state, resume after crashes, and the
// outbox counts), the dead letters of everyone (retry, delete) and the
// users, a page at a time (limit/after/next).

import { actionButton, api, clear, el, pageLink, say, when } from "./api.js";
import { start } from "./nav.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;

function sinkState(s) {
	if (!s.loaded)
		return "not loaded: " + (s.error || "unknown reason");
	if (s.paused)
		return "paused" + (s.paused_reason ? ": " + s.paused_reason : "");
	if (s.broken_until)
		return "left alone until " + when(s.broken_until);
	return s.busy ? "delivering" : "idle";
}

async function loadSinks() {
	const r = await api("GET", "v1/sinks");
	const body = clear($("sinks").tBodies[0]);
	const st = $("action-status");
	for (const s of r.sinks || []) {
		body.appendChild(el("tr", { "data-name": s.name }, el("td", {}, s.name), el("td", {}, s.plugin),
			el("td", {}, sinkState(s)), el("td", {}, s.crashes || 0),
			el("td", {}, (s.isolation || "") + (s.pid ? " pid " + s.pid : "")),
			el("td", {}, actionButton("Resume", st, async () => {
				await api("POST", "v1/sinks/" + encodeURIComponent(s.name) + "/resume", {});
				say(st, "Resumed " + s.name + ".", "ok");
				await loadSinks();
			}))));
	}
	const o = r.outbox || {};
	const dl = clear($("outbox"));
	for (const [k, label] of [["pending", "Pending"], ["due_now", "Due now"], ["parked", "Held (paused or unverified)"], ["digests", "Digests"], ["dead", "Dead letters"]])
		dl.append(el("dt", {}, label), el("dd", { "data-key": k }, o[k] === undefined ? "?" : o[k]));
}

let deadAfter = null;
async function loadDead(reset) {
	const body = $("dead").tBodies[0];
	if (reset) {
		deadAfter = null;
		clear(body);
	}
	const r = await api("GET", "v1/deadletter?limit=" + PAGE + (deadAfter ? "&after=" + deadAfter : ""));
	const st = $("action-status");
	for (const n of r.notifications || []) {
		body.appendChild(el("tr", { "data-id": n.id }, el("td", {}, n.user),
			el("td", {}, el("span", { class: "title" }, n.title || n.topic || n.id), el("br"), el("span", { class: "meta" }, n.topic || "")),
			el("td", {}, when(n.dead_at)), el("td", { class: "err" }, n.reason || ""),
			el("td", {}, el("div", { class: "row" },
				actionButton("Retry", st, async () => {
					await api("POST", "v1/deadletter/" + n.id + "/retry", {});
					await loadDead(true);
				}),
				actionButton("Delete", st, async () => {
					await api("DELETE", "v1/deadletter/" + n.id);
					await loadDead(true);
				}, "danger")))));
	}
	deadAfter = r.next || null;
	$("dead-more").hidden = !deadAfter;
	$("dead-empty").hidden = body.rows.length > 0;
}

let usersNext = null;
let usersPageNo = 0;
async function loadUsers(after) {
	const r = await api("GET", "v1/users?limit=" + PAGE + (after ? "&after=" + encodeURIComponent(after) : ""));
	const body = clear($("users").tBodies[0]);
	for (const u of r.users || []) {
		const name = typeof u === "string" ? u : u.name;
		const lists = typeof u === "object" && u.lists ? Object.keys(u.lists).map((k) => k + " (" + u.lists[k].length + ")").join(", ") : "";
		body.appendChild(el("tr", {}, el("td", {}, name), el("td", {}, (u && u.timezone) || ""), el("td", {}, lists)));
	}
	usersNext = r.next || null;
	usersPageNo = after ? usersPageNo + 1 : 1;
	$("users-next").disabled = !usersNext;
	$("users-page").textContent = "Page " + usersPageNo + ", " + (r.users || []).length + " users" + (usersNext ? "; more follow." : ".");
}

async function main() {
	if (!(await start({ need: "admin" })))
		return;
	const st = $("action-status");
	const guard = (p) => p.catch((e) => say(st, e.message, "error"));
	$("dead-more").addEventListener("click", () => guard(loadDead(false)));
	$("users-first").addEventListener("click", () => guard(loadUsers(null)));
	$("users-next").addEventListener("click", () => guard(loadUsers(usersNext)));
	await guard(loadSinks());
	await guard(loadDead(true));
	await guard(loadUsers(null));
	$("page").append(el("p", {}, pageLink("dashboard.html", "Live dashboard")));
}

main();
