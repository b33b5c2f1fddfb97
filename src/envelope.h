/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * envelope: read a fedmsg envelope (the JSON object on the bus) into typed
 * fields, rejecting anything malformed with a reason that becomes a metric.
 *
 * The envelope is fedmsg's: topic, msg, msg_id, timestamp, i, username,
 * crypto, certificate, signature, plus herald's "signer" (the Ed25519 key
 * name) and the archive fields source_name/source_version. Field types are
 * checked here so later stages can trust them. Not for signatures (verify)
 * nor for understanding `msg` (schema).
 *
 * Thread-safe: no shared state.
 */
#ifndef HERALD_ENVELOPE_H
#define HERALD_ENVELOPE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct envelope {
	json_t *root;            /* owned; every pointer below borrows from it */
	const char *topic;       /* required, non-empty, no NUL, printable */
	size_t topic_len;
	json_t *msg;             /* required: the body, any JSON value */
	const char *msg_id;      /* NULL if absent */
	const char *username;    /* NULL if absent */
	const char *crypto;      /* NULL if absent: "x509", "ed25519", ... */
	const char *signature;   /* NULL if absent (base64 text) */
	const char *certificate; /* NULL if absent (base64 of PEM text) */
	const char *signer;      /* NULL if absent (Ed25519 key name) */
	double timestamp;        /* 0 if absent */
	int64_t i;               /* fedmsg sequence number, valid if has_i */
	bool has_i;
};

/* Why an envelope was refused; also indexes the rejection metrics. */
enum envelope_error {
	ENVELOPE_OK = 0,
	ENVELOPE_BAD_JSON,   /* not JSON, or not an object */
	ENVELOPE_BAD_FIELD,  /* a known field has the wrong type or value */
	ENVELOPE_NO_TOPIC,   /* topic missing or empty */
	ENVELOPE_NO_BODY,    /* msg missing */
};

/*
 * Parse `len` bytes into *env. On success returns ENVELOPE_OK and env->root
 * must later be released with envelope_release(). On failure nothing needs
 * releasing; `detail` (may be NULL) receives a short static reason.
 */
enum envelope_error envelope_parse(struct envelope *env, const char *data, size_t len,
				   const char **detail);

void envelope_release(struct envelope *env);

#endif
