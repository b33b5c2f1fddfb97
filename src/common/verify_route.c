/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * verify_route: the routing policy of verify (see verify.h): which signer
 * names may publish which topics, by exact or `*` glob patterns, and what
 * an unsigned message meets.
 *
 * Not for checking who signed (verify.c) nor for copying or freeing the
 * routes (the verifier's life, verify.c).
 */
#include "verify.h"

#include <stdbool.h>
#include <string.h>

#include "verify_int.h"

bool verify_topic_match(const char *pattern, const char *topic)
{
	const char *p = pattern, *t = topic, *star = NULL, *resume = NULL;
	/* Greedy glob with one backtrack point: linear for the patterns we
	 * see, never exponential. */
	while (*t) {
		if (*p == '*') {
			star = p++;
			resume = t;
		} else if (*p == *t) {
			p++;
			t++;
		} else if (star) {
			p = star + 1;
			t = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return !*p;
}

/*
 * The first route whose pattern matches decides. An unsigned message
 * (accepted because signatures are not required) meets the policy as a
 * message without signer: it passes only on topics no route covers, and
 * never in strict mode. Skipping the policy for it would let anyone bypass a
 * route by dropping the signature; this way routes keep protecting their
 * topics in a partly signed deployment.
 */
enum verify_result verify_check_policy(const struct verifier *v, const char *topic,
				       const char *signer, const char **detail)
{
	for (size_t i = 0; i < v->n_routes; i++) {
		const struct verify_route *r = &v->routes[i];
		if (!verify_topic_match(r->pattern, topic))
			continue;
		for (size_t j = 0; signer && j < r->n_names; j++)
			if (!strcmp(r->names[j], signer))
				return VERIFY_OK;
		*detail = signer ? "signer not allowed for this topic"
				 : "unsigned message on a routed topic";
		return VERIFY_POLICY;
	}
	if (v->routing_strict) {
		*detail = "no routing rule covers this topic";
		return VERIFY_POLICY;
	}
	return VERIFY_OK;
}
