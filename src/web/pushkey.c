/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pushkey: the webpush sinks' VAPID public keys (see pushkey.h). Not for
 * the VAPID signature or the message encryption: those are the sink's
 * (plugins/webpush/).
 */
#define _GNU_SOURCE /* asprintf */
#include "pushkey.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/common/config.h"
#include "src/common/log.h"
#include "src/common/p256pub.h"

#define KEY_B64_LEN P256PUB_B64_LEN

struct pushkey_sink {
	char *name;	       /* owned */
	char *path;	       /* owned; absolute unless the config's path was unknown */
	char key[KEY_B64_LEN]; /* "" until a read succeeded */
};

struct pushkey {
	pthread_mutex_t lock; /* guards every sinks[i].key */
	struct pushkey_sink *sinks;
	size_t n;
};

static bool is_webpush(const char *plugin)
{
	const char *base = strrchr(plugin, '/');
	base = base ? base + 1 : plugin;
	return !strcmp(base, "webpush") || !strcmp(base, "webpush.so");
}

/* The sink resolves a relative path from the config file's folder
 * (sinkutil_resolve_path); so does this, made absolute now because the
 * daemon may change directory. */
static char *resolve(const char *cfg_path, const char *v)
{
	const char *slash = cfg_path ? strrchr(cfg_path, '/') : NULL;
	int dirlen = slash ? (int)(slash - cfg_path) : 0;
	char cwd[4096] = "", *out = NULL;
	int n;
	if (v[0] == '/' || !cfg_path)
		return strdup(v);
	if (cfg_path[0] != '/' && !getcwd(cwd, sizeof cwd))
		return strdup(v); /* as given: the best there is */
	if (!slash)
		n = asprintf(&out, "%s/%s", cwd, v);
	else if (cfg_path[0] == '/')
		n = asprintf(&out, "%.*s/%s", dirlen, cfg_path, v);
	else
		n = asprintf(&out, "%s/%.*s/%s", cwd, dirlen, cfg_path, v);
	return n < 0 ? NULL : out;
}

/* Read one sink's key into fresh (unlocked); 1 read, 0 not. */
static int read_one(const struct pushkey_sink *s, char fresh[KEY_B64_LEN], bool keeping)
{
	char err[300];
	int rc = p256pub_read_pem(s->path, fresh, err, sizeof err);
	if (rc)
		log_warn("web: sink '%s': vapid_key %s: %s; %s", s->name, s->path, err,
			 keeping ? "GET /v1/webpush keeps the key read before"
				 : "GET /v1/webpush leaves the sink out");
	return rc == 0;
}

int pushkey_reload(struct pushkey *pk)
{
	int changed = 0;
	for (size_t i = 0; i < pk->n; i++) {
		char fresh[KEY_B64_LEN];
		pthread_mutex_lock(&pk->lock);
		bool had = pk->sinks[i].key[0] != '\0';
		pthread_mutex_unlock(&pk->lock);
		if (!read_one(&pk->sinks[i], fresh, had))
			continue;
		pthread_mutex_lock(&pk->lock);
		if (strcmp(pk->sinks[i].key, fresh)) {
			memcpy(pk->sinks[i].key, fresh, sizeof fresh);
			changed++;
		}
		pthread_mutex_unlock(&pk->lock);
	}
	return changed;
}

static int add_sinks(struct pushkey *pk, const struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_sinks; i++) {
		const struct config_sink *cs = &cfg->sinks[i];
		const char *file = NULL;
		if (!is_webpush(cs->plugin))
			continue;
		for (size_t j = 0; j < cs->n_options && !file; j++)
			if (!strcmp(cs->options[j].key, "vapid_key"))
				file = cs->options[j].value;
		if (!file) {
			log_warn("web: sink '%s' has no vapid_key: GET /v1/webpush leaves it out",
				 cs->name);
			continue;
		}
		struct pushkey_sink *s = &pk->sinks[pk->n];
		if (!(s->name = strdup(cs->name)) || !(s->path = resolve(cfg->path, file))) {
			free(s->name);
			return -ENOMEM;
		}
		s->key[0] = '\0';
		pk->n++;
	}
	return 0;
}

int pushkey_new(const struct config *cfg, struct pushkey **out)
{
	struct pushkey *pk = calloc(1, sizeof *pk);
	int rc = -ENOMEM;
	*out = NULL;
	if (!pk)
		return -ENOMEM;
	pthread_mutex_init(&pk->lock, NULL);
	if (cfg->n_sinks && !(pk->sinks = calloc(cfg->n_sinks, sizeof *pk->sinks)))
		goto fail;
	if ((rc = add_sinks(pk, cfg)) || (rc = pushkey_reload(pk)) < 0)
		goto fail;
	*out = pk;
	return 0;
fail:
	pushkey_free(pk);
	return rc;
}

int pushkey_json(struct pushkey *pk, bool (*usable)(void *arg, const char *sink), void *arg,
		 json_t **out)
{
	json_t *top = json_object(), *list = json_array();
	int rc = top && list && !json_object_set(top, "sinks", list) ? 0 : -ENOMEM;
	pthread_mutex_lock(&pk->lock);
	for (size_t i = 0; i < pk->n && !rc; i++)
		if (pk->sinks[i].key[0] && (!usable || usable(arg, pk->sinks[i].name)) &&
		    json_array_append_new(list, json_pack("{s:s,s:s}", "sink", pk->sinks[i].name,
							  "public_key", pk->sinks[i].key)))
			rc = -ENOMEM;
	pthread_mutex_unlock(&pk->lock);
	json_decref(list);
	if (rc) {
		json_decref(top);
		return rc;
	}
	*out = top;
	return 0;
}

void pushkey_free(struct pushkey *pk)
{
	if (!pk)
		return;
	for (size_t i = 0; i < pk->n; i++) {
		free(pk->sinks[i].name);
		free(pk->sinks[i].path);
	}
	free(pk->sinks);
	pthread_mutex_destroy(&pk->lock);
	free(pk);
}
