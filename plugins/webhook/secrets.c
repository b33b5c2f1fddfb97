/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* secrets: reading the key files (see secrets.h). */
#define _GNU_SOURCE
#include "secrets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinkutil.h"

#define MAX_FILE 65536

void secrets_release(struct secrets *s)
{
	if (s->whsec)
		explicit_bzero(s->whsec, s->n_whsec * sizeof *s->whsec);
	free(s->whsec);
	sign_key_wipe(&s->github);
	*s = (struct secrets){0};
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
	struct sinkutil_secret text = {0};
	char why[200];
	int rc = 0;

	*warning = NULL;
	if (secret_file) {
		rc = sinkutil_secret_read("secret_file", secret_file, MAX_FILE, 0, &text, err,
					  errlen);
		if (!rc && secrets_parse_whsec_text(text.value, &n, why, sizeof why)) {
			snprintf(err, errlen, "secret_file: %s: %s", secret_file, why);
			rc = -EINVAL;
		}
		if (text.exposed)
			*warning = "is readable by every user";
		sinkutil_secret_release(&text);
	}
	if (!rc && github_file) {
		rc = sinkutil_secret_read("github_secret_file", github_file, MAX_FILE,
					  SINKUTIL_SECRET_FIRST_LINE, &text, err, errlen);
		if (!rc && text.len > SIGN_KEY_MAX) {
			snprintf(err, errlen, "github_secret_file: %s: the first line must hold 1..%d bytes",
				 github_file, SIGN_KEY_MAX);
			rc = -EINVAL;
		}
		if (!rc) {
			memcpy(n.github.k, text.value, text.len);
			n.github.len = text.len;
			n.has_github = true;
		}
		if (text.exposed)
			*warning = "is readable by every user";
		sinkutil_secret_release(&text);
	}
	if (rc) {
		secrets_release(&n);
		return rc;
	}
	secrets_release(s);
	*s = n;
	return 0;
}
