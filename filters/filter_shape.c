/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_shape: the structural check that refuses regular expressions able
 * to backtrack catastrophically, run on every pattern after PCRE2 compiled
 * it (so the syntax is known to be valid). Not for running regexes
 * (filter_scratch.c, which bounds what an accepted pattern can cost) nor
 * for the rest of the filter syntax (filter_parse.c).
 *
 * Why a scanner of our own: PCRE2 has no API that says "this pattern is
 * ambiguous", and proving a pattern safe in general is hard. The rule
 * below is deliberately conservative and easy to state (herald-filters(7)
 * documents it): refusing a rare odd pattern is better than accepting an
 * exponential one, because the match limits then only bound the damage.
 *
 * The rule. An item is *variable* when it can match in more than one way
 * by length or by branch:
 *   - it carries a quantifier whose minimum and maximum differ (*, +, ?,
 *     {n,}, {n,m} with n < m);
 *   - it is a backreference, \R or \X (their length depends on the text);
 *   - it is a group with an alternation whose branches do not each start
 *     with a plain ASCII character, pairwise different ignoring case;
 *   - it is a group containing a variable item.
 * A quantifier whose maximum is above 1 (*, +, {n,}, {n} and {n,m} with
 * n or m > 1) must not be applied to a variable item: `(a+)+`, `(.*.*)*`,
 * `(a|a)*`, `(a|ab)+`, `(\w+\.?)+`, `(a?){20}` are refused; `(ab|cd)+`,
 * `(\.\d{2})+`, `a+b+`, `.*foo.*` are accepted.
 * Also refused outright, as rare in filters and hard to bound: recursion
 * and subroutine calls ((?R), (?1), (?&n), (?P>n), \g<n>), conditionals
 * (?(...)), callouts (?C), the (*VERB) and (*name: ...) forms (which
 * include in-pattern options and limits), and the extended option (?x)
 * (its whitespace and comments would hide the structure from this check).
 * Lookarounds and atomic groups get no exemption: they are checked like
 * any group.
 *
 * What is left (for example `.*.*.*.*x`, polynomial rather than
 * exponential) is what the per-call match limit and the per-message
 * budgets are for.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "filter_int.h"

#define SHAPE_MAX_DEPTH 64 /* nested groups; PCRE2 allows 250, filters need few */
#define SHAPE_MAX_ALTS	32 /* branches remembered per group for the first-character test */

/* The ASCII characters an item may consume (a superset): enough to tell
 * whether it can eat a delimiter. Non-ASCII text never matters here. */
struct cset {
	uint64_t bits[2];
};

/* A repeated group is *delimited* when its first item is one plain ASCII
 * punctuation character D (not '_'), not itself quantified, and nothing
 * after it in the group (no nested group, no '|') can consume D: then each
 * repetition starts exactly where a D is, so there is only one way to cut
 * the text into repetitions however variable the rest is. `(-[a-z0-9]+)*`
 * and `(\.\d+)*` are delimited; `(-.+)*` is not. */
enum delim { D_NONE, D_OK, D_NO };

struct frame {
	bool var; /* contains a variable item */
	unsigned char delim_char;
	enum delim delim;
	unsigned n_items;     /* items in the group so far */
	bool ambiguous;	      /* some branch starts with something other than a plain char */
	bool at_branch_start; /* nothing seen yet in the current branch */
	unsigned branches;    /* '|' seen + 1 */
	unsigned n_alts;      /* branches whose first char is in first[] */
	unsigned char first[SHAPE_MAX_ALTS]; /* lower-cased first char of each branch */
};

struct shape {
	const char *p;
	size_t len, i;
	struct frame st[SHAPE_MAX_DEPTH + 1]; /* st[0]: the whole pattern */
	int top;
	/* the item a quantifier would apply to */
	bool have_item, item_var, item_delimited;
	size_t *where;
	char *why;
	size_t whylen;
};

__attribute__((format(printf, 3, 4))) static int refuse(struct shape *s, size_t at, const char *fmt,
							...)
{
	va_list ap;

	*s->where = at;
	va_start(ap, fmt);
	vsnprintf(s->why, s->whylen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A branch of the innermost group starts with `c` (a plain char), or with
 * something else (c < 0). Only the first item of a branch counts. */
static void branch_first(struct shape *s, int c)
{
	struct frame *f = &s->st[s->top];

	if (!f->at_branch_start)
		return;
	f->at_branch_start = false;
	if (c < 0 || c >= 0x80 || f->n_alts >= SHAPE_MAX_ALTS) {
		f->ambiguous = true;
		return;
	}
	f->first[f->n_alts++] = (unsigned char)tolower(c);
}

static const struct cset CSET_ALL = {{UINT64_MAX, UINT64_MAX}};

static void cset_add(struct cset *c, unsigned ch)
{
	if (ch < 128)
		c->bits[ch >> 6] |= 1ull << (ch & 63);
}

static bool cset_has(const struct cset *c, unsigned ch)
{
	return ch < 128 && (c->bits[ch >> 6] >> (ch & 63) & 1);
}

static void cset_range(struct cset *c, unsigned a, unsigned b)
{
	for (; a <= b && a < 128; a++)
		cset_add(c, a);
}

/* The set of a plain character (both cases: (?i) may be on). */
static struct cset cset_char(unsigned ch)
{
	struct cset c = {{0, 0}};

	if (ch >= 128)
		return c;
	cset_add(&c, (unsigned)tolower((int)ch));
	cset_add(&c, (unsigned)toupper((int)ch));
	return c;
}

/* \d \w \s, or everything for any other escape letter. */
static struct cset cset_escape(char e)
{
	struct cset c = {{0, 0}};

	if (e == 'd' || e == 'w')
		cset_range(&c, '0', '9');
	if (e == 'w') {
		cset_range(&c, 'a', 'z');
		cset_range(&c, 'A', 'Z');
		cset_add(&c, '_');
	}
	if (e == 's')
		cset_range(&c, 9, 13), cset_add(&c, ' ');
	return e == 'd' || e == 'w' || e == 's' ? c : CSET_ALL;
}

/* The delimiter bookkeeping of the innermost group for one more item. */
static void delim_item(struct shape *s, int first, const struct cset *cs)
{
	struct frame *f = &s->st[s->top];

	if (f->n_items++ == 0) {
		bool punct = first > 0 && first < 128 && ispunct(first) && first != '_';
		f->delim = punct ? D_OK : D_NO;
		f->delim_char = punct ? (unsigned char)first : 0;
	} else if (f->delim == D_OK && cset_has(cs, f->delim_char)) {
		f->delim = D_NO;
	}
}

/* A new item: it becomes what a following quantifier applies to. `first`
 * is the plain character it is, or -1; `cs` what it may consume. */
static void item(struct shape *s, bool var, int first, const struct cset *cs)
{
	branch_first(s, first);
	delim_item(s, first, cs);
	s->have_item = true;
	s->item_var = var;
	s->item_delimited = false;
	if (var)
		s->st[s->top].var = true;
}

/* A plain character as an item. */
static void plain(struct shape *s, unsigned char ch)
{
	struct cset c = cset_char(ch);

	item(s, false, ch, &c);
}

/* Where `what` (2 bytes) next occurs at or after `from`, or s->len. */
static size_t find2(const struct shape *s, size_t from, const char *what)
{
	for (size_t k = from; k + 1 < s->len; k++)
		if (s->p[k] == what[0] && s->p[k + 1] == what[1])
			return k;
	return s->len;
}

/* Parse a {n}, {n,} or {n,m} at s->i; false when it is a literal '{'. */
static bool brace_quant(struct shape *s, unsigned long *min, unsigned long *max, size_t *end)
{
	size_t i = s->i + 1;
	unsigned long a = 0, b;
	bool digits = false;

	for (; i < s->len && isdigit((unsigned char)s->p[i]); i++, digits = true)
		a = a < 100000 ? a * 10 + (unsigned long)(s->p[i] - '0') : a;
	if (!digits || i >= s->len)
		return false;
	b = a;
	if (s->p[i] == ',') {
		b = (unsigned long)-1;
		if (++i < s->len && isdigit((unsigned char)s->p[i]))
			for (b = 0; i < s->len && isdigit((unsigned char)s->p[i]); i++)
				b = b < 100000 ? b * 10 + (unsigned long)(s->p[i] - '0') : b;
	}
	if (i >= s->len || s->p[i] != '}')
		return false;
	*min = a;
	*max = b;
	*end = i + 1;
	return true;
}

/* At a quantifier character: apply it to the current item. Returns 1 when
 * it was a quantifier, 0 when the character is a literal, or a refusal. */
static int quantifier(struct shape *s)
{
	unsigned long min, max;
	size_t at = s->i, end = s->i + 1;
	char c = s->p[s->i];

	if (c == '*')
		min = 0, max = (unsigned long)-1;
	else if (c == '+')
		min = 1, max = (unsigned long)-1;
	else if (c == '?')
		min = 0, max = 1;
	else if (!brace_quant(s, &min, &max, &end))
		return 0;
	if (!s->have_item)
		return 0; /* PCRE2 took it as a literal */
	if (end < s->len && (s->p[end] == '?' || s->p[end] == '+'))
		end++; /* lazy or possessive: no exemption */
	if (s->st[s->top].n_items == 1)
		s->st[s->top].delim = D_NO; /* an optional or repeated delimiter */
	if (max > 1 && s->item_var && !s->item_delimited)
		return refuse(s, at,
			      "nested quantifier: '%s' repeats what can itself match in several "
			      "ways (a variable repetition or an ambiguous alternation inside): "
			      "exponential backtracking",
			      c == '{'	 ? "{...}"
			      : c == '*' ? "*"
			      : c == '+' ? "+"
					 : "?");
	if (min != max) {
		s->item_var = true;
		s->st[s->top].var = true;
	}
	s->item_delimited = false;
	s->i = end;
	return 1;
}

/* After '\' at s->i: one escape. */
static int escape(struct shape *s)
{
	size_t at = s->i;
	char c = s->i + 1 < s->len ? s->p[s->i + 1] : '\\';

	s->i += 2;
	if (!isalnum((unsigned char)c)) {
		plain(s, (unsigned char)c);
		return 0;
	}
	if (c == 'Q') { /* literal text up to \E */
		size_t stop = find2(s, s->i, "\\E");
		for (; s->i < stop; s->i++)
			plain(s, (unsigned char)s->p[s->i]);
		s->i = stop < s->len ? stop + 2 : s->len;
		return 0;
	}
	if (c == 'E')
		return 0;
	if (c == 'g' && s->i < s->len && (s->p[s->i] == '<' || s->p[s->i] == '\''))
		return refuse(s, at, "%s",
			      "subroutine calls (\\g<...>) are not allowed in filters");
	bool var = c == 'R' || c == 'X' || c == 'g' || c == 'k' || (c >= '1' && c <= '9');
	/* skip a braced or bracketed argument: \x{..} \o{..} \p{..} \N{..} \g{..} \k<..> */
	if (s->i < s->len && strchr("{<'", s->p[s->i]) && strchr("xopPNgk", c)) {
		char close = s->p[s->i] == '{' ? '}' : s->p[s->i] == '<' ? '>' : '\'';
		while (s->i < s->len && s->p[s->i] != close)
			s->i++;
		s->i++;
	}
	struct cset cs = cset_escape(c);
	item(s, var, -1, &cs);
	return 0;
}

/* One member of a class at s->i, into `cs`; *ch is the plain character it
 * was (for ranges), or -1. */
static void class_member(struct shape *s, struct cset *cs, int *ch)
{
	char c = s->p[s->i];

	*ch = -1;
	if (c == '\\' && s->i + 1 < s->len && s->p[s->i + 1] == 'Q') {
		size_t stop = find2(s, s->i + 2, "\\E");
		*cs = CSET_ALL; /* \Q in a class: too odd to track */
		s->i = stop < s->len ? stop + 2 : s->len;
	} else if (c == '\\') {
		char e = s->i + 1 < s->len ? s->p[s->i + 1] : 'x';
		struct cset x =
		    isalnum((unsigned char)e) ? cset_escape(e) : cset_char((unsigned char)e);
		cs->bits[0] |= x.bits[0], cs->bits[1] |= x.bits[1];
		*ch = isalnum((unsigned char)e) ? -1 : (unsigned char)e;
		s->i += 2;
	} else if (c == '[' && s->i + 1 < s->len && strchr(":.=", s->p[s->i + 1])) {
		size_t stop = find2(s, s->i + 2, ":]");
		*cs = CSET_ALL; /* POSIX classes: not worth tracking */
		s->i = stop < s->len ? stop + 2 : s->len;
	} else {
		struct cset x = cset_char((unsigned char)c);
		cs->bits[0] |= x.bits[0], cs->bits[1] |= x.bits[1];
		*ch = (unsigned char)c;
		s->i++;
	}
}

/* After '[' at s->i: the class as one item. A negated class, a range not
 * between two plain ASCII characters or any escape but \d \w \s counts as
 * able to match anything. */
static void char_class(struct shape *s)
{
	struct cset cs = {{0, 0}};
	bool neg = false, first = true;
	int prev = -1, ch;

	s->i++;
	if (s->i < s->len && s->p[s->i] == '^')
		s->i++, neg = true;
	while (s->i < s->len && (s->p[s->i] != ']' || first)) {
		first = false;
		if (s->p[s->i] == '-' && prev >= 0 && s->i + 1 < s->len && s->p[s->i + 1] != ']') {
			s->i++;
			class_member(s, &cs, &ch);
			if (ch < 0 || ch < prev)
				cs = CSET_ALL;
			else
				cset_range(&cs, (unsigned)prev, (unsigned)ch);
			prev = -1;
			continue;
		}
		class_member(s, &cs, &prev);
	}
	s->i++;
	item(s, false, -1, neg ? &CSET_ALL : &cs);
}

static int open_group(struct shape *s, size_t at)
{
	if (s->top == SHAPE_MAX_DEPTH)
		return refuse(s, at, "groups nested more than %s deep", "64");
	branch_first(s, -1);
	delim_item(s, -1, &CSET_ALL);
	s->st[s->top].delim = D_NO; /* a group inside: not tracked */
	s->top++;
	s->st[s->top] = (struct frame){.at_branch_start = true, .branches = 1};
	s->have_item = false;
	return 0;
}

/* Skip to just past `close` (a group name's end). */
static void skip_past(struct shape *s, char close)
{
	while (s->i < s->len && s->p[s->i] != close)
		s->i++;
	s->i++;
}

/* After '(' at s->i: what kind of group, or an inline option / comment.
 * Only the forms listed in the file's comment are accepted. */
static int paren(struct shape *s)
{
	size_t at = s->i;
	const char *q = s->p + s->i + 1;
	size_t left = s->len - s->i - 1, k = 1;

	if (left && *q == '*')
		return refuse(s, at, "%s", "(*...) verbs and options are not allowed in filters");
	if (!left || *q != '?') {
		s->i++;
		return open_group(s, at);
	}
	char c = left >= 2 ? q[1] : ')', d = left >= 3 ? q[2] : ')';
	if (c == '#') { /* a comment */
		skip_past(s, ')');
		return 0;
	}
	if (c && strchr(":|>=!", c)) {
		s->i += 3;
		return open_group(s, at);
	}
	if (c == '<' && (d == '=' || d == '!')) {
		s->i += 4;
		return open_group(s, at);
	}
	if (c == '<' || c == '\'' || (c == 'P' && d == '<')) { /* a named group */
		skip_past(s, c == '\'' ? '\'' : '>');
		return open_group(s, at);
	}
	if (c == 'P' && d == '=') { /* (?P=name): a backreference */
		skip_past(s, ')');
		item(s, true, -1, &CSET_ALL);
		return 0;
	}
	/* option letters: (?i) sets them, (?i:...) is a group */
	while (k < left && q[k] && strchr("imnsxJU-^", q[k])) {
		if (q[k] == 'x')
			return refuse(s, at, "%s",
				      "the extended option (?x) is not allowed in filters");
		k++;
	}
	if (k > 1 && k < left && (q[k] == ')' || q[k] == ':')) {
		s->i += k + 2;
		return q[k] == ':' ? open_group(s, at) : 0;
	}
	return refuse(s, at, "%s",
		      "recursion, subroutine calls, conditionals, callouts and other (?...) "
		      "forms than groups, lookarounds and options are not allowed in filters");
}

/* '|' : a new branch of the innermost group. */
static void branch(struct shape *s)
{
	struct frame *f = &s->st[s->top];

	if (f->at_branch_start)
		f->ambiguous = true; /* an empty branch */
	f->at_branch_start = true;
	f->branches++;
	f->delim = D_NO;
	s->have_item = false;
	s->i++;
}

/* ')' : the group becomes an item of its parent. */
static void close_group(struct shape *s)
{
	struct frame *f = &s->st[s->top];
	bool var = f->var;

	if (f->branches > 1) {
		var = var || f->ambiguous || f->at_branch_start;
		for (unsigned a = 0; a < f->n_alts && !var; a++)
			for (unsigned b = a + 1; b < f->n_alts && !var; b++)
				var = f->first[a] == f->first[b];
	}
	bool delimited = f->delim == D_OK;
	s->top--;
	s->i++;
	s->have_item = true;
	s->item_var = var;
	s->item_delimited = delimited;
	if (var)
		s->st[s->top].var = true;
}

int filter_regex_shape(const char *pattern, size_t len, size_t *where, char *why, size_t whylen)
{
	struct shape s = {.p = pattern, .len = len, .where = where, .why = why, .whylen = whylen};
	int rc = 0;

	s.st[0].at_branch_start = true;
	while (!rc && s.i < s.len) {
		char c = s.p[s.i];
		if (strchr("*+?{", c) && (rc = quantifier(&s)) != 0) {
			rc = rc < 0 ? rc : 0;
			continue;
		}
		switch (c) {
		case '\\': rc = escape(&s); break;
		case '[': char_class(&s); break;
		case '(': rc = paren(&s); break;
		case ')':
			if (s.top > 0)
				close_group(&s);
			else
				s.i++;
			break;
		case '|': branch(&s); break;
		case '.':
		case '^':
		case '$': {
			struct cset none = {{0, 0}};
			item(&s, false, -1, c == '.' ? &CSET_ALL : &none);
			s.i++;
			break;
		}
		default:
			plain(&s, (unsigned char)c);
			s.i++;
			break;
		}
	}
	return rc;
}
