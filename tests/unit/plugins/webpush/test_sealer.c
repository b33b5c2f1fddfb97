/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_sealer: the webpush sink's sealing thread (plugins/webpush/sealer.c).
 * Batches sealed by the caller and the helper together: every message
 * sealed once, in the aes128gcm layout, each with its own salt and its own
 * sender key (RFC 8291 3.1: a new key pair per message), padded to 128;
 * jobs without an item left alone; a batch abandoned half-way (finish
 * before every take) and a job taken without being submitted (the 413
 * path); the helper stopped while idle. Run under ThreadSanitizer in CI.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "sealer.h"
#include "tap.h"

#define N 300

static struct herald_notification note = {.size = sizeof note,
					  .id = "0123456789abcdef0123456789abcdef",
					  .title = "kernel-6.12.4-200.fc41 pushed to stable",
					  .summary = "3 bugs fixed",
					  .link = "https://bodhi.fedoraproject.org/updates/X"};
static const struct herald_notification *notes[] = {&note};
static struct herald_sink_item item = {.size = sizeof item,
				       .notes = notes,
				       .n_notes = 1,
				       .id = "0123456789abcdef0123456789abcdef"};

static int browser_key(unsigned char pub[ECE_PUBLIC_LEN])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	size_t n = 0;
	int ok = k && EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", pub, ECE_PUBLIC_LEN, &n) &&
		 n == ECE_PUBLIC_LEN;

	EVP_PKEY_free(k);
	return ok ? 0 : -1;
}

static void fill(struct seal_job *j, const unsigned char *pub, const unsigned char *auth, size_t budget)
{
	*j = (struct seal_job){.it = &item, .p256dh = pub, .auth = auth, .budget = budget};
}

static int cmp_keyid(const void *a, const void *b)
{
	const struct seal_job *x = a, *y = b;

	return memcmp(x->body + 21, y->body + 21, ECE_PUBLIC_LEN);
}

int main(void)
{
	struct notice_opts o = {.app = "herald"};
	unsigned char pub[ECE_PUBLIC_LEN], auth[ECE_AUTH_LEN] = "0123456789abcdef";
	struct seal_job *jobs = calloc(N, sizeof *jobs);
	struct sealer *s = NULL;
	char err[200];
	size_t bad = 0, layout = 0;

	if (!jobs || browser_key(pub) || sealer_start(&o, &s, err, sizeof err)) {
		printf("Bail out! setup: %s\n", s ? "" : err);
		return 1;
	}
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; i < N; i++)
			fill(&jobs[i], pub, auth, 3993);
		jobs[7].it = NULL; /* an item that will not be sent */
		sealer_submit(s, jobs, N);
		for (size_t i = 0; i < N; i++)
			if (i != 7 && sealer_take(s, &jobs[i]))
				bad++;
		sealer_finish(s);
		for (size_t i = 0; i < N; i++) {
			const unsigned char *b = jobs[i].body;
			if (i == 7)
				continue;
			/* salt 16 | rs 4 = 4096 | idlen 65 | keyid; then a multiple of 128 + 17 */
			if (b && b[16] == 0 && b[17] == 0 && b[18] == 0x10 && b[19] == 0 && b[20] == 65 &&
			    b[21] == 0x04 && (jobs[i].body_len - ECE_OVERHEAD) % 128 == 0)
				layout++;
		}
		ok(!bad && layout == (size_t)(N - 1) * (round + 1),
		   "round %d: %d messages sealed by two threads, each in the aes128gcm layout (%zu bad)",
		   round + 1, N - 1, bad);
		ok(!jobs[7].body, "round %d: the job without an item was left alone", round + 1);
		/* every message its own sender key: sort by keyid, no two equal */
		jobs[7] = jobs[N - 1];
		jobs[N - 1] = (struct seal_job){0};
		qsort(jobs, N - 1, sizeof *jobs, cmp_keyid);
		size_t dup = 0;
		for (size_t i = 1; i < N - 1; i++)
			dup += !cmp_keyid(&jobs[i - 1], &jobs[i]);
		ok(!dup, "round %d: %d messages, %d distinct sender keys", round + 1, N - 1,
		   (int)(N - 1 - dup));
		for (size_t i = 0; i < N; i++)
			free(jobs[i].body);
	}

	/* abandoned half-way: finish returns, what was taken is sealed */
	for (size_t i = 0; i < N; i++)
		fill(&jobs[i], pub, auth, 3993);
	sealer_submit(s, jobs, N);
	int rc = sealer_take(s, &jobs[0]) | sealer_take(s, &jobs[1]);
	sealer_finish(s);
	size_t sealed = 0;
	for (size_t i = 0; i < N; i++) {
		sealed += jobs[i].body != NULL;
		free(jobs[i].body);
	}
	ok(!rc && sealed >= 2 && sealed <= N, "a batch left half-way: finish returns (%zu sealed)", sealed);

	/* the 413 path: a job never submitted, sealed by the caller, shorter */
	fill(&jobs[0], pub, auth, 1024);
	rc = sealer_take(s, &jobs[0]);
	ok(!rc && jobs[0].body && jobs[0].body_len <= 1024 + ECE_OVERHEAD,
	   "a job taken without being submitted is sealed on the caller's thread (%zu bytes)",
	   jobs[0].body_len);
	free(jobs[0].body);

	/* a budget nothing fits: the job's error, not a crash */
	fill(&jobs[0], pub, auth, 100);
	ok(sealer_take(s, &jobs[0]) == -EINVAL && strstr(jobs[0].err, "cannot fit"),
	   "a notice that cannot fit its budget: %s", jobs[0].err);

	sealer_stop(s);
	free(jobs);
	return tap_done();
}
