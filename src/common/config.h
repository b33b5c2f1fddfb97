/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config: read and validate heraldd.conf (INI, parsed by inih).
 *
 * Every key is known and checked here; an unknown section or key, a bad
 * value or a missing required key is one error naming file and line. The
 * result is a plain struct the daemon owns. Nothing here touches sockets;
 * besides the config itself the only files read are the PEM public keys that
 * [keys] names (relative paths from the config's folder), so a key file that
 * is wrong is an error at load, not at the first message. Reload = load a new
 * struct, then swap.
 *
 * Sections:
 *   [daemon]   state_dir, log_level, log_target, workers, api_socket,
 *              api_listen, api_tokens, print_accepted, map_size_mb,
 *              rules_dir, identity_map
 *   [bus]      subscribe (repeatable), rcvhwm, max_message_size,
 *              replay_timeout_ms, replay_batch, dedup_window
 *   [endpoint NAME]  connect (repeatable), replay
 *   [amqp NAME] url, trust, ca_file, cert_file, key_file, exchange, queue,
 *              queue_durable, bind (repeatable), prefetch, heartbeat
 *              (config_amqp.c; fedora-messaging over AMQP, src/daemon/amqp.h)
 *   [verify]   require_signatures, ca_file, crl_file, security_level,
 *              ignore_cert_time, routing_strict
 *   [routing]  TOPIC-PATTERN = SIGNER [SIGNER...]
 *   [keys]     NAME = BASE64-ED25519-PUBLIC-KEY | /path/to/key.pub (PEM)
 *   [dispatch] plugin_dir, retry_base_ms, retry_max_ms, max_attempts,
 *              pause_after_ms, probe_interval_ms, delivery_log, digest_max_items,
 *              digest_max_bytes, rate, burst
 *   [sink NAME] plugin (required), template, template_markdown, footer, verify,
 *              rate, burst, batch; every other key goes to the plugin's init
 *   [web]      listen, base_url, tls_cert, tls_key, trusted_proxies, assets,
 *              session_ttl, admins, dashboard, recent_messages, link_ttl,
 *              max_per_ip
 *   [oidc]     issuer, client_id, client_secret_file, username_claim, scopes,
 *              create_users
 * The web keys are checked for form here; whether the secret file and the
 * assets folder are usable is the web app's check (web_check_config).
 * See doc/heraldd.conf.5.
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "herald/sink.h"
#include "log.h"
#include "verify.h"

/* Where the default schema rules are installed ($(pkgdatadir)/rules). */
#ifndef HERALD_RULES_DIR
#define HERALD_RULES_DIR "/usr/local/share/herald/rules"
#endif
/* Where bundled sink plugins are installed ($(pkglibdir)/sinks): configure
 * passes it; this fallback is the only one (sinkhost.c uses it too). */
#ifndef HERALD_SINK_DIR
#define HERALD_SINK_DIR "/usr/local/lib/herald/sinks"
#endif

struct config_endpoint {
	char *name;       /* owned */
	char **connect;   /* owned; n_connect ZeroMQ addresses */
	size_t n_connect;
	char *replay;     /* owned; NULL if none */
};

/*
 * One [amqp NAME] section: a fedora-messaging broker to consume from. Its
 * messages are not signed; `trust = broker` is the operator saying that the
 * broker's TLS and credentials are what vouches for them.
 */
struct config_amqp {
	char *name;       /* owned */
	char *url;        /* owned; amqp:// or amqps://; a secret (credentials):
			   * print it only through config_amqp_redact() */
	char *ca_file;    /* owned; NULL: the system's CA store (amqps only) */
	char *cert_file;  /* owned; client certificate and key: both or neither */
	char *key_file;
	char *exchange;   /* owned; default "amq.topic" (fedora-messaging's) */
	char *queue;      /* owned; NULL: an exclusive, server-named, auto-delete queue */
	bool queue_durable; /* default yes for a named queue; a server-named one is not */
	char **bind;      /* owned binding keys; default one, "#" */
	size_t n_bind;
	int prefetch;     /* unacknowledged deliveries in flight, default 4096 */
	int heartbeat_s;  /* AMQP heartbeat, default 30; 0: none */
	bool trust_broker; /* trust = broker was said (required) */
	bool durable_said; /* queue_durable was given (yes without a queue is an error) */
	int line;         /* where the section starts, for errors found at the end */
};

/* One [sink NAME] section: the host's keys, and the plugin's own. */
struct config_sink {
	char *name;            /* owned */
	char *plugin;          /* owned: a plugin name or a path */
	char *template_text;   /* owned; NULL: the default template */
	char *template_markdown; /* owned; NULL: the default */
	bool footer;           /* add "why you got this" to every notification */
	bool verify;           /* new destinations must confirm a code first */
	double rate;           /* per destination, notifications per minute; 0: no limit;
				* < 0 (not set): [dispatch] rate */
	int burst;             /* token bucket size; 0: [dispatch] burst */
	int batch;             /* items per deliver call, default 64 */
	bool inline_plugin;    /* isolation = inline: the plugin runs inside heraldd
				* (default: process, in a herald-sinkhost of its own) */
	struct herald_sink_option *options; /* owned (keys, values): for the plugin */
	size_t n_options;
};

/* [dispatch]: the outbox's schedule. Times in milliseconds. */
struct config_dispatch {
	char *plugin_dir;      /* owned; default HERALD_SINK_DIR */
	long retry_base_ms;    /* first retry delay, doubled per attempt (default 30 s) */
	long retry_max_ms;     /* cap on the delay (default 1 h) */
	int max_attempts;      /* then: dead letter (default 12) */
	long pause_after_ms;   /* a destination failing this long is paused (default 6 h) */
	long probe_interval_ms; /* a broken sink instance is retried after this (default 30 s) */
	size_t delivery_log;   /* delivered records kept (default 10000) */
	int digest_max_items;  /* notifications per digest (default 100) */
	size_t digest_max_bytes; /* text of one digest (default 64 KiB) */
	double rate;           /* default per destination: notifications per minute (60) */
	int burst;             /* default bucket size (20) */
};

/* [web] dashboard: who may watch GET /events. */
enum config_dashboard {
	CONFIG_DASHBOARD_SIGNED_IN = 0, /* the default */
	CONFIG_DASHBOARD_PUBLIC,
	CONFIG_DASHBOARD_OFF,
};

#ifndef HERALD_WEB_DIR
#define HERALD_WEB_DIR "/usr/local/share/herald/web"
#endif

/* [web]: the web app (src/web/web.h). listen == NULL: no web app. */
struct config_web {
	char *listen;            /* owned; "HOST:PORT" or NULL */
	char *base_url;          /* owned; "scheme://host[:port][/prefix]", no trailing '/';
				  * required with listen */
	char *tls_cert;          /* owned; PEM files, both or neither */
	char *tls_key;
	char **trusted_proxies;  /* owned; numeric addresses (IPv4 or IPv6) */
	size_t n_trusted_proxies;
	char *assets;            /* owned; default HERALD_WEB_DIR */
	long session_ttl_s;      /* default 8 h */
	char **admins;           /* owned; user names with the admin scope */
	size_t n_admins;
	enum config_dashboard dashboard;
	size_t recent_messages;  /* the recent-messages ring, 1..100000 (default 2000) */
	long link_ttl_s;         /* signed links' lifetime (default 60 d) */
	int max_per_ip;          /* connections per client address (default 64) */
};

/* [oidc]: the OpenID Connect provider the web app signs people in with. */
struct config_oidc {
	char *issuer;            /* owned; https://..., or http:// for a loopback host */
	char *client_id;         /* owned */
	char *client_secret_file; /* owned; must be 0600 (checked by web_check_config) */
	char *username_claim;    /* owned; default "preferred_username" */
	char *scopes;            /* owned; space separated, contains "openid" (the default
				  * "openid profile email") */
	bool create_users;       /* a first sign-in creates the user (default no) */
};

struct config {
	char *path;            /* owned: the file this came from */
	/* [daemon] */
	char *state_dir;       /* required */
	enum log_level log_level;
	bool log_syslog;
	int workers;           /* verify threads, 1..64, default 2 */
	char *api_socket;      /* path; default <state_dir>/heraldd.sock */
	char *api_listen;      /* "HOST:PORT" or NULL (no TCP) */
	char *api_tokens;      /* token file for TCP clients, or NULL (see api_auth.h) */
	bool print_accepted;   /* print each accepted message's topic on stdout */
	size_t map_size;       /* LMDB map size in bytes */
	char *rules_dir;       /* schema rules; default HERALD_RULES_DIR */
	char *identity_map;    /* alias -> account JSON file, or NULL */
	/* [bus] */
	struct config_endpoint *endpoints;
	size_t n_endpoints;
	struct config_amqp *amqp; /* [amqp NAME] sections */
	size_t n_amqp;
	char **subscribe;      /* topic prefixes; none = everything */
	size_t n_subscribe;
	int rcvhwm;
	size_t max_message_size;
	int replay_timeout_ms;
	int replay_batch;      /* messages asked per replay request */
	size_t dedup_window;   /* msg_ids remembered for deduplication */
	/* [verify], [routing], [keys] */
	struct verify_config verify;
	/* [dispatch], [sink NAME] */
	struct config_dispatch dispatch;
	struct config_sink *sinks;
	size_t n_sinks;
	/* [web], [oidc] */
	struct config_web web;
	struct config_oidc oidc;
};

/* The sink section called `name`, or NULL. */
const struct config_sink *config_sink_find(const struct config *cfg, const char *name);

/*
 * Load `path` into *cfg (which is overwritten). 0 on success; on failure a
 * negative code, *cfg released, and `err` holds "FILE:LINE: message".
 */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
void config_release(struct config *cfg);

/*
 * `url` with its password replaced by "***" (and nothing else changed), for
 * logs and errors. Truncated to outlen - 1 bytes; returns out.
 */
char *config_amqp_redact(const char *url, char *out, size_t outlen);

/*
 * The virtual host an amqp(s):// URL names, read as pika and fedora-messaging
 * read it: "amqp://host" and "amqp://host/" are the default vhost "/";
 * "amqps://host/%2Fpublic_pubsub" is "/public_pubsub" (percent-decoded).
 * Writes it to out, NUL-terminated; returns NULL, or why the URL's path is
 * not a vhost (a second '/', a query, a bad or NUL escape, over 255 bytes:
 * AMQP's limit), with out then unspecified.
 */
#define CONFIG_AMQP_VHOST_MAX 255
const char *config_amqp_vhost(const char *url, char out[CONFIG_AMQP_VHOST_MAX + 1]);

/* Parse a duration: "90" (seconds), "90s", "30m", "8h", "60d". 0 or -EINVAL. */
int config_parse_duration(const char *s, long *out_s);

/* Parse "yes/no/true/false/on/off/1/0". 0 or -EINVAL. Shared with the CLI. */
int config_parse_bool(const char *s, bool *out);

#endif
