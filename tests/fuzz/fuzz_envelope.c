/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_envelope: libFuzzer target for what a bus message meets first:
 * envelope_reparse (into one envelope reused across inputs, as a ring slot
 * is), then verify_envelope (canonicalization from the envelope's own
 * parse, base64, signature and policy checks) with a verifier that knows
 * one Ed25519 key and a route.
 *
 * Properties, any violation aborts: a reused envelope and a fresh one give
 * the same verdict; an accepted envelope's body is readable by jansson
 * (envelope_msg, which the canon extension checks promise); and the
 * canonical bytes printed from the envelope's parse are canon_json's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/canon.h"
#include "src/common/envelope.h"
#include "src/common/verify.h"

static struct verifier *get_verifier(void)
{
	static struct verifier *v;
	if (v)
		return v;
	struct verify_key key = {.name = "k"};
	memset(key.pub, 0x42, sizeof key.pub);
	char *names[] = {"k"};
	struct verify_route route = {.pattern = "org.*.bodhi.*", .names = names, .n_names = 1};
	struct verify_config cfg = {.require_signatures = true, .security_level = 1,
				    .routes = &route, .n_routes = 1, .keys = &key, .n_keys = 1};
	char err[256];
	if (verifier_new(&cfg, &v, err, sizeof err))
		abort();
	return v;
}

static void check(int cond, const char *what)
{
	if (cond)
		return;
	fprintf(stderr, "fuzz_envelope: %s\n", what);
	abort();
}

/* The doc's canonical bytes are what canon_json makes of the raw input. */
static void same_canon(struct envelope *env, const uint8_t *data, size_t size)
{
	const unsigned flags = CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE;
	struct buf a = BUF_INIT, b = BUF_INIT;
	int ra = canon_emit(&env->doc, flags, &a, NULL);
	int rb = canon_json((const char *)data, size, flags, &b, NULL);
	check(ra == rb && (ra || (a.len == b.len && !memcmp(a.data, b.data, a.len))),
	      "canon_emit of the envelope differs from canon_json");
	buf_release(&a);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct envelope slot = ENVELOPE_INIT;
	struct envelope fresh;
	struct buf scratch = BUF_INIT;
	enum envelope_error e = envelope_reparse(&slot, (const char *)data, size, NULL);
	enum envelope_error f = envelope_parse(&fresh, (const char *)data, size, NULL);
	check(e == f, "reused and fresh envelopes disagree");
	if (f == ENVELOPE_OK)
		envelope_release(&fresh);
	if (e != ENVELOPE_OK)
		return 0;
	check(envelope_msg(&slot) != NULL, "accepted envelope whose msg jansson cannot read");
	same_canon(&slot, data, size);
	const char *signer, *detail;
	verify_envelope(get_verifier(), &slot, (const char *)data, size, &scratch, &signer, &detail);
	envelope_clear(&slot);
	buf_release(&scratch);
	return 0;
}
