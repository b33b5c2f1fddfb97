/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config_int: what config.c shares with the files that parse one kind of
 * section each (config_amqp.c): the parse context and the setters that
 * record a key's value or the first error. Private to src/common/config*.c.
 *
 * Every setter returns 1 (inih's "go on") or, after recording the error
 * against the current line, 0; only the first error is kept.
 */
#ifndef HERALD_CONFIG_INT_H
#define HERALD_CONFIG_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

struct parse_ctx {
	struct config *cfg;
	FILE *file;
	const char *dir;     /* directory of the config file, for relative paths */
	int lineno;          /* line the reader handed out last */
	int err_line;        /* first error, 0 if none */
	char err[512];
};

__attribute__((format(printf, 2, 3))) int config_fail(struct parse_ctx *c, const char *fmt, ...);
/* A string value; `path`: resolved against the config file's folder. */
int config_set_str(struct parse_ctx *c, char **dst, const char *v, bool path);
int config_push_str(struct parse_ctx *c, char ***arr, size_t *n, const char *v);
int config_set_bool(struct parse_ctx *c, bool *dst, const char *key, const char *v);
int config_set_int(struct parse_ctx *c, int *dst, const char *key, const char *v, long min,
		   long max);

/* config_amqp.c: one key of [amqp NAME]; the checks that need the whole
 * section (once the file is read); freeing the sections. */
int config_amqp_key(struct parse_ctx *c, const char *name, const char *k, const char *v);
int config_amqp_finish(struct parse_ctx *c);
void config_amqp_release(struct config *cfg);

#endif
