/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_schema: libFuzzer target for message understanding: schema_describe()
 * with the default rule set on arbitrary message bodies. An input is
 * "TOPIC\nBODY": the first line picks the rules (seeds use real topics, so
 * every rule gets exercised), the rest is the body, given to jansson like
 * the daemon does; bytes that are not JSON are described with no body.
 * A line starting with the byte 0x1e (record separator) ends the body: what
 * follows it is fedora-messaging's AMQP headers, given as `headers`
 * (schema_describe_headers), so the flag headers and the rules' `headers`
 * source are fuzzed too.
 *
 * The rules come from $HERALD_SCHEMA_RULES, else $top_srcdir/src/schema/rules
 * (run_seeds.sh sets top_srcdir), else ./src/schema/rules; the identity map
 * from $top_srcdir/tests/data/identity-map.json when it exists.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/schema/schema.h"

static struct schema *get_schema(void)
{
	static struct schema *s;
	char rules[1024], idmap[1024], err[1024];
	if (s)
		return s;
	const char *top = getenv("top_srcdir");
	const char *dir = getenv("HERALD_SCHEMA_RULES");
	snprintf(rules, sizeof rules, "%s/src/schema/rules", top ? top : ".");
	snprintf(idmap, sizeof idmap, "%s/tests/data/identity-map.json", top ? top : ".");
	if (schema_load(dir ? dir : rules, access(idmap, R_OK) ? NULL : idmap, &s, err,
			sizeof err)) {
		fprintf(stderr, "fuzz_schema: %s\n", err);
		abort();
	}
	return s;
}

static void check_sorted(char *const *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(v[i - 1], v[i]) >= 0)
			abort();
}

/* Every field must be a string (or NULL where allowed) and the sets sorted. */
static void check(const struct meta *m)
{
	if (!m->app || !m->title || !m->summary || strchr(m->title, '\n'))
		abort();
	check_sorted(m->usernames, m->n_usernames);
	check_sorted(m->packages, m->n_packages);
	check_sorted(m->containers, m->n_containers);
	check_sorted(m->modules, m->n_modules);
	check_sorted(m->flatpaks, m->n_flatpaks);
	check_sorted(m->groups, m->n_groups);
	if (!severity_name(m->severity))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	size_t topic_len = nl ? (size_t)(nl - text) : size;
	char *topic = strndup(text, topic_len);
	if (!topic)
		return 0;
	const char *body = nl ? nl + 1 : text + size, *end = text + size;
	const char *sep = body;
	while ((sep = memchr(sep, '\n', (size_t)(end - sep))) && (sep + 1 == end || sep[1] != 0x1e))
		sep++;
	size_t body_len = (size_t)((sep ? sep : end) - body);
	json_t *msg = json_loadb(body, body_len, JSON_DECODE_ANY, NULL);
	json_t *headers = sep ? json_loadb(sep + 2, (size_t)(end - sep - 2), JSON_DECODE_ANY, NULL)
			      : NULL;
	struct meta m;
	if (!schema_describe_headers(get_schema(), topic, msg, headers, &m)) {
		check(&m);
		meta_release(&m);
	}
	json_decref(headers);
	json_decref(msg);
	free(topic);
	return 0;
}
