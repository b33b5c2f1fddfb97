/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * destcode: destination verification codes (dispatch.h): make one, keep
 * only its hash in memory, send it through the destination's sink at once,
 * and check what the owner types back.
 * Not for: the outbox (a code is never queued) or the "verified" flag itself
 * (directory.c).
 */
#include "dispatch_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "src/common/clock.h"
#include "src/common/config.h"

#define CODE_LEN 8
#define CODE_TTL_MS (24 * 3600 * 1000ULL)
#define CODE_TRIES 5
/* How long sending a code waits for the sink's worker to finish a batch. */
#define CODE_WAIT_MS 30000

struct code {
	struct code *next;
	char user[65];
	uint64_t dest;
	unsigned char hash[32]; /* SHA-256 of the code: the code itself is not kept */
	uint64_t expires;       /* wall ms */
	int tries;
};

static void code_hash(const char *code, unsigned char out[32])
{
	unsigned int n = 0;
	EVP_Digest(code, strlen(code), out, &n, EVP_sha256(), NULL);
}

/* The pending code of (user, dest), or where to link a new one (d->lock). */
static struct code **code_slot_locked(struct dispatch *d, const char *user, uint64_t dest)
{
	struct code **p = &d->codes;
	while (*p && !((*p)->dest == dest && !strcmp((*p)->user, user)))
		p = &(*p)->next;
	return p;
}

static void code_drop_locked(struct code **slot)
{
	struct code *c = *slot;
	*slot = c->next;
	OPENSSL_cleanse(c->hash, sizeof c->hash);
	free(c);
}

bool dispatch_needs_code(struct dispatch *d, const char *sink)
{
	int ix = d ? dispatch_instance_find(d, sink) : -1;
	return ix >= 0 && d->inst[ix].cfg->verify;
}

/* The instance to ourselves: calls into one sink instance are serialised
 * (the ABI promises it), so wait until its worker is idle and keep the
 * scheduler from handing it a batch meanwhile (busy). 0, or -ETIMEDOUT
 * when it stays busy for a whole delivery timeout. */
static int claim_instance(struct dispatch *d, struct instance *in)
{
	struct timespec until = clock_deadline(CODE_WAIT_MS);
	int rc = 0;
	pthread_mutex_lock(&d->lock);
	while (in->busy && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&in->idle, &d->lock, &until);
	if (!in->busy) {
		in->busy = true;
		rc = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return rc ? -ETIMEDOUT : 0;
}

static void release_instance(struct dispatch *d, struct instance *in)
{
	pthread_mutex_lock(&d->lock);
	in->busy = false;
	d->woken = true;
	pthread_cond_signal(&d->cond);
	pthread_cond_broadcast(&in->idle);
	pthread_mutex_unlock(&d->lock);
}

/* The confirmation itself: one item, delivered through the sink now. Its
 * JSON carries the text too: sinks that write the JSON (file, exec, the
 * webhook's generic body) must show the code. */
static int deliver_code(struct instance *in, const char *user, uint64_t dest,
			const char *address, const char *code, char *err, size_t errlen)
{
	char id[OUTBOX_HEX_LEN + 1], text[512];
	unsigned char raw[OUTBOX_ID_LEN];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return snprintf(err, errlen, "no randomness"), -EIO;
	outbox_hex(raw, id);
	snprintf(text, sizeof text,
		 "Your herald confirmation code is %s.\n"
		 "Confirm this destination with: herald dest verify %s %" PRIu64 " %s\n"
		 "It expires in 24 hours. If you did not ask for it, ignore this message.\n",
		 code, user, dest, code);
	json_t *doc = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "id", id, "user", user,
				"destination", (json_int_t)dest, "topic",
				"herald.destination.verify", "title",
				"Confirm this herald destination", "summary", text);
	char *json = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!json)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	struct herald_notification n = {
		.size = sizeof n, .id = id, .user = user, .destination = dest, .address = address,
		.topic = "herald.destination.verify", .title = "Confirm this herald destination",
		.summary = text, .link = "", .agent = "", .severity = "notice", .msg_id = "",
		.json = json, .text = text, .markdown = text, .attempt = 1};
	const struct herald_notification *np = &n;
	struct herald_sink_item it = {
		.size = sizeof it, .user = user, .destination = dest, .address = address,
		.notes = &np, .n_notes = 1, .id = id, .subject = "Confirm this herald destination",
		.text = text, .markdown = text};
	struct herald_sink_result r;
	int rc = claim_instance(in->d, in);
	if (rc) {
		snprintf(err, errlen, "the sink is busy; try again with --resend");
	} else {
		dispatch_sink_called(in, sink_deliver(in->sink, &it, 1, &r), r.reason);
		release_instance(in->d, in);
		if (r.outcome != HERALD_SINK_DELIVERED) {
			snprintf(err, errlen, "the sink could not send the code: %s", r.reason);
			rc = -EIO;
		}
	}
	OPENSSL_cleanse(json, strlen(json));
	free(json);
	return rc;
}

int dispatch_send_code(struct dispatch *d, const char *sink, const char *user, uint64_t dest,
		       const char *address, char *err, size_t errlen)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; /* 32: no 0/O, 1/I */
	unsigned char raw[CODE_LEN];
	char code[CODE_LEN + 1];
	int ix = dispatch_instance_find(d, sink);
	if (ix < 0 || !d->inst[ix].sink)
		return snprintf(err, errlen, "no sink '%s' is running", sink), -ENOENT;
	if (RAND_bytes(raw, sizeof raw) != 1)
		return snprintf(err, errlen, "no randomness"), -EIO;
	for (int i = 0; i < CODE_LEN; i++)
		code[i] = alphabet[raw[i] & 31];
	code[CODE_LEN] = '\0';
	struct code *c = calloc(1, sizeof *c);
	if (!c)
		return snprintf(err, errlen, "out of memory"), -ENOMEM;
	snprintf(c->user, sizeof c->user, "%s", user);
	c->dest = dest;
	c->expires = clock_wall_ms() + CODE_TTL_MS;
	code_hash(code, c->hash);
	pthread_mutex_lock(&d->lock);
	struct code **slot = code_slot_locked(d, user, dest);
	if (*slot)
		code_drop_locked(slot); /* a new code voids the old one */
	c->next = d->codes;
	d->codes = c;
	pthread_mutex_unlock(&d->lock);
	int rc = deliver_code(&d->inst[ix], user, dest, address, code, err, errlen);
	OPENSSL_cleanse(code, sizeof code);
	return rc;
}

int dispatch_check_code(struct dispatch *d, const char *user, uint64_t dest, const char *code)
{
	unsigned char h[32];
	int rc;
	code_hash(code ? code : "", h);
	pthread_mutex_lock(&d->lock);
	struct code **slot = code_slot_locked(d, user, dest);
	if (!*slot || (*slot)->expires < clock_wall_ms()) {
		if (*slot)
			code_drop_locked(slot);
		rc = -ENOENT;
	} else if ((*slot)->tries >= CODE_TRIES) {
		rc = -EBUSY;
	} else if (CRYPTO_memcmp(h, (*slot)->hash, sizeof h)) {
		rc = ++(*slot)->tries >= CODE_TRIES ? -EBUSY : -EACCES;
	} else {
		code_drop_locked(slot);
		rc = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void destcode_release(struct dispatch *d)
{
	pthread_mutex_lock(&d->lock);
	while (d->codes)
		code_drop_locked(&d->codes);
	pthread_mutex_unlock(&d->lock);
}
