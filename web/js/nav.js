// SPDX-License-Identifier: LGPL-2.1-or-later
// nav.js: what every page does first: read the session, draw the header's
// navigation (the admin link only for admins), offer sign-in or sign-out,
// and decide whether the page's own content (#page) may be shown.
// Not for any page's content.

import { ApiError, clear, el, pageLink, say, session } from "./api.js";

const PAGES = [
	["dashboard.html", "Dashboard"],
	["destinations.html", "Destinations"],
	["subscriptions.html", "Subscriptions"],
	["history.html", "History"],
	["tokens.html", "Tokens"],
];

export function signInHref() {
	return "auth/login?return=" + encodeURIComponent(location.pathname + location.search);
}

async function signOut() {
	const s = await session();
	try {
		await fetch("auth/logout", {
			method: "POST",
			headers: { "X-CSRF-Token": s.csrf || "" },
			credentials: "same-origin",
		});
	} finally {
		location.href = "./";
	}
}

function drawNav(s) {
	const nav = document.getElementById("nav");
	if (!nav)
		return;
	const here = location.pathname.split("/").pop() || "index.html";
	const ul = el("ul");
	for (const [href, label] of PAGES) {
		if (!s.user && !(href === "dashboard.html" && s.dashboard === "public"))
			continue;
		const a = pageLink(href, label);
		if (href === here)
			a.setAttribute("aria-current", "page");
		ul.appendChild(el("li", {}, a));
	}
	if (s.admin) {
		const a = pageLink("admin.html", "Admin");
		if (here === "admin.html")
			a.setAttribute("aria-current", "page");
		ul.appendChild(el("li", {}, a));
	}
	if (s.user) {
		ul.appendChild(el("li", { class: "who" }, el("span", { id: "whoami" }, s.user)));
		ul.appendChild(el("li", {}, el("button", { type: "button", id: "signout", class: "link", onclick: signOut }, "Sign out")));
	} else {
		const a = pageLink(signInHref(), "Sign in");
		a.id = "signin";
		ul.appendChild(el("li", {}, a));
	}
	clear(nav).appendChild(ul);
}

// start({need: "user" | "admin" | "none"}): the session, or null when the
// page cannot be shown (a message says why).
export async function start(opts) {
	const need = (opts && opts.need) || "user";
	const status = document.getElementById("status");
	let s;
	try {
		s = await session();
	} catch (e) {
		say(status, e instanceof ApiError ? e.message : "herald could not be reached", "error");
		return null;
	}
	drawNav(s);
	const gate = document.getElementById("gate");
	if ((need === "user" || need === "admin") && !s.user) {
		if (gate) {
			gate.hidden = false;
			clear(gate).append(el("p", {}, "Sign in to see this page. "), pageLink(signInHref(), "Sign in"));
		}
		return null;
	}
	if (need === "admin" && !s.admin) {
		if (gate) {
			gate.hidden = false;
			clear(gate).append(el("p", {}, "This page is for administrators."));
		}
		return null;
	}
	const page = document.getElementById("page");
	if (page)
		page.hidden = false;
	return s;
}
