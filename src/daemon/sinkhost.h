/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkhost: the dispatcher's handle on one sink instance. By default the
 * instance runs in a process of its own, herald-sinkhost (src/sinkhost/),
 * and a struct sink is its proxy: each call is a request over a socketpair
 * and a wait for the reply, so a plugin that crashes or hangs takes down
 * only that process. With SINK_INLINE the plugin is loaded into heraldd, as
 * before (src/sinkhost/sinkload.h): faster, and a crash kills the daemon.
 *
 * The helper is exec'd (posix_spawn, never a bare fork of this threaded
 * daemon) with only fd 3 (the socket) and stdio open; the options cross
 * the socket, never argv or the environment. It is found at
 * $HERALD_SINKHOST, else next to the running heraldd (a build tree), else
 * at HERALD_SINKHOST_PATH ($(libexecdir)/herald/herald-sinkhost).
 *
 * When the process dies during a call (a signal, an exit, a broken reply,
 * or no answer within SINK_CALL_TIMEOUT_MS: then it is killed), the call
 * returns -ECHILD with the reason "sink process crashed (signal 11)" (or
 * the like), the process is reaped, and the next call starts a new one with
 * the same options. Counting crashes, backing off and pausing the instance
 * are the dispatcher's (dispatch_int.h).
 *
 * Threads: every call on one struct sink is serialised by its mutex (the
 * ABI's "calls into one instance are serialised"): the dispatcher's worker
 * and the API's validate may call at the same time. The mutex is held for
 * the whole call, the plugin's own timeouts included. Each process has a
 * reader thread in heraldd that logs the plugin's lines as they come (its
 * own threads log between calls) and hands replies to the waiting call.
 * Ownership: sink_open copies what it keeps (options included, to restart).
 * Not for: scheduling, retries or templates (schedule.c, recorder.c,
 * deliver.c).
 */
#ifndef HERALD_SINKHOST_H
#define HERALD_SINKHOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "herald/sink.h"

struct sink;

/* No reply to a call within this long: the process is killed (a crash). The
 * plugins' own timeouts (a few seconds to a minute) are far shorter. */
#define SINK_CALL_TIMEOUT_MS (5 * 60 * 1000)

enum sink_flags {
	SINK_INLINE = 1, /* load the plugin into this process (isolation = inline) */
};

/*
 * Start instance `name` of `plugin` (a sink name, <plugin_dir>/NAME.so, or a
 * path containing '/'); `config_path` resolves relative paths (may be NULL).
 * 0, or a negative errno with `err` set: the messages of sinkload_open
 * ("sink NAME: cannot load PATH: ...", "... init failed: ...") whichever
 * side loads it, or "sink NAME: cannot start herald-sinkhost ..." or "sink
 * NAME: the sink process crashed during init (signal 11)".
 */
int sink_open(const char *name, const char *plugin, const char *plugin_dir, const char *config_path,
	      const struct herald_sink_option *options, size_t n_options, unsigned flags,
	      struct sink **out, char *err, size_t errlen);
/* Shut the instance down (the process exits; killed after 10 s). NULL: no-op. */
void sink_close(struct sink *s);

const char *sink_name(const struct sink *s);   /* the instance name */
const char *sink_plugin(const struct sink *s); /* the plugin's own name */
/* The process running the instance now; 0 when inline or between a crash
 * and the next call. */
pid_t sink_pid(struct sink *s);

/* 0 when the plugin accepts the address (or has no validate); -EINVAL with
 * `err` set to the plugin's message; -ECHILD with `err` the crash's reason. */
int sink_validate(struct sink *s, const char *address, char *err, size_t errlen);

/*
 * Deliver n items. results[] is sized and defaulted to RETRY with reason
 * "sink gave no outcome" before the call, so an item the plugin forgets is
 * retried, never lost. Returns 0; or -ECHILD when the process died in the
 * call: every result is RETRY with the crash's reason. When the process
 * cannot be started again, every result is BROKEN with why (and -ECHILD if
 * it crashed in init, else 0).
 */
int sink_deliver(struct sink *s, const struct herald_sink_item *items, size_t n,
		 struct herald_sink_result *results);

/* 0 when the plugin has none or it succeeded; its negative errno, or -EIO
 * for any other non-zero value; -ECHILD when the process died. No process
 * running (after a crash): 0, there is nothing to flush or reopen. */
int sink_flush(struct sink *s, int64_t deadline_ms);
int sink_reopen(struct sink *s);

#endif
