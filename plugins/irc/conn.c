/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * conn: the IRC sink's connection thread, the only caller of libircclient:
 * connect and register (PASS or NickServ), reconnect with backoff, nick
 * collisions, joins with keys, the token bucket, parting idle channels, and
 * the PING that fences each call's lines (irc.c's header says why). Every
 * libircclient callback runs with the instance's lock held.
 * Not for: options, building lines or judging outcomes (irc.c).
 */
#define _GNU_SOURCE
#include "irc_int.h"

int64_t irc_now_ms(void)
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

struct target *irc_add_target(struct irc_sink *ir, const char *name, const char *key)
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
	ir->next_connect = irc_now_ms() + ir->backoff_ms;
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
		t->last_used = irc_now_ms();
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

void *irc_conn_thread(void *arg)
{
	struct irc_sink *ir = arg;

	pthread_mutex_lock(&ir->lock);
	while (!ir->stop) {
		int64_t now = irc_now_ms();
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

void irc_wake(struct irc_sink *ir)
{
	ssize_t rc = write(ir->wake[1], "x", 1);
	(void)rc; /* a full pipe wakes the thread as well */
}

