/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sse_clients: many EventSource clients in one process, for bench/dashboard.
 * Opens N connections to GET /events on 127.0.0.1:PORT (HTTP/1.0, so the
 * stream is not chunked), reads them all with one epoll loop and checks
 * each client's message ids: consecutive from its first (no gap), and
 * reaching the target seq that the bench writes into TARGET_FILE once it
 * has published. Prints "connected N" once every stream has its 200, then
 * a JSON summary once every client has the target (or after a timeout):
 *   {"clients", "complete", "gaps", "closed", "min_first", "max_last"}
 * Not a test of the dashboard's formats (test_dashboard does that).
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CARRY 32 /* an id line is shorter: "id: " and 20 digits */

struct client {
	int fd;
	int head_done; /* the response header was read (and was a 200) */
	int closed;
	uint64_t first, last, gaps;
	int cut;       /* the last read ended inside a line */
	size_t carry_len; /* CARRY: that line is no id line, nothing kept */
	char carry[CARRY]; /* its start, only while it may be an id line */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int connect_one(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	static const char req[] = "GET /events HTTP/1.0\r\nHost: 127.0.0.1\r\n"
				  "Accept: text/event-stream\r\n\r\n";
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) ||
	    write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
		perror("sse_clients: connect");
		exit(1);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* One complete line of the stream. */
static void line(struct client *c, const char *p, size_t n)
{
	if (n < 5 || memcmp(p, "id: ", 4))
		return;
	uint64_t id = strtoull(p + 4, NULL, 10);
	if (!c->first)
		c->first = id;
	else if (id != c->last + 1)
		c->gaps++;
	c->last = id;
}

static void consume(struct client *c, const char *buf, size_t n)
{
	size_t i = 0;
	if (!c->head_done) {
		/* the header is small and comes first, in one read in practice */
		const char *end = memmem(buf, n, "\r\n\r\n", 4);
		if (!end || n < 12 || memcmp(buf + 9, "200", 3)) {
			fprintf(stderr, "sse_clients: unexpected answer: %.*s\n", (int)(n > 200 ? 200 : n), buf);
			exit(1);
		}
		c->head_done = 1;
		i = (size_t)(end - buf) + 4;
	}
	/* Lines are checked in place, as a browser's parser would scan them;
	 * only the start of a line cut by a read is copied, and only while it
	 * may be an id line (data lines are never copied). */
	while (i < n) {
		const char *p = buf + i, *nl = memchr(p, '\n', n - i);
		size_t len = nl ? (size_t)(nl - p) : n - i;
		if (c->cut) {
			if (c->carry_len + len < CARRY) {
				memcpy(c->carry + c->carry_len, p, len);
				c->carry_len += len;
			} else {
				c->carry_len = CARRY;
			}
			if (nl && c->carry_len < CARRY)
				line(c, c->carry, c->carry_len);
		} else if (nl) {
			line(c, p, len);
		} else if (len < CARRY && !memcmp(p, "id: ", len < 4 ? len : 4)) {
			memcpy(c->carry, p, len);
			c->carry_len = len;
		} else {
			c->carry_len = CARRY;
		}
		c->cut = !nl;
		if (!nl)
			break;
		c->carry_len = 0;
		i = (size_t)(nl - buf) + 1;
	}
}

static uint64_t read_target(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long long t = 0;
	if (f) {
		if (fscanf(f, "%llu", &t) != 1)
			t = 0;
		fclose(f);
	}
	return t;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sse_clients PORT N TARGET_FILE\n");
		return 2;
	}
	unsigned port = (unsigned)atoi(argv[1]);
	size_t n = (size_t)atol(argv[2]), heads = 0, done = 0;
	struct client *cl = calloc(n, sizeof *cl);
	int ep = epoll_create1(0);
	static char buf[1 << 16];
	uint64_t target = 0, target_at = 0, next_check = 0;
	for (size_t i = 0; i < n; i++) {
		cl[i].fd = connect_one(port);
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cl[i]};
		epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
	}
	for (;;) {
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, 100);
		for (int e = 0; e < k; e++) {
			struct client *c = evs[e].data.ptr;
			ssize_t r;
			/* Level-triggered: a short read drained the socket, so no
			 * second read just to be told EAGAIN. */
			do {
				if ((r = read(c->fd, buf, sizeof buf)) <= 0)
					break;
				int had = c->head_done;
				consume(c, buf, (size_t)r);
				if (!had && c->head_done && ++heads == n) {
					printf("connected %zu\n", n);
					fflush(stdout);
				}
			} while ((size_t)r == sizeof buf);
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				c->closed = 1;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
			}
		}
		uint64_t now = now_ms();
		if (now < next_check)
			continue;
		next_check = now + 100;
		if (!target && (target = read_target(argv[3])))
			target_at = now;
		if (!target)
			continue;
		done = 0;
		for (size_t i = 0; i < n; i++)
			done += cl[i].last >= target || cl[i].closed;
		if (done == n || now - target_at > 120000)
			break;
	}
	uint64_t gaps = 0, closed = 0, min_first = UINT64_MAX, max_last = 0, complete = 0;
	for (size_t i = 0; i < n; i++) {
		gaps += cl[i].gaps;
		closed += (uint64_t)cl[i].closed;
		complete += cl[i].last >= target && !cl[i].gaps;
		if (cl[i].first < min_first)
			min_first = cl[i].first;
		if (cl[i].last > max_last)
			max_last = cl[i].last;
	}
	printf("{\"clients\": %zu, \"complete\": %llu, \"gaps\": %llu, \"closed\": %llu, "
	       "\"min_first\": %llu, \"max_last\": %llu, \"target\": %llu}\n",
	       n, (unsigned long long)complete, (unsigned long long)gaps,
	       (unsigned long long)closed, (unsigned long long)min_first,
	       (unsigned long long)max_last, (unsigned long long)target);
	return 0;
}
