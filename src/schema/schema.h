/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * schema: what a bus message is about. Rule files (JSON, one per service,
 * documented in doc/herald-schema.5) map topic globs to the way of reading
 * app, title, summary, link, usernames, packages, agent and severity out of
 * a message; schema_describe() applies the first rule whose glob matches and
 * fills a struct meta (meta.h). A message no rule matches still gets an app,
 * title and summary from its topic and usernames from the usual fields.
 * Not for deciding who gets notified (match, filters) nor for checking
 * envelopes (envelope, verify).
 *
 * Ownership: a struct schema owns every compiled rule and the identity map;
 * the meta filled by schema_describe() belongs to the caller (meta_release).
 *
 * Threads: a loaded schema is immutable; any number of threads may call
 * schema_describe() on it at once. schema_free() must not race with them.
 */
#ifndef HERALD_SCHEMA_H
#define HERALD_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "src/common/meta.h"

struct schema;

/*
 * Load every *.json under `rules_dir` (subdirectories too, in strcmp order of
 * their relative paths; rules keep file order within a file) and, if
 * `identity_map_path` is not NULL, the identity map (a JSON object mapping an
 * alias or e-mail address to an account name). Every rule is compiled here.
 * 0 with *out set, or a negative errno with `err` naming the file, the rule
 * and the key at fault.
 */
int schema_load(const char *rules_dir, const char *identity_map_path, struct schema **out,
		char *err, size_t errlen);

/*
 * Describe one message: `topic` and the envelope's `msg` body (any JSON
 * value; NULL is treated as an empty body). Fills *out completely (the
 * caller's previous contents are overwritten, not freed); usernames and
 * packages come out sorted by strcmp and unique. 0, or -ENOMEM with *out
 * left empty.
 */
int schema_describe(const struct schema *s, const char *topic, const json_t *msg,
		    struct meta *out);

/*
 * schema_describe() for a message that came with transport headers: the
 * AMQP message properties' headers table of fedora-messaging as a JSON
 * object (`fedora_messaging_severity`, `fedora_messaging_user_NAME`,
 * `fedora_messaging_rpm_NAME`, `sent-at`, ...), borrowed; NULL for fedmsg
 * messages, which have none. Rules read them as the `headers` source.
 */
int schema_describe_headers(const struct schema *s, const char *topic, const json_t *msg,
			    const json_t *headers, struct meta *out);

/*
 * Which rule schema_describe() would apply: "FILE: rule N (topic \"GLOB\")",
 * valid as long as the schema, or NULL when only the built-in fallback
 * matches. For rule authors (`herald describe --rule`) and tests.
 */
const char *schema_match(const struct schema *s, const char *topic, const json_t *msg);

/* Number of rules loaded (the built-in fallback not counted). */
size_t schema_rule_count(const struct schema *s);

void schema_free(struct schema *s); /* NULL is a no-op */

#endif
