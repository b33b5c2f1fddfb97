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
 * Standalone: libc, pthread, libircclient and herald/sink.h only.
 */
#define _GNU_SOURCE
#include <herald/sink.h>

#include <libircclient.h>
#include <libirc_rfcnumeric.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "lines.h"
#include "sinkutil.h"

#define MAX_PASSWORD   512
#define NICK_RESERVE   32 /* budget: the longest nick a server may give us */
#define USER_RESERVE   11 /* budget: USERLEN 10 and the '~' of no ident */
#define USERNAME       "herald"
#define NICK_TRIES     8
#define BACKOFF_MAX_MS 60000
#define OUT_BUDGET     900 /* bytes queued in libircclient's 1 KiB buffer per write-out */

enum tstate { T_NONE, T_JOINING, T_JOINED, T_FAILED };
enum { AUTH_PASS, AUTH_NICKSERV }; /* the auth option: PASS, or IDENTIFY to NickServ */

/* A channel or nick we sent to. Channels are kept joined between calls. */
struct target {
	char name[IRC_TARGET_MAX + 1];
	char key[IRC_KEY_MAX + 1];
	bool channel;
	bool kept; /* joined once and not parted: rejoin after a reconnect */
	enum tstate state;
	enum herald_sink_outcome fail; /* T_FAILED: RETRY or REJECTED */
	char reason[256];
	int msg_err; /* an error numeric for our PRIVMSG in this call; 0: none */
	char msg_reason[256];
	uint64_t last_call;	      /* the call that last used it (LRU for channel_limit) */
	int64_t last_used;	      /* monotonic ms of its last line or join (idle parting) */
	size_t call_lines, call_more; /* lines and summarised items in this call */
	size_t summary;		      /* this call's summary line index */
};

/* One command of the current call. */
struct cline {
	char *cmd;
	size_t target;
	bool sent, dropped;
};

/* The deliver() in progress: lines for the thread, and what became of them. */
struct call {
	struct cline *lines;
	size_t n, cap, next;
	char ping[40];
	bool ping_sent, pong, aborted;
	char abort_reason[200];
};

struct irc_sink {
	const struct herald_sink_host *host;
	/* options (read-only after init) */
	char *server, *nick, *realname;
	struct sinkutil_secret password; /* password_file's first line */
	int auth;			 /* AUTH_PASS or AUTH_NICKSERV */
	bool tls, colors;
	unsigned long port;
	unsigned long channel_limit, flood_burst, timeout_ms, reconnect_ms;
	unsigned long idle_part_s; /* part a channel unused this long; 0: never */
	double flood_rate;

	pthread_t thread;
	bool thread_started;
	int wake[2];
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled on any progress of the current call */

	/* guarded by lock */
	bool stop, reconnect;
	bool registered;
	bool broken;	   /* the server refused our password: until a registration */
	char status[200];  /* why we are not registered */
	char nick_now[64]; /* the nick the server gave us */
	struct target *targets;
	size_t n_targets, cap_targets;
	struct call *call;
	uint64_t call_seq;

	/* the connection thread's own */
	irc_session_t *s;
	double tokens;
	int64_t tokens_at, next_connect, connect_started;
	size_t queued; /* bytes given to libircclient since its last write-out */
	unsigned backoff_ms, nick_tries, failures;
	bool nick_shorten;
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A server's text, for a reason: no controls, bounded. */
static void copy_text(char *dst, size_t len, const char *src)
{
	size_t k = 0;

	for (; src && *src && k + 1 < len; src++)
		dst[k++] = (unsigned char)*src < 0x20 || *src == 0x7f ? ' ' : *src;
	dst[k] = '\0';
}

/* ---- targets (lock held) ---- */

static struct target *find_target(struct irc_sink *ir, const char *name)
{
	for (size_t i = 0; i < ir->n_targets; i++)
		if (irc_name_eq(ir->targets[i].name, name))
			return &ir->targets[i];
	return NULL;
}

static struct target *add_target(struct irc_sink *ir, const char *name, const char *key)
{
	struct target *t = find_target(ir, name);

	if (t) {
		if (strcmp(t->key, key)) {
			snprintf(t->key, sizeof t->key, "%s", key);
			if (t->state == T_FAILED)
				t->state = T_NONE;
		}
		return t;
	}
	if (ir->n_targets == ir->cap_targets) {
		size_t cap = ir->cap_targets ? ir->cap_targets * 2 : 16;
		struct target *v = realloc(ir->targets, cap * sizeof *v);
		if (!v)
			return NULL;
		ir->targets = v;
		ir->cap_targets = cap;
	}
	t = &ir->targets[ir->n_targets++];
	*t = (struct target){0};
	snprintf(t->name, sizeof t->name, "%s", name);
	snprintf(t->key, sizeof t->key, "%s", key);
	t->channel = name[0] == '#' || name[0] == '&';
	return t;
}

/* ---- the connection thread ---- */

/*
 * Queue one command. libircclient keeps what it has not written yet in a
 * 1 KiB buffer and refuses (LIBIRC_ERR_NOMEM) a command that does not fit,
 * which two long lines in a row can do; so the sink stops queueing when
 * OUT_BUDGET bytes went in since the last write-out, and a refusal anyway
 * means "later", not a lost connection. 0 sent, 1 later, -1 the connection
 * failed (it is dropped here: ir->s is gone).
 */
static void drop_locked(struct irc_sink *ir, const char *why);
static int send_cmd(struct irc_sink *ir, const char *cmd)
{
	size_t n = strlen(cmd) + 2;
	if (ir->queued + n > OUT_BUDGET && ir->queued > 0)
		return 1;
	if (irc_send_raw(ir->s, "%s", cmd)) {
		if (irc_errno(ir->s) == LIBIRC_ERR_NOMEM)
			return 1;
		drop_locked(ir, irc_strerror(irc_errno(ir->s)));
		return -1;
	}
	ir->queued += n;
	return 0;
}

/* 0 sent, 1 later, -1 the connection is gone (dropped). */
static int send_join(struct irc_sink *ir, struct target *t)
{
	char cmd[16 + IRC_TARGET_MAX + IRC_KEY_MAX];
	snprintf(cmd, sizeof cmd, "JOIN %s%s%s", t->name, t->key[0] ? " " : "", t->key);
	int rc = send_cmd(ir, cmd);
	if (!rc)
		t->state = T_JOINING;
	return rc;
}

/* The connection is gone (or never came): forget the session, fail the
 * current call's unacknowledged lines, schedule the next attempt. */
static void drop_locked(struct irc_sink *ir, const char *why)
{
	bool was = ir->registered;

	char reason[200];

	/* `why` may be ir->status itself */
	snprintf(reason, sizeof reason, "%s", why && *why ? why : "connection refused or closed");
	why = reason;

	if (ir->s)
		irc_destroy_session(ir->s);
	ir->s = NULL;
	ir->registered = false;
	ir->queued = 0;
	snprintf(ir->status, sizeof ir->status, "%s", why);
	for (size_t i = 0; i < ir->n_targets; i++)
		if (ir->targets[i].state != T_FAILED)
			ir->targets[i].state = T_NONE;
	if (ir->call && !ir->call->pong && !ir->call->aborted) {
		ir->call->aborted = true;
		snprintf(ir->call->abort_reason, sizeof ir->call->abort_reason, "%s", why);
	}
	pthread_cond_broadcast(&ir->cond);
	if (was) {
		ir->backoff_ms = (unsigned)ir->reconnect_ms;
		ir->failures = 0;
		sinkutil_log(ir->host, HERALD_SINK_LOG_WARNING, "lost %s:%lu (%s); reconnecting",
			     ir->server, ir->port, why);
	} else if (ir->failures++ % 10 == 0) {
		sinkutil_log(ir->host, HERALD_SINK_LOG_WARNING,
			     "cannot connect to %s:%lu (%s); retrying in %u ms", ir->server,
			     ir->port, why, ir->backoff_ms);
	}
	ir->next_connect = now_ms() + ir->backoff_ms;
	ir->backoff_ms = ir->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ir->backoff_ms * 2;
}

static struct irc_sink *of(irc_session_t *s)
{
	return irc_get_ctx(s);
}

static bool is_me(const struct irc_sink *ir, const char *origin)
{
	return origin && irc_name_eq(origin, ir->nick_now);
}

static void on_connect(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned count)
{
	struct irc_sink *ir = of(s);

	ir->registered = true;
	ir->broken = false;
	ir->status[0] = '\0';
	if (count > 0)
		snprintf(ir->nick_now, sizeof ir->nick_now, "%s", params[0]);
	ir->backoff_ms = (unsigned)ir->reconnect_ms;
	ir->failures = 0;
	sinkutil_log(ir->host, HERALD_SINK_LOG_INFO, "connected to %s:%lu as %s", ir->server,
		     ir->port, ir->nick_now);
	ir->queued = 0; /* registration means libircclient wrote NICK and USER */
	if (ir->auth == AUTH_NICKSERV && ir->password.value &&
	    irc_send_raw(s, "PRIVMSG NickServ :IDENTIFY %s", ir->password.value))
		sinkutil_log(ir->host, HERALD_SINK_LOG_WARNING, "could not send IDENTIFY (%s)",
			     irc_strerror(irc_errno(s)));
	/* the channels kept before are joined again by rejoin_locked() */
	pthread_cond_broadcast(&ir->cond);
}

static void on_join(irc_session_t *s, const char *event, const char *origin, const char **params,
		    unsigned count)
{
	struct irc_sink *ir = of(s);
	struct target *t = count > 0 && is_me(ir, origin) ? find_target(ir, params[0]) : NULL;

	if (t) {
		t->state = T_JOINED;
		t->kept = true;
		t->last_used = now_ms();
	}
}

static void on_part_kick(irc_session_t *s, const char *event, const char *origin,
			 const char **params, unsigned count)
{
	struct irc_sink *ir = of(s);
	bool kick = !strcmp(event, "KICK");
	struct target *t = NULL;

	if (count > 0 && (kick ? count > 1 && is_me(ir, params[1]) : is_me(ir, origin)))
		t = find_target(ir, params[0]);
	if (t) {
		t->state = T_NONE;
		t->kept = false;
		if (kick)
			sinkutil_log(ir->host, HERALD_SINK_LOG_WARNING, "kicked from %s", t->name);
	}
}

static void on_nick(irc_session_t *s, const char *event, const char *origin, const char **params,
		    unsigned count)
{
	struct irc_sink *ir = of(s);

	if (count > 0 && is_me(ir, origin))
		snprintf(ir->nick_now, sizeof ir->nick_now, "%s", params[0]);
}

static void on_unknown(irc_session_t *s, const char *event, const char *origin, const char **params,
		       unsigned count)
{
	struct irc_sink *ir = of(s);

	if (!strcmp(event, "PONG") && count > 0 && ir->call && ir->call->ping_sent &&
	    !strcmp(params[count - 1], ir->call->ping)) {
		ir->call->pong = true;
		pthread_cond_broadcast(&ir->cond);
	} else if (!strcmp(event, "ERROR") && count > 0) {
		copy_text(ir->status, sizeof ir->status, params[count - 1]);
		/* ngircd refuses a wrong PASS with ERROR only, no 464 */
		if (!ir->registered && ir->password.value && ir->auth == AUTH_PASS &&
		    strcasestr(ir->status, "password"))
			ir->broken = true;
	}
}

/* Another nick: nick_, nick__, ... or, once the server called one too long,
 * the nick shortened to make room for the underscores. */
static void next_nick(struct irc_sink *ir, unsigned code)
{
	char cand[64];
	size_t len = strlen(ir->nick);

	if (++ir->nick_tries > NICK_TRIES) {
		drop_locked(ir, "no nick accepted (432/433)");
		return;
	}
	if (code == LIBIRC_RFC_ERR_ERRONEUSNICKNAME && ir->nick_tries > 1)
		ir->nick_shorten = true;
	size_t keep = ir->nick_shorten && len > ir->nick_tries ? len - ir->nick_tries : len;
	snprintf(cand, sizeof cand, "%.*s%.*s", (int)keep, ir->nick, (int)ir->nick_tries,
		 "________________");
	snprintf(ir->nick_now, sizeof ir->nick_now, "%s", cand);
	irc_cmd_nick(ir->s, cand);
}

static void join_failed(struct irc_sink *ir, unsigned code, const char **params, unsigned count)
{
	struct target *t = count > 1 ? find_target(ir, params[1]) : NULL;
	char text[160];

	if (!t)
		return;
	copy_text(text, sizeof text, params[count - 1]);
	t->state = T_FAILED;
	t->kept = false;
	t->fail = code == LIBIRC_RFC_ERR_CHANNELISFULL || code == LIBIRC_RFC_ERR_TOOMANYCHANNELS
		      ? HERALD_SINK_RETRY
		      : HERALD_SINK_REJECTED;
	snprintf(t->reason, sizeof t->reason, "cannot join %s: %u %s", t->name, code, text);
	pthread_cond_broadcast(&ir->cond);
}

static void on_numeric(irc_session_t *s, unsigned code, const char *origin, const char **params,
		       unsigned count)
{
	struct irc_sink *ir = of(s);
	struct target *t;
	char text[160];

	switch (code) {
	case LIBIRC_RFC_ERR_ERRONEUSNICKNAME:
	case LIBIRC_RFC_ERR_NICKNAMEINUSE:
	case LIBIRC_RFC_ERR_NICKCOLLISION:
	case LIBIRC_RFC_ERR_UNAVAILRESOURCE:
		if (!ir->registered)
			next_nick(ir, code);
		break;
	case LIBIRC_RFC_ERR_PASSWDMISMATCH: ir->broken = true; break;
	case LIBIRC_RFC_ERR_NOSUCHCHANNEL:
	case LIBIRC_RFC_ERR_TOOMANYCHANNELS:
	case LIBIRC_RFC_ERR_CHANNELISFULL:
	case LIBIRC_RFC_ERR_INVITEONLYCHAN:
	case LIBIRC_RFC_ERR_BANNEDFROMCHAN:
	case LIBIRC_RFC_ERR_BADCHANNELKEY:
	case LIBIRC_RFC_ERR_BADCHANMASK:
	case 477: /* ERR_NEEDREGGEDNICK (not in RFC 2812) */
		t = count > 1 ? find_target(ir, params[1]) : NULL;
		if (t && t->state == T_JOINING) {
			join_failed(ir, code, params, count);
			break;
		}
		__attribute__((fallthrough)); /* an error about a message */
	case LIBIRC_RFC_ERR_NOSUCHNICK:
	case LIBIRC_RFC_ERR_CANNOTSENDTOCHAN:
		t = count > 1 ? find_target(ir, params[1]) : NULL;
		if (t && !t->msg_err) {
			copy_text(text, sizeof text, params[count - 1]);
			t->msg_err = (int)code;
			snprintf(t->msg_reason, sizeof t->msg_reason, "%s: %u %s", t->name, code,
				 text);
		}
		break;
	default: break;
	}
}

/* Make room under channel_limit: part the least recently used channel that
 * this call does not use. false: every joined channel is in use. */
/* Make room for one more channel: 0 done, 1 not now (the send buffer is
 * full), -1 no room (every joined channel is used by this call), -2 the
 * connection failed (and was dropped). */
static int room_for_channel(struct irc_sink *ir)
{
	size_t joined = 0;
	struct target *lru = NULL;

	for (size_t i = 0; i < ir->n_targets; i++) {
		struct target *t = &ir->targets[i];
		if (!t->channel || (t->state != T_JOINED && t->state != T_JOINING && !t->kept))
			continue;
		joined++;
		if (t->last_call != ir->call_seq && (!lru || t->last_call < lru->last_call))
			lru = t;
	}
	if (joined < ir->channel_limit)
		return 0;
	if (!lru)
		return -1;
	char cmd[8 + IRC_TARGET_MAX];
	snprintf(cmd, sizeof cmd, "PART %s", lru->name);
	int rc = send_cmd(ir, cmd);
	if (rc)
		return rc < 0 ? -2 : 1;
	lru->state = T_NONE;
	lru->kept = false;
	return 0;
}

/* Part the channels nobody has posted to for idle_part_s, between calls
 * only (a call's target must stay joined until its PONG). A PART costs a
 * token like any line. */
static void part_idle_locked(struct irc_sink *ir, int64_t now)
{
	if (!ir->idle_part_s || ir->call)
		return;
	for (size_t i = 0; i < ir->n_targets && ir->tokens >= 1.0; i++) {
		struct target *t = &ir->targets[i];
		if (!t->channel || t->state != T_JOINED ||
		    now - t->last_used < (int64_t)ir->idle_part_s * 1000)
			continue;
		char cmd[8 + IRC_TARGET_MAX];
		snprintf(cmd, sizeof cmd, "PART %s", t->name);
		if (send_cmd(ir, cmd))
			return;
		ir->tokens -= 1.0;
		t->state = T_NONE;
		t->kept = false;
		sinkutil_log(ir->host, HERALD_SINK_LOG_INFO, "parted %s: idle for %lu s", t->name,
			     ir->idle_part_s);
	}
}

/* After a reconnection, join the channels we were in again, within the
 * token bucket (a server counts JOINs against flooding too). */
static void rejoin_locked(struct irc_sink *ir)
{
	for (size_t i = 0; i < ir->n_targets && ir->s && ir->tokens >= 1.0; i++) {
		struct target *t = &ir->targets[i];
		if (!t->channel || !t->kept || t->state != T_NONE)
			continue;
		if (send_join(ir, t))
			return;
		ir->tokens -= 1.0;
	}
}

/* Send what the token bucket allows of the current call. */
static void pump_locked(struct irc_sink *ir, int64_t now)
{
	struct call *c = ir->call;

	ir->tokens += (double)(now - ir->tokens_at) * ir->flood_rate / 1000.0;
	if (ir->tokens > (double)ir->flood_burst)
		ir->tokens = (double)ir->flood_burst;
	ir->tokens_at = now;
	if (!c || c->aborted || c->ping_sent)
		return;
	while (c->next < c->n) {
		struct cline *l = &c->lines[c->next];
		struct target *t = &ir->targets[l->target];
		if (t->channel && t->state == T_FAILED) {
			l->dropped = true;
			c->next++;
			continue;
		}
		if (t->channel && t->state == T_JOINING)
			return;
		if (ir->tokens < 1.0)
			return;
		int rc = 0;
		if (t->channel && t->state == T_NONE && !t->kept)
			rc = room_for_channel(ir);
		if (rc == -1) {
			t->state = T_FAILED;
			t->fail = HERALD_SINK_RETRY;
			snprintf(t->reason, sizeof t->reason,
				 "channel_limit (%lu) reached by this batch", ir->channel_limit);
			continue;
		}
		if (t->channel && t->state == T_NONE && !rc)
			rc = send_join(ir, t);
		else if (!rc)
			rc = send_cmd(ir, l->cmd);
		if (rc)
			return; /* later, or the connection was dropped */
		ir->tokens -= 1.0;
		if (t->channel && t->state == T_JOINING)
			return; /* that was the JOIN: the line waits for its answer */
		l->sent = true;
		t->last_used = now;
		c->next++;
	}
	if (ir->tokens >= 1.0) {
		char cmd[8 + sizeof c->ping];
		snprintf(cmd, sizeof cmd, "PING :%s", c->ping);
		if (send_cmd(ir, cmd))
			return;
		ir->tokens -= 1.0;
		c->ping_sent = true;
	}
}

static void connect_locked(struct irc_sink *ir, int64_t now)
{
	static irc_callbacks_t cb = {
	    .event_connect = on_connect,
	    .event_join = on_join,
	    .event_part = on_part_kick,
	    .event_kick = on_part_kick,
	    .event_nick = on_nick,
	    .event_unknown = on_unknown,
	    .event_numeric = on_numeric,
	};
	char server[300];

	if (now < ir->next_connect)
		return;
	ir->s = irc_create_session(&cb);
	if (!ir->s) {
		drop_locked(ir, "out of memory");
		return;
	}
	irc_set_ctx(ir->s, ir);
	irc_option_set(ir->s, LIBIRC_OPTION_STRIPNICKS);
	ir->nick_tries = 0;
	ir->nick_shorten = false;
	snprintf(ir->nick_now, sizeof ir->nick_now, "%s", ir->nick);
	snprintf(server, sizeof server, "%s%s", ir->tls ? "#" : "", ir->server);
	if (irc_connect(ir->s, server, (unsigned short)ir->port,
			ir->auth == AUTH_NICKSERV ? NULL : ir->password.value, ir->nick, USERNAME,
			ir->realname)) {
		drop_locked(ir, irc_strerror(irc_errno(ir->s)));
		return;
	}
	ir->connect_started = now;
}

/* Take back a SIGPIPE a write to a closed socket raised in this thread
 * (blocked here, so it is pending and harmless, but do not let it pile up). */
static void eat_sigpipe(void)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!sigpending(&pending) && sigismember(&pending, SIGPIPE))
		sigtimedwait(&set, NULL, &(struct timespec){0, 0});
}

static void *conn_thread(void *arg)
{
	struct irc_sink *ir = arg;

	pthread_mutex_lock(&ir->lock);
	while (!ir->stop) {
		int64_t now = now_ms();
		fd_set in, out;
		int maxfd = ir->wake[0];
		long wait_ms = 500;

		if (ir->s && ir->reconnect) {
			ir->reconnect = false;
			irc_cmd_quit(ir->s, "reconnecting");
			drop_locked(ir, "reopen");
			ir->next_connect = now;
		}
		if (!ir->s)
			connect_locked(ir, now);
		else if (!ir->registered && now - ir->connect_started > (int64_t)ir->timeout_ms)
			drop_locked(ir, "registration timed out");
		if (ir->s && ir->registered)
			pump_locked(ir, now);
		if (ir->s && ir->registered)
			rejoin_locked(ir);
		if (ir->s && ir->registered)
			part_idle_locked(ir, now);
		if (ir->call && !ir->call->ping_sent)
			wait_ms = 20;
		if (!ir->s && ir->next_connect - now < wait_ms)
			wait_ms = ir->next_connect - now > 0 ? (long)(ir->next_connect - now) : 0;
		FD_ZERO(&in);
		FD_ZERO(&out);
		FD_SET(ir->wake[0], &in);
		if (ir->s && irc_add_select_descriptors(ir->s, &in, &out, &maxfd))
			drop_locked(ir, irc_strerror(irc_errno(ir->s)));
		pthread_mutex_unlock(&ir->lock);

		struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
		int n = select(maxfd + 1, &in, &out, NULL, &tv);
		char drain[64];
		if (n > 0 && FD_ISSET(ir->wake[0], &in))
			while (read(ir->wake[0], drain, sizeof drain) > 0)
				;

		pthread_mutex_lock(&ir->lock);
		/* libircclient put only its socket in `out`, when it had output:
		 * writable now, it writes its buffer out in the call below */
		for (int fd = 0; n > 0 && fd <= maxfd; fd++)
			if (FD_ISSET(fd, &out))
				ir->queued = 0;
		if (n >= 0 && ir->s) {
			if (irc_process_select_descriptors(ir->s, &in, &out) ||
			    !irc_is_connected(ir->s))
				drop_locked(ir, ir->status[0] && !ir->registered
						    ? ir->status
						    : irc_strerror(irc_errno(ir->s)));
		}
		eat_sigpipe();
	}
	if (ir->s) {
		if (ir->registered)
			irc_cmd_quit(ir->s, "herald stopping");
		irc_destroy_session(ir->s);
		ir->s = NULL;
	}
	pthread_mutex_unlock(&ir->lock);
	return NULL;
}

static void wake(struct irc_sink *ir)
{
	ssize_t rc = write(ir->wake[1], "x", 1);
	(void)rc; /* a full pipe wakes the thread as well */
}

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
		wake(ir);
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
	rc = pthread_create(&ir->thread, NULL, conn_thread, ir);
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
	ir->tokens_at = now_ms();
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
		if (!(t = add_target(ir, name, key)))
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
	wake(ir);
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
	wake(ir);
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
