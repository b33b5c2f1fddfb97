/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * api_auth: the API token file and scope rules (see api_auth.h). Not for
 * reading HTTP headers: api.c hands in the bare token.
 */
#include "api_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIGEST_LEN 32

struct token {
	unsigned char digest[DIGEST_LEN]; /* SHA-256 of the token, never the token */
	struct api_scope scope;
	int line;
};

struct api_tokens {
	struct token *v;
	size_t n;
};

static int digest(const char *token, unsigned char out[DIGEST_LEN])
{
	unsigned int len = 0;
	if (EVP_Digest(token, strlen(token), out, &len, EVP_sha256(), NULL) != 1 ||
	    len != DIGEST_LEN)
		return -EIO;
	return 0;
}

static bool valid_token(const char *t)
{
	size_t n = strlen(t);
	if (n < API_TOKEN_MIN || n > API_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] < 0x21 || t[i] > 0x7e)
			return false;
	return true;
}

static int parse_scope(const char *s, struct api_scope *out)
{
	memset(out, 0, sizeof *out);
	if (!strcmp(s, "admin"))
		out->kind = API_SCOPE_ADMIN;
	else if (!strcmp(s, "read"))
		out->kind = API_SCOPE_READ;
	else if (!strncmp(s, "user:", 5) && directory_valid_user_name(s + 5)) {
		out->kind = API_SCOPE_USER;
		strcpy(out->user, s + 5); /* valid names fit */
	} else
		return -EINVAL;
	return 0;
}

/* One non-comment line: "TOKEN SCOPE". The error never quotes the token. */
static int parse_line(struct api_tokens *t, char *line, int lineno, char *why, size_t whylen)
{
	char *save = NULL, *tok = strtok_r(line, " \t", &save);
	char *scope = tok ? strtok_r(NULL, " \t", &save) : NULL;
	struct token *e;
	if (!scope || strtok_r(NULL, " \t", &save)) {
		snprintf(why, whylen, "expected 'TOKEN SCOPE'");
		return -EINVAL;
	}
	if (!valid_token(tok)) {
		snprintf(why, whylen, "a token must be %d to %d printable characters without spaces",
			 API_TOKEN_MIN, API_TOKEN_MAX);
		return -EINVAL;
	}
	if (!(e = realloc(t->v, (t->n + 1) * sizeof *e)))
		return -ENOMEM;
	t->v = e;
	e = &t->v[t->n];
	e->line = lineno;
	if (parse_scope(scope, &e->scope)) {
		snprintf(why, whylen, "scope '%.80s': expected admin, read or user:NAME", scope);
		return -EINVAL;
	}
	if (digest(tok, e->digest))
		return -EIO;
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(t->v[i].digest, e->digest, DIGEST_LEN)) {
			snprintf(why, whylen, "the same token is on line %d", t->v[i].line);
			return -EINVAL;
		}
	t->n++;
	return 0;
}

static int parse_file(struct api_tokens *t, FILE *f, const char *path, char *err, size_t errlen)
{
	char line[1024], why[200];
	int lineno = 0, rc = 0;
	while (!rc && fgets(line, sizeof line, f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof line - 1 && line[n - 1] != '\n') {
			snprintf(err, errlen, "api_tokens %s:%d: line too long", path, lineno);
			return -EINVAL;
		}
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		why[0] = '\0';
		if ((rc = parse_line(t, p, lineno, why, sizeof why)))
			snprintf(err, errlen, "api_tokens %s:%d: %s", path, lineno,
				 *why ? why : strerror(-rc));
	}
	explicit_bzero(line, sizeof line); /* it held a token */
	return rc;
}

/* The file must be a regular file only its owner can read or write. */
static int check_mode(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st)) {
		snprintf(err, errlen, "api_tokens %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "api_tokens %s: not a regular file", path);
		return -EINVAL;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "api_tokens %s: mode %04o lets group or others at the "
				      "tokens; run chmod 600 %s", path,
			 (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

int api_tokens_load(const char *path, struct api_tokens **out, char *err, size_t errlen)
{
	struct api_tokens *t = calloc(1, sizeof *t);
	FILE *f = NULL;
	int rc, fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!t) {
		rc = -ENOMEM;
		snprintf(err, errlen, "api_tokens %s: out of memory", path);
		goto out;
	}
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "api_tokens %s: %s", path, strerror(errno));
		goto out;
	}
	if ((rc = check_mode(fd, path, err, errlen)))
		goto out;
	if (!(f = fdopen(fd, "r"))) {
		rc = -errno;
		snprintf(err, errlen, "api_tokens %s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	rc = parse_file(t, f, path, err, errlen);
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (rc) {
		api_tokens_free(t);
		t = NULL;
	}
	*out = t;
	return rc;
}

void api_tokens_free(struct api_tokens *t)
{
	if (!t)
		return;
	if (t->v)
		explicit_bzero(t->v, t->n * sizeof *t->v);
	free(t->v);
	free(t);
}

size_t api_tokens_count(const struct api_tokens *t)
{
	return t ? t->n : 0;
}

bool api_tokens_find(const struct api_tokens *t, const char *token, struct api_scope *out)
{
	unsigned char d[DIGEST_LEN];
	const struct token *hit = NULL;
	memset(out, 0, sizeof *out);
	if (!t || !token || digest(token, d))
		return false;
	/* Look at every entry, whatever matched: the time taken says nothing. */
	for (size_t i = 0; i < t->n; i++) {
		bool same = CRYPTO_memcmp(d, t->v[i].digest, DIGEST_LEN) == 0;
		if (same)
			hit = &t->v[i];
	}
	if (hit)
		*out = hit->scope;
	return hit != NULL;
}

static bool is_read(const char *method)
{
	return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

/* user:NAME may use /v1/users/NAME (read it, and PATCH its quiet hours and
 * time zone: deleting the account is an administrator's call), everything
 * below it, and /v1/filter/test. */
static bool user_allows(const char *user, const char *method, char *const *seg, size_t nseg)
{
	if (nseg == 3 && !strcmp(seg[0], "v1") && !strcmp(seg[1], "filter") &&
	    !strcmp(seg[2], "test"))
		return true;
	if (nseg < 3 || strcmp(seg[0], "v1") || strcmp(seg[1], "users") || strcmp(seg[2], user))
		return false;
	return nseg > 3 || is_read(method) || !strcmp(method, "PATCH");
}

bool api_scope_allows(const struct api_scope *sc, const char *method, char *const *seg,
		      size_t nseg)
{
	switch (sc->kind) {
	case API_SCOPE_ADMIN:
		return true;
	case API_SCOPE_READ:
		return is_read(method);
	case API_SCOPE_USER:
		return user_allows(sc->user, method, seg, nseg);
	default:
		return false;
	}
}
