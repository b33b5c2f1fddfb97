/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * irc: the bundled sink that posts each item as PRIVMSG lines to an IRC
 * channel or nick over one persistent libircclient session per instance.
 * herald-irc(7) has the options, the line format and how outcomes are
 * classified.
 *
 * Threads: init() starts one connection thread per instance; it alone calls
 * libircclient (connect, select, send, reconnect with backoff, nick
 * collisions, joins, the token bucket). deliver() builds the lines of its
 * items, hands them to the thread as the "current call" and waits, until
 * timeout_ms at most, for the thread to have sent them and for the server
 * to answer a PING sent after the last one. A server processes a client's
 * commands in order, so every error numeric our lines caused (401, 404...)
 * has arrived when that PONG does: that is the window in which errors are
 * attributed to items, and no fixed delay is needed. `lock` guards all the
 * state the two threads share; libircclient callbacks run with it held.
 *
 * Not here: text cleaning and splitting (lines.c); retries, backoff of
 * items and dead letters (the host's).
 *
 * Standalone: libc, pthread, libircclient and herald/sink.h only. This file
 * is the plugin (options, init, deliver); the connection thread is conn.c.
 */
#define _GNU_SOURCE
#include "irc_int.h"

/* ---- options ---- */

static int set_str(char **dst, const char *v, char *err, size_t errlen)
{
	free(*dst);
	*dst = strdup(v);
	if (!*dst)
		snprintf(err, errlen, "out of memory");
	return *dst ? 0 : -ENOMEM;
}

static int check_server(const char *k, const char *v, char *err, size_t errlen)
{
	bool ok = *v && strlen(v) <= 253;

	for (const char *p = v; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == ':';
	if (ok)
		return 0;
	snprintf(err, errlen, "%s: '%s' is not a host name or address", k, v);
	return -EINVAL;
}

static int check_nick(const char *k, const char *v, char *err, size_t errlen)
{
	char t[IRC_TARGET_MAX + 1], key[IRC_KEY_MAX + 1];

	if (v[0] != '#' && v[0] != '&' && strlen(v) <= 30 &&
	    !irc_parse_dest(v, t, sizeof t, key, sizeof key, err, errlen))
		return 0;
	snprintf(err, errlen, "%s: '%s' is not a nick (at most 30 characters)", k, v);
	return -EINVAL;
}

static int check_realname(const char *k, const char *v, char *err, size_t errlen)
{
	char why[100];

	if (!sinkutil_check_address(v, 100, why, sizeof why))
		return 0;
	snprintf(err, errlen, "%s: %s", k, why);
	return -EINVAL;
}

static int set_flood_rate(void *obj, const struct herald_sink_option *o, char *err, size_t errlen)
{
	struct irc_sink *ir = obj;
	char *end;
	double r;

	errno = 0;
	r = strtod(o->value, &end);
	if (errno || end == o->value || *end || !(r >= 0.05 && r <= 100)) {
		snprintf(err, errlen, "%s: '%s' is not a number from 0.05 to 100 (line %u)", o->key,
			 o->value, o->line);
		return -EINVAL;
	}
	ir->flood_rate = r;
	return 0;
}

static const char *const auth_names[] = {"pass", "nickserv", NULL};
static const int auth_values[] = {AUTH_PASS, AUTH_NICKSERV};

static const struct sinkutil_option options[] = {
    SINKUTIL_STRING("server", struct irc_sink, server, check_server),
    SINKUTIL_UINT("port", struct irc_sink, port, 1, 65535),
    SINKUTIL_STRING("nick", struct irc_sink, nick, check_nick),
    SINKUTIL_STRING("realname", struct irc_sink, realname, check_realname),
    SINKUTIL_SECRET("password_file", struct irc_sink, password, MAX_PASSWORD),
    SINKUTIL_ENUM("auth", struct irc_sink, auth, auth_names, auth_values),
    SINKUTIL_BOOL("tls", struct irc_sink, tls),
    SINKUTIL_BOOL("colors", struct irc_sink, colors),
    SINKUTIL_UINT("channel_limit", struct irc_sink, channel_limit, 1, 1000),
    SINKUTIL_UINT("idle_part_s", struct irc_sink, idle_part_s, 0, 365UL * 86400),
    SINKUTIL_UINT("flood_burst", struct irc_sink, flood_burst, 1, 100),
    SINKUTIL_UINT("timeout_ms", struct irc_sink, timeout_ms, 100, 3600000),
    SINKUTIL_UINT("reconnect_ms", struct irc_sink, reconnect_ms, 100, BACKOFF_MAX_MS),
    SINKUTIL_CUSTOM("flood_rate", set_flood_rate),
    SINKUTIL_END,
};

/* A password goes into PASS or a PRIVMSG: one word of printable bytes. */
static int check_password(const struct sinkutil_secret *pw, char *err, size_t errlen)
{
	for (const char *p = pw->value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == ' ' || *p == 0x7f) {
			snprintf(err, errlen, "password_file: %s: a space or control character",
				 pw->path);
			return -EINVAL;
		}
	return 0;
}

/* Can this libircclient do TLS? It says so only when asked to connect:
 * ask for a connection to a port nobody listens on and look at the error. */
static bool tls_supported(void)
{
	irc_callbacks_t cb = {0};
	irc_session_t *s = irc_create_session(&cb);
	bool ok;

	if (!s)
		return false;
	ok = !irc_connect(s, "#127.0.0.1", 1, NULL, "probe", NULL, NULL) ||
	     irc_errno(s) != LIBIRC_ERR_SSL_NOT_SUPPORTED;
	irc_destroy_session(s);
	return ok;
}

/* ---- init, validate, shutdown ---- */

static void irc_shutdown(void *instance)
{
	struct irc_sink *ir = instance;

	if (!ir)
		return;
	if (ir->thread_started) {
		pthread_mutex_lock(&ir->lock);
		ir->stop = true;
		pthread_mutex_unlock(&ir->lock);
		irc_wake(ir);
		pthread_join(ir->thread, NULL);
		pthread_mutex_destroy(&ir->lock);
		pthread_cond_destroy(&ir->cond);
	}
	if (ir->wake[0] >= 0)
		close(ir->wake[0]);
	if (ir->wake[1] >= 0)
		close(ir->wake[1]);
	sinkutil_options_release(options, ir);
	free(ir->targets);
	free(ir);
}

static int start_thread(struct irc_sink *ir, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (pipe2(ir->wake, O_CLOEXEC | O_NONBLOCK)) {
		rc = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(-rc));
		return rc;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ir->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&ir->lock, NULL);
	/* the thread takes no signals: they are the daemon's */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ir->thread, NULL, irc_conn_thread, ir);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_mutex_destroy(&ir->lock);
		pthread_cond_destroy(&ir->cond);
		snprintf(err, errlen, "cannot start the connection thread: %s", strerror(rc));
		return -rc;
	}
	ir->thread_started = true;
	return 0;
}

static int finish_init(struct irc_sink *ir, char *err, size_t errlen)
{
	if (!ir->server) {
		snprintf(err, errlen, "server: required");
		return -EINVAL;
	}
	if (ir->tls && !tls_supported()) {
		snprintf(err, errlen,
			 "tls = yes: this libircclient was built without TLS support "
			 "(use a TLS tunnel to a local port, or tls = no)");
		return -EINVAL;
	}
	if (!ir->port)
		ir->port = ir->tls ? 6697 : 6667;
	if (!ir->nick && set_str(&ir->nick, "herald", err, errlen))
		return -ENOMEM;
	if (!ir->realname && set_str(&ir->realname, "herald notifications", err, errlen))
		return -ENOMEM;
	if (ir->auth == AUTH_NICKSERV && !ir->password.value) {
		snprintf(err, errlen, "auth = nickserv needs password_file");
		return -EINVAL;
	}
	if (ir->password.value && check_password(&ir->password, err, errlen))
		return -EINVAL;
	if (ir->password.value && !ir->tls)
		sinkutil_log(ir->host, HERALD_SINK_LOG_WARNING,
			     "the password crosses the network in clear: tls is off");
	ir->backoff_ms = (unsigned)ir->reconnect_ms;
	ir->tokens = (double)ir->flood_burst;
	ir->tokens_at = irc_now_ms();
	snprintf(ir->status, sizeof ir->status, "connecting");
	return start_thread(ir, err, errlen);
}

static int irc_init(const struct herald_sink_host *host, const struct herald_sink_option *opts,
		    size_t n_opts, void **instance, char *err, size_t errlen)
{
	struct irc_sink *ir = calloc(1, sizeof *ir);
	int rc;

	if (!ir) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ir->host = host;
	ir->wake[0] = ir->wake[1] = -1;
	ir->channel_limit = 20;
	ir->idle_part_s = 86400;
	ir->flood_rate = 1.0;
	ir->flood_burst = 5;
	ir->timeout_ms = 30000;
	ir->reconnect_ms = 1000;
	rc = sinkutil_set_options(options, ir, host, opts, n_opts, err, errlen);
	if (!rc)
		rc = finish_init(ir, err, errlen);
	if (rc) {
		irc_shutdown(ir);
		return rc;
	}
	*instance = ir;
	return 0;
}

static int irc_validate(void *instance, const char *address, char *err, size_t errlen)
{
	char t[IRC_TARGET_MAX + 1], key[IRC_KEY_MAX + 1];

	(void)instance;
	if (sinkutil_check_address(address, IRC_TARGET_MAX + 1 + IRC_KEY_MAX, err, errlen) ||
	    irc_parse_dest(address, t, sizeof t, key, sizeof key, err, errlen))
		return -EINVAL;
	return 0;
}

/* ---- deliver ---- */

/* What one item became in the current call: a run of lines sent in full
 * (its notes that fit), and maybe a share of its target's summary line. */
struct plan {
	size_t target;
	size_t first, n;
	bool summarised; /* some of its notes are counted in the summary line */
	bool done;	 /* the result is set already */
};

static int add_cmd(struct call *c, size_t target, const char *name, const char *text)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct cline *v = realloc(c->lines, cap * sizeof *v);
		if (!v)
			return -1;
		c->lines = v;
		c->cap = cap;
	}
	if (asprintf(&c->lines[c->n].cmd, "PRIVMSG %s :%s", name, text) < 0)
		return -1;
	c->lines[c->n].target = target;
	c->lines[c->n].sent = c->lines[c->n].dropped = false;
	c->n++;
	return 0;
}

static void set_result(struct herald_sink_result *r, enum herald_sink_outcome o, const char *reason)
{
	r->outcome = o;
	snprintf(r->reason, sizeof r->reason, "%s", reason ? reason : "");
}

/* A line that is one web link, in mIRC blue (12) when it still fits: the
 * codes are added around text lines.c already made safe. */
static void colour_link(char **line, size_t budget)
{
	const char *l = *line;
	size_t n = strlen(l);
	if ((strncmp(l, "https://", 8) && strncmp(l, "http://", 7)) || strchr(l, ' ') ||
	    n + 4 > budget)
		return;
	char *c = malloc(n + 5);
	if (!c)
		return; /* plain, then */
	snprintf(c, n + 5, "\00312%s\003", l);
	free(*line);
	*line = c;
}

/* The lines of one notification's text, at most flood_burst of them. */
static void text_lines(const struct irc_sink *ir, const char *text, const struct target *t,
		       struct irc_lines *out)
{
	size_t budget = irc_lines_budget(NICK_RESERVE, USER_RESERVE, strlen(t->name));

	irc_lines_split(out, text, budget, false);
	if (ir->colors && out->n > 0 && !out->failed) {
		struct irc_lines first = {0};
		irc_lines_split(&first, out->v[0], budget, true);
		if (first.n == 1 && !first.failed) {
			free(out->v[0]);
			out->v[0] = first.v[0];
			first.n = 0;
		}
		irc_lines_free(&first);
		for (size_t i = 1; i < out->n; i++)
			colour_link(&out->v[i], budget);
	}
	if (out->n > ir->flood_burst) {
		char more[64];
		size_t cut = ir->flood_burst - 1;
		snprintf(more, sizeof more, "[... %zu more lines]", out->n - cut);
		for (size_t i = cut; i < out->n; i++)
			free(out->v[i]);
		out->n = cut;
		irc_lines_add(out, more);
	}
	if (out->n == 0)
		irc_lines_add(out, "(empty notification)");
}

/* The text of note k of an item: a single item's own text (rendered with
 * the instance's template and footer), a digest's notes one by one. */
static const char *note_text(const struct herald_sink_item *it, size_t k)
{
	const struct herald_notification *nt = it->notes ? it->notes[k] : NULL;

	if (!it->digest && it->text && *it->text)
		return it->text;
	if (nt && HERALD_SINK_HAS(nt, struct herald_notification, text) && nt->text && *nt->text)
		return nt->text;
	if (nt && nt->title && *nt->title)
		return nt->title;
	return it->subject ? it->subject : "";
}

/* Plan every item into c (lock held). Per target, notifications are sent
 * in full while this call's lines for it stay within 2 * flood_burst (the
 * first always); the others are counted in one "... and N more" line after
 * them. -1: out of memory. */
static int plan_call(struct irc_sink *ir, const struct herald_sink_item *const *items, size_t n,
		     struct herald_sink_result *const *results, struct plan *p, struct call *c)
{
	char name[IRC_TARGET_MAX + 1], key[IRC_KEY_MAX + 1], err[200];
	uint64_t seq = ++ir->call_seq;
	size_t full = 2 * ir->flood_burst;

	for (size_t i = 0; i < n; i++) {
		const struct herald_sink_item *it = items[i];
		size_t notes = it->digest && it->notes && it->n_notes > 0 ? it->n_notes : 1;
		struct target *t;

		if (!it->address || irc_parse_dest(it->address, name, sizeof name, key, sizeof key,
						   err, sizeof err)) {
			set_result(results[i], HERALD_SINK_REJECTED,
				   it->address ? err : "no address");
			p[i].done = true;
			continue;
		}
		if (!(t = irc_add_target(ir, name, key)))
			return -1;
		if (t->last_call != seq) {
			t->last_call = seq;
			t->call_lines = t->call_more = 0;
			t->msg_err = 0;
			if (t->state == T_FAILED)
				t->state = T_NONE; /* try to join again */
		}
		p[i].target = (size_t)(t - ir->targets);
		p[i].first = c->n;
		for (size_t k = 0; k < notes; k++) {
			struct irc_lines ls = {0};
			text_lines(ir, note_text(it, k), t, &ls);
			if (ls.failed) {
				irc_lines_free(&ls);
				return -1;
			}
			if (t->call_more || (t->call_lines > 0 && t->call_lines + ls.n > full)) {
				p[i].summarised = true;
				t->call_more++;
			} else {
				for (size_t l = 0; l < ls.n; l++)
					if (add_cmd(c, p[i].target, t->name, ls.v[l])) {
						irc_lines_free(&ls);
						return -1;
					}
				t->call_lines += ls.n;
				p[i].n += ls.n;
			}
			irc_lines_free(&ls);
		}
	}
	/* one summary line per target, after its lines, in order of first use */
	for (size_t i = 0; i < n; i++) {
		struct target *t;
		char line[64];
		if (p[i].done)
			continue;
		t = &ir->targets[p[i].target];
		if (t->call_more) {
			snprintf(line, sizeof line, "... and %zu more", t->call_more);
			t->summary = c->n;
			t->call_more = 0;
			if (add_cmd(c, p[i].target, t->name, line))
				return -1;
		}
	}
	snprintf(c->ping, sizeof c->ping, "herald-%llu", (unsigned long long)seq);
	return 0;
}

static void count_lines(const struct call *c, size_t first, size_t n, size_t *sent, size_t *dropped)
{
	for (size_t k = first; k < first + n; k++) {
		*sent += c->lines[k].sent;
		*dropped += c->lines[k].dropped;
	}
}

static void judge(const struct irc_sink *ir, const struct call *c, const struct plan *p,
		  struct herald_sink_result *r)
{
	const struct target *t = &ir->targets[p->target];
	size_t sent = 0, dropped = 0, want = p->n + p->summarised;
	char why[256];

	count_lines(c, p->first, p->n, &sent, &dropped);
	if (p->summarised)
		count_lines(c, t->summary, 1, &sent, &dropped);
	if (dropped) {
		set_result(r, t->fail, t->reason);
	} else if (sent && t->msg_err) {
		set_result(r, HERALD_SINK_REJECTED, t->msg_reason);
	} else if (sent == want && (c->pong || !c->aborted)) {
		/* acknowledged, or written on a connection still up at the deadline */
		set_result(r, HERALD_SINK_DELIVERED, NULL);
	} else if (c->aborted) {
		snprintf(why, sizeof why, "connection to %s:%lu lost: %s", ir->server, ir->port,
			 c->abort_reason);
		set_result(r, HERALD_SINK_RETRY, why);
	} else {
		snprintf(why, sizeof why,
			 "not sent within timeout_ms (%lu): flood control or a slow server "
			 "(%zu of %zu lines sent)",
			 ir->timeout_ms, sent, want);
		set_result(r, HERALD_SINK_RETRY, why);
	}
}

static void irc_deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
			struct herald_sink_result *const *results)
{
	struct irc_sink *ir = instance;
	struct plan *p = calloc(n ? n : 1, sizeof *p);
	struct call c = {0};
	char why[256];
	struct timespec until;

	pthread_mutex_lock(&ir->lock);
	if (!p || !ir->registered) {
		enum herald_sink_outcome o =
		    p && ir->broken ? HERALD_SINK_BROKEN : HERALD_SINK_RETRY;
		if (!p)
			snprintf(why, sizeof why, "out of memory");
		else if (ir->broken)
			snprintf(why, sizeof why, "%s:%lu refused the password (%s)", ir->server,
				 ir->port, ir->status[0] ? ir->status : "464");
		else
			snprintf(why, sizeof why, "not connected to %s:%lu (%s)", ir->server,
				 ir->port, ir->status);
		for (size_t i = 0; i < n; i++)
			set_result(results[i], o, why);
		goto out;
	}
	if (plan_call(ir, items, n, results, p, &c)) {
		for (size_t i = 0; i < n; i++)
			if (!p[i].done)
				set_result(results[i], HERALD_SINK_RETRY, "out of memory");
		goto out;
	}
	ir->call = &c;
	irc_wake(ir);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ir->timeout_ms / 1000);
	until.tv_nsec += (long)(ir->timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (!c.pong && !c.aborted && !ir->stop)
		if (pthread_cond_timedwait(&ir->cond, &ir->lock, &until) == ETIMEDOUT)
			break;
	ir->call = NULL;
	for (size_t i = 0; i < n; i++)
		if (!p[i].done)
			judge(ir, &c, &p[i], results[i]);
out:
	pthread_mutex_unlock(&ir->lock);
	for (size_t i = 0; i < c.n; i++)
		free(c.lines[i].cmd);
	free(c.lines);
	free(p);
}

static int irc_reopen(void *instance)
{
	struct irc_sink *ir = instance;

	pthread_mutex_lock(&ir->lock);
	ir->reconnect = true;
	pthread_mutex_unlock(&ir->lock);
	irc_wake(ir);
	return 0;
}

static const struct herald_sink_ops irc_ops = {
    .size = sizeof irc_ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "irc",
    .init = irc_init,
    .validate = irc_validate,
    .deliver = irc_deliver,
    .flush = NULL,
    .shutdown = irc_shutdown,
    .reopen = irc_reopen,
};

SINKUTIL_ENTRY(irc_ops)
