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
	memset(m, 0, sizeof *m);
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
