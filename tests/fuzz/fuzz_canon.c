/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_canon: libFuzzer target for canon_json() and the parse-once API.
 *
 * For: crashes, sanitizer reports, and properties no input may break:
 * canonical output is a fixed point (canon(canon(x, f), g) == canon(x, f)
 * for g = 0 and g = f), it is printable ASCII only, and canon_parse into a
 * reused doc then canon_emit gives canon_json's verdict and bytes, with the
 * root's span inside the input. Any violation aborts.
 * Not for: checking against CPython (the vectors in tests/data/canon do).
 *
 * Build and run: scripts/fuzz [SECONDS] canon (doc/fuzzing.md): build-fuzz/,
 * the library instrumented, new inputs in build-fuzz/fuzz-corpus/canon (out
 * of the tree). Seeds: tests/fuzz/seeds/canon/
 */
#include "src/common/canon.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what, const struct buf *b)
{
	if (cond)
		return;
	fprintf(stderr, "fuzz_canon: %s\noutput: %.*s\n", what, b ? (int)b->len : 0,
		b && b->data ? b->data : "");
	abort();
}

static void one(const uint8_t *data, size_t size, unsigned flags)
{
	struct buf first = BUF_INIT, again = BUF_INIT;
	struct canon_error err = {0, NULL};
	int rc = canon_json((const char *)data, size, flags, &first, &err);

	if (rc) {
		check(rc == -EINVAL || rc == -ENOMEM, "unexpected error code", &first);
		check(rc != -EINVAL || (err.what && err.offset <= size), "bad error report", &first);
		goto out;
	}
	for (size_t i = 0; i < first.len; i++)
		check(first.data[i] >= 0x20 && first.data[i] < 0x7f, "non-ASCII output", &first);
	/* Canonical output is its own canonical form, and flags that already
	 * did their work find nothing more to do. */
	for (int pass = 0; pass < 2; pass++) {
		buf_reset(&again);
		rc = canon_json(first.data, first.len, pass ? flags : 0, &again, &err);
		check(rc == 0, err.what ? err.what : "canonical output rejected", &first);
		check(again.len == first.len && memcmp(again.data, first.data, first.len) == 0,
		      "not idempotent", &again);
	}
out:
	buf_release(&first);
	buf_release(&again);
}

/* Parse once, emit with every flag combination: as canon_json does. */
static void parse_once(const uint8_t *data, size_t size)
{
	static struct canon_doc doc = CANON_DOC_INIT;
	struct canon_error e1 = {0, NULL}, e2 = {0, NULL};
	int prc = canon_parse(&doc, (const char *)data, size, &e2);
	size_t off, len;

	if (!prc) {
		canon_span(&doc, CANON_ROOT, &off, &len);
		check(off + len <= size, "root span outside the input", NULL);
		(void)canon_extensions(&doc);
	}
	for (unsigned flags = 0; flags <= (CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE); flags++) {
		struct buf a = BUF_INIT, b = BUF_INIT;
		int ra = canon_json((const char *)data, size, flags, &a, &e1);
		int rb = prc ? prc : canon_emit(&doc, flags, &b, &e2);
		check(ra == rb, "canon_parse + canon_emit verdict differs from canon_json", &a);
		check(ra || (a.len == b.len && !memcmp(a.data, b.data, a.len)),
		      "canon_parse + canon_emit bytes differ from canon_json", &b);
		check(ra != -EINVAL || (e1.offset == e2.offset && !strcmp(e1.what, e2.what)),
		      "canon_parse + canon_emit error differs from canon_json", &a);
		buf_release(&a);
		buf_release(&b);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (unsigned flags = 0; flags <= (CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE); flags++)
		one(data, size, flags);
	parse_once(data, size);
	return 0;
}
