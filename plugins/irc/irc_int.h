/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * irc_int: what the IRC sink's two files share: the instance (struct
 * irc_sink), its targets and the call deliver() hands to the connection
 * thread. irc.c is the plugin (options, init, deliver); conn.c is the
 * connection thread, the only caller of libircclient. `lock` guards every
 * field the two share; functions that need it held end in _locked or say so.
 * Not for: text cleaning and splitting (lines.h).
 */
#ifndef HERALD_IRC_INT_H
#define HERALD_IRC_INT_H

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


/* Monotonic milliseconds. */
int64_t irc_now_ms(void);
/* The target called `name`, added (lock held). NULL: out of memory. */
struct target *irc_add_target(struct irc_sink *ir, const char *name, const char *key);
/* The connection thread (arg: the instance). */
void *irc_conn_thread(void *arg);
/* Wake the connection thread: a call is waiting, or it should stop. */
void irc_wake(struct irc_sink *ir);

#endif
