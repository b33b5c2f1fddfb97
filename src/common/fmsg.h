/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fmsg: the fedora-messaging wire format, read into what heraldd's pipeline
 * needs. Pure: no sockets, no AMQP library; the consumer (src/daemon/amqp.c)
 * copies a delivery's routing key, properties and body off the connection
 * and hands them here. Not for connecting, acknowledging or understanding
 * the body (schema); not for fedmsg envelopes (envelope.c).
 *
 * What fedora-messaging sends (fedora_messaging/message.py): the routing
 * key is the topic (topic_prefix already joined to it by the publisher);
 * the body is JSON text in UTF-8 (content_type application/json,
 * content_encoding utf-8), an object for every schema; the message_id
 * property is a UUID; the headers table carries fedora_messaging_schema
 * (string), sent-at (ISO 8601, UTC), fedora_messaging_severity (10, 20, 30
 * or 40) and flag headers fedora_messaging_{user,rpm,container,module,
 * flatpak,group}_NAME = true. Missing headers, schema or severity are what
 * fedora-messaging itself tolerates, so they are tolerated here too; a
 * header that is present with the wrong type is not.
 *
 * Messages are not signed: trust comes from the broker (trust = broker).
 *
 * Thread-safety: no shared state.
 */
#ifndef HERALD_FMSG_H
#define HERALD_FMSG_H

#include <jansson.h>
#include <stddef.h>

#include "envelope.h"

/* One delivery, as copied off the connection. Everything is borrowed. */
struct fmsg_in {
	const char *routing_key;
	size_t routing_key_len;
	const char *message_id;       /* NULL when the property is absent */
	size_t message_id_len;
	const char *content_encoding; /* NUL-terminated; NULL when absent (utf-8 then) */
	const json_t *headers;        /* the headers table as a JSON object; NULL: none */
	const char *body;
	size_t body_len;
};

/* Why a delivery is refused (rejected without requeue); also indexes the
 * amqp_rejected metrics. */
enum fmsg_reason {
	FMSG_OK = 0,
	FMSG_NO_TOPIC,     /* empty routing key */
	FMSG_BAD_TOPIC,    /* not UTF-8, or a control character */
	FMSG_TOO_LARGE,    /* body over max_message_size */
	FMSG_BAD_ENCODING, /* content_encoding other than utf-8 */
	FMSG_NOT_UTF8,     /* body bytes are not UTF-8 */
	FMSG_BAD_JSON,     /* body is not JSON (or has duplicate keys, NaN...) */
	FMSG_NOT_OBJECT,   /* body is JSON but not an object */
	FMSG_BAD_ID,       /* message_id empty, not UTF-8, or with control characters */
	FMSG_BAD_HEADER,   /* a fedora_messaging header of the wrong type or value */
	FMSG_REASON_COUNT
};

/* "no_topic", "bad_json", ...: the metric label. */
const char *fmsg_reason_name(enum fmsg_reason r);

/*
 * Read one delivery into *env (ENVELOPE_INIT, or used before: its memory is
 * reused) with envelope_adopt(): topic = routing key, msg_id = message_id,
 * msg = the parsed body, timestamp = sent-at, or `now_s` when the header is
 * absent or unreadable. env borrows in->body, which must outlive it; the
 * headers are not kept (the caller has them). On a refusal env holds no
 * message and *detail (may be NULL) a short static reason.
 */
enum fmsg_reason fmsg_parse(const struct fmsg_in *in, size_t max_body, double now_s,
			    struct envelope *env, const char **detail);

/* "2024-05-01T12:00:00+00:00" (also Z, fractions, other offsets) as seconds
 * since the epoch. 0, or -EINVAL for anything else. */
int fmsg_parse_time(const char *s, double *out);

/* Is [p, p+n) well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF)? */
bool fmsg_utf8_valid(const char *p, size_t n);

#endif
