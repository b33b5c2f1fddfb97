/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * notify: build notification documents (see notify.h). jansson writes the
 * strings (escaping is its job); the body is spliced in as received.
 */
#include "notify.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/strv.h"

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

int notify_common(const struct envelope *env, const struct meta *m, struct buf *out)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:f}", "topic",
			      env->topic, "title", or_empty(m->title), "summary",
			      or_empty(m->summary), "link", or_empty(m->link), "agent",
			      or_empty(m->agent), "severity", severity_name(m->severity),
			      "usernames", strv_to_json(m->usernames, m->n_usernames), "packages",
			      strv_to_json(m->packages, m->n_packages), "msg_id",
			      or_empty(env->msg_id), "timestamp", env->timestamp);
	char *s = o && !meta_flags_to_json(m, o) ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s)
		return -ENOMEM;
	size_t n = strlen(s);
	/* drop the braces: members only, so notify_doc can add its own */
	int rc = buf_append(out, s + 1, n - 2);
	free(s);
	if (!rc)
		rc = buf_puts(out, ",\"msg\":");
	if (!rc)
		rc = buf_append(out, env->raw + env->msg_off, env->msg_len);
	return rc;
}

int notify_doc(const char *hex_id, const char *user, uint64_t dest, const uint64_t *subs,
	       size_t n_subs, uint64_t now_ms, const char *common, size_t common_len,
	       struct buf *out)
{
	json_t *u = json_string(user);
	char *us = u ? json_dumps(u, JSON_ENCODE_ANY) : NULL;
	json_decref(u);
	if (!us)
		return -ENOMEM;
	int rc = buf_printf(out, "{\"id\":\"%s\",\"user\":%s,\"destination\":%" PRIu64
			    ",\"subscriptions\":[", hex_id, us, dest);
	free(us);
	for (size_t i = 0; !rc && i < n_subs; i++)
		rc = buf_printf(out, "%s%" PRIu64, i ? "," : "", subs[i]);
	if (!rc)
		rc = buf_printf(out, "],\"created\":%" PRIu64 ",\"attempts\":0,", now_ms);
	if (!rc)
		rc = buf_append(out, common, common_len);
	return rc ? rc : buf_putc(out, '}');
}
