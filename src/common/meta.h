/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * meta: what herald understands about one bus message, the shared vocabulary
 * between the schema rules (schema.h, which fill it) and the filter language
 * (filter.h, which reads it). Plain data, no behaviour.
 *
 * Ownership: a struct meta owns every string and array in it; meta_release()
 * frees them. A struct msg_view only borrows.
 */
#ifndef HERALD_META_H
#define HERALD_META_H

#include <jansson.h>
#include <stddef.h>

/* Severity, ordered so filters can compare (`severity >= warning`). */
enum severity { SEV_DEBUG, SEV_INFO, SEV_NOTICE, SEV_WARNING, SEV_ERROR, SEV_CRITICAL };

struct meta {
	char *app;       /* the service: "bodhi", "koji", "anitya", ... */
	char *title;     /* one line, plain text */
	char *summary;   /* one or two sentences, plain text */
	char *link;      /* URL or NULL */
	char *agent;     /* the account that caused the event, or NULL */
	enum severity severity;
	char **usernames; /* accounts concerned, sorted by strcmp, unique */
	size_t n_usernames;
	char **packages;  /* package names concerned, sorted by strcmp, unique */
	size_t n_packages;
	/* What else fedora-messaging flags a message with (its headers
	 * fedora_messaging_container_NAME, _module_, _flatpak_, _group_), or a
	 * rule's keys of the same names: each sorted by strcmp, unique. */
	char **containers; /* "rawhide:latest", "f39/python3" */
	size_t n_containers;
	char **modules;    /* "nodejs", "ripgrep:master" */
	size_t n_modules;
	char **flatpaks;   /* "firefox" */
	size_t n_flatpaks;
	char **groups;     /* account groups: "packager", "sysadmin-main" */
	size_t n_groups;
};

/* A message as the filters see it. Everything borrowed, read-only. */
struct msg_view {
	const char *topic;
	const json_t *msg;       /* the envelope's "msg" body */
	const struct meta *meta;
};

/* Free the meta's strings and arrays; the struct itself is the caller's. */
void meta_release(struct meta *m);
/*
 * The flag lists after usernames and packages (containers, modules,
 * flatpaks, groups), under those names, for the JSON documents that carry a
 * meta (notifications, explain, `herald describe`): to_json sets each
 * non-empty one on `obj` (so documents without them stay as they were);
 * from_json reads them back (absent: empty; non-strings skipped), trusting
 * them sorted and unique as to_json wrote them. 0 or -ENOMEM.
 */
int meta_flags_to_json(const struct meta *m, json_t *obj);
int meta_flags_from_json(struct meta *m, const json_t *obj);
/* "debug", "info", ...; and back (0 or -EINVAL). */
const char *severity_name(enum severity s);
int severity_parse(const char *s, enum severity *out);

#endif
