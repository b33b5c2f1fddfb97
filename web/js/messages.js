// SPDX-License-Identifier: LGPL-2.1-or-later
// messages.js: one bus message summary ({id, topic, time, title, app,
// link}) as a list item, the same on the preview and the dashboard. The
// title is text; the link is a link only when it is http(s).

import { el, safeHref, when } from "./api.js";

export function messageItem(m) {
	const text = m.title || m.topic || "(no title)";
	const title = safeHref(m.link) ? el("a", { href: m.link, rel: "noopener noreferrer" }, text) : text;
	return el("li", { "data-id": m.id },
		el("span", { class: "title" }, title), " ",
		el("span", { class: "meta" }, [m.app, m.topic, when(m.time)].filter((x) => x).join(" · ")));
}
