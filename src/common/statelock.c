/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * statelock: the exclusive lock a daemon holds on its state directory (see
 * statelock.h). Not for anything but "is someone else already here, and who".
 */
#include "statelock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct statelock {
	int fd;
};

/* The pid the holder wrote, or 0 if it has not written it yet. */
static long holder_pid(int fd)
{
	char text[32];
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	long pid = strtol(text, NULL, 10);
	return pid > 0 ? pid : 0;
}

static int write_pid(int fd)
{
	char text[32];
	int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, text, (size_t)n, 0) != n)
		return -errno;
	return 0;
}

int statelock_acquire(const char *dir, const char *name, struct statelock **out, char *err,
		      size_t errlen)
{
	char path[PATH_MAX];
	int fd = -1, rc = 0;
	*out = NULL;
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
		snprintf(err, errlen, "statelock: path too long: %s/%s", dir, name);
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "statelock: cannot create %s (%s)", dir, strerror(errno));
		goto out;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "statelock: cannot open %s (%s)", path, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		rc = -errno;
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "%s is locked by pid %ld: another process is "
				 "running on this state; not starting", path, holder_pid(fd));
		else
			snprintf(err, errlen, "statelock: cannot lock %s (%s)", path,
				 strerror(errno));
		goto out;
	}
	if ((rc = write_pid(fd))) {
		snprintf(err, errlen, "statelock: cannot write pid to %s (%s)", path,
			 strerror(-rc));
		goto out;
	}
	if (!(*out = malloc(sizeof **out))) {
		rc = -ENOMEM;
		snprintf(err, errlen, "statelock: out of memory");
		goto out;
	}
	(*out)->fd = fd;
out:
	if (rc && fd >= 0)
		close(fd); /* also drops the lock, if it was ours */
	return rc;
}

void statelock_free(struct statelock *l)
{
	if (!l)
		return;
	/* The pid stays in the file: only a held lock counts, and the next
	 * holder overwrites it. */
	close(l->fd);
	free(l);
}
