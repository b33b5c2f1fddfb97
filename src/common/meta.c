/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * meta: the small amount of behaviour the shared message vocabulary needs
 * (see meta.h): freeing a struct meta and naming severities. Not for filling
 * a meta (schema.c) nor for reading one (the filter language).
 */
#include "meta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

static const char *const severity_names[] = {
	[SEV_DEBUG] = "debug",     [SEV_INFO] = "info",   [SEV_NOTICE] = "notice",
	[SEV_WARNING] = "warning", [SEV_ERROR] = "error", [SEV_CRITICAL] = "critical",
};

#define N_SEVERITIES (sizeof severity_names / sizeof severity_names[0])

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void meta_release(struct meta *m)
{
	if (!m)
		return;
	free(m->app);
	free(m->title);
	free(m->summary);
	free(m->link);
	free(m->agent);
	free_strv(m->usernames, m->n_usernames);
	free_strv(m->packages, m->n_packages);
	free_strv(m->containers, m->n_containers);
	free_strv(m->modules, m->n_modules);
	free_strv(m->flatpaks, m->n_flatpaks);
	free_strv(m->groups, m->n_groups);
	memset(m, 0, sizeof *m);
}

struct flag_list {
	const char *name;
	char ***v;
	size_t *n;
};

#define N_FLAG_LISTS 4

/* The flag lists of m by name; const-ness is the caller's to keep. */
static void flag_lists(struct meta *m, struct flag_list out[N_FLAG_LISTS])
{
	out[0] = (struct flag_list){"containers", &m->containers, &m->n_containers};
	out[1] = (struct flag_list){"modules", &m->modules, &m->n_modules};
	out[2] = (struct flag_list){"flatpaks", &m->flatpaks, &m->n_flatpaks};
	out[3] = (struct flag_list){"groups", &m->groups, &m->n_groups};
}

int meta_flags_to_json(const struct meta *m, json_t *obj)
{
	struct flag_list l[N_FLAG_LISTS];
	flag_lists((struct meta *)m, l);
	for (size_t i = 0; i < N_FLAG_LISTS; i++) {
		if (!*l[i].n)
			continue;
		json_t *a = strv_to_json(*l[i].v, *l[i].n);
		if (!a || json_object_set_new(obj, l[i].name, a))
			return -ENOMEM;
	}
	return 0;
}

int meta_flags_from_json(struct meta *m, const json_t *obj)
{
	struct flag_list l[N_FLAG_LISTS];
	flag_lists(m, l);
	for (size_t i = 0; i < N_FLAG_LISTS; i++) {
		const json_t *a = json_object_get(obj, l[i].name), *v;
		size_t k;
		if (!json_array_size(a))
			continue;
		if (!(*l[i].v = calloc(json_array_size(a), sizeof **l[i].v)))
			return -ENOMEM;
		json_array_foreach(a, k, v) {
			if (!json_is_string(v))
				continue;
			if (!((*l[i].v)[*l[i].n] = strdup(json_string_value(v))))
				return -ENOMEM;
			(*l[i].n)++;
		}
	}
	return 0;
}

const char *severity_name(enum severity s)
{
	if ((unsigned)s >= N_SEVERITIES)
		return "info";
	return severity_names[s];
}

int severity_parse(const char *s, enum severity *out)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < N_SEVERITIES; i++) {
		if (!strcmp(s, severity_names[i])) {
			*out = (enum severity)i;
			return 0;
		}
	}
	return -EINVAL;
}
