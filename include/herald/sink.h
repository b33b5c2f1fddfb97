/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * herald/sink.h: the sink plugin ABI, version 1.2.
 *
 * A sink is a shared object that heraldd loads with
 * dlopen(RTLD_NOW | RTLD_LOCAL). It exports one symbol,
 *
 *     const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi);
 *
 * which gets the host's ABI version and returns the sink's operations table,
 * or NULL when the sink does not speak that major version. Nothing else of
 * the plugin is looked up.
 *
 * Compatibility rules (see herald-sink(3)):
 *  - Every struct crossing the boundary starts with `size` (its sizeof, as
 *    the side that filled it was compiled). Within one major version fields
 *    are only appended; a reader uses a field only when `size` covers it
 *    (HERALD_SINK_HAS()).
 *  - A new major version may change anything; the host refuses a table whose
 *    major differs from its own.
 *
 * Return values: every operation that returns int returns 0 on success
 * or a negative errno on failure (-EINVAL for a bad option or address,
 * -ENOMEM, -EIO, the errno of a failed call), with a message in err where
 * it has one. The host takes any non-zero value as failure, so a plugin
 * written when the rule said "non-zero" (init, validate) still works.
 *
 * Memory: everything the host passes in (config, items, notifications,
 * strings) is lent for the duration of the call; copy what you keep. The
 * sink owns its instance state and frees it in shutdown(). Memory never
 * crosses the boundary to be freed by the other side.
 *
 * Threads: the host serialises all calls into one instance (one thread at a
 * time, though not always the same thread). Different instances of the same
 * sink may run concurrently, so keep state in the instance, not in globals.
 */
#ifndef HERALD_SINK_H
#define HERALD_SINK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Version history. A minor only appends (fields at the end of a struct,
 * values at the end of an enum); a new major may change anything.
 *  1.0  The entry point; struct herald_sink_host (size, abi, instance,
 *       config_path, log), herald_notification, herald_sink_item,
 *       herald_sink_result, herald_sink_ops (init, validate, deliver,
 *       flush, shutdown, reopen); outcomes DELIVERED, RETRY, REJECTED,
 *       BROKEN.
 *  1.1  The outcome HERALD_SINK_GONE (return it only to a host of minor
 *       >= 1). Later within 1.1, without a change to any struct:
 *       herald_sink_outcome_name() (an inline function, nothing to link),
 *       and the return convention and the failed-init rule written down as
 *       hosts had always applied them.
 *  1.2  herald_sink_item gains unsubscribe_url and why_url (at its end:
 *       read them only when HERALD_SINK_HAS() says the host filled them).
 */
#define HERALD_SINK_ABI_MAJOR 1u
#define HERALD_SINK_ABI_MINOR 2u
#define HERALD_SINK_ABI_VERSION ((HERALD_SINK_ABI_MAJOR << 16) | HERALD_SINK_ABI_MINOR)
#define HERALD_SINK_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define HERALD_SINK_ABI_MINOR_OF(v) ((uint32_t)(v) & 0xffffu)

/* The name of the one exported symbol. */
#define HERALD_SINK_ENTRY "herald_sink_entry"

/* Does a struct filled by the other side (with its `size`) have `field`? */
#define HERALD_SINK_HAS(ptr, type, field)                                                      \
	((ptr)->size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* A key = value line from the sink's [sink NAME] section, host keys removed. */
struct herald_sink_option {
	const char *key;
	const char *value;
	unsigned line; /* in the config file, for error messages */
};

enum herald_sink_log_level {
	HERALD_SINK_LOG_ERROR,
	HERALD_SINK_LOG_WARNING,
	HERALD_SINK_LOG_INFO,
	HERALD_SINK_LOG_DEBUG,
};

/* What the host offers the sink. Valid from init() until shutdown() returns. */
struct herald_sink_host {
	size_t size;
	uint32_t abi;             /* HERALD_SINK_ABI_VERSION of the host */
	const char *instance;     /* the NAME of [sink NAME] */
	const char *config_path;  /* the config file, to resolve relative paths */
	/* Log through the daemon (prefixed with the instance name). Never log
	 * secrets: addresses may carry tokens. */
	void (*log)(const struct herald_sink_host *host, enum herald_sink_log_level level,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
};

/* One notification: one matched message for one (user, destination). */
struct herald_notification {
	size_t size;
	const char *id;         /* 32 lowercase hex; stable across retries and restarts */
	const char *user;
	uint64_t destination;   /* the destination's id */
	const char *address;    /* the destination's address (sink-specific syntax) */
	const char *topic;
	const char *title;      /* one line, plain text */
	const char *summary;    /* plain text; may be "" */
	const char *link;       /* URL or "" */
	const char *agent;      /* account that caused the event, or "" */
	const char *severity;   /* "debug" .. "critical" */
	const char *const *usernames;
	size_t n_usernames;
	const char *const *packages;
	size_t n_packages;
	const uint64_t *subscriptions; /* ids of the subscriptions that matched */
	size_t n_subscriptions;
	const char *msg_id;     /* the bus message's msg_id, or "" */
	double timestamp;       /* the bus message's time (Unix seconds), 0 if unknown */
	const char *json;       /* this whole notification as one JSON object (no newline) */
	const char *text;       /* rendered with the instance's text template */
	const char *markdown;   /* rendered with the instance's Markdown template */
	uint32_t attempt;       /* 1 on the first delivery attempt */
};

/*
 * One unit of delivery to one destination: a single notification, or a
 * digest of several (collected by a digest subscription, or because the
 * destination went over its rate limit). The outcome covers the whole item.
 */
struct herald_sink_item {
	size_t size;
	const char *user;
	uint64_t destination;
	const char *address;
	const struct herald_notification *const *notes;
	size_t n_notes;         /* >= 1 */
	int digest;             /* non-zero: send one message listing all notes */
	const char *id;         /* the item's stable id: the note's, or the digest's */
	const char *subject;    /* one line: the note's title, or a digest subject */
	const char *text;       /* the whole text to send (digest: every note, capped) */
	const char *markdown;
	/* Since 1.2 (check with HERALD_SINK_HAS): the web app's links, NULL
	 * when no web app is configured. unsubscribe_url: a signed one-click
	 * link (RFC 8058: POST to it unsubscribes; GET shows a confirmation)
	 * for the first note's first subscription (in a digest too).
	 * why_url: "why did I get this" for the note; NULL for a digest (each
	 * note's line in the text carries its own). Both are absolute http(s)
	 * URLs of printable ASCII without spaces; the host made them, but a
	 * sink that puts them in a header checks that anyway. */
	const char *unsubscribe_url;
	const char *why_url;
};

enum herald_sink_outcome {
	HERALD_SINK_DELIVERED = 0, /* done; never sent again */
	HERALD_SINK_RETRY,         /* try again later (backoff; retry_after if set) */
	HERALD_SINK_REJECTED,      /* never deliverable: dead letter with the reason */
	/* This instance cannot work now, whatever the item (read-only disk,
	 * credentials refused). The item stays due, charged no attempt; the
	 * host gives the instance no work for probe_interval_ms (doubling
	 * while it stays broken, up to ten minutes) and then simply calls
	 * deliver() again with whatever is due: that call is the probe. There
	 * is no separate probe operation and no reopen or re-init: recovering
	 * (reconnect, reopen a file) is deliver()'s job. A call that returns
	 * no BROKEN ends the spell and resets the delay. */
	HERALD_SINK_BROKEN,
	/* Since 1.1: the destination is gone for good (HTTP 410, a deleted
	 * channel): the host pauses the destination with the reason and keeps
	 * the item, parked, for the user to resume or delete. Return it only to
	 * a host whose minor is >= 1 (HERALD_SINK_ABI_MINOR_OF(host->abi));
	 * an older host would take it for an unknown outcome. */
	HERALD_SINK_GONE,
};

/* "delivered", "retry", "rejected", "broken", "gone"; "unknown" for any
 * other value. For logs and tools; not part of the binary interface. */
static inline const char *herald_sink_outcome_name(enum herald_sink_outcome o)
{
	switch (o) {
	case HERALD_SINK_DELIVERED: return "delivered";
	case HERALD_SINK_RETRY: return "retry";
	case HERALD_SINK_REJECTED: return "rejected";
	case HERALD_SINK_BROKEN: return "broken";
	case HERALD_SINK_GONE: return "gone";
	}
	return "unknown";
}

/* Filled by deliver(), one per item; the host zeroes it and sets size. */
struct herald_sink_result {
	size_t size;
	enum herald_sink_outcome outcome;
	uint32_t retry_after;   /* seconds the destination asked us to wait; 0: none */
	char reason[256];       /* for RETRY/REJECTED/BROKEN: why, for the user (no secrets) */
};

struct herald_sink_ops {
	size_t size;
	uint32_t abi;           /* HERALD_SINK_ABI_VERSION the sink was built with */
	const char *name;       /* must equal the plugin's name (file "NAME.so") */

	/*
	 * Create an instance from its config options. Return 0 and set *instance,
	 * or a negative errno with a one-line message in err (the host adds the
	 * file and the instance name). Unknown options should be refused.
	 * A failed init owns its cleanup: the host never calls shutdown() for
	 * it and ignores *instance, so init frees what it allocated, joins
	 * the threads it started and keeps no pointer to host, which is freed
	 * with the plugin unloaded right after.
	 */
	int (*init)(const struct herald_sink_host *host, const struct herald_sink_option *options,
		    size_t n_options, void **instance, char *err, size_t errlen);

	/* Is `address` usable by this instance? 0, or -EINVAL with err set.
	 * Called when a destination is added (serialised like every call).
	 * May be NULL: every address is accepted. */
	int (*validate)(void *instance, const char *address, char *err, size_t errlen);

	/* Deliver n items; fill *results[i] for each. Arrays of pointers, so
	 * either side may know a longer struct than the other (each struct's
	 * `size` says how long it is). Should return by the instance's own
	 * timeouts; the host does not interrupt it. */
	void (*deliver)(void *instance, const struct herald_sink_item *const *items, size_t n,
			struct herald_sink_result *const *results);

	/* Finish what is buffered before deadline_ms (CLOCK_MONOTONIC ms);
	 * called before shutdown(). 0, or a negative errno when something
	 * could not be finished. May be NULL. */
	int (*flush)(void *instance, int64_t deadline_ms);

	/* Free the instance. Called once; nothing follows. */
	void (*shutdown)(void *instance);

	/* Reopen files, reconnect (SIGHUP). 0, or a negative errno (the instance
	 * keeps working as before). May be NULL. */
	int (*reopen)(void *instance);
};

/* The entry point's type, for the host's dlsym. */
typedef const struct herald_sink_ops *(*herald_sink_entry_fn)(uint32_t host_abi);

/* A sink defines exactly this, exported (also under -fvisibility=hidden):
 *   HERALD_SINK_EXPORT const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
 *   { return HERALD_SINK_ABI_MAJOR_OF(host_abi) == HERALD_SINK_ABI_MAJOR ? &ops : NULL; } */
#define HERALD_SINK_EXPORT __attribute__((visibility("default")))
HERALD_SINK_EXPORT const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi);

#ifdef __cplusplus
}
#endif

#endif
