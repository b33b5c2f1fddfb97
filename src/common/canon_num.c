/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * canon_num: numbers for canon (see canon.h): Python's float repr.
 *
 * For: the double a JSON number's text denotes (as Python's float() gives
 * it) and printing a double as Python's repr() does, with the shortest
 * digits that round-trip (canon_double(), and floats in canonical output).
 *
 * Not for: integers, which canon copies exactly at any size, nor scanning
 * numbers (canon_scan.c).
 *
 * Numbers never go through the C locale machinery: we hand strtod() digits
 * with an exponent and no decimal point, and read snprintf("%e") output
 * without caring which decimal point it used, so a setlocale() elsewhere in
 * the process cannot change the bytes we sign.
 */
#include "canon.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon_int.h"

/* The digits as "DDDDe-X": no decimal point, so strtod() ignores the locale. */
static double digits_value(const struct digits *g)
{
	char tmp[48];
	memcpy(tmp, g->d, (size_t)g->n);
	snprintf(tmp + g->n, sizeof tmp - (size_t)g->n, "e%d", g->decpt - g->n);
	return strtod(tmp, NULL);
}

/*
 * The p significant digits nearest to a (> 0), correctly rounded by
 * snprintf. The decimal point may be a locale's: skip whatever is not a
 * digit between the first digit and the 'e'.
 */
static void nearest_digits(double a, int p, struct digits *g)
{
	char tmp[48];
	const char *q = tmp;

	snprintf(tmp, sizeof tmp, "%.*e", p - 1, a);
	g->n = 0;
	while (*q && *q != 'e') {
		if (canon_is_digit((unsigned char)*q))
			g->d[g->n++] = *q;
		q++;
	}
	g->decpt = (int)strtol(q + 1, NULL, 10) + 1;
}

/* The next p-digit decimal up: add one in the last place. */
static void digits_up(struct digits *g)
{
	int i = g->n - 1;
	while (i >= 0 && g->d[i] == '9')
		g->d[i--] = '0';
	if (i >= 0) {
		g->d[i]++;
		return;
	}
	g->d[0] = '1'; /* 99..9 -> 100..0: same length, one more power of ten */
	g->decpt++;
}

/*
 * Is there a p-digit decimal that reads back as a? The nearest one is the
 * best candidate, except just above a power of two, where the doubles below
 * are twice as dense: the nearest decimal may fall below the rounding
 * interval while the one above it is still inside. Python (David Gay's
 * shortest mode) finds that one, so we try it too.
 */
static bool try_len(double a, int p, struct digits *g)
{
	double v;
	int e;

	nearest_digits(a, p, g);
	v = digits_value(g);
	if (v == a)
		return true;
	if (v > a || frexp(a, &e) != 0.5)
		return false;
	struct digits up = *g;
	digits_up(&up);
	if (digits_value(&up) != a)
		return false;
	*g = up;
	return true;
}

/*
 * Shortest digits that round-trip. If some length works, every longer one
 * does too (a shorter decimal is also a longer one), so binary search.
 * `hint`, the digit count of the text the double came from, is usually
 * right already and then costs two tries instead of four or five.
 */
static void shortest_digits(double a, int hint, struct digits *best)
{
	struct digits g;
	int lo = 1, hi = 17, best_p = 0;

	if (hint >= 1 && hint <= 17) {
		if (try_len(a, hint, &g)) {
			*best = g;
			best_p = hi = hint;
			if (hint > 1 && try_len(a, hint - 1, &g)) {
				*best = g;
				best_p = hi = hint - 1;
			} else {
				lo = hint;
			}
		} else {
			lo = hint + 1;
		}
	}
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (try_len(a, mid, &g)) {
			*best = g;
			best_p = hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	if (best_p != lo)
		try_len(a, lo, best); /* 17 digits always round-trip */
	/* Never needed so far (a shortest form has no trailing zero), but a
	 * carry in digits_up() must not be able to print one. */
	while (best->n > 1 && best->d[best->n - 1] == '0')
		best->n--;
}

/* Python's float_repr_style 'short' layout of the digits. */
int canon_put_repr(struct buf *out, bool neg, const struct digits *g)
{
	char tmp[48], *o = tmp;
	int n = g->n, decpt = g->decpt;

	if (neg)
		*o++ = '-';
	if (decpt <= -4 || decpt > 16) {
		*o++ = g->d[0];
		if (n > 1) {
			*o++ = '.';
			memcpy(o, g->d + 1, (size_t)n - 1);
			o += n - 1;
		}
		o += snprintf(o, sizeof tmp - (size_t)(o - tmp), "e%+03d", decpt - 1);
	} else if (decpt <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -decpt; i++)
			*o++ = '0';
		memcpy(o, g->d, (size_t)n);
		o += n;
	} else if (decpt < n) {
		memcpy(o, g->d, (size_t)decpt);
		o += decpt;
		*o++ = '.';
		memcpy(o, g->d + decpt, (size_t)(n - decpt));
		o += n - decpt;
	} else {
		memcpy(o, g->d, (size_t)n);
		o += n;
		for (int i = n; i < decpt; i++)
			*o++ = '0';
		*o++ = '.';
		*o++ = '0';
	}
	return buf_append(out, tmp, (size_t)(o - tmp));
}

int canon_repr_double(double d, int hint, struct buf *out)
{
	struct digits g;

	if (isnan(d))
		return buf_puts(out, "NaN");
	if (isinf(d))
		return buf_puts(out, d < 0 ? "-Infinity" : "Infinity");
	if (d == 0)
		return buf_puts(out, signbit(d) ? "-0.0" : "0.0");
	shortest_digits(fabs(d), hint, &g);
	return canon_put_repr(out, signbit(d), &g);
}

int canon_double(double d, struct buf *out)
{
	return canon_repr_double(d, 0, out);
}

/*
 * The double a JSON number's text denotes, as Python's float() would give
 * it. The text is rewritten as "[-]DIGITSe[-]EXP" (no decimal point, no
 * leading or trailing zeros) in `o` (NUMBER_SCRATCH(len) bytes) so strtod()
 * gets a terminated string without a malloc (short ones need no strtod).
 * When the text has at most 17 significant digits, *g gets them (g->n = 0
 * otherwise, and for zero).
 */
void canon_number_text(const unsigned char *t, size_t len, char *o, double *d, struct digits *g)
{
	size_t i = 0, first = SIZE_MAX, last = 0, nfrac = 0, ndig = 0;
	long long exp = 0;
	bool in_frac = false;

	o[0] = t[0] == '-' ? '-' : '+';
	i = t[0] == '-';
	for (; i < len && t[i] != 'e' && t[i] != 'E'; i++) {
		if (t[i] == '.') {
			in_frac = true;
			continue;
		}
		if (t[i] != '0') {
			if (first == SIZE_MAX)
				first = ndig;
			last = ndig;
		}
		if (first != SIZE_MAX)
			o[1 + ndig - first] = (char)t[i];
		ndig++;
		nfrac += in_frac;
	}
	if (i < len) {
		bool eneg = t[++i] == '-';
		if (t[i] == '-' || t[i] == '+')
			i++;
		/* Saturate far beyond any double; keeps the sums below in range. */
		for (; i < len; i++)
			if (exp < 100000000000LL)
				exp = exp * 10 + (t[i] - '0');
		if (eneg)
			exp = -exp;
	}
	g->n = 0;
	if (first == SIZE_MAX) {
		*d = o[0] == '-' ? -0.0 : 0.0;
		return;
	}
	/* value = digits[first..last] x 10^(exp - nfrac + trailing zeros) */
	exp += (long long)(ndig - 1 - last) - (long long)nfrac;
	size_t nsig = last - first + 1;
	if (nsig <= 17 && exp > -1000 && exp < 1000) {
		memcpy(g->d, o + 1, nsig);
		g->n = (int)nsig;
		g->decpt = (int)(exp + (long long)nsig);
	}
#if FLT_EVAL_METHOD == 0
	if (nsig <= 15 && exp >= -22 && exp <= 22) {
		/* Clinger's fast path: the digits and 10^|exp| are exact
		 * doubles, so one IEEE operation rounds as strtod() would. */
		static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
					     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
					     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
		double m = 0;
		for (size_t k = 0; k < nsig; k++)
			m = m * 10 + (o[1 + k] - '0');
		m = exp < 0 ? m / p10[-exp] : m * p10[exp];
		*d = o[0] == '-' ? -m : m;
		return;
	}
#endif
	snprintf(o + 1 + nsig, 32, "e%lld", exp);
	*d = strtod(o, NULL);
}

/* canon_number_text() with the spare room of `out` as scratch; out->len does not move. */
int canon_number_value(const unsigned char *t, size_t len, struct buf *out, double *d,
		       struct digits *g)
{
	int rc = buf_reserve(out, NUMBER_SCRATCH(len));

	if (rc)
		return rc;
	canon_number_text(t, len, out->data + out->len, d, g);
	return 0;
}
