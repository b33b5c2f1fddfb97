/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkhost: load sink plugins (include/herald/sink.h) and call them safely.
 *
 * sink_open() dlopens a plugin with RTLD_NOW | RTLD_LOCAL, looks up
 * herald_sink_entry, checks what it returns (ABI major, table size, required
 * operations, name) and creates one instance with its options. Each failure
 * has its own message and leaves nothing loaded, so the daemon can refuse one
 * sink and keep its others.
 *
 * A struct sink is one instance. Every call into it takes the instance's
 * mutex, which is how the ABI's "calls into one instance are serialised"
 * holds even though the dispatcher and the API call from different threads.
 *
 * Ownership: sink_open copies what it keeps; sink_close shuts the instance
 * down and drops the library reference. Not for scheduling, retries or
 * templates: the dispatcher (schedule.c, recorder.c, deliver.c).
 */
#ifndef HERALD_SINKHOST_H
#define HERALD_SINKHOST_H

#include <stddef.h>
#include <stdint.h>

#include "herald/sink.h"

struct sink;

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
int sink_open(const char *name, const char *plugin, const char *plugin_dir,
	      const char *config_path, const struct herald_sink_option *options, size_t n_options,
	      struct sink **out, char *err, size_t errlen);
void sink_close(struct sink *s); /* NULL is a no-op */

const char *sink_name(const struct sink *s);   /* the instance name */
const char *sink_plugin(const struct sink *s); /* the plugin's own name */

/*
 * Return values: whatever non-zero value a plugin's init, validate, flush or
 * reopen returns is a failure (plugins written to ABI 1.0's "non-zero" still
 * work); these functions pass on 0 or a negative errno only.
 */

/* 0 when the plugin accepts the address (or has no validate), else -EINVAL
 * with `err` set to the plugin's message. */
int sink_validate(struct sink *s, const char *address, char *err, size_t errlen);

/* Deliver n items. results[] is zeroed, sized and defaulted to RETRY with
 * reason "sink gave no outcome" before the call, so an item the plugin
 * forgets is retried, never lost. */
void sink_deliver(struct sink *s, const struct herald_sink_item *items, size_t n,
		  struct herald_sink_result *results);

/* 0 when the plugin has none or it succeeded; its negative errno, or -EIO
 * for any other non-zero value. */
int sink_flush(struct sink *s, int64_t deadline_ms);
int sink_reopen(struct sink *s);

#endif
