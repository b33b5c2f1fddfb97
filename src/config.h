/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config: read and validate heraldd.conf (INI, parsed by inih).
 *
 * Every key is known and checked here; an unknown section or key, a bad
 * value or a missing required key is one error naming file and line. The
 * result is a plain struct the daemon owns; nothing here touches sockets or
 * files other than the config itself. Reload = load a new struct, then swap.
 *
 * Sections:
 *   [daemon]   state_dir, log_level, log_target, workers, api_socket,
 *              api_listen, api_tokens, print_accepted, map_size_mb,
 *              rules_dir, identity_map
 *   [bus]      subscribe (repeatable), rcvhwm, max_message_size,
 *              replay_timeout_ms, replay_batch, dedup_window
 *   [endpoint NAME]  connect (repeatable), replay
 *   [verify]   require_signatures, ca_file, crl_file, security_level,
 *              ignore_cert_time, routing_strict
 *   [routing]  TOPIC-PATTERN = SIGNER [SIGNER...]
 *   [keys]     NAME = BASE64-ED25519-PUBLIC-KEY | /path/to/key.pub (PEM)
 * See doc/heraldd.conf.5.
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "verify.h"

/* Where the default schema rules are installed ($(pkgdatadir)/rules). */
#ifndef HERALD_RULES_DIR
#define HERALD_RULES_DIR "/usr/local/share/herald/rules"
#endif

struct config_endpoint {
	char *name;       /* owned */
	char **connect;   /* owned; n_connect ZeroMQ addresses */
	size_t n_connect;
	char *replay;     /* owned; NULL if none */
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
	char **subscribe;      /* topic prefixes; none = everything */
	size_t n_subscribe;
	int rcvhwm;
	size_t max_message_size;
	int replay_timeout_ms;
	int replay_batch;      /* messages asked per replay request */
	size_t dedup_window;   /* msg_ids remembered for deduplication */
	/* [verify], [routing], [keys] */
	struct verify_config verify;
};

/*
 * Load `path` into *cfg (which is overwritten). 0 on success; on failure a
 * negative code, *cfg released, and `err` holds "FILE:LINE: message".
 */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
void config_release(struct config *cfg);

/* Parse "yes/no/true/false/on/off/1/0". 0 or -EINVAL. Shared with the CLI. */
int config_parse_bool(const char *s, bool *out);

#endif
