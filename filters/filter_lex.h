/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * filter_lex: tokens of the filter language, for the parser (filter_parse.c)
 * only. The lexer decodes string literals into its own buffer, so a string
 * token's text is valid until the next lex_next().
 */
#ifndef HERALD_FILTER_LEX_H
#define HERALD_FILTER_LEX_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter_int.h"

enum tok {
	T_EOF,
	T_WORD,
	T_STRING,
	T_NUMBER,
	T_LPAREN,
	T_RPAREN,
	T_LBRACK,
	T_RBRACK,
	T_COMMA,
	T_DOT,
	T_AT,
	T_EQ,
	T_NE,
	T_LT,
	T_LE,
	T_GT,
	T_GE,
	T_GLOB,
	T_REGEX,
	T_AMP,
	/* keywords: words with a meaning of their own */
	T_AND,
	T_OR,
	T_NOT,
	T_IN,
	T_HAS,
	T_ME,
	T_TRUE,
	T_FALSE,
	T_NULL,
};

struct token {
	enum tok kind;
	uint32_t off, len; /* the token's source text */
	struct num num;	   /* T_NUMBER */
	const char *s;	   /* T_STRING: decoded, NUL-terminated */
	uint32_t slen;
};

struct lexer {
	const char *src;
	size_t len, pos;
	struct filter_error *err;
	char sbuf[FILTER_MAX_SOURCE + 1];
};

void lex_init(struct lexer *lx, const char *src, size_t len, struct filter_error *err);
/* The next token. 0, or -EINVAL with lx->err filled. */
int lex_next(struct lexer *lx, struct token *t);
/* A word (identifier or keyword): usable as a key after '.' in a path. */
bool tok_is_word(const struct token *t);
/* How an error message names the token: "end of input", "'and'", ... */
const char *tok_describe(const struct lexer *lx, const struct token *t, char *buf, size_t n);
/* The source offset of byte `decoded` of a string token's text (so that a
 * regex error points into the literal even past escapes). */
size_t lex_string_source_offset(const struct lexer *lx, const struct token *t, size_t decoded);

/* Fill *err for source offset `off` and return -EINVAL. */
int filter_fail(struct filter_error *err, const char *src, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
