/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * connguard: request-header deadlines for libmicrohttpd listeners (see
 * connguard.h). Not for: anything about what a request asks.
 */
#include "connguard.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "src/common/clock.h"
#include "src/common/log.h"

/* One open connection; owned by the guard's list, freed when it closes. */
struct tracked {
	struct tracked *prev, *next;
	struct connguard *g;
	int fd;
	uint64_t since_ms;  /* opened, or its last request completed */
	bool waiting;       /* for a request header (false: serving one) */
	bool dropped;       /* shut down by the sweeper */
};

struct connguard {
	pthread_mutex_t lock;      /* guards the list and each entry's fields */
	pthread_cond_t wake;       /* stop */
	struct tracked head;       /* circular list sentinel */
	uint64_t deadline_ms;
	const char *name;          /* borrowed, for log lines */
	bool stopping;
	atomic_uint_fast64_t dropped;
	pthread_t sweeper;
	struct log_limit rl;
};

static struct tracked *tracked_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void set_waiting(struct MHD_Connection *c, bool waiting)
{
	struct tracked *t = tracked_of(c);
	if (!t)
		return;
	pthread_mutex_lock(&t->g->lock);
	t->waiting = waiting;
	t->since_ms = clock_mono_ms();
	pthread_mutex_unlock(&t->g->lock);
}

void connguard_headers_in(struct MHD_Connection *c)
{
	set_waiting(c, false);
}

void connguard_request_done(struct MHD_Connection *c)
{
	set_waiting(c, true);
}

static void track(struct connguard *g, struct MHD_Connection *c, void **ctx)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct tracked *t = calloc(1, sizeof *t);
	if (!t || !ci) {
		free(t); /* untracked: libmicrohttpd's idle timeout still applies */
		return;
	}
	*t = (struct tracked){.g = g, .fd = ci->connect_fd, .since_ms = clock_mono_ms(),
			      .waiting = true};
	pthread_mutex_lock(&g->lock);
	t->next = g->head.next;
	t->prev = &g->head;
	g->head.next->prev = t;
	g->head.next = t;
	pthread_mutex_unlock(&g->lock);
	*ctx = t;
}

/* Called before libmicrohttpd closes the socket, so the sweeper never
 * shuts down a descriptor number that was already reused. */
static void untrack(struct connguard *g, void **ctx)
{
	struct tracked *t = *ctx;
	if (!t)
		return;
	pthread_mutex_lock(&g->lock);
	t->prev->next = t->next;
	t->next->prev = t->prev;
	pthread_mutex_unlock(&g->lock);
	free(t);
	*ctx = NULL;
}

void connguard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		track(cls, c, socket_context);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		untrack(cls, socket_context);
}

/* Shut down what waited too long for its header; returns how many. */
static unsigned sweep_locked(struct connguard *g, uint64_t now)
{
	unsigned n = 0;
	for (struct tracked *t = g->head.next; t != &g->head; t = t->next) {
		if (!t->waiting || t->dropped || now - t->since_ms < g->deadline_ms)
			continue;
		t->dropped = true;
		if (!shutdown(t->fd, SHUT_RDWR))
			n++;
	}
	return n;
}

static void *sweeper_main(void *arg)
{
	struct connguard *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		struct timespec until = clock_deadline(250);
		pthread_cond_timedwait(&g->wake, &g->lock, &until);
		unsigned n = g->stopping ? 0 : sweep_locked(g, clock_mono_ms());
		if (n) {
			atomic_fetch_add(&g->dropped, n);
			log_limited(&g->rl, L_WARN,
				    "api %s: closed %u connections that sent no complete request "
				    "within %llu s", g->name, n,
				    (unsigned long long)g->deadline_ms / 1000);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int connguard_new(unsigned deadline_s, const char *name, struct connguard **out)
{
	struct connguard *g = calloc(1, sizeof *g);
	int rc;
	if (!g)
		return -ENOMEM;
	g->head.next = g->head.prev = &g->head;
	g->deadline_ms = (uint64_t)deadline_s * 1000;
	g->name = name;
	g->rl.interval_ms = 10000;
	pthread_mutex_init(&g->lock, NULL);
	if ((rc = clock_cond_init(&g->wake)) ||
	    (rc = pthread_create(&g->sweeper, NULL, sweeper_main, g))) {
		pthread_mutex_destroy(&g->lock);
		free(g);
		return -rc;
	}
	*out = g;
	return 0;
}

void connguard_free(struct connguard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->sweeper, NULL);
	for (struct tracked *t = g->head.next, *next; t != &g->head; t = next) {
		next = t->next;
		free(t);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

uint64_t connguard_dropped(struct connguard *g)
{
	return g ? atomic_load(&g->dropped) : 0;
}

/* The API's and the web app's TCP listeners are bound the same way. */
int connguard_listen(const char *who, const char *hostport, int backlog, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hlen = (size_t)(colon - hostport);
	if (hlen >= sizeof host)
		return -EINVAL;
	memcpy(host, hostport, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
	int g = getaddrinfo(host, colon + 1, &hints, &ai);
	if (g) {
		snprintf(err, errlen, "%s: cannot resolve %s (%s)", who, hostport, gai_strerror(g));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, backlog)) {
		snprintf(err, errlen, "%s: cannot listen on %s (%s)", who, hostport, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -EADDRINUSE;
	}
	freeaddrinfo(ai);
	return fd;
}
