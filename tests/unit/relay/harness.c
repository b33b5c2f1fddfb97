/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* harness: see harness.h. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t g_child = -1;

void kill_child(void)
{
	if (g_child > 0) {
		kill(g_child, SIGKILL);
		waitpid(g_child, NULL, 0);
		g_child = -1;
	}
}

void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "Bail out! test timed out\n";
	if (g_child > 0)
		kill(g_child, SIGKILL);
	(void)!write(1, msg, sizeof msg - 1);
	_exit(1);
}

void bail(const char *why)
{
	kill_child();
	printf("Bail out! %s\n", why);
	exit(1);
}

void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

bool file_has(const char *path, const char *needle)
{
	char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;
	if (!f)
		return false;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

bool wait_ready(const char *log, pid_t *pid)
{
	for (int i = 0; i < 5000 / 20; i++) {
		if (file_has(log, "herald-relay: ready"))
			return true;
		if (waitpid(*pid, NULL, WNOHANG) == *pid) {
			*pid = g_child = -1;
			return false;
		}
		sleep_ms(20);
	}
	return false;
}
