/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_glob: the `~` operator's glob matching, also used by the matcher's
 * topic index so both agree on what a pattern means. `*` is any run of
 * characters (dots included), `?` one character; nothing else is special.
 * Not for regexes (PCRE2 does those, see filter_scratch.c).
 */
#include <string.h>

#include "filter_int.h"

/* Bytes in the UTF-8 character at s[i] (1 for a stray byte), so that `?`
 * means one character and `*` only stops on character boundaries. */
static size_t char_len(const char *s, size_t i, size_t n)
{
	unsigned char c = (unsigned char)s[i];
	size_t len = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

	if (len > n - i)
		return 1;
	for (size_t k = 1; k < len; k++)
		if (((unsigned char)s[i + k] & 0xc0) != 0x80)
			return 1;
	return len;
}

/* After a star, the subject position can jump straight to the next
 * occurrence of the literal byte that follows the star in the pattern:
 * every position before it would fail on that byte. ASCII and lead bytes
 * never occur inside a UTF-8 character, so the jump stays on boundaries. */
static bool skip_to_literal(const char *p, const char *s, size_t n, size_t *i)
{
	const char *hit;

	if (*p == '?' || *i >= n)
		return true;
	hit = memchr(s + *i, *p, n - *i);
	if (!hit)
		return false;
	*i = (size_t)(hit - s);
	return true;
}

/*
 * The classic single-backtrack algorithm: remember the last `*` and where
 * in the subject it started; on a mismatch let that star swallow one more
 * character. (Backtracking only the last star is enough for globs.) Linear
 * space, O(pattern x subject) time at worst, never exponential, whatever
 * the pattern; with the suffix shortcut and the literal skip, the usual
 * topic globs cost a few memchr/memcmp calls.
 */
bool glob_match_n(const char *p, const char *s, size_t n)
{
	const char *star = NULL;
	size_t i = 0, star_i = 0;

	while (i < n) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			/* The last star: what follows is a literal suffix (the
			 * common "*.bodhi.update.request.stable"), one memcmp. */
			size_t rest = strcspn(p, "*?");
			if (!p[rest])
				return n - i >= rest && !memcmp(s + n - rest, p, rest);
			star = p;
			if (!skip_to_literal(p, s, n, &i))
				return false;
			star_i = i;
		} else if (*p == '?') {
			i += char_len(s, i, n);
			p++;
		} else if (*p && *p == s[i]) {
			i++;
			p++;
		} else if (star) {
			p = star;
			i = star_i + char_len(s, star_i, n);
			if (!skip_to_literal(p, s, n, &i))
				return false;
			star_i = i;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

bool filter_glob_match(const char *pattern, const char *s)
{
	return glob_match_n(pattern, s, strlen(s));
}
