/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_envelope: libFuzzer target for what a bus message meets first:
 * envelope_parse, then verify_envelope (canonicalization, base64, signature
 * and policy checks) with a verifier that knows one Ed25519 key and a route.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "verify.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope env;
	struct buf scratch = BUF_INIT;
	if (envelope_parse(&env, (const char *)data, size, NULL) != ENVELOPE_OK)
		return 0;
	const char *signer, *detail;
	verify_envelope(get_verifier(), &env, (const char *)data, size, &scratch, &signer, &detail);
	envelope_release(&env);
	buf_release(&scratch);
	return 0;
}
