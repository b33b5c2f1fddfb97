/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * preview: one filter over the recent messages (see preview.h). Takes a
 * referenced copy of the ring's pointers, so the ring's lock is held only
 * for that copy, and evaluates without any lock.
 */
#include "preview.h"

#include <errno.h>
#include <stdlib.h>

#include "filters/filter.h"
#include "src/daemon/match.h"
#include "recent.h"

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *preview_msg_json(const struct recent_msg *m)
{
	return json_pack("{s:o, s:s, s:I, s:o, s:o, s:o}", "id", str_or_null(m->msg_id), "topic",
			 m->topic, "time", (json_int_t)(m->time_ms / 1000), "title",
			 str_or_null(m->meta.title), "app", str_or_null(m->meta.app), "link",
			 str_or_null(m->meta.link));
}

/* What a preview works with: the filter, the user, scratch, the messages. */
struct run {
	struct filter *f;
	json_t *doc;                 /* the user's document (the view borrows it) */
	struct directory_user_view v;
	struct filter_scratch *scratch;
	struct recent_msg **msgs;
	size_t n;
};

static int prepare(struct run *p, struct recent *r, struct store *s, const char *user,
		   const json_t *in, struct directory_error *e)
{
	static const char *const known[] = {"filter", NULL};
	struct filter_error fe = {0};
	const json_t *src = json_object_get(in, "filter");
	int rc;
	if (!json_is_object(in))
		return directory_fail(e, 400, "expected a JSON object with \"filter\"");
	if ((rc = directory_check_keys(in, "preview", known, NULL, e)))
		return rc;
	if (!json_is_string(src))
		return directory_fail(e, 400, "preview: \"filter\" is required (a string)");
	if ((rc = directory_user_get(s, user, &p->doc, e)))
		return rc;
	if (!r)
		return directory_fail(e, 503, "no recent messages are kept (the web app is off)");
	rc = filter_compile(json_string_value(src), &p->f, &fe);
	if (rc == -EINVAL)
		return directory_fail(e, 400, "filter %d:%d: %s", fe.line, fe.col, fe.msg);
	if (rc || directory_user_view_init(p->doc, &p->v) || !(p->scratch = filter_scratch_new()) ||
	    !(p->msgs = calloc(recent_capacity(r), sizeof *p->msgs)))
		return directory_fail(e, 500, "out of memory");
	p->n = recent_newest(r, p->msgs, recent_capacity(r));
	return 0;
}

static void run_release(struct run *p)
{
	if (p->msgs)
		recent_release(p->msgs, p->n);
	free(p->msgs);
	filter_scratch_free(p->scratch);
	directory_user_view_release(&p->v);
	json_decref(p->doc);
	filter_free(p->f);
}

/* Evaluate newest first until done or the budget is spent; list the first
 * PREVIEW_MAX_LIST matches. */
static int evaluate(struct run *p, json_t *list, size_t *matched, size_t *of)
{
	uint64_t spent = 0;
	bool budgeted = filter_has_regex(p->f);
	*matched = *of = 0;
	for (size_t i = 0; i < p->n && spent < PREVIEW_BUDGET_NS; i++) {
		const struct recent_msg *m = p->msgs[i];
		struct msg_view view = {m->topic, m->msg, &m->meta};
		if (budgeted)
			filter_scratch_budget(p->scratch, MATCH_SUB_BUDGET_NS);
		bool hit = filter_eval(p->f, &view, &p->v.user, p->scratch);
		if (budgeted)
			spent += filter_scratch_spent(p->scratch, NULL);
		(*of)++;
		if (!hit)
			continue;
		if (++*matched <= PREVIEW_MAX_LIST && json_array_append_new(list, preview_msg_json(m)))
			return -ENOMEM;
	}
	return 0;
}

int preview_run(struct recent *r, struct store *s, const char *user, const json_t *in,
		json_t **out, struct directory_error *e)
{
	struct run p = {0};
	size_t matched, of;
	json_t *list = NULL;
	int rc = prepare(&p, r, s, user, in, e);
	if (rc)
		goto out;
	if (!(list = json_array()) || evaluate(&p, list, &matched, &of)) {
		rc = directory_fail(e, 500, "out of memory");
		goto out;
	}
	*out = json_pack("{s:I, s:I, s:b, s:O}", "matched", (json_int_t)matched, "of",
			 (json_int_t)of, "complete", of == p.n, "messages", list);
	if (!*out)
		rc = directory_fail(e, 500, "out of memory");
out:
	json_decref(list);
	run_release(&p);
	return rc;
}
