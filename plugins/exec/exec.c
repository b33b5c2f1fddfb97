/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * exec: the bundled sink that runs a program for each item, for sites whose
 * delivery is a script (a pager gateway, a chat CLI, a ticket tool).
 *
 * The program (option `command`: an absolute path and arguments separated by
 * spaces, no shell) gets the item as JSON on stdin and its fields in HERALD_*
 * variables of an environment built from scratch (PATH=/usr/bin:/bin, nothing
 * of the daemon's). It runs in its own process group with only fds 0-2 open
 * and the default signal dispositions. Its exit status is the outcome:
 * 0 delivered, 75 (EX_TEMPFAIL) retry, honouring a "retry-after: N" line on
 * stdout, 126/127 or a failed exec broken, anything else rejected with the
 * first line of stderr as the reason. After `timeout_ms` the group gets
 * SIGTERM, and SIGKILL a second later; the item is retried.
 *
 * stdin is written while stdout and stderr are read (poll), so a program that
 * talks before it listens cannot deadlock us; at most `max_output` bytes of
 * each are kept. Every child is reaped before deliver returns.
 *
 * Standalone: libc and herald/sink.h only. The daemon must not ignore
 * SIGCHLD or reap children it did not start (waitpid(-1)), or exit statuses
 * are lost.
 */
#define _GNU_SOURCE /* asprintf, pipe2, posix_spawn_file_actions_addclosefrom_np */
#include <herald/sink.h>

#include "sinkutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ADDRESS	2048
#define MAX_ARGS	64
#define MAX_ENV		32
#define MAX_ENV_VALUE	65536 /* bytes; execve refuses one string over 128 KiB */
#define KILL_GRACE_MS	1000
#define MAX_RETRY_AFTER 604800 /* a week; a larger request is clamped */
#define EX_TEMPFAIL	75

/* A string field of a struct the host filled, "" when NULL (or, for a field
 * newer than the host's ABI, absent: HERALD_SINK_HAS). Every field this file
 * reads is in ABI 1.0, so only NULL can happen today. */
#define FIELD(p, type, f) (HERALD_SINK_HAS(p, type, f) && (p)->f ? (p)->f : "")
#define NOTE(n, f)	  FIELD(n, struct herald_notification, f)
#define ITEM(it, f)	  FIELD(it, struct herald_sink_item, f)

struct exec_sink {
	const struct herald_sink_host *host;
	char *cmd; /* the command option, split in place into argv */
	char *argv[MAX_ARGS + 1];
	unsigned timeout_ms;
	size_t max_output;
	char *out_buf, *err_buf; /* max_output bytes each, reused by every run */
};

/* A growable buffer; `failed` latches an allocation failure, checked once. */
/* A child's environment: "KEY=value\0" strings in one buffer. */
struct env {
	struct sbuf text;
	size_t offs[MAX_ENV];
	size_t n, value_start;
};

/* One output stream of the child: the first `max` bytes are kept. */
struct capture {
	int fd; /* -1 at EOF */
	char *p;
	size_t len, max;
};

/* One run of the program. */
struct child {
	pid_t pid;
	int pidfd; /* -1: no pidfd (old kernel), waitid() is polled instead */
	int in;	   /* our end of its stdin, -1 once closed */
	const char *data;
	size_t len, off;
	bool epipe; /* it closed stdin early: we have a SIGPIPE pending */
	struct capture out, err;
	bool exited;
	int status;
};

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The longest prefix of p[0..n) of at most max bytes that does not split a
 * UTF-8 sequence. */
static size_t utf8_cut(const char *p, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)p[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static void sb_u64(struct sbuf *b, uint64_t v)
{
	char num[24];
	sb_add(b, num, (size_t)snprintf(num, sizeof num, "%" PRIu64, v));
}

/* s as a JSON string; bytes >= 0x80 pass through (the host's text is UTF-8). */
static void sb_json_string(struct sbuf *b, const char *s)
{
	sb_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\')
			sb_add(b, (const char[]){'\\', (char)c}, 2);
		else if (c < 0x20)
			sb_add(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
		else
			sb_add(b, s, 1);
	}
	sb_add(b, "\"", 1);
}

/* ---- options ---- */

/* Split `command` into argv (no shell, no quoting) and check that argv[0] is
 * an absolute path to an executable regular file. */
static int set_command(struct exec_sink *x, const char *v, char *err, size_t errlen)
{
	size_t n = 0;
	struct stat st;

	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			snprintf(err, errlen, "command: has a control character");
			return -1;
		}
	free(x->cmd);
	x->cmd = strdup(v);
	if (!x->cmd) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (char *save = NULL, *t = strtok_r(x->cmd, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (n == MAX_ARGS) {
			snprintf(err, errlen, "command: more than %d arguments", MAX_ARGS);
			return -1;
		}
		x->argv[n++] = t;
	}
	x->argv[n] = NULL;
	if (n == 0 || x->argv[0][0] != '/') {
		snprintf(err, errlen, "command: must start with an absolute path");
		return -1;
	}
	if (stat(x->argv[0], &st)) {
		snprintf(err, errlen, "command: %s: %s", x->argv[0], strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "command: %s is not a regular file", x->argv[0]);
		return -1;
	}
	if (faccessat(AT_FDCWD, x->argv[0], X_OK, AT_EACCESS)) {
		snprintf(err, errlen, "command: %s is not executable (%s)", x->argv[0],
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int set_option(struct exec_sink *x, const struct herald_sink_option *o, char *err,
		      size_t errlen)
{
	unsigned long v;

	if (!strcmp(o->key, "command"))
		return set_command(x, o->value, err, errlen);
	if (!strcmp(o->key, "timeout_ms")) {
		if (sinkutil_parse_uint(o->value, 1, 86400000, &v))
			goto range;
		x->timeout_ms = (unsigned)v;
		return 0;
	}
	if (!strcmp(o->key, "max_output")) {
		if (sinkutil_parse_uint(o->value, 64, 16u << 20, &v))
			goto range;
		x->max_output = v;
		return 0;
	}
	snprintf(err, errlen, "unknown option '%s' (line %u)", o->key, o->line);
	return -1;
range:
	snprintf(err, errlen, "%s: '%s' is not a number in range (line %u)", o->key, o->value,
		 o->line);
	return -1;
}

/* ---- operations: init, validate, shutdown ---- */

static void exec_shutdown(void *instance)
{
	struct exec_sink *x = instance;

	if (!x)
		return;
	free(x->cmd);
	free(x->out_buf);
	free(x->err_buf);
	free(x);
}

static int exec_init(const struct herald_sink_host *host, const struct herald_sink_option *options,
		     size_t n_options, void **instance, char *err, size_t errlen)
{
	struct exec_sink *x = calloc(1, sizeof *x);

	if (!x) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	x->host = host;
	x->timeout_ms = 30000;
	x->max_output = 4096;
	for (size_t i = 0; i < n_options; i++)
		if (set_option(x, &options[i], err, errlen))
			goto fail;
	if (!x->cmd) {
		snprintf(err, errlen, "command: required");
		goto fail;
	}
	x->out_buf = malloc(x->max_output);
	x->err_buf = malloc(x->max_output);
	if (!x->out_buf || !x->err_buf) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*instance = x;
	return 0;
fail:
	exec_shutdown(x);
	return -1;
}

/* Printable, bounded, single-line: the address goes into HERALD_ADDRESS. */
static int exec_validate(void *instance, const char *address, char *err, size_t errlen)
{
	return sinkutil_check_address(address, MAX_ADDRESS, err, errlen);
}

/* ---- what the program gets: stdin and environment ---- */

/* One note: its JSON as is. A digest: an object listing every note's JSON. */
static void build_stdin(const struct herald_sink_item *it, bool digest, struct sbuf *b)
{
	if (!digest) {
		sb_str(b, NOTE(it->notes[0], json));
		return;
	}
	sb_str(b, "{\"digest\":true,\"id\":");
	sb_json_string(b, ITEM(it, id));
	sb_str(b, ",\"count\":");
	sb_u64(b, it->n_notes);
	sb_str(b, ",\"notifications\":[");
	for (size_t i = 0; i < it->n_notes; i++) {
		const char *json = it->notes[i] ? NOTE(it->notes[i], json) : "";
		if (i)
			sb_add(b, ",", 1);
		sb_str(b, *json ? json : "null");
	}
	sb_str(b, "]}");
}

static void env_begin(struct env *e, const char *key)
{
	e->offs[e->n++] = e->text.len;
	sb_str(&e->text, key);
	sb_add(&e->text, "=", 1);
	e->value_start = e->text.len;
}

/* Close the variable, capped at MAX_ENV_VALUE so execve cannot fail on it. */
static void env_end(struct env *e)
{
	if (!e->text.failed && e->text.len - e->value_start > MAX_ENV_VALUE)
		e->text.len =
		    e->value_start + utf8_cut(e->text.p + e->value_start,
					      e->text.len - e->value_start, MAX_ENV_VALUE);
	sb_add(&e->text, "", 1); /* the terminating NUL, as part of the text */
}

static void env_str(struct env *e, const char *key, const char *value)
{
	env_begin(e, key);
	sb_str(&e->text, value);
	env_end(e);
}

static void env_u64(struct env *e, const char *key, uint64_t value)
{
	env_begin(e, key);
	sb_u64(&e->text, value);
	env_end(e);
}

/* A space separated list; a space or control byte inside an element would
 * split or corrupt it, so it becomes '_'. */
static void env_list(struct env *e, const char *key, const char *const *v, size_t n)
{
	env_begin(e, key);
	for (size_t i = 0; v && i < n; i++) {
		if (i)
			sb_add(&e->text, " ", 1);
		for (const char *p = v[i] ? v[i] : ""; *p; p++)
			sb_add(&e->text, (unsigned char)*p <= 0x20 || *p == 0x7f ? "_" : p, 1);
	}
	env_end(e);
}

static void env_ids(struct env *e, const char *key, const uint64_t *v, size_t n)
{
	env_begin(e, key);
	for (size_t i = 0; v && i < n; i++) {
		if (i)
			sb_add(&e->text, ",", 1);
		sb_u64(&e->text, v[i]);
	}
	env_end(e);
}

/* The item's fields; a digest's notification fields are its first note's. */
static void build_env(const struct herald_sink_item *it, bool digest, struct env *e)
{
	const struct herald_notification *n = it->notes[0];

	env_str(e, "PATH", "/usr/bin:/bin");
	env_str(e, "HERALD_ID", ITEM(it, id));
	env_str(e, "HERALD_USER", ITEM(it, user));
	env_u64(e, "HERALD_DESTINATION", it->destination);
	env_str(e, "HERALD_ADDRESS", ITEM(it, address));
	env_str(e, "HERALD_TOPIC", NOTE(n, topic));
	env_str(e, "HERALD_TITLE", NOTE(n, title));
	env_str(e, "HERALD_SUMMARY", NOTE(n, summary));
	env_str(e, "HERALD_LINK", NOTE(n, link));
	env_str(e, "HERALD_AGENT", NOTE(n, agent));
	env_str(e, "HERALD_SEVERITY", NOTE(n, severity));
	env_list(e, "HERALD_PACKAGES", n->packages, n->n_packages);
	env_list(e, "HERALD_USERNAMES", n->usernames, n->n_usernames);
	env_ids(e, "HERALD_SUBSCRIPTIONS", n->subscriptions, n->n_subscriptions);
	env_str(e, "HERALD_MSG_ID", NOTE(n, msg_id));
	env_u64(e, "HERALD_ATTEMPT", n->attempt);
	env_u64(e, "HERALD_DIGEST", digest);
	env_u64(e, "HERALD_COUNT", it->n_notes);
	env_str(e, "HERALD_SUBJECT", ITEM(it, subject));
	env_str(e, "HERALD_TEXT", ITEM(it, text));
}

/* ---- running the program ---- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A pipe whose ends are close-on-exec and above 2, so that the dup2s onto
 * 0-2 in the child cannot clobber one another even if the daemon runs with
 * a standard descriptor closed; end `ours` (the parent's) is non-blocking.
 * 0 or a positive errno, with both ends closed. */
static int pipe_for_child(int p[2], int ours)
{
	if (pipe2(p, O_CLOEXEC))
		return errno;
	for (int i = 0; i < 2; i++) {
		if (p[i] > 2)
			continue;
		int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
		int e = errno;
		close(p[i]);
		p[i] = fd;
		if (fd < 0) {
			close_fd(&p[1 - i]);
			return e;
		}
	}
	/* O_NONBLOCK is per open file description: the child's end stays blocking. */
	if (fcntl(p[ours], F_SETFL, O_NONBLOCK)) {
		int e = errno;
		close_fd(&p[0]);
		close_fd(&p[1]);
		return e;
	}
	return 0;
}

/* posix_spawn with the child's side set up: pipes on 0-2, every other fd
 * closed, a new process group, an empty signal mask, default dispositions.
 * 0 or a positive errno (exec failures included: glibc reports them here). */
static int spawn_with(struct exec_sink *x, char *const envp[], int fds[3], pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int rc;

	sigemptyset(&none);
	sigfillset(&all);
	rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return rc;
	rc = posix_spawnattr_init(&at);
	if (rc) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	for (int i = 0; i < 3 && !rc; i++)
		rc = posix_spawn_file_actions_adddup2(&fa, fds[i], i);
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!rc)
		rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						       POSIX_SPAWN_SETSIGDEF);
	if (!rc)
		rc = posix_spawnattr_setpgroup(&at, 0);
	if (!rc)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&at, &all);
	if (!rc)
		rc = posix_spawn(pid, x->argv[0], &fa, &at, x->argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

/* Start the child; on success c owns our ends of its pipes (non-blocking). */
static int start(struct exec_sink *x, char *const envp[], struct child *c)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	int rc;

	if ((rc = pipe_for_child(in, 1)) || (rc = pipe_for_child(out, 0)) ||
	    (rc = pipe_for_child(err, 0)))
		goto out;
	rc = spawn_with(x, envp, (int[3]){in[0], out[1], err[1]}, &c->pid);
	if (rc)
		goto out;
	c->in = in[1];
	c->out.fd = out[0];
	c->err.fd = err[0];
	in[1] = out[0] = err[0] = -1;
	/* Without a pidfd (ENOSYS on an old kernel, or EMFILE) pump() polls
	 * waitid() instead: slower to notice the exit, never wrong. */
#ifdef SYS_pidfd_open
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
#endif
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&err[i]);
	}
	return rc;
}

/* Write what stdin can take now; close it when done or when the program
 * stopped reading (EPIPE: it may well not want its stdin). */
static void feed(struct child *c)
{
	while (c->in >= 0 && c->off < c->len) {
		ssize_t n = write(c->in, c->data + c->off, c->len - c->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			c->epipe = c->epipe || errno == EPIPE;
			break;
		}
		c->off += (size_t)n;
	}
	close_fd(&c->in);
}

/* Read what the stream has; keep the first cap->max bytes, drop the rest.
 * A bounded number of reads, so a program that never stops writing cannot
 * hold us past the deadline. */
static void slurp(struct capture *cap)
{
	char scratch[4096];

	for (int i = 0; cap->fd >= 0 && i < 64; i++) {
		size_t room = cap->max - cap->len;
		char *to = room ? cap->p + cap->len : scratch;
		ssize_t n = read(cap->fd, to, room ? room : sizeof scratch);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_fd(&cap->fd);
			return;
		}
		if (room)
			cap->len += (size_t)n;
	}
}

/* Has the child exited? Checked without reaping it, so its pid (and its
 * process group) cannot be reused before we have killed the group. */
static bool has_exited(const struct child *c)
{
	siginfo_t si = {.si_pid = 0};

	if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT))
		return errno == ECHILD; /* someone reaped it: nothing left to wait for */
	return si.si_pid == c->pid;
}

static void add_poll(struct pollfd *pf, int *n, int fd, short events)
{
	if (fd >= 0)
		pf[(*n)++] = (struct pollfd){.fd = fd, .events = events};
}

/* Feed stdin and read stdout/stderr until the child exits: 0, -ETIMEDOUT at
 * the deadline, or -errno when poll fails. */
static int pump(struct child *c, int64_t deadline)
{
	while (!c->exited) {
		struct pollfd pf[4];
		int n = 0;
		int64_t left = deadline - mono_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		add_poll(pf, &n, c->in, POLLOUT);
		add_poll(pf, &n, c->out.fd, POLLIN);
		add_poll(pf, &n, c->err.fd, POLLIN);
		add_poll(pf, &n, c->pidfd, POLLIN);
		if (c->pidfd < 0 && left > 20)
			left = 20; /* no pidfd: look at waitid() every 20 ms */
		if (poll(pf, (nfds_t)n, left > INT_MAX ? INT_MAX : (int)left) < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			if (!pf[i].revents)
				continue;
			if (pf[i].fd == c->in)
				feed(c);
			else if (pf[i].fd == c->out.fd)
				slurp(&c->out);
			else if (pf[i].fd == c->err.fd)
				slurp(&c->err);
			else
				c->exited = true;
		}
		if (c->pidfd < 0)
			c->exited = has_exited(c);
	}
	/* What it wrote before exiting is in the pipes; a background process
	 * of its may keep them open, so read what is there, not to EOF. */
	slurp(&c->out);
	slurp(&c->err);
	return 0;
}

/* Out of time: SIGTERM to the group, up to a second to go, then SIGKILL to
 * whatever is left of the group (before the reap, so the group id is still
 * ours). kill() can only fail with ESRCH here: the group is already gone. */
static void stop_group(struct child *c)
{
	close_fd(&c->in);
	kill(-c->pid, SIGTERM);
	pump(c, mono_ms() + KILL_GRACE_MS);
	kill(-c->pid, SIGKILL);
}

/* Reap the child: always, whatever happened, so no zombie is left. */
static int reap(struct child *c)
{
	pid_t r;

	do
		r = waitpid(c->pid, &c->status, 0);
	while (r < 0 && errno == EINTR);
	return r == c->pid ? 0 : -errno;
}

static void child_release(struct child *c)
{
	close_fd(&c->in);
	close_fd(&c->out.fd);
	close_fd(&c->err.fd);
	close_fd(&c->pidfd);
}

/*
 * Run the program to completion. Returns 0 (c->status set), -ETIMEDOUT (it
 * was killed), a positive errno when it could not be started, or another
 * negative errno when we lost track of it. SIGPIPE is blocked meanwhile, so
 * a program that closes stdin early costs us an EPIPE, not the daemon.
 */
static int run(struct exec_sink *x, char *const envp[], struct child *c, int64_t deadline)
{
	sigset_t pipe_set, old;
	int rc, rc2;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	rc = start(x, envp, c); /* a positive errno: could not start it */
	if (rc)
		goto out;
	if (c->len == 0)
		close_fd(&c->in);
	rc = pump(c, deadline);
	if (rc)
		stop_group(c);
	rc2 = reap(c);
	if (!rc)
		rc = rc2;
out:
	child_release(c);
	/* Take back the SIGPIPE we caused, unless the thread had it blocked
	 * already (then a pending one may be someone else's). */
	if (c->epipe && !sigismember(&old, SIGPIPE))
		sigtimedwait(&pipe_set, NULL, &(struct timespec){0, 0});
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- outcome ---- */

/* ": first line of stderr", control bytes as spaces, cut to fit dst. */
static void append_first_line(char *dst, size_t dstlen, const struct capture *err)
{
	const char *nl = memchr(err->p, '\n', err->len);
	size_t n = nl ? (size_t)(nl - err->p) : err->len;

	if (n == 0 || dstlen < 4)
		return;
	n = utf8_cut(err->p, n, dstlen - 3);
	dst[0] = ':';
	dst[1] = ' ';
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)err->p[i];
		dst[2 + i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	dst[2 + n] = '\0';
}

/* The first "retry-after: N" line of stdout (N in seconds), or 0. */
static uint32_t parse_retry_after(const struct capture *out)
{
	const char *p = out->p, *end = out->p + out->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (eol - p > 12 && !strncasecmp(p, "retry-after:", 12)) {
			const char *q = p + 12;
			uint64_t v = 0;
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			const char *digits = q;
			for (; q < eol && *q >= '0' && *q <= '9' && v <= MAX_RETRY_AFTER; q++)
				v = v * 10 + (uint64_t)(*q - '0');
			while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
				q++;
			if (q == eol && q > digits)
				return v > MAX_RETRY_AFTER ? MAX_RETRY_AFTER : (uint32_t)v;
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* The exit status as an outcome, see the top of the file. */
static void judge_status(const struct child *c, struct herald_sink_result *r)
{
	int code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
	int k;

	if (code == 0) {
		r->outcome = HERALD_SINK_DELIVERED;
		r->reason[0] = '\0';
		return;
	}
	if (code == EX_TEMPFAIL) {
		r->outcome = HERALD_SINK_RETRY;
		r->retry_after = parse_retry_after(&c->out);
	} else if (code == 126 || code == 127) {
		r->outcome = HERALD_SINK_BROKEN;
	} else {
		r->outcome = HERALD_SINK_REJECTED;
	}
	if (code >= 0)
		k = snprintf(r->reason, sizeof r->reason, "exit %d", code);
	else
		k = snprintf(r->reason, sizeof r->reason, "signal %d", WTERMSIG(c->status));
	append_first_line(r->reason + k, sizeof r->reason - (size_t)k, &c->err);
}

/* Could not start the program: the item may be too big for the environment
 * (its fault), the system short of processes or files (try later), or the
 * program gone (this instance is broken). */
static enum herald_sink_outcome start_failure(int e)
{
	switch (e) {
	case E2BIG: return HERALD_SINK_REJECTED;
	case EAGAIN:
	case ENOMEM:
	case EMFILE:
	case ENFILE: return HERALD_SINK_RETRY;
	default: return HERALD_SINK_BROKEN;
	}
}

/* run()'s result as an outcome. */
static void judge(const struct exec_sink *x, const struct child *c, int rc,
		  struct herald_sink_result *r)
{
	if (rc == 0) {
		judge_status(c, r);
	} else if (rc == -ETIMEDOUT) {
		r->outcome = HERALD_SINK_RETRY;
		snprintf(r->reason, sizeof r->reason, "timed out after %u ms", x->timeout_ms);
	} else if (rc > 0) {
		r->outcome = start_failure(rc);
		snprintf(r->reason, sizeof r->reason, "cannot run %s: %s", x->argv[0],
			 strerror(rc));
	} else {
		r->outcome = HERALD_SINK_BROKEN;
		snprintf(r->reason, sizeof r->reason, "lost track of the program: %s",
			 strerror(-rc));
	}
}

static void deliver_one(struct exec_sink *x, const struct herald_sink_item *it,
			struct herald_sink_result *r)
{
	struct sbuf in = {0};
	struct env env = {.n = 0};
	char *envp[MAX_ENV + 1];
	struct child c;
	bool digest;

	if (!it->notes || it->n_notes == 0 || !it->notes[0]) {
		r->outcome = HERALD_SINK_REJECTED;
		snprintf(r->reason, sizeof r->reason, "item without notifications");
		return;
	}
	digest = it->digest || it->n_notes > 1;
	build_stdin(it, digest, &in);
	build_env(it, digest, &env);
	if (in.failed || env.text.failed) {
		r->outcome = HERALD_SINK_RETRY;
		snprintf(r->reason, sizeof r->reason, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < env.n; i++)
		envp[i] = env.text.p + env.offs[i];
	envp[env.n] = NULL;

	c = (struct child){
	    .pid = -1,
	    .pidfd = -1,
	    .in = -1,
	    .data = in.p,
	    .len = in.len,
	    .out = {.fd = -1, .p = x->out_buf, .max = x->max_output},
	    .err = {.fd = -1, .p = x->err_buf, .max = x->max_output},
	};
	judge(x, &c, run(x, envp, &c, mono_ms() + x->timeout_ms), r);
	if (r->outcome == HERALD_SINK_BROKEN)
		sinkutil_log(x->host, HERALD_SINK_LOG_ERROR, "%s: %s", x->argv[0], r->reason);
out:
	free(in.p);
	free(env.text.p);
}

static void exec_deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
			 struct herald_sink_result *const *results)
{
	for (size_t i = 0; i < n; i++)
		deliver_one(instance, items[i], results[i]);
}

static const struct herald_sink_ops exec_ops = {
    .size = sizeof exec_ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "exec",
    .init = exec_init,
    .validate = exec_validate,
    .deliver = exec_deliver,
    .flush = NULL,
    .shutdown = exec_shutdown,
    .reopen = NULL,
};

SINKUTIL_ENTRY(exec_ops)
