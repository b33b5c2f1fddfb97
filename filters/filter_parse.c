/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_parse: filter_compile(), a recursive-descent parser from tokens
 * (filter_lex.c) to the program block described in filter_int.h, with the
 * type checks that can be done before any message is seen. Every error
 * names its line:column and what was expected. Not for evaluation.
 *
 * Grammar (precedence: not > and > or):
 *   expr    := and ("or" and)*
 *   and     := unary ("and" unary)*
 *   unary   := "not" unary | "(" expr ")" | cond
 *   cond    := field op value
 *   field   := topic | app | title | summary | link | agent | severity
 *            | usernames | packages | username | package
 *            | "msg" ("." word | "[" integer "]" | "[" string "]")+
 */
#include "filter_lex.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct sort_str {
	const char *s; /* valid only while sorting: points into the block */
	struct strref r;
};

/* Small state first: compile() zeroes only that much (the arrays after
 * `lx` are ~45 KiB that need no initialisation). */
struct parser {
	struct token tok;	     /* the current token */
	uint32_t prev_off, prev_end; /* the token before it, for "after 'and'" */
	struct filter_error *err;
	unsigned flags; /* FILTER_COMPILE_* */
	char *base; /* the program block being built; moves on growth */
	size_t len, cap;
	int depth;
	unsigned n_nodes;
	size_t n_re, re_bytes;
	size_t n_strs, n_nums;
	struct lexer lx;
	pcre2_code *re[FILTER_MAX_NODES];
	struct sort_str strs[FILTER_MAX_LIST]; /* the list literal being parsed */
	struct num nums[FILTER_MAX_LIST];
};

/* ---- the block ---- */

static int reserve(struct parser *p, size_t extra)
{
	if (p->len + extra <= p->cap)
		return 0;
	size_t cap = p->cap * 2;
	while (cap < p->len + extra)
		cap *= 2;
	if (cap > UINT32_MAX)
		return -ENOMEM;
	char *b = realloc(p->base, cap);
	if (!b)
		return -ENOMEM;
	memset(b + p->cap, 0, cap - p->cap);
	p->base = b;
	p->cap = cap;
	return 0;
}

/* Zeroed room for `size` bytes; the offset, or 0 when out of memory. */
static ref alloc_in(struct parser *p, size_t size, size_t align)
{
	size_t off = (p->len + align - 1) & ~(align - 1);

	if (reserve(p, off - p->len + size))
		return 0;
	p->len = off + size;
	return (ref)off;
}

static void *wr(struct parser *p, ref off)
{
	return p->base + off;
}

static int add_string(struct parser *p, const char *s, size_t len, struct strref *out)
{
	ref off = alloc_in(p, len + 1, 1);

	if (!off)
		return -ENOMEM;
	memcpy(wr(p, off), s, len);
	out->off = off;
	out->len = (uint32_t)len;
	return 0;
}

/* ---- tokens and errors ---- */

static int advance(struct parser *p)
{
	p->prev_off = p->tok.off;
	p->prev_end = p->tok.off + p->tok.len;
	return lex_next(&p->lx, &p->tok);
}

static const char *describe(struct parser *p, char *buf, size_t n)
{
	return tok_describe(&p->lx, &p->tok, buf, n);
}

#define fail_at(p, off, ...) filter_fail((p)->err, (p)->lx.src, (off), __VA_ARGS__)

/* "expected WHAT, got TOKEN" at the current token, for the end of a clause
 * where naming the token before would not help. */
static int expected_here(struct parser *p, const char *what)
{
	char got[64];

	describe(p, got, sizeof got);
	return fail_at(p, p->tok.off, "expected %s, got %s", what, got);
}

/* "expected WHAT after 'PREV', got TOKEN" at the current token. */
static int expected(struct parser *p, const char *what, const char *hint)
{
	char got[64];
	const char *src = p->lx.src;
	int plen = (int)(p->prev_end - p->prev_off);

	describe(p, got, sizeof got);
	if (p->prev_end == 0)
		return fail_at(p, p->tok.off, "expected %s, got %s%s", what, got, hint);
	return fail_at(p, p->tok.off, "expected %s after '%.*s', got %s%s", what,
		       plen > 24 ? 24 : plen, src + p->prev_off, got, hint);
}

/* ---- nodes ---- */

static int new_node(struct parser *p, enum node_kind kind, uint32_t start, ref *out)
{
	if (++p->n_nodes > FILTER_MAX_NODES)
		return fail_at(p, start, "filter has more than %d conditions and operators",
			       FILTER_MAX_NODES);
	*out = alloc_in(p, sizeof(struct node), _Alignof(struct node));
	if (!*out)
		return -ENOMEM;
	struct node *n = wr(p, *out);
	n->kind = (uint8_t)kind;
	n->src_off = (uint16_t)start;
	return 0;
}

static void end_node(struct parser *p, ref off)
{
	struct node *n = wr(p, off);
	n->src_len = (uint16_t)(p->prev_end - n->src_off);
}

/* ---- fields ---- */

static const struct {
	const char *name;
	enum field fl;
} field_words[] = {
    {"topic", F_TOPIC},	      {"app", F_APP},
    {"title", F_TITLE},	      {"summary", F_SUMMARY},
    {"link", F_LINK},	      {"agent", F_AGENT},
    {"severity", F_SEVERITY}, {"usernames", F_USERNAMES},
    {"packages", F_PACKAGES}, {"username", F_USERNAME},
    {"package", F_PACKAGE},   {"msg", F_MSG},
    {"containers", F_CONTAINERS}, {"modules", F_MODULES},
    {"flatpaks", F_FLATPAKS}, {"groups", F_GROUPS},
};
#define N_FIELD_WORDS (sizeof field_words / sizeof field_words[0])
#define FIELD_LIST                                                                                 \
	"topic, app, title, summary, link, agent, severity, usernames, packages, username, "       \
	"package, containers, modules, flatpaks, groups, "                                         \
	"msg.PATH"

/* Edit distance up to a small bound, for "did you mean". */
static unsigned distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b);
	unsigned row[32];

	if (la >= 31 || lb >= 31)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0], cur;
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			cur = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = cur;
		}
	}
	return row[lb];
}

static int unknown_field(struct parser *p)
{
	const char *w = p->lx.src + p->tok.off;
	int wl = (int)p->tok.len;
	const char *best = NULL;
	unsigned best_d = wl <= 4 ? 2 : 3; /* suggest only near misses */

	for (size_t i = 0; i < N_FIELD_WORDS; i++) {
		unsigned d = distance(w, (size_t)wl, field_words[i].name);
		if (d < best_d) {
			best_d = d;
			best = field_words[i].name;
		}
	}
	if (wl > 40)
		wl = 40;
	if (best)
		return fail_at(p, p->tok.off,
			       "unknown field '%.*s' (did you mean '%s'? fields: " FIELD_LIST ")",
			       wl, w, best);
	return fail_at(p, p->tok.off, "unknown field '%.*s' (fields: " FIELD_LIST ")", wl, w);
}

/* One component after '.' or inside '[...]'. */
static int parse_segment(struct parser *p, struct seg *s)
{
	int rc;

	memset(s, 0, sizeof *s);
	if (p->tok.kind == T_DOT) {
		if ((rc = advance(p)))
			return rc;
		if (!tok_is_word(&p->tok))
			return expected(p, "a key",
					p->tok.kind == T_NUMBER ? " (write [N] for an array index)"
								: "");
		rc = add_string(p, p->lx.src + p->tok.off, p->tok.len, &s->key);
		return rc ? rc : advance(p);
	}
	if ((rc = advance(p))) /* past '[' */
		return rc;
	if (p->tok.kind == T_NUMBER) {
		if (!p->tok.num.is_int || p->tok.num.i < 0 || p->tok.num.i > (int64_t)UINT32_MAX)
			return fail_at(p, p->tok.off, "array index must be an integer from 0 to %u",
				       UINT32_MAX);
		s->index = (uint32_t)p->tok.num.i;
	} else if (p->tok.kind == T_STRING) {
		if ((rc = add_string(p, p->tok.s, p->tok.slen, &s->key)))
			return rc;
	} else {
		return expected(p, "an array index or a quoted key", "");
	}
	if ((rc = advance(p)))
		return rc;
	if (p->tok.kind != T_RBRACK)
		return expected(p, "']'", "");
	return advance(p);
}

/* msg followed by at least one component. */
static int parse_path(struct parser *p, ref node)
{
	struct seg segs[FILTER_MAX_PATH];
	size_t n = 0;
	int rc;

	if ((rc = advance(p))) /* past "msg" */
		return rc;
	while (p->tok.kind == T_DOT || p->tok.kind == T_LBRACK) {
		if (n == FILTER_MAX_PATH)
			return fail_at(p, p->tok.off, "path has more than %d components",
				       FILTER_MAX_PATH);
		if ((rc = parse_segment(p, &segs[n++])))
			return rc;
	}
	if (n == 0)
		return expected(
		    p, "'.' or '[' (a path into the message body, such as msg.build.state)", "");
	ref off = alloc_in(p, n * sizeof segs[0], _Alignof(struct seg));
	if (!off)
		return -ENOMEM;
	memcpy(wr(p, off), segs, n * sizeof segs[0]);
	struct node *nd = wr(p, node);
	nd->kid = off;
	nd->n_path = (uint8_t)n;
	return 0;
}

static int parse_field(struct parser *p, ref node)
{
	if (p->tok.kind != T_WORD) {
		const char *hint =
		    p->tok.kind == T_ME || p->tok.kind == T_STRING || p->tok.kind == T_NUMBER
			? " (the field comes first, e.g. 'usernames has me')"
			: "";
		return expected(p, "a field name", hint);
	}
	for (size_t i = 0; i < N_FIELD_WORDS; i++) {
		if (strlen(field_words[i].name) != p->tok.len ||
		    memcmp(field_words[i].name, p->lx.src + p->tok.off, p->tok.len))
			continue;
		((struct node *)wr(p, node))->field = (uint8_t)field_words[i].fl;
		if (field_words[i].fl == F_MSG)
			return parse_path(p, node);
		return advance(p);
	}
	return unknown_field(p);
}

/* ---- operators ---- */

static const char *type_hint(enum field_type t)
{
	switch (t) {
	case FT_TEXT: return "text: use ==, !=, <, <=, >, >=, ~, =~ or in";
	case FT_LEVEL: return "a severity: use ==, !=, <, <=, >, >= or in";
	case FT_LIST:
		return "a list: use 'has', '&', or the singular field (package, username) for one "
		       "element";
	case FT_EACH:
		return "one element at a time: use ==, !=, <, <=, >, >=, ~, =~ or in (or the "
		       "plural field with "
		       "'has' or '&')";
	default: return "a value from the message body";
	}
}

static bool op_applies(enum op op, enum field_type t)
{
	switch (op) {
	case OP_HAS:
	case OP_AND_LIST: return t == FT_LIST || t == FT_JSON;
	case OP_GLOB:
	case OP_REGEX: return t == FT_TEXT || t == FT_EACH || t == FT_JSON;
	default: return t != FT_LIST;
	}
}

static int parse_op(struct parser *p, ref node, const char *fname, int flen)
{
	static const struct {
		enum tok t;
		enum op op;
		bool neg;
	} ops[] = {
	    {T_EQ, OP_EQ, false},     {T_NE, OP_EQ, true},	   {T_LT, OP_LT, false},
	    {T_LE, OP_LE, false},     {T_GT, OP_GT, false},	   {T_GE, OP_GE, false},
	    {T_GLOB, OP_GLOB, false}, {T_REGEX, OP_REGEX, false},  {T_IN, OP_IN, false},
	    {T_HAS, OP_HAS, false},   {T_AMP, OP_AND_LIST, false},
	};
	struct node *n = wr(p, node);
	enum field_type t = field_type((enum field)n->field);
	char got[64];

	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		if (ops[i].t != p->tok.kind)
			continue;
		if (!op_applies(ops[i].op, t))
			return fail_at(
			    p, p->tok.off, "'%.*s' does not apply to '%.*s', which is %s",
			    (int)p->tok.len, p->lx.src + p->tok.off, flen, fname, type_hint(t));
		n->op = (uint8_t)ops[i].op;
		n->neg = ops[i].neg;
		return advance(p);
	}
	describe(p, got, sizeof got);
	if (flen > 40)
		flen = 40;
	return fail_at(
	    p, p->tok.off,
	    "expected an operator (==, !=, <, <=, >, >=, ~, =~, in, has, &) after '%.*s', got %s",
	    flen, fname, got);
}

/* ---- values ---- */

enum { A_STR = 1, A_NUM = 2, A_BOOL = 4, A_NULL = 8, A_ME = 16, A_LEVEL = 32 };

static const char *allowed_text(unsigned a)
{
	switch (a) {
	case A_STR: return "a string";
	case A_STR | A_ME: return "a string or 'me'";
	case A_STR | A_NUM: return "a number or a string";
	case A_LEVEL: return "a severity (debug, info, notice, warning, error or critical)";
	default: return "a value";
	}
}

static int parse_level(struct parser *p, uint8_t *level)
{
	char word[32];
	enum severity sev;
	size_t n = p->tok.kind == T_STRING ? p->tok.slen : p->tok.len;
	const char *s = p->tok.kind == T_STRING ? p->tok.s : p->lx.src + p->tok.off;

	if (n < sizeof word) {
		memcpy(word, s, n);
		word[n] = '\0';
		if (severity_parse(word, &sev) == 0) {
			*level = (uint8_t)sev;
			return 0;
		}
	}
	return fail_at(
	    p, p->tok.off,
	    "unknown severity '%.*s' (one of debug, info, notice, warning, error, critical)",
	    n > 32 ? 32 : (int)n, s);
}

/* A single value for ==, <, has and friends. */
static int parse_scalar(struct parser *p, ref node, unsigned allowed)
{
	struct node *n = wr(p, node);
	enum tok k = p->tok.kind;
	int rc;

	if ((allowed & A_LEVEL) && (k == T_WORD || k == T_STRING)) {
		n->rhs = RV_LEVEL;
		rc = parse_level(p, &n->v.level);
	} else if ((allowed & A_STR) && k == T_STRING) {
		struct strref s;
		n->rhs = RV_STR;
		rc = add_string(p, p->tok.s, p->tok.slen, &s); /* may move the block: n is stale */
		if (!rc)
			((struct node *)wr(p, node))->v.str = s;
	} else if ((allowed & A_NUM) && k == T_NUMBER) {
		n->rhs = RV_NUM;
		n->v.num = p->tok.num;
		rc = 0;
	} else if ((allowed & A_BOOL) && (k == T_TRUE || k == T_FALSE)) {
		n->rhs = k == T_TRUE ? RV_TRUE : RV_FALSE;
		rc = 0;
	} else if ((allowed & A_NULL) && k == T_NULL) {
		n->rhs = RV_NULL;
		rc = 0;
	} else if ((allowed & A_ME) && k == T_ME) {
		n->rhs = RV_ME;
		rc = 0;
	} else {
		const char *hint = "";
		if (k == T_WORD && (allowed & A_STR))
			hint = " (strings need double quotes)";
		else if (k == T_LBRACK || k == T_AT)
			hint = " (a list needs 'in', 'has' or '&')";
		return expected(p, allowed_text(allowed), hint);
	}
	return rc ? rc : advance(p);
}

static int cmp_sort_str(const void *a, const void *b)
{
	return strcmp(((const struct sort_str *)a)->s, ((const struct sort_str *)b)->s);
}

/* One item of a [...] list into the parser's lists (or the level mask). */
static int parse_item(struct parser *p, ref node, enum field_type t)
{
	struct node *n = wr(p, node);
	uint8_t level;
	int rc;

	if (p->n_strs + p->n_nums == FILTER_MAX_LIST)
		return fail_at(p, p->tok.off, "list has more than %d items", FILTER_MAX_LIST);
	if (t == FT_LEVEL && (p->tok.kind == T_WORD || p->tok.kind == T_STRING)) {
		if ((rc = parse_level(p, &level)))
			return rc;
		n->v.levels |= 1u << level;
		p->n_nums++; /* counts toward the item limit */
	} else if (t != FT_LEVEL && p->tok.kind == T_STRING) {
		struct sort_str *s = &p->strs[p->n_strs++];
		if ((rc = add_string(p, p->tok.s, p->tok.slen, &s->r)))
			return rc;
	} else if (t == FT_JSON && p->tok.kind == T_NUMBER) {
		p->nums[p->n_nums++] = p->tok.num;
	} else {
		return expected(
		    p,
		    t == FT_LEVEL  ? "a severity in the list"
		    : t == FT_JSON ? "a string or a number in the list"
				   : "a string in the list",
		    p->tok.kind == T_WORD && t != FT_LEVEL ? " (strings need double quotes)" : "");
	}
	return advance(p);
}

/* Sort and deduplicate the strings, then store the list in the block. */
static int store_list(struct parser *p, ref node)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_strs; i++)
		p->strs[i].s = p->base + p->strs[i].r.off;
	qsort(p->strs, p->n_strs, sizeof p->strs[0], cmp_sort_str);
	for (size_t i = 0; i < p->n_strs; i++)
		if (n == 0 || strcmp(p->strs[n - 1].s, p->strs[i].s))
			p->strs[n++] = p->strs[i];
	ref l = alloc_in(p, sizeof(struct lit_list), _Alignof(struct lit_list));
	ref s = l ? alloc_in(p, n * sizeof(struct strref) + 1, _Alignof(struct strref)) : 0;
	ref d = s ? alloc_in(p, p->n_nums * sizeof(struct num) + 1, _Alignof(struct num)) : 0;
	if (!d)
		return -ENOMEM;
	struct lit_list *lp = wr(p, l);
	lp->n_str = (uint32_t)n;
	lp->n_num = (uint32_t)p->n_nums;
	lp->strs = s;
	lp->nums = d;
	for (size_t i = 0; i < n; i++)
		((struct strref *)wr(p, s))[i] = p->strs[i].r;
	memcpy(wr(p, d), p->nums, p->n_nums * sizeof(struct num));
	((struct node *)wr(p, node))->v.list = l;
	return 0;
}

/* "[" (item ("," item)* ","?)? "]" */
static int parse_list(struct parser *p, ref node, enum field_type t)
{
	int rc;

	p->n_strs = p->n_nums = 0;
	if ((rc = advance(p)))
		return rc;
	while (p->tok.kind != T_RBRACK) {
		if ((rc = parse_item(p, node, t)))
			return rc;
		if (p->tok.kind == T_COMMA) {
			if ((rc = advance(p)))
				return rc;
		} else if (p->tok.kind != T_RBRACK) {
			return expected(p, "',' or ']' in the list", "");
		}
	}
	((struct node *)wr(p, node))->rhs = t == FT_LEVEL ? RV_LEVEL : RV_LIST;
	if (t != FT_LEVEL && (rc = store_list(p, node)))
		return rc;
	return advance(p);
}

/* "@" word */
static int parse_named(struct parser *p, ref node)
{
	int rc;

	if ((rc = advance(p)))
		return rc;
	if (!tok_is_word(&p->tok))
		return expected(p, "a list name", "");
	struct strref name;
	if ((rc = add_string(p, p->lx.src + p->tok.off, p->tok.len, &name)))
		return rc;
	struct node *n = wr(p, node);
	n->rhs = RV_NAMED;
	n->v.str = name;
	return advance(p);
}

/* The right side of `in` and `&`: a list literal or a user's list. */
static int parse_set(struct parser *p, ref node, enum field_type t, const char *what)
{
	if (p->tok.kind == T_LBRACK)
		return parse_list(p, node, t);
	if (p->tok.kind == T_AT && t != FT_LEVEL)
		return parse_named(p, node);
	return expected(p, t == FT_LEVEL ? "a list of severities [...]" : what, "");
}

/*
 * Compile the pattern again as (?C1)(?:PATTERN\E) so that the evaluation
 * budget's callout runs at each start position (filter_scratch.c). The
 * pattern compiled alone first, so its parentheses balance and the
 * wrapper cannot change its meaning; the \E ends a trailing \Q (alone it
 * is ignored). A pattern that does not compile wrapped (a legacy one with
 * a leading (*VERB)) keeps its plain form, bounded by PCRE2's limits only.
 */
static int wrap_regex(struct parser *p, pcre2_code **re)
{
	static const char pre[] = "(?C1)(?:", post[] = "\\E)";
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
	size_t n = sizeof pre - 1 + p->tok.slen + sizeof post - 1;
	char *w = malloc(n);
	int code;
	PCRE2_SIZE where;

	if (!w)
		return -ENOMEM;
	memcpy(w, pre, sizeof pre - 1);
	memcpy(w + sizeof pre - 1, p->tok.s, p->tok.slen);
	memcpy(w + sizeof pre - 1 + p->tok.slen, post, sizeof post - 1);
	pcre2_code *wrapped = pcre2_compile((PCRE2_SPTR)w, n, opts, &code, &where, NULL);
	free(w);
	if (!wrapped && code == PCRE2_ERROR_NOMEMORY) {
		pcre2_code_free(*re);
		return -ENOMEM;
	}
	if (wrapped) {
		pcre2_code_free(*re);
		*re = wrapped;
	}
	return 0;
}

static int compile_regex(struct parser *p, ref node)
{
	int code, rc;
	PCRE2_SIZE where;
	PCRE2_UCHAR msg[160];
	uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
	pcre2_code *re =
	    pcre2_compile((PCRE2_SPTR)p->tok.s, p->tok.slen, opts, &code, &where, NULL);
	size_t size = 0, at = 0;
	char why[200];

	if (p->n_re >= FILTER_MAX_REGEX) {
		pcre2_code_free(re);
		return fail_at(p, p->tok.off,
			       "too many regular expressions (at most %d per filter; combine them "
			       "with '|' or use ~ globs)", FILTER_MAX_REGEX);
	}
	if (!re) {
		if (code == PCRE2_ERROR_NOMEMORY)
			return -ENOMEM;
		pcre2_get_error_message(code, msg, sizeof msg);
		return fail_at(p, lex_string_source_offset(&p->lx, &p->tok, where),
			       "invalid regular expression: %s", (const char *)msg);
	}
	if (!(p->flags & FILTER_COMPILE_UNCHECKED) &&
	    filter_regex_shape(p->tok.s, p->tok.slen, &at, why, sizeof why)) {
		pcre2_code_free(re);
		return fail_at(p, lex_string_source_offset(&p->lx, &p->tok, at),
			       "regular expression \"%.40s%s\" refused: %s", p->tok.s,
			       p->tok.slen > 40 ? "..." : "", why);
	}
	if ((rc = wrap_regex(p, &re)))
		return rc;
	p->re[p->n_re] = re;
	pcre2_pattern_info(re, PCRE2_INFO_SIZE, &size);
	p->re_bytes += size;
	struct node *n = wr(p, node);
	n->rhs = RV_REGEX;
	n->v.regex = (uint32_t)p->n_re++;
	return advance(p);
}

static int parse_rhs(struct parser *p, ref node)
{
	const struct node *n = (const struct node *)wr(p, node);
	enum field_type t = field_type((enum field)n->field);
	unsigned any = A_STR | A_NUM | A_BOOL | A_NULL | A_ME;

	switch (n->op) {
	case OP_EQ:
		return parse_scalar(p, node,
				    t == FT_LEVEL  ? A_LEVEL
				    : t == FT_JSON ? any
						   : A_STR | A_ME);
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		return parse_scalar(p, node,
				    t == FT_LEVEL  ? A_LEVEL
				    : t == FT_JSON ? A_STR | A_NUM
						   : A_STR);
	case OP_HAS: return parse_scalar(p, node, t == FT_JSON ? any : A_STR | A_ME);
	case OP_GLOB:
		if (p->tok.kind != T_STRING)
			return expected(p, "a glob pattern in double quotes", "");
		return parse_scalar(p, node, A_STR);
	case OP_REGEX:
		if (p->tok.kind != T_STRING)
			return expected(p, "a regular expression in double quotes", "");
		return compile_regex(p, node);
	case OP_IN: return parse_set(p, node, t, "a list [...] or a named list @name");
	default: return parse_set(p, node, t, "a named list @name or a list [...]");
	}
}

/* field op value */
static int parse_cond(struct parser *p, ref *out)
{
	uint32_t start = p->tok.off;
	int rc = new_node(p, NK_CMP, start, out);

	if (rc || (rc = parse_field(p, *out)))
		return rc;
	rc = parse_op(p, *out, p->lx.src + start, (int)(p->prev_end - start));
	if (rc || (rc = parse_rhs(p, *out)))
		return rc;
	end_node(p, *out);
	return 0;
}

/* ---- and, or, not, parentheses ---- */

static int parse_or(struct parser *p, ref *out);

static int enter(struct parser *p)
{
	if (++p->depth > FILTER_MAX_DEPTH)
		return fail_at(p, p->tok.off, "nesting deeper than %d levels", FILTER_MAX_DEPTH);
	return 0;
}

static int parse_group(struct parser *p, ref *out)
{
	uint32_t open = p->tok.off;
	int line, col, rc;

	if ((rc = enter(p)) || (rc = advance(p)) || (rc = parse_or(p, out)))
		return rc;
	if (p->tok.kind != T_RPAREN) {
		char what[64];
		filter_position(p->lx.src, open, &line, &col);
		snprintf(what, sizeof what, "'and', 'or' or ')' to close the '(' at %d:%d", line,
			 col);
		return expected_here(p, what);
	}
	p->depth--;
	if ((rc = advance(p)))
		return rc;
	/* The clause's text includes its parentheses, as written. */
	struct node *n = wr(p, *out);
	n->src_off = (uint16_t)open;
	end_node(p, *out);
	return 0;
}

static int parse_unary(struct parser *p, ref *out)
{
	uint32_t start = p->tok.off;
	ref kid;
	int rc;

	if (p->tok.kind == T_LPAREN)
		return parse_group(p, out);
	if (p->tok.kind != T_NOT)
		return parse_cond(p, out);
	if ((rc = enter(p)) || (rc = new_node(p, NK_NOT, start, out)) || (rc = advance(p)) ||
	    (rc = parse_unary(p, &kid)))
		return rc;
	p->depth--;
	((struct node *)wr(p, *out))->kid = kid;
	end_node(p, *out);
	return 0;
}

/* kid ("and"|"or" kid)*: one n-ary node, so long chains add no depth. */
static int parse_chain(struct parser *p, ref *out, enum tok sep, enum node_kind kind,
		       int (*sub)(struct parser *, ref *))
{
	uint32_t start = p->tok.off;
	ref first, last, kid;
	int rc = sub(p, &first);

	if (rc || p->tok.kind != sep) {
		*out = first;
		return rc;
	}
	if ((rc = new_node(p, kind, start, out)))
		return rc;
	((struct node *)wr(p, *out))->kid = first;
	last = first;
	while (p->tok.kind == sep) {
		if ((rc = advance(p)) || (rc = sub(p, &kid)))
			return rc;
		((struct node *)wr(p, last))->next = kid;
		last = kid;
	}
	end_node(p, *out);
	return 0;
}

static int parse_and(struct parser *p, ref *out)
{
	return parse_chain(p, out, T_AND, NK_AND, parse_unary);
}

static int parse_or(struct parser *p, ref *out)
{
	return parse_chain(p, out, T_OR, NK_OR, parse_and);
}

/* ---- the whole filter ---- */

static int parse_all(struct parser *p, ref *root)
{
	int rc = advance(p);

	p->prev_end = 0; /* nothing before the first token */
	if (rc)
		return rc;
	if (p->tok.kind == T_EOF)
		return fail_at(p, p->tok.off,
			       "empty filter (write a condition such as topic ~ \"*.koji.*\")");
	if ((rc = parse_or(p, root)))
		return rc;
	if (p->tok.kind == T_RPAREN)
		return fail_at(p, p->tok.off, "unexpected ')' (no '(' to close)");
	if (p->tok.kind != T_EOF)
		return expected_here(p, "'and', 'or' or end of input");
	return 0;
}

/* Header, regex table, exact size. */
static int finish(struct parser *p, ref root, ref source, struct filter **out)
{
	ref table = alloc_in(p, p->n_re * sizeof(pcre2_code *) + 1, _Alignof(pcre2_code *));

	if (!table)
		return -ENOMEM;
	memcpy(wr(p, table), p->re, p->n_re * sizeof(pcre2_code *));
	struct filter *f = (struct filter *)p->base;
	f->size = (uint32_t)p->len;
	f->root = root;
	f->source = source;
	f->regexes = table;
	f->n_regex = (uint32_t)p->n_re;
	f->n_nodes = p->n_nodes;
	f->regex_bytes = p->re_bytes;
	char *shrunk = realloc(p->base, p->len); /* offsets survive a move */
	*out = (struct filter *)(shrunk ? shrunk : p->base);
	p->base = NULL;
	p->n_re = 0;
	return 0;
}

static int compile(struct parser *p, const char *src, size_t len, struct filter **out)
{
	struct strref source;
	ref root = 0;
	int rc;

	p->cap = sizeof(struct filter) + 4 * len + 256;
	p->base = calloc(1, p->cap);
	if (!p->base)
		return -ENOMEM;
	p->len = sizeof(struct filter);
	if ((rc = add_string(p, src, len, &source)))
		return rc;
	lex_init(&p->lx, src, len, p->err);
	if ((rc = parse_all(p, &root)))
		return rc;
	return finish(p, root, source.off, out);
}

int filter_compile(const char *src, struct filter **out, struct filter_error *err)
{
	return filter_compile_flags(src, 0, out, err);
}

int filter_compile_flags(const char *src, unsigned flags, struct filter **out,
			 struct filter_error *err)
{
	struct filter_error dummy;
	struct parser *p;
	size_t len;
	int rc;

	*out = NULL;
	if (!err)
		err = &dummy;
	memset(err, 0, sizeof *err);
	if (!src)
		return -EINVAL;
	len = strnlen(src, FILTER_MAX_SOURCE + 1);
	if (len > FILTER_MAX_SOURCE)
		return filter_fail(err, src, FILTER_MAX_SOURCE, "filter is longer than %d bytes",
				   FILTER_MAX_SOURCE);
	p = malloc(sizeof *p);
	if (p)
		memset(p, 0, offsetof(struct parser, lx));
	if (!p) {
		snprintf(err->msg, sizeof err->msg, "out of memory");
		return -ENOMEM;
	}
	p->err = err;
	p->flags = flags;
	rc = compile(p, src, len, out);
	if (rc == -ENOMEM)
		snprintf(err->msg, sizeof err->msg, "out of memory");
	for (size_t i = 0; i < p->n_re; i++)
		pcre2_code_free(p->re[i]);
	free(p->base);
	free(p);
	return rc;
}
