/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* metrics: counter names and renderings (see metrics.h). */
#include "metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const reject_names[REJECT_REASON_COUNT] = {
	[REJECT_TOO_LARGE] = "too_large",
	[REJECT_BAD_FRAMES] = "bad_frames",
	[REJECT_TOPIC_MISMATCH] = "topic_mismatch",
	[REJECT_BAD_JSON] = "bad_json",
	[REJECT_BAD_FIELD] = "bad_field",
	[REJECT_NO_TOPIC] = "no_topic",
	[REJECT_NO_BODY] = "no_body",
	[REJECT_UNSIGNED] = "unsigned",
	[REJECT_UNSUPPORTED_CRYPTO] = "unsupported_crypto",
	[REJECT_MALFORMED_SIGNATURE] = "malformed_signature",
	[REJECT_UNKNOWN_SIGNER] = "unknown_signer",
	[REJECT_BAD_CERTIFICATE] = "bad_certificate",
	[REJECT_BAD_SIGNATURE] = "bad_signature",
	[REJECT_POLICY] = "routing_policy",
};

/* Plain counters in one table so both renderings list the same things. */
#define PLAIN_COUNTERS(X)                                                                   \
	X(received, "messages read from the bus, live and replayed")                     \
	X(accepted, "messages verified, new and committed")                              \
	X(duplicates, "verified messages already accepted before (by msg_id)")           \
	X(gaps, "sequence gaps detected")                                                \
	X(gap_missing, "messages missing in detected gaps")                              \
	X(replay_requests, "replay requests sent")                                       \
	X(replay_failures, "replay requests that timed out or were refused")             \
	X(replayed, "messages accepted from a replay")                                   \
	X(lost, "missing messages that no replay could fill")                            \
	X(publisher_restarts, "publishers seen restarting their sequence")               \
	X(sequence_resets, "sequence jumps too wide to replay, taken as a new start")    \
	X(matched, "accepted messages that matched at least one subscription")           \
	X(notifications, "notifications due: one per matched user and destination")      \
	X(subscription_matches, "subscriptions that matched accepted messages")          \
	X(subscriptions_quarantined, "subscriptions quarantined: regex budget exhausted")  \
	X(understand_errors, "accepted messages the schema rules could not describe")    \
	X(commits, "store transactions committed")                                       \
	X(store_errors, "store transactions that failed")                                \
	X(stored, "notifications committed to the outbox")                               \
	X(delivery_attempts, "items handed to sinks (a digest is one item)")             \
	X(delivered, "notifications delivered")                                          \
	X(delivery_retries, "notifications rescheduled after a failed attempt")          \
	X(dead_letters, "notifications moved to the dead letters")                       \
	X(digests_sent, "digests delivered")                                             \
	X(rate_limited, "notifications folded into a digest by a rate limit")            \
	X(sink_broken, "times a sink instance reported itself broken")                   \
	X(dests_paused, "destinations paused after failing too long")                    \
	X(intake_stops, "times intake stopped: the store was full or a commit failed")    \
	X(amqp_received, "deliveries read from AMQP brokers")                            \
	X(amqp_acked, "AMQP deliveries acknowledged once committed")                     \
	X(amqp_requeued, "AMQP deliveries given back to the broker after a failed commit") \
	X(amqp_reconnects, "AMQP connections lost and made again")

const char *metrics_reject_name(enum reject_reason r)
{
	return (unsigned)r < REJECT_REASON_COUNT ? reject_names[r] : "unknown";
}

_Atomic uint64_t *metrics_sink_crashes(struct metrics *m, const char *name)
{
	size_t n = atomic_load_explicit(&m->n_sinks, memory_order_acquire);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(m->sinks[i].name, name))
			return &m->sinks[i].crashes;
	if (n == METRICS_SINKS)
		return NULL;
	snprintf(m->sinks[n].name, sizeof m->sinks[n].name, "%s", name);
	atomic_store_explicit(&m->n_sinks, n + 1, memory_order_release);
	return &m->sinks[n].crashes;
}

/* Per-sink counters: NAME{sink="x"} N lines / "x":N members. */
static int render_sinks(const struct metrics *m, struct buf *out, bool prom)
{
	size_t n = atomic_load_explicit(&m->n_sinks, memory_order_acquire);
	int rc = prom ? buf_puts(out, "# HELP herald_sink_crashes_total times a sink instance's "
				      "process died in a call\n# TYPE herald_sink_crashes_total "
				      "counter\n")
		      : buf_puts(out, "\"sink_crashes\":{");
	for (size_t i = 0; i < n; i++)
		rc |= prom ? buf_printf(out, "herald_sink_crashes_total{sink=\"%s\"} %llu\n",
					m->sinks[i].name,
					(unsigned long long)metric_get(&m->sinks[i].crashes))
			   : buf_printf(out, "%s\"%s\":%llu", i ? "," : "", m->sinks[i].name,
					(unsigned long long)metric_get(&m->sinks[i].crashes));
	return prom ? rc : rc | buf_puts(out, "},");
}

/* AMQP deliveries refused, by fmsg's reason (0 is "ok": not a reason). */
static int render_amqp_rejected(const struct metrics *m, struct buf *out, bool prom)
{
	uint64_t total = 0;
	for (int r = 1; r < FMSG_REASON_COUNT; r++)
		total += metric_get(&m->amqp_rejected[r]);
	int rc = prom ? buf_puts(out, "# HELP herald_amqp_rejected_total AMQP deliveries rejected "
				      "without requeue, by reason\n# TYPE herald_amqp_rejected_total "
				      "counter\n")
		      : buf_printf(out, "\"amqp_rejected\":%llu,\"amqp_rejected_by_reason\":{",
				   (unsigned long long)total);
	for (int r = 1; r < FMSG_REASON_COUNT; r++) {
		const char *name = fmsg_reason_name((enum fmsg_reason)r);
		unsigned long long v = (unsigned long long)metric_get(&m->amqp_rejected[r]);
		rc |= prom ? buf_printf(out, "herald_amqp_rejected_total{reason=\"%s\"} %llu\n", name, v)
			   : buf_printf(out, "%s\"%s\":%llu", r > 1 ? "," : "", name, v);
	}
	return prom ? rc : rc | buf_puts(out, "},");
}

uint64_t metrics_rejected_total(const struct metrics *m)
{
	uint64_t n = 0;
	for (int r = 0; r < REJECT_REASON_COUNT; r++)
		n += metric_get(&m->rejected[r]);
	return n;
}

int metrics_render_prometheus(const struct metrics *m, struct buf *out)
{
	int rc = 0;
#define PROM(name, help)                                                                          \
	rc |= buf_printf(out, "# HELP herald_" #name "_total " help "\n# TYPE herald_" #name     \
			      "_total counter\nherald_" #name "_total %llu\n",                   \
			 (unsigned long long)metric_get(&m->name));
	PLAIN_COUNTERS(PROM)
#undef PROM
	rc |= buf_puts(out, "# HELP herald_rejected_total messages dropped before acceptance, by "
			    "reason\n# TYPE herald_rejected_total counter\n");
	for (int r = 0; r < REJECT_REASON_COUNT; r++)
		rc |= buf_printf(out, "herald_rejected_total{reason=\"%s\"} %llu\n", reject_names[r],
				 (unsigned long long)metric_get(&m->rejected[r]));
	rc |= buf_printf(out, "# HELP herald_intake_stopped 1 while intake is stopped (store full or failing)\n"
			      "# TYPE herald_intake_stopped gauge\nherald_intake_stopped %llu\n",
			 (unsigned long long)metric_get(&m->intake_stopped));
	rc |= buf_printf(out, "# HELP herald_subscriptions_invalid enabled subscriptions the index "
			      "could not load (they match nothing)\n# TYPE herald_subscriptions_invalid "
			      "gauge\nherald_subscriptions_invalid %llu\n",
			 (unsigned long long)metric_get(&m->subscriptions_invalid));
	rc |= render_sinks(m, out, true);
	rc |= render_amqp_rejected(m, out, true);
	return rc ? -12 : 0;
}

int metrics_render_json(const struct metrics *m, struct buf *out)
{
	int rc = buf_putc(out, '{');
#define JSONC(name, help)                                                                 \
	rc |= buf_printf(out, "\"" #name "\":%llu,", (unsigned long long)metric_get(&m->name));
	PLAIN_COUNTERS(JSONC)
#undef JSONC
	rc |= buf_printf(out, "\"intake_stopped\":%llu,\"subscriptions_invalid\":%llu,",
			 (unsigned long long)metric_get(&m->intake_stopped),
			 (unsigned long long)metric_get(&m->subscriptions_invalid));
	rc |= render_sinks(m, out, false);
	rc |= render_amqp_rejected(m, out, false);
	rc |= buf_printf(out, "\"rejected\":%llu,\"rejected_by_reason\":{",
			 (unsigned long long)metrics_rejected_total(m));
	for (int r = 0; r < REJECT_REASON_COUNT; r++)
		rc |= buf_printf(out, "%s\"%s\":%llu", r ? "," : "", reject_names[r],
				 (unsigned long long)metric_get(&m->rejected[r]));
	rc |= buf_puts(out, "}}");
	return rc ? -12 : 0;
}
