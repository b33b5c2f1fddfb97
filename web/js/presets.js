// SPDX-License-Identifier: LGPL-2.1-or-later
// presets.js: the subscription presets as filter source. A pure function
// of the choices, so what a preset means is written once and can be read
// here: include clauses are joined by "or", exclusions and the minimum
// severity are added with "and". Not for the page's DOM.

// The list names the presets use (also shown on the page).
export const LISTS = { mine: "mine", packages: "watched_packages", people: "watched_users" };

// A filter-language string literal: JSON's escapes are the language's.
export function quote(s) {
	return JSON.stringify(s);
}

// "a, b\nc" -> ["a", "b", "c"]
export function splitNames(text) {
	return (text || "").split(/[\s,]+/).map((s) => s.trim()).filter((s) => s);
}

function listLit(items) {
	return "[" + items.map(quote).join(", ") + "]";
}

// choices: {mine, packages, people, me: bool, apps: [..] or null,
// exclude_apps: [..], exclude_topics: [..], exclude_self: bool,
// severity: "" or a severity word}. Answers "" when nothing is chosen.
export function presetFilter(c) {
	const any = [];
	if (c.mine)
		any.push("packages & @" + LISTS.mine);
	if (c.packages)
		any.push("packages & @" + LISTS.packages);
	if (c.people)
		any.push("usernames & @" + LISTS.people);
	if (c.me)
		any.push("usernames has me");
	if (c.apps && c.apps.length)
		any.push("app in " + listLit(c.apps));
	if (!any.length)
		return "";
	const all = [any.length > 1 ? "(" + any.join(" or ") + ")" : any[0]];
	if (c.exclude_apps && c.exclude_apps.length)
		all.push("not app in " + listLit(c.exclude_apps));
	for (const t of c.exclude_topics || [])
		all.push("not topic ~ " + quote(t));
	if (c.exclude_self)
		all.push("agent != me");
	if (c.severity)
		all.push("severity >= " + c.severity);
	return all.join("\nand ");
}
