/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkload: load sink plugins (include/herald/sink.h) and call them safely.
 *
 * sinkload_open() dlopens a plugin with RTLD_NOW | RTLD_LOCAL, looks up
 * herald_sink_entry, checks what it returns (ABI major, table size, required
 * operations, name) and creates one instance with its options. Each failure
 * has its own message and leaves nothing loaded, so the daemon can refuse one
 * sink and keep its others.
 *
 * A struct sinkload is one instance. Every call into it takes the instance's
 * mutex, which is how the ABI's "calls into one instance are serialised"
 * holds even though the dispatcher and the API call from different threads.
 *
 * Ownership: sinkload_open copies what it keeps; sinkload_close shuts the instance
 * down and drops the library reference. Not for scheduling, retries or
 * templates: the dispatcher (schedule.c, recorder.c, deliver.c).
 */
#ifndef HERALD_SINKLOAD_H
#define HERALD_SINKLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "herald/sink.h"
#include "src/common/log.h"

struct sinkload;

/* Where the plugin's host->log lines go: `line` is already cleaned (no
 * control bytes) and carries no prefix; only levels log_enabled() lets
 * through arrive. NULL in sinkload_open: log_msg, as "sink 'NAME': line". */
typedef void sinkload_log_fn(void *arg, enum log_level level, const char *line);

/*
 * Load `plugin` and start instance `name`. `plugin` is a sink name ("file",
 * resolved as <plugin_dir>/file.so) or a path containing '/'. `config_path`
 * is passed on for resolving relative paths (may be NULL). 0, or a negative
 * errno with `err` set:
 *   "sink NAME: cannot load PATH: <dlerror>"
 *   "sink NAME: PATH has no herald_sink_entry symbol"
 *   "sink NAME: PATH does not speak sink ABI 1.1 (it offers X.Y)"  (or: refused it)
 *   "sink NAME: PATH is sink 'OTHER', not 'PLUGIN'"
 *   "sink NAME: PATH lacks the deliver operation" (init/deliver/shutdown are required)
 *   "sink NAME: init failed: <the plugin's message>"  (-EINVAL, whatever
 *       non-zero init returned; shutdown is not called, the plugin unloaded)
 */
int sinkload_open(const char *name, const char *plugin, const char *plugin_dir,
		  const char *config_path, const struct herald_sink_option *options,
		  size_t n_options, sinkload_log_fn *log, void *log_arg, struct sinkload **out,
		  char *err, size_t errlen);
void sinkload_close(struct sinkload *s); /* NULL is a no-op */

const char *sinkload_name(const struct sinkload *s);   /* the instance name */
const char *sinkload_plugin(const struct sinkload *s); /* the plugin's own name */

/*
 * Return values: whatever non-zero value a plugin's init, validate, flush or
 * reopen returns is a failure (plugins written to ABI 1.0's "non-zero" still
 * work); these functions pass on 0 or a negative errno only.
 */

/* 0 when the plugin accepts the address (or has no validate), else -EINVAL
 * with `err` set to the plugin's message. */
int sinkload_validate(struct sinkload *s, const char *address, char *err, size_t errlen);

/* Deliver n items. results[] is zeroed, sized and defaulted to RETRY with
 * reason "sink gave no outcome" before the call, so an item the plugin
 * forgets is retried, never lost. */
void sinkload_deliver(struct sinkload *s, const struct herald_sink_item *items, size_t n,
		      struct herald_sink_result *results);

/* What a plugin wrote back may be anything: keep the size ours, the reason
 * a printable string and the outcome one we know (else retry, never lose).
 * Also for results that crossed a process boundary. */
void sinkload_check_result(struct herald_sink_result *r);

/* 0 when the plugin has none or it succeeded; its negative errno, or -EIO
 * for any other non-zero value. */
int sinkload_flush(struct sinkload *s, int64_t deadline_ms);
int sinkload_reopen(struct sinkload *s);

#endif
