/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* api: the HTTP control API (see api.h). */
#include "api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

struct api {
	struct metrics *m;
	atomic_bool ready;
	struct MHD_Daemon *unix_d, *tcp_d;
	char *socket_path; /* owned; unlinked at stop */
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     struct buf *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		body->len, body->data ? body->data : (char *)"", MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct api *a = cls;
	struct buf body = BUF_INIT;
	unsigned status = MHD_HTTP_OK;
	const char *type = "application/json";
	if (!*state) { /* first call: headers only; answer on the next */
		*state = a;
		return MHD_YES;
	}
	if (*upload_size) { /* no resource takes a body yet */
		*upload_size = 0;
		return MHD_YES;
	}
	int rc = 0;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		status = MHD_HTTP_METHOD_NOT_ALLOWED;
		rc = buf_puts(&body, "{\"error\":\"method not allowed\"}\n");
	} else if (!strcmp(url, "/healthz")) {
		bool ok = atomic_load(&a->ready);
		status = ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
		type = "text/plain";
		rc = buf_puts(&body, ok ? "ok\n" : "starting\n");
	} else if (!strcmp(url, "/metrics")) {
		type = "text/plain; version=0.0.4";
		rc = metrics_render_prometheus(a->m, &body);
	} else if (!strcmp(url, "/v1/stats")) {
		rc = metrics_render_json(a->m, &body);
		rc |= buf_putc(&body, '\n');
	} else {
		status = MHD_HTTP_NOT_FOUND;
		rc = buf_puts(&body, "{\"error\":\"no such resource\"}\n");
	}
	enum MHD_Result ret = rc ? MHD_NO : reply(c, status, type, &body);
	buf_release(&body);
	return ret;
}

static int unix_listener(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "api: socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	unlink(path); /* a stale socket from a crash; the store lock keeps two daemons apart */
	mode_t old = umask(0077);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc || listen(fd, 64))
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "api: cannot listen on %s (%s)", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -errno;
}

static int tcp_listener(const char *hostport, char *err, size_t errlen)
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
		snprintf(err, errlen, "api: cannot resolve %s (%s)", hostport, gai_strerror(g));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		snprintf(err, errlen, "api: cannot listen on %s (%s)", hostport, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -EADDRINUSE;
	}
	freeaddrinfo(ai);
	return fd;
}

static struct MHD_Daemon *serve(struct api *a, int fd)
{
	return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				handle, a, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
}

int api_start(const char *socket_path, const char *tcp, struct metrics *m, struct api **out,
	      char *err, size_t errlen)
{
	struct api *a = calloc(1, sizeof *a);
	if (!a || !(a->socket_path = strdup(socket_path))) {
		free(a);
		return -ENOMEM;
	}
	a->m = m;
	int fd = unix_listener(socket_path, err, errlen);
	if (fd < 0)
		goto fail;
	if (!(a->unix_d = serve(a, fd))) {
		close(fd);
		snprintf(err, errlen, "api: cannot start the HTTP server on %s", socket_path);
		goto fail;
	}
	if (tcp) {
		if ((fd = tcp_listener(tcp, err, errlen)) < 0)
			goto fail;
		if (!(a->tcp_d = serve(a, fd))) {
			close(fd);
			snprintf(err, errlen, "api: cannot start the HTTP server on %s", tcp);
			goto fail;
		}
	}
	*out = a;
	return 0;
fail:
	api_stop(a);
	return -EIO;
}

void api_set_ready(struct api *a, bool ready)
{
	atomic_store(&a->ready, ready);
}

void api_stop(struct api *a)
{
	if (!a)
		return;
	if (a->unix_d)
		MHD_stop_daemon(a->unix_d);
	if (a->tcp_d)
		MHD_stop_daemon(a->tcp_d);
	if (a->socket_path)
		unlink(a->socket_path);
	free(a->socket_path);
	free(a);
}
