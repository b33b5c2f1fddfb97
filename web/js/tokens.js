// SPDX-License-Identifier: LGPL-2.1-or-later
// tokens.js: the personal API tokens page: list (prefix only), create
// (the full token shown once), revoke. Through v1/users/NAME/tokens.

import { actionButton, api, clear, el, say, sayError, userPath, when } from "./api.js";
import { start } from "./nav.js";

const $ = (id) => document.getElementById(id);

function row(t) {
	const st = $("list-status");
	return el("tr", { "data-id": t.id }, el("td", {}, t.name), el("td", {}, el("code", {}, t.prefix + "…")),
		el("td", {}, when(t.created)), el("td", {}, t.last_used ? when(t.last_used) : "never"),
		el("td", {}, actionButton("Revoke", st, async () => {
			if (!confirm("Revoke the token " + t.name + "? Whatever uses it stops working at once."))
				return;
			await api("DELETE", userPath("/tokens/" + encodeURIComponent(t.id)));
			say(st, "Revoked " + t.name + ".", "ok");
			await load();
		}, "danger")));
}

async function load() {
	try {
		const r = await api("GET", userPath("/tokens"));
		const body = clear($("tokens").tBodies[0]);
		for (const t of r.tokens || [])
			body.appendChild(row(t));
		$("tokens-empty").hidden = body.rows.length > 0;
		$("tokens").hidden = body.rows.length === 0;
	} catch (e) {
		sayError($("list-status"), e);
	}
}

async function create(ev) {
	ev.preventDefault();
	try {
		const t = await api("POST", userPath("/tokens"), { name: $("tname").value.trim() });
		$("fresh-token").textContent = t.token;
		$("fresh").hidden = false;
		$("tname").value = "";
		say($("create-status"), "Created " + t.name + ".", "ok");
		await load();
	} catch (e) {
		sayError($("create-status"), e);
	}
}

async function main() {
	if (!(await start({ need: "user" })))
		return;
	$("create").addEventListener("submit", create);
	$("copy").addEventListener("click", async () => {
		try {
			await navigator.clipboard.writeText($("fresh-token").textContent);
			say($("create-status"), "Copied.", "ok");
		} catch (e) {
			say($("create-status"), "Select the token and copy it by hand.", "info");
		}
	});
	await load();
}

main();
