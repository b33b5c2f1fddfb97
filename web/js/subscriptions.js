// SPDX-License-Identifier: LGPL-2.1-or-later
// subscriptions.js: the subscriptions page. Presets write the filter
// (presets.js); the filter is checked as it is typed through
// POST v1/filter/test, whose 400 names line:col; Preview asks
// POST v1/users/NAME/preview for what it would have matched among the
// recent bus messages; Save posts the subscription. Also the user's lists
// (PUT .../lists/LIST), quiet hours and time zone, and the list of
// subscriptions with enable/disable/delete. Not for destinations.

import { actionButton, api, clear, el, interval, needsCode, say, sayError, session, userPath, when } from "./api.js";
import { start } from "./nav.js";
import { messageItem } from "./messages.js";
import { LISTS, presetFilter, splitNames } from "./presets.js";

const $ = (id) => document.getElementById(id);
const PROBE = { topic: "org.herald.web.filtercheck", msg: {} };
let checkSeq = 0;
let checkTimer = null;
let user = null;

function choices() {
	return {
		mine: $("p-mine").checked,
		packages: $("p-packages").checked,
		people: $("p-people").checked,
		me: $("p-me").checked,
		apps: $("p-apps").checked ? splitNames($("apps").value) : null,
		exclude_apps: splitNames($("x-apps").value),
		exclude_topics: splitNames($("x-topics").value),
		exclude_self: $("x-self").checked,
		severity: $("severity").value,
	};
}

function fromPresets() {
	$("filter").value = presetFilter(choices());
	scheduleCheck();
}

// "filter 2:7: expected ..." -> {line, col, text}
function parseFilterError(msg) {
	const m = /^filter (\d+):(\d+): ([\s\S]*)$/.exec(msg);
	return m ? { line: +m[1], col: +m[2], text: m[3] } : null;
}

function showCheck(kind, text) {
	const p = $("filter-check");
	p.className = "msg " + kind;
	p.textContent = text;
	$("filter").setAttribute("aria-invalid", kind === "error" ? "true" : "false");
}

function scheduleCheck() {
	clearTimeout(checkTimer);
	checkTimer = setTimeout(checkFilter, 250);
}

// Check the filter as typed; answers that arrive after a newer check
// started are dropped.
async function checkFilter() {
	const src = $("filter").value;
	const seq = ++checkSeq;
	if (!src.trim()) {
		showCheck("info", "Choose what to follow above, or write a filter.");
		return false;
	}
	try {
		await api("POST", "v1/filter/test", { filter: src, message: PROBE, user: user });
		if (seq === checkSeq)
			showCheck("ok", "The filter is valid.");
		return true;
	} catch (e) {
		if (seq !== checkSeq)
			return false;
		const fe = parseFilterError(e.message);
		showCheck("error", fe ? "Line " + fe.line + ", column " + fe.col + ": " + fe.text : e.message);
		return false;
	}
}

function chosenDests() {
	return [...document.querySelectorAll("#dest-list input:checked")].map((i) => +i.value);
}

function mode() {
	return document.querySelector("input[name=mode]:checked").value;
}

// Preview a filter (the form's, or a saved subscription's) on the recent
// bus messages.
async function preview(src, label) {
	const box = $("preview");
	box.hidden = false;
	$("preview-h").textContent = label ? "Preview of " + label : "Preview";
	const list = clear($("preview-list"));
	$("preview-summary").textContent = "Looking through the recent messages…";
	box.scrollIntoView({ block: "nearest" });
	try {
		const r = await api("POST", userPath("/preview"), { filter: src });
		$("preview-summary").textContent = "This would have matched " + r.matched + " of the last " + r.of + " bus messages" +
			(r.matched > (r.messages || []).length ? " (the newest " + r.messages.length + " are listed)." : ".");
		for (const m of r.messages || [])
			list.appendChild(messageItem(m));
	} catch (e) {
		const fe = parseFilterError(e.message);
		if (fe)
			$("preview-summary").textContent = "Line " + fe.line + ", column " + fe.col + ": " + fe.text;
		else if (e.status === 404 || e.status === 503)
			$("preview-summary").textContent = "This herald keeps no recent messages to preview on (" + e.message + ").";
		else
			$("preview-summary").textContent = e.message;
	}
}

async function save(ev) {
	ev.preventDefault();
	const status = $("save-status");
	say(status, "");
	const body = { filter: $("filter").value, destinations: chosenDests(), mode: mode() };
	if (body.mode === "digest")
		body.digest_interval = +$("interval").value;
	if ($("name").value.trim())
		body.name = $("name").value.trim();
	if (!body.destinations.length) {
		say(status, "Choose at least one destination to send to.", "error");
		return;
	}
	try {
		const s = await api("POST", userPath("/subscriptions"), body);
		let note = "Saved subscription " + (s.name || "#" + s.id) + ".";
		if (s.never)
			note += " As things stand it can never match (an empty or missing list?).";
		else if (s.slow)
			note += " It is checked against every message (slow): adding a topic or package condition makes it fast.";
		say(status, note, "ok");
		await loadSubs();
	} catch (e) {
		sayError(status, e);
	}
}

function stateText(s) {
	let t = s.state || (s.enabled === false ? "disabled" : "active");
	if (s.reason)
		t += ": " + s.reason;
	if (s.muted_until)
		t += " (muted until " + when(s.muted_until) + ")";
	if (s.never)
		t += " (can never match as things stand)";
	else if (s.slow)
		t += " (slow: runs on every message)";
	return t;
}

function subCard(s, dests) {
	const status = $("subs-status");
	const names = (s.destinations || []).map((id) => dests.get(id) || "#" + id).join(", ");
	const toggle = s.enabled === false ? "enable" : "disable";
	return el("article", { class: "card", "data-id": s.id },
		el("h3", {}, s.name || "Subscription #" + s.id),
		el("pre", { class: "filter" }, s.filter),
		el("p", {}, "To: " + names + " · " + (s.mode === "digest" ? "a digest every " + interval(s.digest_interval) : "at once")),
		el("p", { class: "state" }, stateText(s)),
		el("div", { class: "row" },
			actionButton("Preview", status, () => preview(s.filter, s.name || "subscription #" + s.id), "secondary"),
			actionButton(toggle === "enable" ? "Enable" : "Disable", status, async () => {
				await api("POST", userPath("/subscriptions/" + s.id + "/" + toggle), {});
				await loadSubs();
			}),
			actionButton("Delete", status, async () => {
				if (!confirm("Delete " + (s.name || "subscription #" + s.id) + "?"))
					return;
				await api("DELETE", userPath("/subscriptions/" + s.id));
				await loadSubs();
			}, "danger")));
}

async function loadSubs() {
	const box = clear($("subs"));
	try {
		const [subs, ds] = await Promise.all([api("GET", userPath("/subscriptions")), api("GET", userPath("/destinations"))]);
		const dests = new Map((ds.destinations || []).map((d) => [d.id, d.sink + " " + d.address]));
		for (const s of subs.subscriptions || [])
			box.appendChild(subCard(s, dests));
		$("subs-empty").hidden = (subs.subscriptions || []).length > 0;
		drawDests(ds.destinations || []);
	} catch (e) {
		sayError($("subs-status"), e);
	}
}

function drawDests(list) {
	const box = $("dest-list");
	const was = new Set(chosenDests());
	clear(box);
	for (const d of list) {
		const id = "dest-" + d.id;
		const input = el("input", { type: "checkbox", id, value: d.id });
		input.checked = was.has(d.id) || list.length === 1;
		const note = d.paused ? " (paused)" : !d.verified && needsCode(d) ? " (waiting for its code)" : "";
		box.appendChild(el("label", { class: "check", for: id }, input, " " + d.sink + " " + d.address + note));
	}
	$("dest-none").hidden = list.length > 0;
}

async function loadUser() {
	const u = await api("GET", userPath(""));
	const lists = u.lists || {};
	$("l-mine").value = (lists[LISTS.mine] || []).join("\n");
	$("l-packages").value = (lists[LISTS.packages] || []).join("\n");
	$("l-people").value = (lists[LISTS.people] || []).join("\n");
	$("q-on").checked = !!u.quiet_hours;
	if (u.quiet_hours) {
		$("q-start").value = u.quiet_hours.start;
		$("q-end").value = u.quiet_hours.end;
	}
	$("tz").value = u.timezone || "UTC";
}

async function saveLists(ev) {
	ev.preventDefault();
	const status = $("lists-status");
	try {
		for (const [field, name] of [["l-mine", LISTS.mine], ["l-packages", LISTS.packages], ["l-people", LISTS.people]])
			await api("PUT", userPath("/lists/" + name), splitNames($(field).value));
		say(status, "Lists saved.", "ok");
		scheduleCheck();
	} catch (e) {
		sayError(status, e);
	}
}

// Quiet hours and time zone belong to the user record: PATCH v1/users/NAME.
async function saveQuiet(ev) {
	ev.preventDefault();
	const status = $("quiet-status");
	const body = {
		quiet_hours: $("q-on").checked ? { start: $("q-start").value, end: $("q-end").value } : null,
		timezone: $("tz").value.trim() || "UTC",
	};
	try {
		await api("PATCH", userPath(""), body);
		say(status, "Saved.", "ok");
	} catch (e) {
		sayError(status, e.status === 404 || e.status === 405 ? new Error("This herald cannot change quiet hours or the time zone from the web yet (" + e.message + ").") : e);
	}
}

function fillZones() {
	const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
	const dl = $("zones");
	for (const z of ["UTC", ...zones])
		dl.appendChild(el("option", { value: z }));
}

async function main() {
	const s = await start({ need: "user" });
	if (!s)
		return;
	user = (await session()).user;
	$("apps").addEventListener("input", () => { $("p-apps").checked = !!$("apps").value.trim(); });
	for (const id of ["p-mine", "p-packages", "p-people", "p-me", "p-apps", "x-self", "severity"])
		$(id).addEventListener("change", fromPresets);
	for (const id of ["apps", "x-apps", "x-topics"])
		$(id).addEventListener("input", fromPresets);
	$("filter").addEventListener("input", scheduleCheck);
	$("preview-btn").addEventListener("click", () => preview($("filter").value, ""));
	$("sub").addEventListener("submit", save);
	$("lists").addEventListener("submit", saveLists);
	$("quiet").addEventListener("submit", saveQuiet);
	fillZones();
	showCheck("info", "Choose what to follow above, or write a filter.");
	try {
		await loadUser();
	} catch (e) {
		sayError($("status"), e);
	}
	await loadSubs();
}

main();
