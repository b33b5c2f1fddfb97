/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_dashboard: the /events stream (src/web/dashboard.h) on a
 * libmicrohttpd daemon of the test's own, configured as the web listener
 * is (epoll thread, suspend/resume), read by python EventSource clients
 * (sse_client.py): a normal client gets every message in order, formatted
 * as JSON (a title with <script> is just a string); Last-Event-ID resumes
 * from the ring; rate events and keepalives come; a client that never
 * reads is dropped and its stream ends, and one resuming from before the
 * ring starts at its oldest; shutting down ends waiting streams so the
 * daemon stops. Timing: only bounded waits for things to happen.
 */
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "src/common/clock.h"
#include "src/web/dashboard.h"
#include "src/web/recent.h"
#include "tests/unit/tap.h"

#define SCRIPT_TITLE "<script>alert(\"x\")</script>\n<img src=x onerror=alert(1)>"

struct server {
	struct recent *r;
	struct dashboard *d;
	struct MHD_Daemon *mhd;
	unsigned port;
	uint64_t added;
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **ctx)
{
	struct server *s = cls;
	if (!strcmp(url, "/events") && !strcmp(method, "GET"))
		return dashboard_serve(s->d, c);
	struct MHD_Response *res = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc = MHD_queue_response(c, 404, res);
	MHD_destroy_response(res);
	return rc;
}

static int server_start(struct server *s, const struct dashboard_limits *lim)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (recent_new(5000, &s->r) || dashboard_new_limits(s->r, lim, &s->d))
		return -1;
	s->mhd = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME, 0, NULL,
				  NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				  MHD_OPTION_CONNECTION_LIMIT, 2048u, MHD_OPTION_END);
	if (!s->mhd)
		return -1;
	s->port = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
	return 0;
}

static void server_stop(struct server *s)
{
	dashboard_shutdown(s->d);
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	dashboard_free(s->d);
	recent_free(s->r);
}

/* Message n: app bodhi for even n, koji for odd; every 7th has a hostile title. */
static void add(struct server *s, size_t title_len)
{
	char id[32], *title = malloc(title_len + 64);
	uint64_t n = ++s->added;
	snprintf(id, sizeof id, "msg-%llu", (unsigned long long)n);
	if (n % 7 == 0)
		snprintf(title, title_len + 64, "%s", SCRIPT_TITLE);
	else
		snprintf(title, title_len + 64, "title %llu %0*d", (unsigned long long)n,
			 (int)title_len, 0);
	struct meta m = {.app = strdup(n % 2 ? "koji" : "bodhi"), .title = title,
			 .link = strdup("https://example.org/x")};
	struct recent_in in = {"org.test.dash", id, NULL, &m, (int64_t)clock_wall_ms()};
	recent_add(s->r, &in);
}

/* Wait until `served` streams were opened, `clients` are connected (at
 * least, or exactly) and at least `dropped` were dropped. (A client that went away while its stream
 * waited still counts as connected until its next keepalive: libmicrohttpd
 * does not watch suspended connections.) */
static bool wait_stats(struct server *s, uint64_t served, size_t clients, bool exact,
		       uint64_t dropped, int seconds)
{
	struct dashboard_stats st;
	for (int i = 0; i < seconds * 100; i++) {
		dashboard_get_stats(s->d, &st);
		if (st.served >= served && (exact ? st.clients == clients : st.clients >= clients) &&
		    st.dropped >= dropped)
			return true;
		usleep(10000);
	}
	diag("stats: %zu clients, %llu dropped, %llu served", st.clients,
	     (unsigned long long)st.dropped, (unsigned long long)st.served);
	return false;
}

/* Wait until the dashboard's thread has formatted event `seq`: adds reach
 * its ring asynchronously, and a loaded machine can leave it behind. */
static bool wait_seq(struct server *s, uint64_t seq, int seconds)
{
	struct dashboard_stats st;
	for (int i = 0; i < seconds * 100; i++) {
		dashboard_get_stats(s->d, &st);
		if (st.last_seq >= seq)
			return true;
		usleep(10000);
	}
	diag("last event formatted: %llu", (unsigned long long)st.last_seq);
	return false;
}

static FILE *client(const char *dir, const struct server *s, const char *args)
{
	char cmd[1024];
	const char *py = getenv("PYTHON3") ? getenv("PYTHON3") : "/usr/bin/python3";
	snprintf(cmd, sizeof cmd, "%s %s/tests/unit/web/sse_client.py read %u %s", py, dir, s->port,
		 args);
	return popen(cmd, "r");
}

struct got {
	json_t *head;       /* response headers, as lines */
	json_t *msgs;       /* the message events' {"id", "data"} */
	size_t rates, keepalives;
	json_t *rate;       /* the last rate event's data */
};

static void got_init(struct got *g)
{
	*g = (struct got){.msgs = json_array()};
}

/* Read the client's lines until it ends, or until it has `stop_at` messages
 * (0: to the end, and close it). */
static void read_some(FILE *f, struct got *g, size_t stop_at)
{
	char *line = NULL;
	size_t cap = 0;
	while (f && (!stop_at || json_array_size(g->msgs) < stop_at) &&
	       getline(&line, &cap, f) > 0) {
		json_t *o = json_loads(line, 0, NULL);
		const char *ev = json_string_value(json_object_get(o, "event"));
		if (json_object_get(o, "head"))
			g->head = json_incref(json_object_get(o, "head"));
		else if (ev && !strcmp(ev, "message"))
			json_array_append(g->msgs, o);
		else if (ev && !strcmp(ev, "rate")) {
			g->rates++;
			json_decref(g->rate);
			g->rate = json_loads(json_string_value(json_object_get(o, "data")), 0, NULL);
		} else if (json_object_get(o, "comment"))
			g->keepalives++;
		json_decref(o);
	}
	free(line);
	if (f && !stop_at)
		pclose(f);
}

static void read_client(FILE *f, struct got *g)
{
	got_init(g);
	read_some(f, g, 0);
}

static void got_release(struct got *g)
{
	diag("the client got %zu messages, %zu rates, %zu keepalives", json_array_size(g->msgs),
	     g->rates, g->keepalives);
	json_decref(g->head);
	json_decref(g->msgs);
	json_decref(g->rate);
}

static bool has_header(const struct got *g, const char *want)
{
	json_t *h;
	size_t i;
	json_array_foreach(g->head, i, h) {
		if (!strcasecmp(json_string_value(h), want))
			return true;
	}
	return false;
}

/* The ids run from `first` one by one, and each data is the message's. */
static bool in_order(const struct got *g, uint64_t first, size_t n, size_t *bad_at)
{
	json_t *ev;
	size_t i;
	if (json_array_size(g->msgs) != n)
		return false;
	json_array_foreach(g->msgs, i, ev) {
		uint64_t seq = strtoull(json_string_value(json_object_get(ev, "id")) ?: "0", NULL, 10);
		json_t *d = json_loads(json_string_value(json_object_get(ev, "data")) ?: "", 0, NULL);
		char id[32];
		snprintf(id, sizeof id, "msg-%llu", (unsigned long long)seq);
		const char *title = json_string_value(json_object_get(d, "title"));
		bool good = seq == first + i && d &&
			    !strcmp(json_string_value(json_object_get(d, "id")) ?: "", id) &&
			    !strcmp(json_string_value(json_object_get(d, "topic")) ?: "", "org.test.dash") &&
			    json_is_integer(json_object_get(d, "time")) && title &&
			    (seq % 7 ? !strncmp(title, "title ", 6) : !strcmp(title, SCRIPT_TITLE)) &&
			    !strcmp(json_string_value(json_object_get(d, "app")) ?: "",
				    seq % 2 ? "koji" : "bodhi");
		json_decref(d);
		if (!good) {
			*bad_at = i;
			return false;
		}
	}
	return true;
}

static void normal_clients(const char *dir)
{
	struct dashboard_limits lim = DASHBOARD_LIMITS_DEFAULT;
	struct server s = {0};
	struct got g;
	size_t bad = 0;
	lim.keepalive_ms = 300;
	lim.rate_ms = 200;
	lim.backfill = 5;
	if (!ok(server_start(&s, &lim) == 0, "a daemon with the dashboard on port %u", s.port))
		return;
	for (int i = 0; i < 10; i++)
		add(&s, 8);
	/* The backfill is the last 5 the dashboard's thread has seen when the
	 * client connects: on a loaded machine it may not have seen all 10. */
	ok(wait_seq(&s, 10, 30), "the dashboard's thread has the first 10 messages");
	FILE *f = client(dir, &s, "--count 505");
	ok(wait_stats(&s, 1, 1, false, 0, 30), "the client is connected");
	for (int i = 0; i < 500; i++)
		add(&s, 8);
	read_client(f, &g);
	ok(in_order(&g, 6, 505, &bad),
	   "a normal client gets the last 5 (backfill) then all 500 new messages, in order, each "
	   "with its JSON data (%zu events, first bad at %zu)", json_array_size(g.msgs), bad);
	ok(has_header(&g, "Content-Type: text/event-stream; charset=utf-8") &&
		   has_header(&g, "Cache-Control: no-cache") &&
		   has_header(&g, "X-Content-Type-Options: nosniff"),
	   "served as text/event-stream, not cached, nosniff");
	got_release(&g);

	read_client(client(dir, &s, "--count 110 --last-id 400"), &g);
	ok(in_order(&g, 401, 110, &bad), "Last-Event-ID 400 resumes at 401 (%zu events)",
	   json_array_size(g.msgs));
	got_release(&g);

	read_client(client(dir, &s, "--need-rate --need-keepalive"), &g);
	json_t *per = json_object_get(g.rate, "per_min");
	double bodhi = json_number_value(json_object_get(per, "bodhi"));
	double koji = json_number_value(json_object_get(per, "koji"));
	ok(g.rates >= 1 && g.keepalives >= 1, "an idle stream gets rate events and keepalives");
	ok(json_integer_value(json_object_get(g.rate, "window_s")) == 300 && bodhi == 255 / 5.0 &&
		   koji == 255 / 5.0 && json_number_value(json_object_get(g.rate, "total_per_min")) == 102,
	   "the rate: messages per minute per app over five minutes (bodhi %.1f, koji %.1f)", bodhi,
	   koji);
	got_release(&g);

	/* an idle (suspended) client when the dashboard shuts down */
	f = client(dir, &s, "--count 1000");
	got_init(&g);
	read_some(f, &g, 5);
	usleep(100000); /* not needed for the outcome: most likely waiting by now */
	dashboard_shutdown(s.d);
	read_some(f, &g, 0);
	ok(json_array_size(g.msgs) == 5, "shutdown ends a waiting stream (it had its 5)");
	got_release(&g);
	server_stop(&s);
	ok(1, "the daemon stops after the dashboard's shutdown");
}

static void slow_client(const char *dir)
{
	struct dashboard_limits lim = DASHBOARD_LIMITS_DEFAULT;
	struct server s = {0};
	struct got g;
	char cmd[1024], out[256] = "", path[512];
	size_t bad = 0;
	lim.events = 64;
	lim.sndbuf = 4096;
	lim.backfill = 0;
	if (!ok(server_start(&s, &lim) == 0, "a daemon with a small ring (64 events)"))
		return;
	snprintf(path, sizeof path, "/tmp/herald-test-dashboard-%d", (int)getpid());
	snprintf(cmd, sizeof cmd, "%s %s/tests/unit/web/sse_client.py slow %u > %s",
		 getenv("PYTHON3") ? getenv("PYTHON3") : "/usr/bin/python3", dir, s.port, path);
	FILE *slow = popen(cmd, "w");
	ok(wait_stats(&s, 1, 1, false, 0, 30), "a client that never reads is connected");
	for (int i = 0; i < 3000; i++)
		add(&s, 1000);
	ok(wait_stats(&s, 1, 0, true, 1, 60),
	   "it falls behind the ring, is dropped and its connection closed");
	pclose(slow);
	FILE *f = fopen(path, "r");
	while (f && fgets(out, sizeof out, f) && !strncmp(out, "connected", 9))
		; /* the last line is the outcome */
	if (f)
		fclose(f);
	unlink(path);
	out[strcspn(out, "\n")] = '\0';
	ok(!strncmp(out, "eof ", 4) && atoi(out + 4) < 3000,
	   "the slow client sees its stream end, short of the 3000 messages (%s)", out);

	ok(wait_seq(&s, 3000, 60), "the dashboard has all 3000 in its ring");
	read_client(client(dir, &s, "--count 3 --last-id 5"), &g);
	ok(in_order(&g, 3000 - 64 + 1, 3, &bad),
	   "Last-Event-ID from before the ring: from the oldest it holds (%s)",
	   json_string_value(json_object_get(json_array_get(g.msgs, 0), "id")));
	got_release(&g);
	f = client(dir, &s, "--count 50");
	ok(wait_stats(&s, 3, 1, false, 1, 30), "a new client is served after the drop");
	for (int i = 0; i < 50; i++)
		add(&s, 8);
	read_client(f, &g);
	ok(in_order(&g, 3001, 50, &bad), "and gets every new message in order");
	got_release(&g);
	server_stop(&s);
}

int main(void)
{
	const char *top = getenv("top_srcdir") ? getenv("top_srcdir") : ".";
	normal_clients(top);
	slow_client(top);
	return tap_done();
}
