/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * connguard: a deadline for every request's headers on one HTTP listener.
 *
 * libmicrohttpd's own connection timeout is an idle timeout: every byte
 * resets it, so a client that trickles a header a byte at a time holds its
 * connection for ever, and 64 such clients (slowloris) used to lock everyone
 * else out. Here each connection has until `deadline_s` after it opened, or
 * after its previous request completed, to deliver a whole request header;
 * a sweeper thread shuts down (shutdown(2)) the sockets that miss it, and
 * libmicrohttpd then closes them as it would any dropped connection.
 *
 * Wiring: pass connguard_notify as MHD_OPTION_NOTIFY_CONNECTION with the
 * guard as its closure, call connguard_headers_in from the access handler's
 * first call of each request and connguard_request_done from its
 * MHD_OPTION_NOTIFY_COMPLETED. Thread-safe: libmicrohttpd's thread and the
 * sweeper share one mutex, held only to walk or edit the list.
 * Not for: per-IP limits (libmicrohttpd's MHD_OPTION_PER_IP_CONNECTION_LIMIT
 * does that) or request bodies (api.c caps them).
 */
#ifndef HERALD_CONNGUARD_H
#define HERALD_CONNGUARD_H

#include <microhttpd.h>
#include <stdint.h>

struct connguard;

/* A guard and its sweeper thread. 0 or -errno. */
int connguard_new(unsigned deadline_s, const char *name, struct connguard **out);
/* Stop the sweeper. Call after MHD_stop_daemon (every connection closed). */
void connguard_free(struct connguard *g);

void connguard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe);
void connguard_headers_in(struct MHD_Connection *c);
void connguard_request_done(struct MHD_Connection *c);

/* Connections shut down for missing the deadline, since start. */
uint64_t connguard_dropped(struct connguard *g);

/* A listening TCP socket (close-on-exec, SO_REUSEADDR) on "HOST:PORT" or
 * "[V6]:PORT", numeric port. The fd, or a negative errno with `err` naming
 * `who`. For the API's and the web app's listeners alike. */
int connguard_listen(const char *who, const char *hostport, int backlog, char *err,
		     size_t errlen);

#endif
