/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for api_auth: the token file (format, permissions, errors that
 * never quote a token) and what each scope may do.
 */
#include "src/api/api_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/tap.h"

static char dir[] = "/tmp/herald-test-auth-XXXXXX";

#define ADMIN "admin-token-0123456789abcdef"
#define READ "read-token-0123456789abcdef"
#define ALICE "alice-token-0123456789abcdef"

static const char *write_file(const char *text, mode_t mode)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/tokens", dir);
	unlink(path);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static void bad(const char *what, const char *text, mode_t mode, int code, const char *needle)
{
	struct api_tokens *t = NULL;
	char err[400] = "";
	int rc = api_tokens_load(write_file(text, mode), &t, err, sizeof err);
	ok(rc == code && !t && strstr(err, needle) && !strstr(err, "0123456789abcdef"),
	   "%s -> %s", what, err);
}

static bool allows(const struct api_scope *sc, const char *method, const char *path)
{
	char buf[256], *seg[8];
	size_t n = 0;
	snprintf(buf, sizeof buf, "%s", path + 1);
	for (char *save = NULL, *p = strtok_r(buf, "/", &save); p && n < 8;
	     p = strtok_r(NULL, "/", &save))
		seg[n++] = p;
	return api_scope_allows(sc, method, seg, n);
}

static void scopes(const struct api_tokens *t)
{
	struct api_scope admin, read, alice, none;
	ok(api_tokens_find(t, ADMIN, &admin) && admin.kind == API_SCOPE_ADMIN, "admin token");
	ok(api_tokens_find(t, READ, &read) && read.kind == API_SCOPE_READ, "read token");
	ok(api_tokens_find(t, ALICE, &alice) && alice.kind == API_SCOPE_USER &&
		   !strcmp(alice.user, "alice"),
	   "user:alice token");
	ok(!api_tokens_find(t, "alice-token-0123456789abcdeX", &none) &&
		   none.kind == API_SCOPE_NONE,
	   "a near miss is no token");
	ok(!api_tokens_find(t, NULL, &none) && !api_tokens_find(NULL, ADMIN, &none),
	   "no token, no token set: nothing");
	ok(allows(&admin, "DELETE", "/v1/users/bob"), "admin may do anything");
	ok(allows(&read, "GET", "/v1/users") && allows(&read, "HEAD", "/metrics") &&
		   allows(&read, "GET", "/v1/stats"),
	   "read may GET and HEAD");
	ok(!allows(&read, "POST", "/v1/users") && !allows(&read, "DELETE", "/v1/users/a") &&
		   !allows(&read, "POST", "/v1/filter/test"),
	   "read may not POST or DELETE");
	ok(allows(&alice, "GET", "/v1/users/alice") &&
		   allows(&alice, "POST", "/v1/users/alice/subscriptions") &&
		   allows(&alice, "PUT", "/v1/users/alice/lists/mine") &&
		   allows(&alice, "POST", "/v1/filter/test"),
	   "user:alice may use her own records and filter test");
	ok(!allows(&alice, "DELETE", "/v1/users/alice") && !allows(&alice, "PUT", "/v1/users/alice"),
	   "user:alice may not delete or replace her account");
	ok(allows(&alice, "PATCH", "/v1/users/alice") && !allows(&alice, "PATCH", "/v1/users/bob"),
	   "user:alice may PATCH her own record (quiet hours, time zone), not bob's");
	ok(!allows(&alice, "GET", "/v1/users/bob") &&
		   !allows(&alice, "GET", "/v1/users/bob/subscriptions") &&
		   !allows(&alice, "GET", "/v1/users/alicex") && !allows(&alice, "GET", "/v1/users") &&
		   !allows(&alice, "POST", "/v1/users") && !allows(&alice, "GET", "/metrics"),
	   "user:alice may not touch bob, list users or read metrics");
	ok(!allows(&none, "GET", "/v1/users"), "no scope allows nothing");
}

int main(void)
{
	struct api_tokens *t = NULL;
	char err[400] = "";
	if (!mkdtemp(dir))
		return 1;
	const char *path = write_file("# herald API tokens\n\n" ADMIN " admin\n  " READ "\tread\n" ALICE
				      " user:alice\r\n",
				      0600);
	ok(api_tokens_load(path, &t, err, sizeof err) == 0 && api_tokens_count(t) == 3,
	   "a good file loads with 3 tokens (%s)", err);
	if (t)
		scopes(t);
	api_tokens_free(t);
	bad("group-readable file", ADMIN " admin\n", 0640, -EPERM, "chmod 600");
	bad("world-readable file", ADMIN " admin\n", 0644, -EPERM, "mode 0644");
	bad("short token", "short admin\n", 0600, -EINVAL, "tokens:1: a token must be 16");
	bad("unknown scope", ADMIN " root\n", 0600, -EINVAL, "scope 'root'");
	bad("bad user name", ADMIN " user:Bob\n", 0600, -EINVAL, "expected admin, read or user:NAME");
	bad("three fields", ADMIN " admin extra\n", 0600, -EINVAL, "expected 'TOKEN SCOPE'");
	bad("no scope", "# x\n" ADMIN "\n", 0600, -EINVAL, "tokens:2: expected 'TOKEN SCOPE'");
	bad("same token twice", ADMIN " admin\n" ADMIN " read\n", 0600, -EINVAL,
	    "tokens:2: the same token is on line 1");
	ok(api_tokens_load("/nonexistent/tokens", &t, err, sizeof err) == -ENOENT &&
		   strstr(err, "No such file"),
	   "missing file -> %s", err);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("could not remove %s", dir);
	return tap_done();
}
