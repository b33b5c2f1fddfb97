// SPDX-License-Identifier: LGPL-2.1-or-later
// destinations.js: the destinations page. Lists the user's destinations
// (GET v1/users/NAME/destinations), adds one (POST), walks through the
// verification code (POST .../ID/verify {"code"} or {"resend": true}),
// pauses, resumes and deletes; "Send notifications to this browser" adds
// this browser's push subscription (js/push.js) to a webpush sink. Not for
// subscriptions (subscriptions.js).

import { actionButton, api, clear, el, needsCode, rememberNeedsCode, say, sayError, userPath } from "./api.js";
import { start } from "./nav.js";
import { pushKeys, pushSubscribe, pushSupported } from "./push.js";

const HINTS = {
	email: ["you@example.org", "An email address: herald mails you a code to confirm it is yours."],
	irc: ["#channel or nick", "A #channel (\"#channel key\" for one with a key) or your nick: herald sends it a code."],
	webhook: ["https://example.org/hook", "An http(s) URL herald POSTs JSON to; slack+https://… and the like pick a payload format."],
	other: ["address", "The address, in the form that sink expects."],
};

const $ = (id) => document.getElementById(id);
let pending = null; // the destination waiting for its code

function sinkName() {
	const kind = $("kind").value;
	return kind === "other" ? $("sink").value.trim() : kind;
}

function showHint() {
	const [ph, hint] = HINTS[$("kind").value];
	$("address").placeholder = ph;
	$("address-hint").textContent = hint;
	$("other-sink").hidden = $("kind").value !== "other";
	$("address").type = $("kind").value === "email" ? "email" : "text";
}

function askCode(d, note) {
	pending = d;
	$("verify-box").hidden = false;
	$("verify-what").textContent = "For " + d.sink + " " + d.address + ": " + (note || "enter the code that was sent there.");
	say($("verify-status"), "");
	$("code").value = "";
	$("code").focus();
}

function stateText(d) {
	if (d.paused)
		return d.paused_reason ? "paused: " + d.paused_reason : "paused";
	if (d.verified || needsCode(d) === false)
		return "active";
	return needsCode(d) ? "waiting for its code" : "active, not verified (if its sink asks for a code, enter it)";
}

function row(d) {
	const status = $("list-status");
	const act = (what) => async () => {
		await api("POST", userPath("/destinations/" + d.id + "/" + what), {});
		await load();
	};
	const actions = el("div", { class: "row" });
	if (!d.verified && needsCode(d) !== false)
		actions.append(actionButton("Enter code", status, async () => askCode(d)));
	actions.append(d.paused ? actionButton("Resume", status, act("resume")) : actionButton("Pause", status, act("pause")));
	actions.append(actionButton("Delete", status, async () => {
		if (!confirm("Delete the destination " + d.address + "?"))
			return;
		await api("DELETE", userPath("/destinations/" + d.id));
		say(status, "Deleted " + d.address + ".", "ok");
		await load();
	}, "danger"));
	return el("tr", { "data-id": d.id },
		el("td", {}, d.sink),
		el("td", { class: "addr" }, d.address),
		el("td", {}, stateText(d)),
		el("td", {}, actions));
}

async function load() {
	const body = $("dests").tBodies[0];
	try {
		const res = await api("GET", userPath("/destinations"));
		const list = res.destinations || [];
		clear(body);
		for (const d of list)
			body.appendChild(row(d));
		$("empty").hidden = list.length > 0;
		$("dests").hidden = list.length === 0;
	} catch (e) {
		sayError($("list-status"), e);
	}
}

async function add(ev) {
	ev.preventDefault();
	const status = $("add-status");
	say(status, "");
	try {
		const d = await api("POST", userPath("/destinations"), { sink: sinkName(), address: $("address").value.trim() });
		$("address").value = "";
		rememberNeedsCode(d.id, !!d.verification);
		await load();
		if (d.verified === false && d.verification) {
			say(status, "Added. " + d.verification + ".", "ok");
			askCode(d, d.verification + ": enter it here.");
		} else {
			say(status, "Added " + d.address + ".", "ok");
		}
	} catch (e) {
		sayError(status, e);
	}
}

async function verify(ev) {
	ev.preventDefault();
	const status = $("verify-status");
	if (!pending)
		return;
	try {
		const d = await api("POST", userPath("/destinations/" + pending.id + "/verify"), { code: $("code").value.trim() });
		const n = d.released ? " " + d.released + " waiting notification(s) released." : "";
		say($("add-status"), "Verified " + d.address + "." + n, "ok");
		$("verify-box").hidden = true;
		pending = null;
		await load();
	} catch (e) {
		if (e.status === 409 && /does not verify/.test(e.message)) {
			rememberNeedsCode(pending.id, false);
			$("verify-box").hidden = true;
			say($("add-status"), e.message + ": nothing to enter.", "info");
			await load();
			return;
		}
		sayError(status, e.status === 403 ? new Error("That code is not right: " + e.message) : e);
	}
}

async function resend() {
	if (!pending)
		return;
	try {
		const d = await api("POST", userPath("/destinations/" + pending.id + "/verify"), { resend: true });
		say($("verify-status"), (d && d.verification) || "A new code was sent.", "ok");
	} catch (e) {
		sayError($("verify-status"), e);
	}
}

const PUSH_STAGES = {
	permission: "Asking for permission to show notifications…",
	worker: "Installing herald's service worker…",
	key: "Reading herald's push key…",
	subscribe: "Subscribing with the browser's push service…",
};

async function subscribeBrowser(sink) {
	const status = $("push-status");
	$("push-btn").disabled = true;
	try {
		const sub = await pushSubscribe(sink, (stage) => PUSH_STAGES[stage] && say(status, PUSH_STAGES[stage], "info"));
		say(status, "Adding this browser as a destination…", "info");
		const d = await api("POST", userPath("/destinations"), { sink: sub.sink, address: sub.address });
		rememberNeedsCode(d.id, !!d.verification);
		say(status, "This browser now gets your notifications.", "ok");
		await load();
	} catch (e) {
		sayError(status, e);
	} finally {
		$("push-btn").disabled = false;
	}
}

// The button only where it can work: a browser with Web Push, a herald with a webpush sink.
async function setupPush() {
	if (!pushSupported())
		return;
	try {
		const keys = await pushKeys();
		if (!keys.length)
			return;
		$("push-box").hidden = false;
		$("push-btn").addEventListener("click", () => subscribeBrowser(keys[0].sink));
	} catch (e) {
		sayError($("push-status"), e);
	}
}

async function main() {
	if (!(await start({ need: "user" })))
		return;
	$("kind").addEventListener("change", showHint);
	$("add").addEventListener("submit", add);
	$("verify").addEventListener("submit", verify);
	$("resend").addEventListener("click", resend);
	showHint();
	await Promise.all([load(), setupPush()]);
}

main();
