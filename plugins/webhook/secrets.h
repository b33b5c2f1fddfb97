/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * secrets: the webhook sink's key files, read at init and on reopen
 * (SIGHUP), so a rotated secret can be added to secret_file and the old one
 * removed later without a restart.
 *
 *  - secret_file: one "whsec_<base64>" per line; blank lines and lines
 *    starting with '#' are skipped; every secret signs every request.
 *  - github_secret_file: the first line, taken as raw bytes.
 *
 * The files are read with the toolkit's sinkutil_secret_read (regular
 * files of at most 64 KiB). Errors name the file and line, never the
 * secret. Buffers holding key material are wiped before they are freed.
 */
#ifndef HERALD_WEBHOOK_SECRETS_H
#define HERALD_WEBHOOK_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

#include "sign.h"

/* The keys of one instance; {0} is "none". secrets_release wipes and frees. */
struct secrets {
	struct sign_key *whsec; /* n_whsec keys */
	size_t n_whsec;
	struct sign_key github;
	bool has_github;
};

/* Read the files (either path may be NULL: not configured) into s.
 * 0, or a negative errno with err set and s untouched. *warning is set (a
 * static string) when a file is readable by every user, NULL otherwise. */
int secrets_load(const char *secret_file, const char *github_file, struct secrets *s,
		 const char **warning, char *err, size_t errlen);
void secrets_release(struct secrets *s);

/* Parse the text of a secret_file (exposed for the unit test). */
int secrets_parse_whsec_text(const char *text, struct secrets *s, char *err, size_t errlen);

#endif
