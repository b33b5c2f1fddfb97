/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hex: reading hexadecimal digits, for the ids and percent-escapes that
 * arrive as text (notification ids, URL paths).
 *
 * Not for writing hex (a digit table where it is needed is one line), nor
 * for base64 (verify.c), nor for \u escapes in JSON (canon_str.c, which
 * reads them at its own pace).
 *
 * Pure functions: no state, thread-safe; nothing is allocated.
 */
#ifndef HERALD_HEX_H
#define HERALD_HEX_H

#include <stddef.h>

/* The value of hex digit `c` (0-9, a-f, A-F): 0..15, or -1 for anything else. */
int hex_value(char c);

/*
 * Decode the 2 * n hex digits at `hex` (the caller has checked there are
 * that many) into n bytes at `out`. 0, or -EINVAL at the first character
 * that is not a hex digit; `out` may then hold part of the result.
 */
int hex_decode(const char *hex, size_t n, unsigned char *out);

#endif
