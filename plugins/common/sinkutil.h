/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkutil: the small helpers every bundled sink needs (logging through the
 * host, option values, address checks). Compiled into each plugin, which is
 * built with -fvisibility=hidden, so nothing here is exported and a plugin
 * still depends only on libc and include/herald/sink.h.
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

/* Printable, bounded, single line (no C0, DEL or C1 controls): 0, or -1
 * with err set. Addresses end up in logs, headers and environments. */
int sinkutil_check_address(const char *address, size_t max, char *err, size_t errlen);

/* The one exported symbol of a bundled sink: its operations table for a
 * host of the same ABI major, else NULL (see herald-sink(3)). */
#define SINKUTIL_ENTRY(ops)                                                                        \
	HERALD_SINK_EXPORT const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)      \
	{                                                                                          \
		return HERALD_SINK_ABI_MAJOR_OF(host_abi) == HERALD_SINK_ABI_MAJOR ? &(ops) : NULL; \
	}

#endif
