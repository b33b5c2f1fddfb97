/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkload: load sink plugins and call into them (see sinkload.h for the
 * contract). Everything that crosses the plugin boundary is checked here:
 * the entry point, the table's ABI, size, name and operations, and what the
 * plugin writes back (messages, outcomes). Not for scheduling, retries or
 * templates: the dispatcher does those (schedule.c, recorder.c, deliver.c).
 */
#define _GNU_SOURCE /* asprintf */
#include "src/sinkhost/sinkload.h"

#include "src/common/config.h" /* HERALD_SINK_DIR */
#include "src/common/log.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_OUTCOME "sink gave no outcome"

struct sinkload {
	pthread_mutex_t lock; /* held around every call into the plugin */
	void *dl;
	const struct herald_sink_ops *ops;
	void *instance;
	struct herald_sink_host host; /* lent to the plugin from init to shutdown */
	sinkload_log_fn *log;         /* NULL: log_msg */
	void *log_arg;
	char *name;
	char *plugin;
	char *config_path;
};

/* ---- text from the plugin: never trusted to be terminated or printable ---- */

/* Copy `src` into dst[len], control bytes as spaces, so a plugin's text can
 * never forge a log line or a reason spanning lines. */
static void copy_clean(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	if (!len)
		return;
	for (; src && src[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	dst[i] = '\0';
}

/* Make a buffer the plugin wrote into a terminated, printable string. */
static void clean_in_place(char *buf, size_t len)
{
	if (!len)
		return;
	buf[len - 1] = '\0';
	copy_clean(buf, len, buf);
}

/* ---- the host struct the plugin gets ---- */

static enum log_level map_level(enum herald_sink_log_level level)
{
	switch (level) {
	case HERALD_SINK_LOG_ERROR: return L_ERROR;
	case HERALD_SINK_LOG_WARNING: return L_WARN;
	case HERALD_SINK_LOG_INFO: return L_INFO;
	case HERALD_SINK_LOG_DEBUG: return L_DEBUG;
	}
	return L_INFO; /* a level from a newer ABI: still worth showing */
}

/* The struct sinkload whose `host` the plugin was given. */
static const struct sinkload *of_host(const struct herald_sink_host *host)
{
	return (const struct sinkload *)((const char *)host - offsetof(struct sinkload, host));
}

__attribute__((format(printf, 3, 4))) static void host_log(const struct herald_sink_host *host,
							   enum herald_sink_log_level level,
							   const char *fmt, ...)
{
	enum log_level l = map_level(level);
	char line[900];
	va_list ap;

	if (!log_enabled(l))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	clean_in_place(line, sizeof line);
	const struct sinkload *s = of_host(host);
	if (s->log)
		s->log(s->log_arg, l, line);
	else
		log_msg(l, "sink '%s': %s", host->instance, line);
}

/* ---- opening ---- */

/* Where `plugin` lives and the name its table must carry: "file" is
 * <dir>/file.so; a path is used as is and its name is the base name less
 * ".so". A NULL dir is the install default, HERALD_SINK_DIR. Returns 0 or
 * -ENOMEM/-EINVAL. */
static int resolve(const char *plugin, const char *dir, char **path, char **expect)
{
	const char *slash = strrchr(plugin, '/');
	const char *base = slash ? slash + 1 : plugin;
	size_t n = strlen(base);

	if (!*base)
		return -EINVAL;
	if (n > 3 && !strcmp(base + n - 3, ".so"))
		n -= 3;
	*expect = strndup(base, n);
	if (slash)
		*path = strdup(plugin);
	else if (asprintf(path, "%s/%s.so", dir ? dir : HERALD_SINK_DIR, plugin) < 0)
		*path = NULL;
	if (!*expect || !*path) {
		free(*expect);
		free(*path);
		*expect = *path = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* In an ASan build a plugin stays mapped after dlclose. Memory that a
 * plugin or a library it pulled in keeps in its static data (seen with the
 * email sink and libesmtp) is only reachable while that data is mapped:
 * unloaded, LeakSanitizer reports it at exit as leaked by "<unknown
 * module>", and a real leak in a plugin could not be named either. */
#ifdef __SANITIZE_ADDRESS__
#define SINK_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)
#else
#define SINK_DLOPEN_FLAGS (RTLD_NOW | RTLD_LOCAL)
#endif

/* dlopen + dlsym + the entry call; on failure nothing stays loaded (but see
 * SINK_DLOPEN_FLAGS). */
static int load_table(struct sinkload *s, const char *path, char *err, size_t errlen)
{
	herald_sink_entry_fn entry;

	s->dl = dlopen(path, SINK_DLOPEN_FLAGS);
	if (!s->dl) {
		const char *why = dlerror();
		snprintf(err, errlen, "sink %s: cannot load %s: %s", s->name, path,
			 why ? why : "unknown error");
		return -ELIBACC;
	}
	dlerror();
	entry = (herald_sink_entry_fn)dlsym(s->dl, HERALD_SINK_ENTRY);
	if (!entry) {
		snprintf(err, errlen, "sink %s: %s has no %s symbol", s->name, path,
			 HERALD_SINK_ENTRY);
		return -ELIBBAD;
	}
	s->ops = entry(HERALD_SINK_ABI_VERSION);
	if (!s->ops) {
		snprintf(err, errlen, "sink %s: %s does not speak sink ABI %u.%u (it refused it)",
			 s->name, path, HERALD_SINK_ABI_MAJOR, HERALD_SINK_ABI_MINOR);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

static int short_table(const struct sinkload *s, const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "sink %s: %s has a truncated operations table (%zu bytes)", s->name,
		 path, s->ops->size);
	return -ELIBBAD;
}

/* The table's ABI, size, name and required operations, in that order: the
 * ABI first because a table of another major may be laid out differently. */
static int check_table(struct sinkload *s, const char *path, const char *expect, char *err,
		       size_t errlen)
{
	const struct herald_sink_ops *ops = s->ops;
	const char *missing;
	char other[64];

	if (!HERALD_SINK_HAS(ops, struct herald_sink_ops, abi))
		return short_table(s, path, err, errlen);
	if (HERALD_SINK_ABI_MAJOR_OF(ops->abi) != HERALD_SINK_ABI_MAJOR) {
		snprintf(err, errlen, "sink %s: %s does not speak sink ABI %u.%u (it offers %u.%u)",
			 s->name, path, HERALD_SINK_ABI_MAJOR, HERALD_SINK_ABI_MINOR,
			 HERALD_SINK_ABI_MAJOR_OF(ops->abi), ops->abi & 0xffffu);
		return -EPROTONOSUPPORT;
	}
	/* shutdown is the last required field; validate and flush lie before it. */
	if (!HERALD_SINK_HAS(ops, struct herald_sink_ops, shutdown))
		return short_table(s, path, err, errlen);
	if (!ops->name || strcmp(ops->name, expect)) {
		copy_clean(other, sizeof other, ops->name ? ops->name : "");
		snprintf(err, errlen, "sink %s: %s is sink '%s', not '%s'", s->name, path, other,
			 expect);
		return -EINVAL;
	}
	missing = !ops->init	   ? "init"
		  : !ops->deliver  ? "deliver"
		  : !ops->shutdown ? "shutdown"
				   : NULL;
	if (missing) {
		snprintf(err, errlen, "sink %s: %s lacks the %s operation", s->name, path, missing);
		return -ELIBBAD;
	}
	return 0;
}

static int start_instance(struct sinkload *s, const struct herald_sink_option *options,
			  size_t n_options, char *err, size_t errlen)
{
	char msg[256] = "";
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = s->ops->init(&s->host, options, n_options, &s->instance, msg, sizeof msg);
	pthread_mutex_unlock(&s->lock);
	if (!rc)
		return 0;
	clean_in_place(msg, sizeof msg);
	snprintf(err, errlen, "sink %s: init failed: %s", s->name, *msg ? msg : "(no message)");
	return -EINVAL;
}

static struct sinkload *sinkload_alloc(const char *name, const char *config_path)
{
	struct sinkload *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->name = strdup(name);
	s->config_path = config_path ? strdup(config_path) : NULL;
	if (!s->name || (config_path && !s->config_path) || pthread_mutex_init(&s->lock, NULL)) {
		free(s->name);
		free(s->config_path);
		free(s);
		return NULL;
	}
	s->host = (struct herald_sink_host){
	    .size = sizeof s->host,
	    .abi = HERALD_SINK_ABI_VERSION,
	    .instance = s->name,
	    .config_path = s->config_path,
	    .log = host_log,
	};
	return s;
}

/* Free what sink_alloc and load_table made; the instance must be gone. */
static void sinkload_free(struct sinkload *s)
{
	if (s->dl && dlclose(s->dl)) {
		const char *why = dlerror();
		log_warn("sink '%s': dlclose failed (%s)", s->name, why ? why : "unknown error");
	}
	pthread_mutex_destroy(&s->lock);
	free(s->plugin);
	free(s->name);
	free(s->config_path);
	free(s);
}

int sinkload_open(const char *name, const char *plugin, const char *plugin_dir,
		  const char *config_path, const struct herald_sink_option *options,
		  size_t n_options, sinkload_log_fn *log, void *log_arg, struct sinkload **out,
		  char *err, size_t errlen)
{
	char *path = NULL;
	struct sinkload *s;
	int rc;

	*out = NULL;
	s = sinkload_alloc(name, config_path);
	if (!s) {
		snprintf(err, errlen, "sink %s: out of memory", name);
		return -ENOMEM;
	}
	s->log = log;
	s->log_arg = log_arg;
	rc = resolve(plugin, plugin_dir, &path, &s->plugin);
	if (rc) {
		snprintf(err, errlen, "sink %s: bad plugin '%s' (%s)", name, plugin, strerror(-rc));
		goto out;
	}
	rc = load_table(s, path, err, errlen);
	if (!rc)
		rc = check_table(s, path, s->plugin, err, errlen);
	if (!rc)
		rc = start_instance(s, options, n_options, err, errlen);
out:
	free(path);
	if (rc)
		sinkload_free(s);
	else
		*out = s;
	return rc;
}

void sinkload_close(struct sinkload *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->ops->shutdown(s->instance);
	s->instance = NULL;
	pthread_mutex_unlock(&s->lock);
	sinkload_free(s);
}

const char *sinkload_name(const struct sinkload *s)
{
	return s->name;
}

const char *sinkload_plugin(const struct sinkload *s)
{
	return s->plugin;
}

/* ---- calls into an instance ---- */

/* The ABI says 0 or a negative errno, but plugins written when it said
 * "non-zero" may return 1 or -1: any non-zero is a failure, and what we
 * pass on is always a negative errno. */
static int plugin_rc(int rc)
{
	if (!rc)
		return 0;
	return rc < 0 && rc > -4096 ? rc : -EIO;
}

int sinkload_validate(struct sinkload *s, const char *address, char *err, size_t errlen)
{
	char msg[256] = "";
	int rc = 0;

	if (!address) {
		snprintf(err, errlen, "no address");
		return -EINVAL;
	}
	if (!s->ops->validate)
		return 0;
	pthread_mutex_lock(&s->lock);
	rc = s->ops->validate(s->instance, address, msg, sizeof msg);
	pthread_mutex_unlock(&s->lock);
	if (!rc)
		return 0;
	clean_in_place(msg, sizeof msg);
	snprintf(err, errlen, "%s", *msg ? msg : "address refused");
	return -EINVAL;
}

void sinkload_check_result(struct herald_sink_result *r)
{
	r->size = sizeof *r;
	clean_in_place(r->reason, sizeof r->reason);
	switch (r->outcome) {
	case HERALD_SINK_DELIVERED:
		if (!strcmp(r->reason, NO_OUTCOME))
			r->reason[0] = '\0';
		r->retry_after = 0;
		break;
	case HERALD_SINK_RETRY:
	case HERALD_SINK_REJECTED:
	case HERALD_SINK_BROKEN:
	case HERALD_SINK_GONE: break;
	default:
		snprintf(r->reason, sizeof r->reason, "sink gave an unknown outcome %d",
			 (int)r->outcome);
		r->outcome = HERALD_SINK_RETRY;
		r->retry_after = 0;
	}
}

void sinkload_deliver(struct sinkload *s, const struct herald_sink_item *items, size_t n,
		  struct herald_sink_result *results)
{
	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		results[i] = (struct herald_sink_result){.size = sizeof results[i],
							 .outcome = HERALD_SINK_RETRY};
		snprintf(results[i].reason, sizeof results[i].reason, "%s", NO_OUTCOME);
	}
	const struct herald_sink_item **ip = calloc(n, sizeof *ip);
	struct herald_sink_result **rp = calloc(n, sizeof *rp);
	if (!ip || !rp) { /* every item stays RETRY ("sink gave no outcome") */
		free(ip);
		free(rp);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		ip[i] = &items[i];
		rp[i] = &results[i];
	}
	pthread_mutex_lock(&s->lock);
	s->ops->deliver(s->instance, ip, n, rp);
	pthread_mutex_unlock(&s->lock);
	free(ip);
	free(rp);
	for (size_t i = 0; i < n; i++)
		sinkload_check_result(&results[i]);
}

int sinkload_flush(struct sinkload *s, int64_t deadline_ms)
{
	int rc;

	if (!s->ops->flush)
		return 0;
	pthread_mutex_lock(&s->lock);
	rc = s->ops->flush(s->instance, deadline_ms);
	pthread_mutex_unlock(&s->lock);
	return plugin_rc(rc);
}

int sinkload_reopen(struct sinkload *s)
{
	int rc;

	/* reopen follows shutdown, the last required field: a table may end
	 * before it (an optional operation it never had). */
	if (!HERALD_SINK_HAS(s->ops, struct herald_sink_ops, reopen) || !s->ops->reopen)
		return 0;
	pthread_mutex_lock(&s->lock);
	rc = s->ops->reopen(s->instance);
	pthread_mutex_unlock(&s->lock);
	return plugin_rc(rc);
}
