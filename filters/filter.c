/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter: what every part of the filter module shares: the field table and
 * the lifetime of a compiled filter (free, source, size). Compiling is in
 * filter_parse.c, evaluating in filter_eval.c, explaining in
 * filter_explain.c, index keys in filter_index.c.
 */
#include "filter_int.h"

#include <stdlib.h>

static const char *const field_names[] = {
    [F_TOPIC] = "topic",       [F_APP] = "app",
    [F_TITLE] = "title",       [F_SUMMARY] = "summary",
    [F_LINK] = "link",	       [F_AGENT] = "agent",
    [F_SEVERITY] = "severity", [F_USERNAMES] = "usernames",
    [F_PACKAGES] = "packages", [F_USERNAME] = "username",
    [F_PACKAGE] = "package",   [F_MSG] = "msg",
    [F_CONTAINERS] = "containers", [F_MODULES] = "modules",
    [F_FLATPAKS] = "flatpaks", [F_GROUPS] = "groups",
};

const char *field_name(enum field fl)
{
	return (unsigned)fl < sizeof field_names / sizeof field_names[0] ? field_names[fl] : "?";
}

enum field_type field_type(enum field fl)
{
	switch (fl) {
	case F_SEVERITY: return FT_LEVEL;
	case F_USERNAMES:
	case F_PACKAGES:
	case F_CONTAINERS:
	case F_MODULES:
	case F_FLATPAKS:
	case F_GROUPS: return FT_LIST;
	case F_USERNAME:
	case F_PACKAGE: return FT_EACH;
	case F_MSG: return FT_JSON;
	default: return FT_TEXT;
	}
}

void filter_free(struct filter *f)
{
	if (!f)
		return;
	for (uint32_t i = 0; i < f->n_regex; i++)
		pcre2_code_free(regex_at(f, i));
	free(f);
}

const char *filter_source(const struct filter *f)
{
	return str_at(f, f->source);
}

bool filter_has_regex(const struct filter *f)
{
	return f->n_regex > 0;
}

size_t filter_size(const struct filter *f)
{
	return f->size + f->regex_bytes;
}
