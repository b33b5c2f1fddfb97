/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_int: the compiled program shared by the filter_*.c files, and the
 * internal functions they call in each other. Not for use outside filters/.
 *
 * Why a tree and not bytecode: filters are small (at most 256 nodes, depth
 * 64) and evaluated only on the candidates the index selects, so a compact
 * tree walk costs little; explain and index-key derivation need the tree's
 * structure anyway (clauses, and/or shape), and a bytecode would be a second
 * representation to keep consistent with it.
 *
 * Why offsets and not pointers: the whole program (header, nodes, path
 * components, lists, strings, source text) lives in one block and refers to
 * itself by byte offsets from the block's start. The compiler grows that
 * block with realloc while parsing and shrinks it to its exact size at the
 * end, so a filter costs one allocation of a few hundred bytes (a million of
 * them must fit in memory), plus one pcre2_code per regex, which lives
 * outside the block. Offset 0 is the header, so 0 also means "none".
 */
#ifndef HERALD_FILTER_INT_H
#define HERALD_FILTER_INT_H

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>

#include "filter.h"

typedef uint32_t ref; /* byte offset into the program block; 0 = none */

enum node_kind { NK_AND, NK_OR, NK_NOT, NK_CMP };

/* What a comparison looks at, and its shape. */
enum field {
	/* text */
	F_TOPIC,
	F_APP,
	F_TITLE,
	F_SUMMARY,
	F_LINK,
	F_AGENT,
	/* a level */
	F_SEVERITY,
	/* sorted lists */
	F_USERNAMES,
	F_PACKAGES,
	/* some element of a list */
	F_USERNAME,
	F_PACKAGE,
	/* a JSON path */
	F_MSG,
	/* more sorted lists: fedora-messaging's other flags (meta.h) */
	F_CONTAINERS,
	F_MODULES,
	F_FLATPAKS,
	F_GROUPS,
};
enum field_type { FT_TEXT, FT_LEVEL, FT_LIST, FT_EACH, FT_JSON };

/* `!=` is OP_EQ with node.neg set: the absent rule ("every comparison with
 * an absent value is false, except != which is true") then holds for free. */
enum op { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE, OP_GLOB, OP_REGEX, OP_IN, OP_HAS, OP_AND_LIST };

/* What stands on the right. */
enum rhs {
	RV_NONE,
	RV_STR, /* v.str: a string, glob pattern */
	RV_NUM, /* v.num */
	RV_TRUE,
	RV_FALSE,
	RV_NULL,
	RV_ME,	  /* the user's name */
	RV_LEVEL, /* v.level (ordering ops) or v.levels (in: one bit per level) */
	RV_REGEX, /* v.regex: index into the program's regex table */
	RV_LIST,  /* v.list: a struct lit_list */
	RV_NAMED, /* v.str: the name of a user's list, without '@' */
};

struct num {
	double d;
	int64_t i;
	bool is_int; /* i is exact; compare integers exactly */
};

struct strref {
	ref off; /* NUL-terminated; may not contain NUL */
	uint32_t len;
};

struct node {
	uint8_t kind, op, field, rhs;
	uint8_t neg;		   /* NK_CMP: negate (the '!=' operator) */
	uint8_t n_path;		   /* F_MSG: components at `path` */
	uint16_t src_off, src_len; /* the clause's source text, for explain */
	ref next;		   /* next sibling under an and/or */
	ref kid;		   /* and/or/not: first child; F_MSG: path components */
	union {
		struct strref str;
		struct num num;
		uint32_t regex;
		uint32_t levels; /* OP_IN on severity: bit (1 << level) */
		uint8_t level;
		ref list;
	} v;
};

/* One component of msg.PATH: an object key or an array index. */
struct seg {
	struct strref key; /* key.off == 0: an index */
	uint32_t index;
};

/* A [...] literal: strings sorted by strcmp without duplicates (binary
 * search), numbers in source order (few, and mixed int/real ordering is not
 * worth the subtlety). */
struct lit_list {
	uint32_t n_str, n_num;
	ref strs; /* struct strref[n_str] */
	ref nums; /* struct num[n_num] */
};

struct filter {
	uint32_t size; /* bytes in the block */
	ref root;      /* the top node */
	ref source;    /* NUL-terminated source */
	ref regexes;   /* pcre2_code *[n_regex] */
	uint32_t n_regex;
	uint32_t n_nodes;
	size_t regex_bytes; /* compiled regex sizes, for filter_size() */
};

#define AT(f, off, type) ((const type *)((const char *)(f) + (off)))

static inline const struct node *node_at(const struct filter *f, ref off)
{
	return AT(f, off, struct node);
}

static inline const char *str_at(const struct filter *f, ref off)
{
	return AT(f, off, char);
}

static inline pcre2_code *regex_at(const struct filter *f, uint32_t i)
{
	return ((pcre2_code *const *)(const void *)((const char *)f + f->regexes))[i];
}

enum field_type field_type(enum field fl);
const char *field_name(enum field fl);

/* filter_eval.c: one evaluation, with the user resolved. */
struct eval {
	const struct filter *f;
	const struct msg_view *m;
	const struct filter_user *user;
	struct filter_scratch *scratch;
	int regex_rc; /* last regex error (< 0) for explain, else 0 */
};
bool eval_node(struct eval *e, const struct node *n);
bool eval_cmp(struct eval *e, const struct node *n);
const struct filter_list *eval_find_list(const struct filter_user *u, const char *name);
const json_t *eval_path(const struct filter *f, const struct node *n, const json_t *msg);
/* The text of a text field, NULL when absent. */
const char *eval_text(const struct msg_view *m, enum field fl);
/* The names of a list field; false when absent (no meta). */
bool eval_names(const struct msg_view *m, enum field fl, char *const **items, size_t *n);

/* filter_scratch.c */
/* 1 match, 0 no match, < 0 a PCRE2 error (limits hit, bad UTF-8, ...). */
int scratch_regex_match(struct filter_scratch *s, const pcre2_code *re, const char *subject,
			size_t len);

/* filter_shape.c: may this compiled-valid pattern backtrack
 * catastrophically (see the rule there)? 0, or -EINVAL with *where the
 * offset in the pattern and `why` what was refused. */
int filter_regex_shape(const char *pattern, size_t len, size_t *where, char *why, size_t whylen);

/* filter_glob.c: glob over a counted string (JSON strings may hold NUL). */
bool glob_match_n(const char *pattern, const char *s, size_t n);

/* filter_lex.c: positions for errors. */
void filter_position(const char *src, size_t off, int *line, int *col);

#endif
