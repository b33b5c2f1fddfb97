/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_ack: the acknowledged transport of `herald publish --ack`. A DEALER
 * socket talks to herald-relay's acknowledged intake (doc/herald-relay.8):
 * each message goes out as [request id, topic, envelope] and counts as sent
 * only when the relay answers "ok", which it does once the message is
 * durable in its log. A window of requests is in flight at once; one that
 * gets no answer (a relay killed, a connection lost) or a "full"/"error"
 * answer is sent again, byte for byte (same msg_id, so the relay logs it
 * once), with backoff, until the timeout; "malformed" and "too_large" are
 * definitive. Not for building or signing envelopes (cli_publish.c).
 *
 * Ownership: the sender copies what it is given. Single-threaded, like the
 * rest of the tool.
 */
#ifndef HERALD_CLI_ACK_H
#define HERALD_CLI_ACK_H

#include "cli.h"

struct cli_ack;

/*
 * Connect a DEALER to `endpoint` in context `zctx`, with at most `window`
 * (>= 1) requests in flight and `timeout` seconds for each message to be
 * acknowledged (from its first send). 0 and *out, or -1 after reporting.
 */
int cli_ack_open(const struct cli *cli, void *zctx, const char *endpoint, unsigned long window,
		 double timeout, struct cli_ack **out);

/*
 * Send one message, waiting (and handling answers) while the window is
 * full. `msg_id` is the envelope's, for messages. 0 when it was sent, or -1
 * (and it was not) once an earlier message was refused for good or given up
 * (reported on stderr): send no more.
 */
int cli_ack_send(struct cli_ack *a, const char *topic, const char *text, const char *msg_id);

/* Wait until every message in flight is answered or given up. 0 if every
 * message sent so far was acknowledged, else -1 (reported). */
int cli_ack_finish(struct cli_ack *a);

/* Messages acknowledged so far, and how many retries were sent. */
unsigned long cli_ack_acked(const struct cli_ack *a);
unsigned long cli_ack_retries(const struct cli_ack *a);

/* Close the socket (without lingering: what is unanswered is reported by
 * cli_ack_finish) and free. NULL is a no-op. */
void cli_ack_free(struct cli_ack *a);

#endif
