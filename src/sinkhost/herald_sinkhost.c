/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * herald-sinkhost: one sink instance in a process of its own. heraldd
 * execs it (src/daemon/sinkhost.c) with its end of a socketpair as fd 3
 * and nothing else open but stdio; this program loads the plugin with
 * sinkload (the same code an inline instance uses) and runs one call at a
 * time as heraldd asks (sinkwire.h): open, validate, deliver, flush,
 * reopen, close. The plugin's log lines go back to heraldd as frames.
 *
 * A plugin that crashes takes only this process down: heraldd sees EOF,
 * retries what was in flight and starts another one. The options (which may
 * name secret files) arrive over the socket, never in argv or the
 * environment. This process holds no store handle and no bus socket (it
 * closes every fd above 3 before loading anything), and it can drop
 * privileges before the plugin runs (drop_privileges).
 *
 * Not for: anything but one instance; no retries, no scheduling.
 */
#define _GNU_SOURCE /* close_range */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/common/buf.h"
#include "src/common/log.h"
#include "src/sinkhost/sinkload.h"
#include "src/sinkhost/sinkwire.h"

struct helper {
	int fd;
	pthread_mutex_t send_lock; /* one frame at a time: plugin threads log too */
	struct sinkload *sink;
};

static int send_frame(struct helper *h, const struct buf *b)
{
	pthread_mutex_lock(&h->send_lock);
	int rc = sinkwire_send(h->fd, b);
	pthread_mutex_unlock(&h->send_lock);
	return rc;
}

/* host->log of the plugin: a frame heraldd logs with the instance's name.
 * From any thread the plugin runs; a line that cannot be sent is lost
 * (heraldd is gone or we are out of memory), the plugin never blocks on
 * more than the socket's buffer. */
static void forward_log(void *arg, enum log_level level, const char *line)
{
	struct helper *h = arg;
	struct buf b = BUF_INIT;
	if (!sinkwire_begin(&b, SW_LOG) && !sinkwire_put_u32(&b, (uint32_t)level) &&
	    !sinkwire_put_str(&b, line) && !sinkwire_end(&b))
		send_frame(h, &b);
	buf_release(&b);
}

static int reply(struct helper *h, int rc, const char *msg, const struct herald_sink_result *res,
		 size_t n)
{
	struct buf b = BUF_INIT;
	int err = sinkwire_begin(&b, SW_REPLY);
	if (!err)
		err = sinkwire_put_u32(&b, (uint32_t)rc);
	if (!err)
		err = sinkwire_put_str(&b, msg);
	if (!err && res)
		err = sinkwire_put_results(&b, res, n);
	if (!err)
		err = sinkwire_end(&b);
	if (!err)
		err = send_frame(h, &b);
	buf_release(&b);
	return err;
}

/* The hook for running sinks unprivileged: when heraldd runs as root and
 * names a user, become that user before the plugin is loaded. An empty or
 * NULL user: stay as we are (heraldd already runs unprivileged). */
static int drop_privileges(const char *user, char *err, size_t errlen)
{
	if (!user || !*user || geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		snprintf(err, errlen, "no user '%s'", user);
		return -ENOENT;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) || setuid(pw->pw_uid)) {
		snprintf(err, errlen, "cannot become '%s' (%s)", user, strerror(errno));
		return -EPERM;
	}
	return 0;
}

/* SW_OPEN: version, log level, name, plugin, plugin_dir, config_path, user,
 * then the options. The reply's message is sinkload's error, or on success
 * the plugin's own name. */
static int do_open(struct helper *h, struct sinkwire_rd *r)
{
	char err[600] = "";
	uint32_t version = sinkwire_get_u32(r), level = sinkwire_get_u32(r);
	const char *name = sinkwire_get_str(r), *plugin = sinkwire_get_str(r);
	const char *dir = sinkwire_get_str(r), *config_path = sinkwire_get_str(r);
	const char *user = sinkwire_get_str(r);
	size_t n = sinkwire_get_u32(r);
	struct herald_sink_option *opts = NULL;
	int rc = -EPROTO;

	if (version != SINKWIRE_VERSION) {
		snprintf(err, sizeof err,
			 "sink %s: herald-sinkhost speaks sink protocol %u, "
			 "heraldd %u (a stale install?)",
			 name ? name : "?", SINKWIRE_VERSION, version);
		goto out;
	}
	if (r->bad || !name || !plugin || n > 100000 || !(opts = calloc(n + 1, sizeof *opts)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		opts[i].key = sinkwire_get_str(r);
		opts[i].value = sinkwire_get_str(r);
		opts[i].line = sinkwire_get_u32(r);
	}
	if (r->bad)
		goto out;
	log_setup("herald-sinkhost", (enum log_level)level, false);
	char why[200];
	if ((rc = drop_privileges(user, why, sizeof why))) {
		snprintf(err, sizeof err, "sink %.64s: %s", name, why);
		goto out;
	}
	rc = sinkload_open(name, plugin, dir, config_path, opts, n, forward_log, h, &h->sink, err,
			   sizeof err);
out:
	free(opts);
	if (rc == -EPROTO && !*err)
		snprintf(err, sizeof err, "sink %s: bad open request", name ? name : "?");
	return reply(h, rc, rc ? err : sinkload_plugin(h->sink), NULL, 0) ? -EPIPE : rc;
}

static int do_deliver(struct helper *h, struct sinkwire_rd *r)
{
	struct herald_sink_item *items;
	size_t n;
	int rc = sinkwire_get_items(r, &items, &n);
	if (rc)
		return reply(h, rc, "bad deliver request", NULL, 0);
	struct herald_sink_result *res = calloc(n + 1, sizeof *res);
	if (!res) {
		sinkwire_items_free(items, n);
		return reply(h, -ENOMEM, "out of memory", NULL, 0);
	}
	sinkload_deliver(h->sink, items, n, res);
	rc = reply(h, 0, NULL, res, n);
	free(res);
	sinkwire_items_free(items, n);
	return rc;
}

/* One request; -EPIPE when heraldd is gone, 1 after SW_CLOSE. */
static int serve_one(struct helper *h, const struct buf *in)
{
	struct sinkwire_rd r;
	char err[300] = "";
	int rc;
	sinkwire_rd_init(&r, in->data + 1, in->len - 1);
	enum sinkwire_type type = (enum sinkwire_type)(unsigned char)in->data[0];
	if (type != SW_OPEN && !h->sink)
		return reply(h, -EPROTO, "not open", NULL, 0);
	switch (type) {
	case SW_OPEN: return h->sink ? reply(h, -EPROTO, "already open", NULL, 0) : do_open(h, &r);
	case SW_VALIDATE:
		rc = sinkload_validate(h->sink, sinkwire_get_str(&r), err, sizeof err);
		return reply(h, rc, err, NULL, 0);
	case SW_DELIVER: return do_deliver(h, &r);
	case SW_FLUSH:
		return reply(h, sinkload_flush(h->sink, (int64_t)sinkwire_get_u64(&r)), NULL, NULL,
			     0);
	case SW_REOPEN: return reply(h, sinkload_reopen(h->sink), NULL, NULL, 0);
	case SW_CLOSE:
		sinkload_close(h->sink);
		h->sink = NULL;
		reply(h, 0, NULL, NULL, 0);
		return 1;
	default: return reply(h, -EPROTO, "unknown request", NULL, 0);
	}
}

int main(int argc, char **argv)
{
	struct helper h = {.fd = SINKWIRE_FD};
	struct buf in = BUF_INIT;
	struct stat st;

	(void)argv;
	if (argc != 1 || fstat(SINKWIRE_FD, &st) || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "herald-sinkhost: runs one sink instance for heraldd, which "
				"starts it; not for running by hand\n");
		return 2;
	}
	/* heraldd opens everything O_CLOEXEC and the spawn closes the rest;
	 * this makes sure, before any plugin code runs. */
	close_range(SINKWIRE_FD + 1, ~0u, 0);
	/* As in heraldd, which plugins were written for. Nothing else is
	 * ignored: a plugin's own children inherit what we ignore. */
	signal(SIGPIPE, SIG_IGN);
	pthread_mutex_init(&h.send_lock, NULL);
	log_setup("herald-sinkhost", L_WARN, false);
	int rc = 0;
	while (!rc) {
		rc = sinkwire_recv(h.fd, &in, 0);
		if (!rc) /* a bad frame ends it: the stream cannot be trusted after it */
			rc = serve_one(&h, &in);
	}
	/* heraldd went away without a close: shut the plugin down cleanly */
	sinkload_close(h.sink);
	buf_release(&in);
	pthread_mutex_destroy(&h.send_lock);
	return rc == 1 || rc == -EPIPE ? 0 : 1;
}
