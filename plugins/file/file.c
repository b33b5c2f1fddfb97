/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * file: the bundled sink that appends notifications to a file as JSON lines,
 * one line per notification (the host's `json`, verbatim), for audit logs,
 * demos and anything that tails a file.
 *
 * Each item's lines go out in one write(2) on an O_APPEND descriptor, so
 * concurrent writers and crashes never interleave or split one item's lines
 * (short of a short write on a full disk, which the next write repairs by
 * ending the torn line first). Addresses are ignored: every destination of
 * an instance shares its file.
 *
 * Options: path (required; relative to the config file's directory),
 * fsync (yes/no, default no: fdatasync after each deliver call), mode
 * (octal, default 0640, applied when the file is created, minus the umask).
 *
 * Standalone: libc and herald/sink.h only.
 */
#define _GNU_SOURCE /* asprintf */
#include <herald/sink.h>

#include "sinkutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ADDRESS 2048
#define MAX_ITEM    (16u << 20) /* bytes of one item's lines; more is refused */

struct file_sink {
	const struct herald_sink_host *host;
	char *path; /* absolute */
	int fd;	    /* -1 after an error broke it: the next deliver reopens */
	bool fsync;
	mode_t mode;
	bool torn; /* the file does not end in "\n": end that line first */
	char *buf; /* one item's lines, reused */
	size_t cap;
};

/* ---- options ---- */

/* 1 to 4 octal digits, at most 0777: no set-id or sticky bits on a log. */
static int parse_mode(const char *v, mode_t *out)
{
	unsigned m = 0;
	size_t n = strlen(v);

	if (n < 1 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '7')
			return -1;
		m = m * 8 + (unsigned)(v[i] - '0');
	}
	if (m > 0777)
		return -1;
	*out = (mode_t)m;
	return 0;
}

static int set_option(struct file_sink *fs, const struct herald_sink_option *o, char *err,
		      size_t errlen)
{
	const char *why = NULL;

	if (!strcmp(o->key, "path")) {
		free(fs->path);
		fs->path = NULL;
		if (!*o->value)
			snprintf(err, errlen, "path: empty (line %u)", o->line);
		else
			fs->path = sinkutil_resolve_path(fs->host, o->value, err, errlen);
		return fs->path ? 0 : -1;
	} else if (!strcmp(o->key, "fsync")) {
		why = sinkutil_parse_bool(o->value, &fs->fsync) ? "is not yes or no" : NULL;
	} else if (!strcmp(o->key, "mode")) {
		why = parse_mode(o->value, &fs->mode) ? "is not an octal mode up to 0777" : NULL;
	} else {
		snprintf(err, errlen, "unknown option '%s' (line %u)", o->key, o->line);
		return -1;
	}
	if (why)
		snprintf(err, errlen, "%s: '%s' %s (line %u)", o->key, o->value, why, o->line);
	return why ? -1 : 0;
}

/* ---- the file ---- */

/* Does the regular file end in the middle of a line (a crash or a full disk
 * cut a write short)? Then the next write starts with "\n" so its lines stay
 * whole. Read through a second descriptor: opening a FIFO for reading too
 * would make us its reader and our writes could block forever. */
static bool ends_torn(const char *path, int fd)
{
	struct stat st;
	bool torn = false;
	char last;
	int rfd;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0)
		return false;
	rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (rfd < 0)
		return false; /* write-only file: we cannot know, assume whole */
	if (pread(rfd, &last, 1, st.st_size - 1) == 1)
		torn = last != '\n';
	close(rfd);
	return torn;
}

/* Open (or create) the path for appending; 0 or -errno. */
static int open_file(struct file_sink *fs)
{
	int fd = open(fs->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, fs->mode);

	if (fd < 0)
		return -errno;
	if (fs->fd >= 0 && close(fs->fd))
		sinkutil_log(fs->host, HERALD_SINK_LOG_WARNING, "closing the old %s: %s", fs->path,
			     strerror(errno));
	fs->fd = fd;
	fs->torn = ends_torn(fs->path, fd);
	return 0;
}

static void drop_file(struct file_sink *fs)
{
	if (fs->fd >= 0 && close(fs->fd))
		sinkutil_log(fs->host, HERALD_SINK_LOG_WARNING, "closing %s: %s", fs->path,
			     strerror(errno));
	fs->fd = -1;
}

/* ---- operations ---- */

static void file_shutdown(void *instance)
{
	struct file_sink *fs = instance;

	if (!fs)
		return;
	drop_file(fs);
	free(fs->path);
	free(fs->buf);
	free(fs);
}

static int file_init(const struct herald_sink_host *host, const struct herald_sink_option *options,
		     size_t n_options, void **instance, char *err, size_t errlen)
{
	struct file_sink *fs = calloc(1, sizeof *fs);
	int rc;

	if (!fs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*fs = (struct file_sink){.host = host, .fd = -1, .mode = 0640};
	for (size_t i = 0; i < n_options; i++)
		if (set_option(fs, &options[i], err, errlen))
			goto fail;
	if (!fs->path) {
		snprintf(err, errlen, "path: required");
		goto fail;
	}
	rc = open_file(fs);
	if (rc) {
		snprintf(err, errlen, "cannot open %s: %s", fs->path, strerror(-rc));
		goto fail;
	}
	*instance = fs;
	return 0;
fail:
	file_shutdown(fs);
	return -1;
}

static int file_validate(void *instance, const char *address, char *err, size_t errlen)
{
	return sinkutil_check_address(address, MAX_ADDRESS, err, errlen);
}

static int grow(struct file_sink *fs, size_t need)
{
	char *p;

	if (need <= fs->cap)
		return 0;
	p = realloc(fs->buf, need);
	if (!p)
		return -1;
	fs->buf = p;
	fs->cap = need;
	return 0;
}

/* An item's lines into fs->buf: 0 and *len, or a reason in r. A raw CR or LF
 * in the JSON can only be whitespace between tokens (JSON escapes them in
 * strings), so turning it into a space keeps the JSON and the line intact. */
static int build_lines(struct file_sink *fs, const struct herald_sink_item *it, size_t *len,
		       struct herald_sink_result *r)
{
	size_t total = fs->torn ? 1 : 0, at = 0;

	for (size_t i = 0; i < it->n_notes; i++) {
		const struct herald_notification *n = it->notes[i];
		if (!n || !HERALD_SINK_HAS(n, struct herald_notification, json) || !n->json) {
			snprintf(r->reason, sizeof r->reason, "notification %zu has no json", i);
			return -1;
		}
		total += strlen(n->json) + 1;
		if (total > MAX_ITEM) {
			snprintf(r->reason, sizeof r->reason, "item over %u bytes", MAX_ITEM);
			return -1;
		}
	}
	if (grow(fs, total)) {
		r->outcome = HERALD_SINK_RETRY;
		snprintf(r->reason, sizeof r->reason, "out of memory");
		return -1;
	}
	if (fs->torn)
		fs->buf[at++] = '\n';
	for (size_t i = 0; i < it->n_notes; i++) {
		for (const char *p = it->notes[i]->json; *p; p++)
			fs->buf[at++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
		fs->buf[at++] = '\n';
	}
	*len = at;
	return 0;
}

/* One write(2) for the whole buffer; only a short write (disk full) makes us
 * write the rest separately. 0 or an errno; fs->torn tells if a line is cut. */
static int write_all(struct file_sink *fs, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fs->fd, fs->buf + done, len - done);
		if (n < 0 && errno == EINTR && done == 0)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : ENOSPC;
			fs->torn = fs->torn || done > 0;
			return e;
		}
		done += (size_t)n;
	}
	fs->torn = false;
	return 0;
}

static enum herald_sink_outcome classify(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EINTR:
	case EAGAIN:
	case ENOMEM:
	case ENOBUFS: return HERALD_SINK_RETRY;
	default: return HERALD_SINK_BROKEN;
	}
}

/* A write or fsync failed with e: classify it, and on a broken file close
 * it so the next call (the host's probe) reopens the path. */
static void fail_io(struct file_sink *fs, const char *what, int e, struct herald_sink_result *r)
{
	r->outcome = classify(e);
	snprintf(r->reason, sizeof r->reason, "%s failed: %s", what, strerror(e));
	if (r->outcome == HERALD_SINK_BROKEN) {
		sinkutil_log(fs->host, HERALD_SINK_LOG_ERROR, "%s %s: %s", what, fs->path,
			     strerror(e));
		drop_file(fs);
	}
}

static void deliver_one(struct file_sink *fs, const struct herald_sink_item *it,
			struct herald_sink_result *r)
{
	size_t len;
	int rc;

	r->outcome = HERALD_SINK_REJECTED;
	if (!it->notes || it->n_notes == 0) {
		snprintf(r->reason, sizeof r->reason, "item without notifications");
		return;
	}
	if (fs->fd < 0 && (rc = open_file(fs)) < 0) {
		r->outcome = HERALD_SINK_BROKEN;
		snprintf(r->reason, sizeof r->reason, "cannot open the file: %s", strerror(-rc));
		return;
	}
	if (build_lines(fs, it, &len, r))
		return;
	rc = write_all(fs, len);
	if (rc) {
		fail_io(fs, "write", rc, r);
		return;
	}
	r->outcome = HERALD_SINK_DELIVERED;
	r->reason[0] = '\0';
}

/* fsync=yes: nothing counts as delivered until it is on disk. A file that
 * cannot be synced at all (a pipe, /dev/stdout) is written as is. */
static void sync_delivered(struct file_sink *fs, size_t n,
			   struct herald_sink_result *const *results)
{
	struct herald_sink_result failed = {.size = sizeof failed};
	size_t i;

	for (i = 0; i < n && results[i]->outcome != HERALD_SINK_DELIVERED; i++)
		;
	if (i == n || fs->fd < 0 || !fdatasync(fs->fd) || errno == EINVAL || errno == EROFS)
		return;
	fail_io(fs, "fsync", errno, &failed);
	for (i = 0; i < n; i++)
		if (results[i]->outcome == HERALD_SINK_DELIVERED) {
			results[i]->outcome = failed.outcome;
			memcpy(results[i]->reason, failed.reason, sizeof failed.reason);
		}
}

static void file_deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
			 struct herald_sink_result *const *results)
{
	struct file_sink *fs = instance;

	for (size_t i = 0; i < n; i++)
		deliver_one(fs, items[i], results[i]);
	if (fs->fsync)
		sync_delivered(fs, n, results);
}

/* Log rotation: open the path anew and only then let the old file go, so a
 * failed reopen keeps writing where we were. */
static int file_reopen(void *instance)
{
	struct file_sink *fs = instance;
	int rc = open_file(fs);

	if (rc)
		sinkutil_log(fs->host, HERALD_SINK_LOG_ERROR, "cannot reopen %s: %s", fs->path,
			     strerror(-rc));
	return rc;
}

static const struct herald_sink_ops file_ops = {
    .size = sizeof file_ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "file",
    .init = file_init,
    .validate = file_validate,
    .deliver = file_deliver,
    .flush = NULL,
    .shutdown = file_shutdown,
    .reopen = file_reopen,
};

SINKUTIL_ENTRY(file_ops)
