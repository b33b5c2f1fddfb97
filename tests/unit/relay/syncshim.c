/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * syncshim: an LD_PRELOAD library for test_relay_ack that stands between
 * herald-relay and the kernel's fdatasync/fsync (LMDB's durable commit), so
 * a test can see when the relay syncs and can hold or fail that sync.
 * Driven by files in $SYNCSHIM_DIR: every call appends a line to "calls";
 * while "hold" exists the call waits; if "fail" exists it fails with EIO.
 * Without $SYNCSHIM_DIR it only passes calls through.
 *
 * Not for production, and not thread-safe beyond what the relay needs (one
 * thread syncs).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int exists(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* 0: go on with the real call; -1: fail it (errno set). */
static int gate(void)
{
	const char *dir = getenv("SYNCSHIM_DIR");
	char path[512];
	struct timespec ts = {0, 10 * 1000 * 1000};
	if (!dir)
		return 0;
	snprintf(path, sizeof path, "%s/calls", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		(void)!write(fd, "sync\n", 5);
		close(fd);
	}
	while (exists(dir, "hold"))
		nanosleep(&ts, NULL);
	if (exists(dir, "fail")) {
		errno = EIO;
		return -1;
	}
	return 0;
}

int fdatasync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return gate() ? -1 : real(fd);
}

int fsync(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return gate() ? -1 : real(fd);
}
