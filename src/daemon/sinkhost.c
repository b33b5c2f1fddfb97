/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkhost: a sink instance behind a process boundary (see sinkhost.h).
 * Starting herald-sinkhost, one request/reply per call over the socketpair,
 * the plugin's log lines on the way, and what a dead or silent process
 * means for the call in flight. Not for: loading plugins (sinkload.c, in
 * the helper or, inline, here) or deciding what a crash costs (dispatch).
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np */
#include "sinkhost.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/common/buf.h"
#include "src/common/clock.h"
#include "src/common/log.h"
#include "src/sinkhost/sinkload.h"
#include "src/sinkhost/sinkwire.h"

#ifndef HERALD_SINKHOST_PATH
#define HERALD_SINKHOST_PATH "/usr/libexec/herald/herald-sinkhost"
#endif

#define NO_OUTCOME    "sink gave no outcome"
#define SHORT_CALL_MS 60000 /* validate, reopen: no network round trips of note */
#define CLOSE_WAIT_MS 10000

extern char **environ;

/*
 * Two locks. `lock` is held for each whole call and guards the process
 * (pid, fd, the reader thread) and the buffers; `rd_lock` is taken inside it
 * (and alone by the reader) and guards what the reader hands over.
 */
struct sink {
	pthread_mutex_t lock;
	char *name, *plugin, *spec, *plugin_dir, *config_path;
	struct herald_sink_option *opts; /* owned copies, to start the process again */
	size_t n_opts;
	struct sinkload *local; /* inline: the plugin itself */
	pid_t pid;		/* 0: no process; also read atomically (sink_pid) */
	int fd;			/* -1: no process */
	pthread_t reader;	/* reads every frame: logs at once, replies for the caller */
	struct buf out, in;	/* the request being sent, the reply being read */
	char died[200];		/* why the last process went away */
	/* under rd_lock */
	pthread_mutex_t rd_lock;
	pthread_cond_t rd_cond; /* a reply came or the reader ended (monotonic clock) */
	struct buf reply;	/* the latest reply frame */
	bool have_reply;
	int rd_err; /* the reader ended: -EPIPE (EOF), -EPROTO... 0: it runs */
};

/* ---- the process ---- */

/* $HERALD_SINKHOST, else herald-sinkhost next to this program (a build
 * tree), else the installed one. */
static void helper_path(char *path, size_t len)
{
	const char *env = getenv("HERALD_SINKHOST");
	char self[PATH_MAX];
	ssize_t n;
	if (env && *env) {
		snprintf(path, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, len, "%s/herald-sinkhost", self);
			if (!access(path, X_OK))
				return;
		}
	}
	snprintf(path, len, "%s", HERALD_SINKHOST_PATH);
}

/* posix_spawn the helper with `child` as its fd 3, stdin and stdout on
 * /dev/null, stderr kept (for what a dying process prints), every other
 * fd closed, the signal mask and handlers reset, and a process group of its
 * own: a ^C on heraldd's terminal is for heraldd, which then closes its
 * sinks in order (a process that loses heraldd exits at EOF). */
static int spawn_helper(int child, pid_t *pid, char *err, size_t errlen, const char *name)
{
	char path[PATH_MAX + 32];
	char *argv[] = {"herald-sinkhost", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	helper_path(path, sizeof path);
	sigemptyset(&none);
	sigfillset(&all);
	if ((rc = posix_spawn_file_actions_init(&fa)))
		goto fail;
	if ((rc = posix_spawnattr_init(&attr))) {
		posix_spawn_file_actions_destroy(&fa);
		goto fail;
	}
	if (!(rc = posix_spawn_file_actions_adddup2(&fa, child, SINKWIRE_FD)) &&
	    !(rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) &&
	    !(rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) &&
	    !(rc = posix_spawn_file_actions_addclosefrom_np(&fa, SINKWIRE_FD + 1)) &&
	    !(rc = posix_spawnattr_setsigmask(&attr, &none)) &&
	    !(rc = posix_spawnattr_setsigdefault(&attr, &all)) &&
	    !(rc = posix_spawnattr_setpgroup(&attr, 0)) &&
	    !(rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						       POSIX_SPAWN_SETPGROUP)))
		rc = posix_spawn(pid, path, &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	if (!rc)
		return 0;
fail:
	snprintf(err, errlen, "sink %s: cannot start %s (%s)", name, path, strerror(rc));
	return -rc;
}

/* Wait for the process and say how it ended in s->died (`why` when we
 * ended it), logged unless it was `expected` to end or exited with 0;
 * nothing runs afterwards until the next call starts one. */
static void reap_locked(struct sink *s, const char *why, bool expected)
{
	int st = 0;
	if (why)
		kill(s->pid, SIGKILL); /* a zombie keeps the status it died with */
	shutdown(s->fd, SHUT_RDWR);    /* the reader's read ends */
	pthread_join(s->reader, NULL);
	close(s->fd);
	pthread_mutex_lock(&s->rd_lock);
	s->have_reply = false;
	s->rd_err = 0;
	pthread_mutex_unlock(&s->rd_lock);
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (why)
		snprintf(s->died, sizeof s->died, "sink process %s", why);
	else if (WIFSIGNALED(st))
		snprintf(s->died, sizeof s->died, "sink process crashed (signal %d)", WTERMSIG(st));
	else
		snprintf(s->died, sizeof s->died, "sink process exited (status %d)",
			 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	bool clean = !why && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!expected && !clean)
		log_warn("sink '%s': %s (pid %ld)", s->name, s->died, (long)s->pid);
	__atomic_store_n(&s->pid, 0, __ATOMIC_RELAXED);
	s->fd = -1;
}

/* A log frame: logged as the plugin's own line would have been inline. */
static void log_frame(const struct sink *s, struct sinkwire_rd *r)
{
	uint32_t level = sinkwire_get_u32(r);
	const char *line = sinkwire_get_str(r);
	enum log_level l = level == L_ERROR || level == L_WARN || level == L_DEBUG ? level : L_INFO;
	if (line && log_enabled(l))
		log_msg(l, "sink '%s': %s", s->name, line);
}

/* The reader thread: every frame the process sends, as it comes. Log lines
 * are logged at once (a plugin's own threads log between calls too); a
 * reply is handed to the waiting call. Ends at EOF or a bad frame. */
static void *reader_main(void *arg)
{
	struct sink *s = arg;
	struct buf in = BUF_INIT;
	struct sinkwire_rd r;
	int rc;
	while (!(rc = sinkwire_recv(s->fd, &in, 0))) {
		sinkwire_rd_init(&r, in.data + 1, in.len - 1);
		if (in.data[0] == SW_LOG) {
			log_frame(s, &r);
			continue;
		}
		pthread_mutex_lock(&s->rd_lock);
		struct buf t = s->reply; /* hand it over, keep the older buffer */
		s->reply = in;
		in = t;
		s->have_reply = true;
		pthread_cond_broadcast(&s->rd_cond);
		pthread_mutex_unlock(&s->rd_lock);
	}
	pthread_mutex_lock(&s->rd_lock);
	s->rd_err = rc;
	pthread_cond_broadcast(&s->rd_cond);
	pthread_mutex_unlock(&s->rd_lock);
	buf_release(&in);
	return NULL;
}

/* Wait for the reader's next reply into s->in: 0, or why none came. */
static int wait_reply_locked(struct sink *s, uint64_t timeout_ms)
{
	struct timespec until = clock_deadline(timeout_ms);
	int rc = 0;
	pthread_mutex_lock(&s->rd_lock);
	while (!s->have_reply && !s->rd_err && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&s->rd_cond, &s->rd_lock, &until);
	if (s->have_reply) {
		struct buf t = s->in;
		s->in = s->reply;
		s->reply = t;
		s->have_reply = false;
		rc = 0;
	} else {
		rc = s->rd_err ? s->rd_err : -ETIMEDOUT;
	}
	pthread_mutex_unlock(&s->rd_lock);
	return rc;
}

/* Send s->out and wait for the reply (the reader logs what comes before
 * it). 0 with *r over the reply after its rc, *rc the call's rc; or
 * -ECHILD: the process is gone (s->died says how). */
static int call_locked(struct sink *s, uint64_t timeout_ms, struct sinkwire_rd *r, int *rc)
{
	const char *why = NULL;
	char buf[64];
	int err = sinkwire_send(s->fd, &s->out);
	if (!err)
		err = wait_reply_locked(s, timeout_ms);
	if (!err) {
		sinkwire_rd_init(r, s->in.data + 1, s->in.len - 1);
		*rc = (int)sinkwire_get_u32(r);
		if (s->in.data[0] == SW_REPLY && !r->bad)
			return 0;
		err = -EPROTO;
	}
	if (err == -ETIMEDOUT) {
		snprintf(buf, sizeof buf, "did not answer in %llu s (killed)",
			 (unsigned long long)(timeout_ms / 1000));
		why = buf;
	} else if (err == -EPROTO) {
		why = "sent a bad reply (killed)";
	} else if (err != -EPIPE) {
		snprintf(buf, sizeof buf, "cannot be reached (%s; killed)", strerror(-err));
		why = buf;
	}
	reap_locked(s, why, false);
	return -ECHILD;
}

/* SW_OPEN with everything the helper needs to load the plugin. */
static int put_open(struct sink *s)
{
	enum log_level level = log_enabled(L_DEBUG)  ? L_DEBUG
			       : log_enabled(L_INFO) ? L_INFO
			       : log_enabled(L_WARN) ? L_WARN
						     : L_ERROR;
	struct buf *b = &s->out;
	int rc = sinkwire_begin(b, SW_OPEN);
	if (!rc)
		rc = sinkwire_put_u32(b, SINKWIRE_VERSION);
	if (!rc)
		rc = sinkwire_put_u32(b, (uint32_t)level);
	const char *str[] = {s->name, s->spec, s->plugin_dir, s->config_path,
			     NULL /* the user to run as: heraldd does not drop privileges yet */};
	for (size_t i = 0; !rc && i < sizeof str / sizeof str[0]; i++)
		rc = sinkwire_put_str(b, str[i]);
	if (!rc)
		rc = sinkwire_put_u32(b, (uint32_t)s->n_opts);
	for (size_t i = 0; !rc && i < s->n_opts; i++)
		if (!(rc = sinkwire_put_str(b, s->opts[i].key)) &&
		    !(rc = sinkwire_put_str(b, s->opts[i].value)))
			rc = sinkwire_put_u32(b, s->opts[i].line);
	return rc ? rc : sinkwire_end(b);
}

/* Start a process and open the instance in it. 0; a negative errno with
 * err set (-ECHILD: it died in the attempt). */
static int start_locked(struct sink *s, char *err, size_t errlen)
{
	struct sinkwire_rd r;
	int sv[2], rc, orc = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		rc = -errno;
		snprintf(err, errlen, "sink %s: cannot make a socketpair (%s)", s->name,
			 strerror(-rc));
		return rc;
	}
	/* dup2 onto itself would keep O_CLOEXEC: keep the child's end off fd 3 */
	if (sv[1] == SINKWIRE_FD) {
		int moved = fcntl(sv[1], F_DUPFD_CLOEXEC, SINKWIRE_FD + 1);
		close(sv[1]);
		sv[1] = moved;
	}
	pid_t pid = 0;
	rc = sv[1] < 0 ? -EMFILE : spawn_helper(sv[1], &pid, err, errlen, s->name);
	if (sv[1] >= 0)
		close(sv[1]);
	if (rc) {
		close(sv[0]);
		return rc;
	}
	s->fd = sv[0];
	if ((rc = pthread_create(&s->reader, NULL, reader_main, s))) {
		snprintf(err, errlen, "sink %s: cannot start a thread (%s)", s->name, strerror(rc));
		close(sv[0]);
		s->fd = -1;
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return -rc;
	}
	__atomic_store_n(&s->pid, pid, __ATOMIC_RELAXED);
	if ((rc = put_open(s))) {
		snprintf(err, errlen, "sink %s: out of memory", s->name);
		reap_locked(s, "was not needed (out of memory)", true);
		return rc;
	}
	if (call_locked(s, SINK_CALL_TIMEOUT_MS, &r, &orc)) {
		snprintf(err, errlen, "sink %s: the %s during init", s->name, s->died);
		return -ECHILD;
	}
	const char *msg = sinkwire_get_str(&r);
	if (!orc) {
		free(s->plugin);
		if (!(s->plugin = strdup(msg ? msg : "?"))) {
			reap_locked(s, "was not needed (out of memory)", true);
			return -ENOMEM;
		}
		return 0;
	}
	snprintf(err, errlen, "%s", msg ? msg : "sink: cannot load");
	reap_locked(s, NULL, true); /* it exits after a failed open */
	return orc < 0 ? orc : -EINVAL;
}

/* ---- opening and closing ---- */

static void sink_free(struct sink *s)
{
	for (size_t i = 0; i < s->n_opts; i++) {
		free((char *)s->opts[i].key);
		free((char *)s->opts[i].value);
	}
	free(s->opts);
	buf_release(&s->out);
	buf_release(&s->in);
	buf_release(&s->reply);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->rd_lock);
	pthread_cond_destroy(&s->rd_cond);
	free(s->name);
	free(s->plugin);
	free(s->spec);
	free(s->plugin_dir);
	free(s->config_path);
	free(s);
}

static char *dup_or_null(const char *v, bool *failed)
{
	char *c = v ? strdup(v) : NULL;
	if (v && !c)
		*failed = true;
	return c;
}

static struct sink *sink_alloc(const char *name, const char *plugin, const char *plugin_dir,
			       const char *config_path, const struct herald_sink_option *options,
			       size_t n_options)
{
	struct sink *s = calloc(1, sizeof *s);
	bool failed = false;
	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->rd_lock, NULL);
	clock_cond_init(&s->rd_cond); /* timed waits on the monotonic clock */
	s->fd = -1;
	s->name = dup_or_null(name, &failed);
	s->spec = dup_or_null(plugin, &failed);
	s->plugin_dir = dup_or_null(plugin_dir, &failed);
	s->config_path = dup_or_null(config_path, &failed);
	s->opts = calloc(n_options + 1, sizeof *s->opts);
	failed = failed || !s->opts;
	for (size_t i = 0; !failed && i < n_options; i++, s->n_opts++) {
		s->opts[i].key = dup_or_null(options[i].key, &failed);
		s->opts[i].value = dup_or_null(options[i].value, &failed);
		s->opts[i].line = options[i].line;
	}
	if (!failed)
		return s;
	sink_free(s);
	return NULL;
}

int sink_open(const char *name, const char *plugin, const char *plugin_dir, const char *config_path,
	      const struct herald_sink_option *options, size_t n_options, unsigned flags,
	      struct sink **out, char *err, size_t errlen)
{
	struct sink *s = sink_alloc(name, plugin, plugin_dir, config_path, options, n_options);
	int rc;
	*out = NULL;
	if (!s) {
		snprintf(err, errlen, "sink %s: out of memory", name);
		return -ENOMEM;
	}
	if (flags & SINK_INLINE) {
		rc = sinkload_open(name, plugin, plugin_dir, config_path, options, n_options, NULL,
				   NULL, &s->local, err, errlen);
	} else {
		pthread_mutex_lock(&s->lock);
		rc = start_locked(s, err, errlen);
		pthread_mutex_unlock(&s->lock);
	}
	if (rc)
		sink_free(s);
	else
		*out = s;
	return rc;
}

void sink_close(struct sink *s)
{
	struct sinkwire_rd r;
	int rc;
	if (!s)
		return;
	if (s->local)
		sinkload_close(s->local);
	pthread_mutex_lock(&s->lock);
	if (s->pid && !sinkwire_begin(&s->out, SW_CLOSE) && !sinkwire_end(&s->out) &&
	    !call_locked(s, CLOSE_WAIT_MS, &r, &rc))
		reap_locked(s, NULL, false); /* logged unless it exits 0 (a sanitizer's report) */
	else if (s->pid)
		reap_locked(s, "was killed at close", false);
	pthread_mutex_unlock(&s->lock);
	sink_free(s);
}

const char *sink_name(const struct sink *s)
{
	return s->name;
}

const char *sink_plugin(const struct sink *s)
{
	return s->local ? sinkload_plugin(s->local) : s->plugin;
}

pid_t sink_pid(struct sink *s)
{
	/* not under s->lock, which a delivery holds for as long as it takes */
	return __atomic_load_n(&s->pid, __ATOMIC_RELAXED);
}

/* ---- calls ---- */

/* A process to call: the running one, or a new one after a crash. */
static int ensure_locked(struct sink *s, char *err, size_t errlen)
{
	pthread_mutex_lock(&s->rd_lock);
	bool gone = s->pid && s->rd_err;
	pthread_mutex_unlock(&s->rd_lock);
	if (gone) /* it died between calls (a plugin's own thread): logged, not counted */
		reap_locked(s, NULL, false);
	if (s->pid)
		return 0;
	int rc = start_locked(s, err, errlen);
	if (!rc)
		log_info("sink '%s': sink process started again (pid %ld)", s->name, (long)s->pid);
	return rc;
}

int sink_validate(struct sink *s, const char *address, char *err, size_t errlen)
{
	struct sinkwire_rd r;
	int rc, orc = 0;
	if (!address) {
		snprintf(err, errlen, "no address");
		return -EINVAL;
	}
	if (s->local)
		return sinkload_validate(s->local, address, err, errlen);
	pthread_mutex_lock(&s->lock);
	rc = ensure_locked(s, err, errlen);
	if (!rc && !(rc = sinkwire_begin(&s->out, SW_VALIDATE)) &&
	    !(rc = sinkwire_put_str(&s->out, address)) && !(rc = sinkwire_end(&s->out))) {
		rc = call_locked(s, SHORT_CALL_MS, &r, &orc);
		const char *msg = rc ? s->died : sinkwire_get_str(&r);
		if (rc || orc)
			snprintf(err, errlen, "%s", msg && *msg ? msg : "address refused");
		if (!rc && orc)
			rc = -EINVAL;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static void fill(struct herald_sink_result *res, size_t n, enum herald_sink_outcome o,
		 const char *why)
{
	for (size_t i = 0; i < n; i++) {
		res[i] = (struct herald_sink_result){.size = sizeof res[i], .outcome = o};
		snprintf(res[i].reason, sizeof res[i].reason, "%s", why);
	}
}

/* One deliver call to the process; -ECHILD when it died in it. */
static int deliver_locked(struct sink *s, const struct herald_sink_item *items, size_t n,
			  struct herald_sink_result *res)
{
	struct sinkwire_rd r;
	int orc = 0, rc = sinkwire_begin(&s->out, SW_DELIVER);
	if (!rc && !(rc = sinkwire_put_items(&s->out, items, n)))
		rc = sinkwire_end(&s->out);
	if (rc) /* every item stays RETRY ("sink gave no outcome") */
		return 0;
	if (call_locked(s, SINK_CALL_TIMEOUT_MS, &r, &orc)) {
		fill(res, n, HERALD_SINK_RETRY, s->died);
		return -ECHILD;
	}
	sinkwire_get_str(&r); /* the message: none after a deliver */
	if (orc || sinkwire_get_results(&r, res, n)) {
		/* the helper could not decode our request, or sent too few
		 * outcomes: a stream we can no longer trust */
		reap_locked(s, "sent a bad reply (killed)", false);
		fill(res, n, HERALD_SINK_RETRY, s->died);
		return -ECHILD;
	}
	for (size_t i = 0; i < n; i++)
		sinkload_check_result(&res[i]);
	return 0;
}

int sink_deliver(struct sink *s, const struct herald_sink_item *items, size_t n,
		 struct herald_sink_result *results)
{
	char err[sizeof results->reason];
	int rc;
	if (!n)
		return 0;
	if (s->local) {
		sinkload_deliver(s->local, items, n, results);
		return 0;
	}
	fill(results, n, HERALD_SINK_RETRY, NO_OUTCOME);
	pthread_mutex_lock(&s->lock);
	rc = ensure_locked(s, err, sizeof err);
	if (rc)
		fill(results, n, HERALD_SINK_BROKEN, err);
	else
		rc = deliver_locked(s, items, n, results);
	pthread_mutex_unlock(&s->lock);
	return rc == -ECHILD ? rc : 0;
}

/* A call without arguments but a deadline, to a running process only. */
static int simple_call(struct sink *s, enum sinkwire_type type, int64_t deadline_ms)
{
	struct sinkwire_rd r;
	int orc = 0, rc = 0;
	uint64_t now = clock_mono_ms(), wait = SHORT_CALL_MS;
	if (type == SW_FLUSH && deadline_ms > 0 && (uint64_t)deadline_ms > now)
		wait =
		    (uint64_t)deadline_ms - now + 5000; /* the plugin's deadline, and then some */
	pthread_mutex_lock(&s->lock);
	if (s->pid && !(rc = sinkwire_begin(&s->out, type)) &&
	    !(rc = sinkwire_put_u64(&s->out, (uint64_t)deadline_ms)) &&
	    !(rc = sinkwire_end(&s->out)))
		rc = call_locked(s, wait, &r, &orc) ? -ECHILD : orc;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sink_flush(struct sink *s, int64_t deadline_ms)
{
	return s->local ? sinkload_flush(s->local, deadline_ms)
			: simple_call(s, SW_FLUSH, deadline_ms);
}

int sink_reopen(struct sink *s)
{
	return s->local ? sinkload_reopen(s->local) : simple_call(s, SW_REOPEN, 0);
}
