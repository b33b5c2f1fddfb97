/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_hex: hex_value() reads exactly the digits 0-9, a-f and A-F, and
 * hex_decode() turns 2n digits into n bytes and refuses a non-digit
 * anywhere. Not a test of the callers (api.c's percent-decoding is tested
 * through the API).
 */
#include <errno.h>
#include <string.h>

#include "src/common/hex.h"
#include "tests/unit/tap.h"

int main(void)
{
	int wrong = 0;
	for (int c = 0; c < 256; c++) {
		int want = c >= '0' && c <= '9'   ? c - '0'
			   : c >= 'a' && c <= 'f' ? c - 'a' + 10
			   : c >= 'A' && c <= 'F' ? c - 'A' + 10
						  : -1;
		wrong += hex_value((char)c) != want;
	}
	ok(wrong == 0, "hex_value over all 256 bytes: %d wrong", wrong);

	unsigned char out[4] = {0};
	ok(hex_decode("00ff7Ea9", 4, out) == 0 && !memcmp(out, "\x00\xff\x7e\xa9", 4),
	   "hex_decode: both cases, all nibbles");
	ok(hex_decode("0g", 1, out) == -EINVAL, "a non-digit low nibble is refused");
	ok(hex_decode("g0", 1, out) == -EINVAL, "a non-digit high nibble is refused");
	ok(hex_decode("00 0", 2, out) == -EINVAL, "a space is not a digit");
	ok(hex_decode("", 0, out) == 0, "zero bytes decode from nothing");
	return tap_done();
}
