/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_canon: libFuzzer target for canon_json().
 *
 * For: crashes, sanitizer reports, and two properties no input may break:
 * canonical output is a fixed point (canon(canon(x, f), g) == canon(x, f)
 * for g = 0 and g = f), and it is printable ASCII only. Any violation aborts.
 * Not for: checking against CPython (the vectors in tests/data/canon do).
 *
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *        tests/fuzz/fuzz_canon.c src/canon.c src/buf.c -lm -o fuzz_canon
 * Run:   mkdir -p /tmp/canon-corpus && ./fuzz_canon -dict=tests/fuzz/canon.dict \
 *        /tmp/canon-corpus tests/fuzz/seeds/canon/
 * (libFuzzer writes new inputs into the first directory: keep that one out
 * of the tree.) Seeds: tests/fuzz/seeds/canon/
 */
#include "canon.h"

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
	fprintf(stderr, "fuzz_canon: %s\noutput: %.*s\n", what, (int)b->len, b->data ? b->data : "");
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (unsigned flags = 0; flags <= (CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE); flags++)
		one(data, size, flags);
	return 0;
}
