/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* secrets: reading the key files (see secrets.h). */
#define _GNU_SOURCE
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE 65536

void secrets_release(struct secrets *s)
{
	if (s->whsec)
		explicit_bzero(s->whsec, s->n_whsec * sizeof *s->whsec);
	free(s->whsec);
	sign_key_wipe(&s->github);
	*s = (struct secrets){0};
}

/* The whole file into a malloc'd NUL-terminated buffer of at most MAX_FILE
 * bytes; NULL with err set. */
static char *slurp(const char *path, const char **warning, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char *buf = NULL;
	size_t len = 0;
	struct stat st;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH))
		*warning = "is readable by every user";
	buf = malloc(MAX_FILE + 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, MAX_FILE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > MAX_FILE) {
			snprintf(err, errlen, "%s: longer than %d bytes", path, MAX_FILE);
			goto fail;
		}
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		snprintf(err, errlen, "%s: has a NUL byte", path);
		goto fail;
	}
	goto out;
fail:
	explicit_bzero(buf, len);
	free(buf);
	buf = NULL;
out:
	close(fd);
	return buf;
}

int secrets_parse_whsec_text(const char *text, struct secrets *s, char *err, size_t errlen)
{
	struct secrets n = {0};
	unsigned line = 0;
	char why[160];

	for (const char *at = text; *at;) {
		size_t k = strcspn(at, "\n");
		const char *p = at, *e = at + k;
		line++;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (p < e && *p != '#') {
			struct sign_key *v = realloc(n.whsec, (n.n_whsec + 1) * sizeof *v);
			if (!v) {
				snprintf(err, errlen, "out of memory");
				goto fail;
			}
			n.whsec = v;
			if (sign_parse_whsec(p, (size_t)(e - p), &n.whsec[n.n_whsec], why,
					     sizeof why)) {
				snprintf(err, errlen, "line %u: %s", line, why);
				goto fail;
			}
			n.n_whsec++;
		}
		at += k + (at[k] == '\n');
	}
	if (!n.n_whsec) {
		snprintf(err, errlen, "no secret in it (one whsec_... per line)");
		goto fail;
	}
	secrets_release(s);
	*s = n;
	return 0;
fail:
	secrets_release(&n);
	return -1;
}

int secrets_load(const char *secret_file, const char *github_file, struct secrets *s,
		 const char **warning, char *err, size_t errlen)
{
	struct secrets n = {0};
	char why[200];
	char *text = NULL;

	*warning = NULL;
	if (secret_file) {
		text = slurp(secret_file, warning, why, sizeof why);
		if (!text || secrets_parse_whsec_text(text, &n, why, sizeof why)) {
			snprintf(err, errlen, "secret_file: %s%s%s", text ? secret_file : "",
				 text ? ": " : "", why);
			goto fail;
		}
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (github_file) {
		text = slurp(github_file, warning, why, sizeof why);
		if (!text) {
			snprintf(err, errlen, "github_secret_file: %s", why);
			goto fail;
		}
		size_t k = strcspn(text, "\r\n");
		if (k == 0 || k > SIGN_KEY_MAX) {
			snprintf(err, errlen, "github_secret_file: %s: the first line must hold 1..%d bytes",
				 github_file, SIGN_KEY_MAX);
			goto fail;
		}
		memcpy(n.github.k, text, k);
		n.github.len = k;
		n.has_github = true;
		explicit_bzero(text, strlen(text));
		free(text);
	}
	secrets_release(s);
	*s = n;
	return 0;
fail:
	if (text)
		explicit_bzero(text, strlen(text));
	free(text);
	secrets_release(&n);
	return -1;
}
