/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * statelock: one process per state directory. heraldd and herald-relay take
 * an exclusive lock on a file in their state directory before they touch
 * anything there (the store, the admin socket, the bound ports), so a second
 * start on the same state exits and names the pid that holds it instead of
 * sharing the store and deleting the first one's socket when it leaves.
 * Not for: locking inside a process (the lock is per open file, flock(2)),
 * nor for state on network file systems where flock may not reach other hosts.
 *
 * Contract:
 * - statelock_acquire creates dir (mode 0700, not its parents) if missing,
 *   opens or creates dir/name (mode 0600, close-on-exec, so plugins' and
 *   sinks' children do not inherit it), takes flock(LOCK_EX | LOCK_NB) and
 *   writes the caller's pid into the file. It never waits. Returns 0 and a new
 *   lock in *out; -EWOULDBLOCK when another process holds it (err names its
 *   pid, as read from the file); another negative errno otherwise. err is
 *   always filled on failure.
 * - statelock_free drops the lock; the file and the pid in it stay (removing
 *   the file would let a third process lock a fresh inode while a second
 *   holds the old one). statelock_free(NULL) is a no-op.
 * - The caller owns the lock; take it after daemon(3): the lock belongs to
 *   the open file, and the pid written is the caller's.
 * Thread-safety: none needed; called once at start and once at stop.
 */
#ifndef HERALD_STATELOCK_H
#define HERALD_STATELOCK_H

#include <stddef.h>

struct statelock;

int statelock_acquire(const char *dir, const char *name, struct statelock **out, char *err,
		      size_t errlen);
void statelock_free(struct statelock *l);

#endif
