// SPDX-License-Identifier: LGPL-2.1-or-later
// index.js: the landing page: "Sign in" (returning to the destinations
// page) for visitors, the way to every page for a signed-in user.

import { session } from "./api.js";
import { start } from "./nav.js";

const $ = (id) => document.getElementById(id);

async function main() {
	const s = await start({ need: "none" });
	if (!s)
		return;
	const dir = location.pathname.replace(/[^/]*$/, "");
	$("signin-big").setAttribute("href", "auth/login?return=" + encodeURIComponent(dir + "destinations.html"));
	$("dash-public").hidden = s.user || s.dashboard !== "public";
	if (!s.user)
		return;
	$("out").hidden = true;
	$("in").hidden = false;
	$("user").textContent = (await session()).user;
	$("admin-tile").hidden = !s.admin;
}

main();
