/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * buf: a growable byte buffer, the one piece of memory plumbing every module
 * shares. Not for anything clever: append, reset, free. The buffer owns `data`;
 * `data` is always NUL-terminated after a successful append so it can be
 * printed, but it may hold NULs itself (use `len`).
 */
#ifndef HERALD_BUF_H
#define HERALD_BUF_H

#include <stddef.h>

struct buf {
	char *data;  /* owned; NULL until the first append */
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

/* Make room for `extra` more bytes. 0 or -ENOMEM. */
int buf_reserve(struct buf *b, size_t extra);
/* Append bytes / a NUL-terminated string / one byte. 0 or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
/* printf-style append. 0, -ENOMEM or -EINVAL. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the contents, keep the memory. */
void buf_reset(struct buf *b);
/* Free the memory; the buffer is BUF_INIT afterwards. */
void buf_release(struct buf *b);

#endif
