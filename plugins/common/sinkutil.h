/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkutil: the toolkit of the bundled sinks: logging through the host,
 * option tables, secret files, address checks, a byte buffer. Built once
 * (plugins/common/libsinkutil.la) and linked into each plugin, which is
 * built with -fvisibility=hidden, so nothing here is exported and a plugin
 * still depends only on libc and include/herald/sink.h.
 *
 * Not for anything one sink alone needs, nor for anything of the daemon's:
 * third-party sinks do not get this library, only the ABI header.
 *
 * Threads: no function keeps state between calls; each works on what the
 * caller passes, so calls on different instances may run concurrently.
 * Errors: the newer functions (options, secrets) return 0 or a negative
 * errno with a one-line message in err; the older parsers return -1.
 */
#ifndef HERALD_SINKUTIL_H
#define HERALD_SINKUTIL_H

#include <herald/sink.h>
#include <stdbool.h>
#include <stddef.h>

/* A growable, NUL-terminated byte buffer; `failed` latches an allocation
 * failure so builders can append without checking each step. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_str(struct sbuf *b, const char *s);
void sb_free(struct sbuf *b);

/* Log through the host, if it offers logging (one line, at most 511 bytes). */
void sinkutil_log(const struct herald_sink_host *host, enum herald_sink_log_level level,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "yes/no/true/false/on/off/1/0": 0, or -1 for anything else. */
int sinkutil_parse_bool(const char *v, bool *out);
/* A decimal number in [lo, hi]: 0, or -1. */
int sinkutil_parse_uint(const char *v, unsigned long lo, unsigned long hi, unsigned long *out);

/* An absolute path for `v`: a relative one hangs off the config file's
 * directory. malloc'd, or NULL with err set. */
char *sinkutil_resolve_path(const struct herald_sink_host *host, const char *v, char *err,
			    size_t errlen);

/* ---- secret files ---- */

/*
 * A secret read from a file. `value` is malloc'd, NUL-terminated, `len`
 * bytes, and never logged or put into a message; `path` is the file's (not
 * secret: messages name it). {0} is "none"; sinkutil_secret_release wipes
 * the value, frees both and leaves {0}.
 */
struct sinkutil_secret {
	char *path;
	char *value;
	size_t len;
	bool exposed; /* the file is readable by every user: worth a warning */
};

#define SINKUTIL_SECRET_FIRST_LINE 1u /* keep the first line only */

/*
 * Read the secret file `path` (absolute, or relative to the working
 * directory) into *out. The file must be a regular file (a symlink is
 * followed, since mounted secrets often are symlinks, and what it points
 * to must be one; a FIFO is refused without waiting for a writer) of at
 * most `max` bytes with no NUL byte. The trailing CR/LF are stripped, or
 * with SINKUTIL_SECRET_FIRST_LINE everything from the first CR or LF; what
 * is left must not be empty.
 * A file readable by every user is accepted with out->exposed set (the
 * caller warns); one readable by its group is normal (root:herald 0640).
 * 0, or a negative errno with err = "WHAT: PATH: why" and *out untouched,
 * so a reload that fails keeps the old secret.
 */
int sinkutil_secret_read(const char *what, const char *path, size_t max, unsigned flags,
			 struct sinkutil_secret *out, char *err, size_t errlen);
void sinkutil_secret_release(struct sinkutil_secret *s);

/* ---- option tables ---- */

enum sinkutil_opt_type {
	SINKUTIL_T_STRING, /* char *: a copy of the value (after check, if any) */
	SINKUTIL_T_UINT,   /* unsigned long: a decimal number in [lo, hi] */
	SINKUTIL_T_BOOL,   /* bool: yes/no, true/false, on/off, 1/0 */
	SINKUTIL_T_ENUM,   /* int: values[i] for the word names[i] */
	SINKUTIL_T_PATH,   /* char *: absolute; a relative value hangs off the config
			    * file's directory (then check, if any, on the result) */
	SINKUTIL_T_SECRET, /* struct sinkutil_secret: the first line of the file
			    * the value names (resolved as PATH), read at once,
			    * at most hi bytes; warns when every user can read it */
	SINKUTIL_T_CUSTOM, /* set() does it all */
};

/* One option a sink takes. Build entries with the macros below, which check
 * the field's type at compile time; a table ends with SINKUTIL_END. */
struct sinkutil_option {
	const char *name;
	enum sinkutil_opt_type type;
	size_t offset;		  /* of the field in the sink's struct */
	unsigned long lo, hi;	  /* UINT: the range; SECRET: hi is the size cap */
	const char *const *names; /* ENUM: the words, NULL-ended */
	const int *values;	  /* ENUM: one per word */
	/* STRING, PATH (optional): 0, or a negative errno with the whole
	 * message in err (the key is passed for it). */
	int (*check)(const char *key, const char *value, char *err, size_t errlen);
	/* CUSTOM: set the option on obj; 0, or a negative errno with err set. */
	int (*set)(void *obj, const struct herald_sink_option *o, char *err, size_t errlen);
};

/* offsetof(type, field), refused by the compiler unless the field is a `ft`. */
#define SINKUTIL_FIELD(type, field, ft)                                                            \
	(offsetof(type, field) +                                                                   \
	 0 * sizeof(                                                                               \
		 char[__builtin_types_compatible_p(__typeof__(((type *)0)->field), ft) ? 1 : -1]))

#define SINKUTIL_STRING(name, type, field, check)                                                  \
	{                                                                                          \
		(name), SINKUTIL_T_STRING, SINKUTIL_FIELD(type, field, char *), 0, 0, NULL, NULL,  \
		    (check), NULL                                                                  \
	}
#define SINKUTIL_UINT(name, type, field, lo, hi)                                                   \
	{                                                                                          \
		(name), SINKUTIL_T_UINT, SINKUTIL_FIELD(type, field, unsigned long), (lo), (hi),   \
		    NULL, NULL, NULL, NULL                                                         \
	}
#define SINKUTIL_BOOL(name, type, field)                                                           \
	{                                                                                          \
		(name), SINKUTIL_T_BOOL, SINKUTIL_FIELD(type, field, bool), 0, 0, NULL, NULL,      \
		    NULL, NULL                                                                     \
	}
#define SINKUTIL_ENUM(name, type, field, names, values)                                            \
	{                                                                                          \
		(name), SINKUTIL_T_ENUM, SINKUTIL_FIELD(type, field, int), 0, 0, (names),          \
		    (values), NULL, NULL                                                           \
	}
#define SINKUTIL_PATH(name, type, field, check)                                                    \
	{                                                                                          \
		(name), SINKUTIL_T_PATH, SINKUTIL_FIELD(type, field, char *), 0, 0, NULL, NULL,    \
		    (check), NULL                                                                  \
	}
#define SINKUTIL_SECRET(name, type, field, max)                                                    \
	{                                                                                          \
		(name), SINKUTIL_T_SECRET, SINKUTIL_FIELD(type, field, struct sinkutil_secret), 0, \
		    (max), NULL, NULL, NULL, NULL                                                  \
	}
#define SINKUTIL_CUSTOM(name, set)                                                                 \
	{                                                                                          \
		(name), SINKUTIL_T_CUSTOM, 0, 0, 0, NULL, NULL, NULL, (set)                        \
	}
#define SINKUTIL_END                                                                               \
	{                                                                                          \
		NULL, SINKUTIL_T_CUSTOM, 0, 0, 0, NULL, NULL, NULL, NULL                           \
	}

/*
 * Set option `o` on obj (the sink's struct) by the table. `host` resolves
 * relative paths and takes the warnings. 0, or a negative errno with err
 * set; the messages, "(line N)" being o->line:
 *   unknown option 'KEY' (line N)
 *   KEY: 'VALUE' is not a number from LO to HI (line N)
 *   KEY: 'VALUE' is not yes or no (line N)
 *   KEY: 'VALUE' is not A, B or C (line N)
 *   KEY: PATH: why                             (SECRET: see sinkutil_secret_read)
 * and whatever check() and set() write. A field set twice keeps the last
 * value; the one before is freed.
 */
int sinkutil_set_option(const struct sinkutil_option *table, void *obj,
			const struct herald_sink_host *host, const struct herald_sink_option *o,
			char *err, size_t errlen);
/* Every option in turn; stops at the first error. */
int sinkutil_set_options(const struct sinkutil_option *table, void *obj,
			 const struct herald_sink_host *host,
			 const struct herald_sink_option *options, size_t n_options, char *err,
			 size_t errlen);
/* Free what the table's STRING, PATH and SECRET fields of obj hold (a secret
 * is wiped first) and clear them. CUSTOM fields are the sink's to free. */
void sinkutil_options_release(const struct sinkutil_option *table, void *obj);

/* ---- values and addresses ---- */

/* A PATH option's check (SINKUTIL_PATH's `check`): the file is readable now. */
int sinkutil_check_readable(const char *key, const char *path, char *err, size_t errlen);

/* One log line (INFO) for a batch's items that were not delivered: how
 * many, and the first one's destination and reason, rather than a line per
 * item. where(ctx, i) names item i's destination for a log: no secrets. */
void sinkutil_log_undelivered(const struct herald_sink_host *host,
			      struct herald_sink_result *const *results, size_t n,
			      const char *(*where)(void *ctx, size_t i), void *ctx);

/* Set one item's result: its outcome, no retry_after, the reason. */
void sinkutil_result(struct herald_sink_result *r, enum herald_sink_outcome o, const char *fmt,
		     ...) __attribute__((format(printf, 3, 4)));

/* Printable, bounded, single line (no C0, DEL or C1 controls): 0, or -1
 * with err set. Addresses end up in logs, headers and environments. */
int sinkutil_check_address(const char *address, size_t max, char *err, size_t errlen);

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid).
 * Reads at most up to the first NUL. */
size_t sinkutil_utf8_len(const unsigned char *s);

/* Append s to b as valid UTF-8 of at most max bytes: each invalid byte
 * becomes U+FFFD, and a longer text is cut at a character boundary and ends
 * in an ellipsis (U+2026) within max. Returns whether it was cut. max >= 3. */
bool sinkutil_utf8_fit(struct sbuf *b, const char *s, size_t max);

/* The one exported symbol of a bundled sink: its operations table for a
 * host of the same ABI major, else NULL (see herald-sink(3)). */
#define SINKUTIL_ENTRY(ops)                                                                        \
	HERALD_SINK_EXPORT const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)      \
	{                                                                                          \
		return HERALD_SINK_ABI_MAJOR_OF(host_abi) == HERALD_SINK_ABI_MAJOR ? &(ops) : NULL; \
	}

#endif
