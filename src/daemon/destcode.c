/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * destcode: destination verification codes (dispatch.h): make one, keep
 * only its hash in the store (STORE_CODES, with its expiry and the wrong
 * tries so far, so that a restart voids nothing and resets no count), send
 * it through the destination's sink at once, and check what the owner
 * types back.
 * Not for: the outbox (a code is never queued) or the "verified" flag itself
 * (directory.c, which also drops a code with its destination or user).
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

#include "directory_int.h"
#include "src/common/clock.h"
#include "src/common/config.h"
#include "src/common/hex.h"
#include "store.h"

#define CODE_LEN 8
#define CODE_TTL_MS (24 * 3600 * 1000ULL)
#define CODE_TRIES 5
/* How long sending a code waits for the sink's worker to finish a batch. */
#define CODE_WAIT_MS 30000
#define HASH_LEN 32

/* A pending code as stored: {"hash": HEX of SHA-256(code), "expires": wall
 * ms, "tries": wrong codes so far}, keyed "user\0" + u64 BE destination. */
static int code_hash(const char *code, unsigned char out[HASH_LEN])
{
	unsigned int n = 0;
	if (EVP_Digest(code, strlen(code), out, &n, EVP_sha256(), NULL) != 1 || n != HASH_LEN)
		return -EIO;
	return 0;
}

static json_t *code_doc(const unsigned char hash[HASH_LEN], uint64_t expires, int tries)
{
	static const char digits[] = "0123456789abcdef";
	char hex[2 * HASH_LEN + 1];
	for (int i = 0; i < HASH_LEN; i++) {
		hex[2 * i] = digits[hash[i] >> 4];
		hex[2 * i + 1] = digits[hash[i] & 15];
	}
	hex[2 * HASH_LEN] = '\0';
	return json_pack("{s:s, s:I, s:i}", "hash", hex, "expires", (json_int_t)expires, "tries",
			 tries);
}

/* Replace the pending code of (user, dest): a new code voids the old one. */
static int code_store(struct store *s, const char *user, uint64_t dest,
		      const unsigned char hash[HASH_LEN], uint64_t expires)
{
	struct store_txn *t;
	struct rec_key k;
	json_t *doc = code_doc(hash, expires, 0);
	int rc = doc ? store_begin(s, &t) : -ENOMEM;
	if (rc) {
		json_decref(doc);
		return rc;
	}
	directory_rec_key(&k, user, dest);
	rc = directory_doc_save(t, STORE_CODES, k.b, k.len, doc);
	if (rc)
		store_abort(t);
	else
		rc = store_commit(t);
	json_decref(doc);
	return rc;
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
	unsigned char hash[HASH_LEN];
	int rc = code_hash(code, hash);
	if (!rc && (rc = code_store(d->store, user, dest, hash, clock_wall_ms() + CODE_TTL_MS)))
		snprintf(err, errlen, "cannot keep the code (%s)", store_strerror(rc));
	else if (!rc)
		rc = deliver_code(&d->inst[ix], user, dest, address, code, err, errlen);
	OPENSSL_cleanse(code, sizeof code);
	OPENSSL_cleanse(hash, sizeof hash);
	return rc;
}

/* Weigh `h` against the stored code `doc` (changed in place: a wrong try
 * counts). What dispatch_check_code returns; *drop: delete the record. */
static int weigh(json_t *doc, const unsigned char h[HASH_LEN], uint64_t now, bool *drop)
{
	unsigned char want[HASH_LEN];
	const char *hex = json_string_value(json_object_get(doc, "hash"));
	json_int_t expires = json_integer_value(json_object_get(doc, "expires"));
	json_int_t tries = json_integer_value(json_object_get(doc, "tries"));
	*drop = false;
	if (!hex || strlen(hex) != 2 * HASH_LEN || hex_decode(hex, HASH_LEN, want) ||
	    expires < 0 || (uint64_t)expires < now) {
		*drop = true; /* expired (or unreadable): as if none were pending */
		return -ENOENT;
	}
	if (tries >= CODE_TRIES)
		return -EBUSY;
	if (CRYPTO_memcmp(h, want, HASH_LEN)) {
		tries++;
		if (json_object_set_new(doc, "tries", json_integer(tries)))
			return -ENOMEM;
		return tries >= CODE_TRIES ? -EBUSY : -EACCES;
	}
	*drop = true; /* spent */
	return 0;
}

int dispatch_check_code(struct dispatch *d, const char *user, uint64_t dest, const char *code)
{
	unsigned char h[HASH_LEN];
	struct store_txn *t;
	struct rec_key k;
	json_t *doc = NULL;
	bool drop = false;
	int rc = code_hash(code ? code : "", h), w = 0;
	if (rc || (rc = store_begin(d->store, &t)))
		return rc;
	directory_rec_key(&k, user, dest);
	if (!(rc = directory_doc_load(t, STORE_CODES, k.b, k.len, &doc))) {
		w = weigh(doc, h, clock_wall_ms(), &drop);
		if (drop)
			rc = store_doc_del(t, STORE_CODES, k.b, k.len);
		else if (w == -EACCES || w == -EBUSY)
			rc = directory_doc_save(t, STORE_CODES, k.b, k.len, doc);
		else
			rc = w;
	}
	/* A wrong try must be counted, or it would not count: commit it. */
	if (rc)
		store_abort(t);
	else
		rc = store_commit(t);
	json_decref(doc);
	return rc ? rc : w;
}
