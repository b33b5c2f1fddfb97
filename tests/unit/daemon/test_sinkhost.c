/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for sinkhost and the bundled file and exec sinks, with the
 * plugins as built: the host's refusals (one test plugin per defect), how it
 * cleans up after a misbehaving plugin, the file sink's exact lines, and the
 * exec sink against small shell scripts written here (outcomes, timeouts,
 * environment, stdin, deadlock, zombies).
 *
 * Plugins are found under $top_builddir (set by `make check`), or argv[1].
 */
#include "src/daemon/sinkhost.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/tap.h"

static char dir[] = "/tmp/herald-test-sinkhost-XXXXXX";
static char builddir[1024], sinks_dir[1100], test_plugins[1100];
/* How every instance here is opened: each in a sink process, as heraldd
 * does by default; SINK_TEST_INLINE=1 runs the same tests inline. */
static unsigned open_flags;

/* ---- small helpers ---- */

/* A path in the temp dir; a few live at a time. */
static const char *in_dir(const char *name)
{
	static char ring[8][1200];
	static int next;
	char *p = ring[next++ % 8];
	snprintf(p, sizeof ring[0], "%s/%s", dir, name);
	return p;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (cap - n < 65536) {
			char *p = realloc(buf, cap = cap * 2 + 65536);
			if (!p)
				break;
			buf = p;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (!got)
			break;
	}
	fclose(f);
	if (buf)
		buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static int file_is(const char *path, const char *want)
{
	char *got = slurp(path, NULL);
	int same = got && !strcmp(got, want);
	if (!same)
		diag("%s: got '%s', want '%s'", path, got ? got : "(none)", want);
	free(got);
	return same;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f))
		diag("cannot write %s", path);
	chmod(path, mode);
}

/* A /bin/sh script in the temp dir; "@" in body stands for the temp dir. */
static const char *script(const char *name, const char *body)
{
	const char *path = in_dir(name);
	char text[4096] = "#!/bin/sh\n";
	size_t n = strlen(text);
	for (const char *p = body; *p && n + 1100 < sizeof text; p++)
		n += (size_t)(*p == '@' ? snprintf(text + n, sizeof text - n, "%s", dir)
					: snprintf(text + n, sizeof text - n, "%c", *p));
	write_file(path, text, 0755);
	return path;
}

/* Open instance `name` of `plugin` with "key=value" options, NULL-ended. */
static int open_sink(const char *name, const char *plugin, const char *config_path, struct sink **s,
		     char *err, size_t errlen, ...)
{
	struct herald_sink_option opts[8];
	char keys[8][64];
	size_t n = 0;
	va_list ap;
	va_start(ap, errlen);
	for (const char *kv; n < 8 && (kv = va_arg(ap, const char *));) {
		const char *eq = strchr(kv, '=');
		snprintf(keys[n], sizeof keys[n], "%.*s", (int)(eq - kv), kv);
		opts[n] = (struct herald_sink_option){keys[n], eq + 1, (unsigned)n + 2};
		n++;
	}
	va_end(ap);
	err[0] = '\0';
	return sink_open(name, plugin, strchr(plugin, '/') ? NULL : sinks_dir, config_path, opts, n,
			 open_flags, s, err, errlen);
}

static int64_t now_msec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fixtures, built by hand ---- */

static const char *const pkgs[] = {"kernel", "gl ibc"};
static const char *const users[] = {"ralph", "zoe"};
static const uint64_t subs[] = {7, 42};

static struct herald_notification note(const char *id, const char *json)
{
	return (struct herald_notification){
	    .size = sizeof(struct herald_notification),
	    .id = id,
	    .user = "alice",
	    .destination = 9,
	    .address = "alice@example.org",
	    .topic = "org.fedoraproject.prod.bodhi.update.comment",
	    .title = "kernel-6.1\tcommented",
	    .summary = "caf\xc3\xa9 summary",
	    .link = "https://example.org/u/1",
	    .agent = "ralph",
	    .severity = "info",
	    .usernames = users,
	    .n_usernames = 2,
	    .packages = pkgs,
	    .n_packages = 2,
	    .subscriptions = subs,
	    .n_subscriptions = 2,
	    .msg_id = "2024-abc",
	    .timestamp = 1700000000.5,
	    .json = json,
	    .text = "the note text",
	    .markdown = "the *note*",
	    .attempt = 3,
	};
}

static struct herald_sink_item item(const struct herald_notification *const *notes, size_t n,
				    int digest, const char *id)
{
	return (struct herald_sink_item){
	    .size = sizeof(struct herald_sink_item),
	    .user = "alice",
	    .destination = 18446744073709551615u,
	    .address = "alice@example.org",
	    .notes = notes,
	    .n_notes = n,
	    .digest = digest,
	    .id = id,
	    .subject = digest ? "2 updates" : "kernel-6.1 commented",
	    .text = "line one\nline two",
	    .markdown = "the md",
	};
}

/* Deliver one single-note item and return its result. */
static struct herald_sink_result deliver1(struct sink *s, const char *json)
{
	struct herald_notification n = note("0123456789abcdef0123456789abcdef", json);
	const struct herald_notification *np[] = {&n};
	struct herald_sink_item it = item(np, 1, 0, n.id);
	struct herald_sink_result r;
	sink_deliver(s, &it, 1, &r);
	return r;
}

/* ---- the host's refusals ---- */

/* Opening test plugin `plugin` must fail with "sink t: PATH tail" (or
 * "sink t: tail" when the message does not name the file). */
static void refused(const char *plugin, int names_path, const char *tail)
{
	char path[1200], want[1400], err[1400];
	struct sink *s = (struct sink *)1;
	snprintf(path, sizeof path, "%s/%s.so", test_plugins, plugin);
	snprintf(want, sizeof want, "sink t: %s%s%s", names_path ? path : "", names_path ? " " : "",
		 tail);
	int rc = open_sink("t", path, NULL, &s, err, sizeof err, NULL);
	ok(rc < 0 && !s && !strcmp(err, want), "%s refused: '%s'", plugin, err);
}

static void test_refusals(void)
{
	char err[1400], want[1400];
	struct sink *s = (struct sink *)1;

	int rc = open_sink("m", "nope", NULL, &s, err, sizeof err, NULL);
	snprintf(want, sizeof want, "sink m: cannot load %s/nope.so: ", sinks_dir);
	ok(rc < 0 && !s && !strncmp(err, want, strlen(want)), "a missing plugin: '%s'", err);
	refused("no_entry", 1, "has no herald_sink_entry symbol");
	refused("bad_abi", 1, "does not speak sink ABI 1.2 (it offers 2.0)");
	refused("refuse_abi", 1, "does not speak sink ABI 1.2 (it refused it)");
	refused("wrong_name", 1, "is sink 'not_wrong_name', not 'wrong_name'");
	refused("no_deliver", 1, "lacks the deliver operation");
	refused("init_fails", 0, "init failed: refusing to start: test");

	rc = open_sink("good", "file", NULL, &s, err, sizeof err, "path=/dev/null", NULL);
	ok(rc == 0 && s, "a good sink still opens after the refusals (%s)", err);
	if (!rc) {
		ok(!strcmp(sink_name(s), "good") && !strcmp(sink_plugin(s), "file"),
		   "sink_name and sink_plugin");
		sink_close(s);
	}
	sink_close(NULL);
}

/* ---- a plugin that misbehaves where the host must cope ---- */

static void test_forgetful(void)
{
	char path[1200], err[1400];
	struct sink *s;
	int saved = dup(2), fd = open(in_dir("log.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	snprintf(path, sizeof path, "%s/forgetful.so", test_plugins);
	dup2(fd, 2);
	int rc = open_sink("fg", path, NULL, &s, err, sizeof err, "k=v", NULL);
	dup2(saved, 2);
	close(saved);
	close(fd);
	ok(rc == 0, "the forgetful plugin opens (%s)", err);
	if (rc)
		return;
	char *log = slurp(in_dir("log.txt"), NULL);
	ok(log && strstr(log, "[warn]: sink 'fg': started with 1 options forged [31m\n"),
	   "host->log lines get the instance prefix and lose control characters (%s)", log);
	free(log);

	char x255[256];
	memset(x255, 'x', 255);
	x255[255] = '\0';
	ok(sink_validate(s, "none", err, sizeof err) < 0 && !strcmp(err, "address refused"),
	   "validate without a message: '%s'", err);
	ok(sink_validate(s, "fill", err, sizeof err) < 0 && !strcmp(err, x255),
	   "validate with an unterminated message is cut at 255 bytes");
	ok(sink_validate(s, "other", err, sizeof err) < 0 && !strcmp(err, "bad address"),
	   "validate's message loses its newline: '%s'", err);

	struct herald_notification n = note("n", "{}");
	const struct herald_notification *np[] = {&n};
	struct herald_sink_item its[3] = {item(np, 1, 0, "a"), item(np, 1, 0, "b"),
					  item(np, 1, 0, "c")};
	struct herald_sink_result r[3];
	memset(r, 0x5a, sizeof r);
	sink_deliver(s, its, 3, r);
	ok(r[0].outcome == HERALD_SINK_RETRY && r[0].size == sizeof r[0] &&
	       !strcmp(r[0].reason, "sink gave an unknown outcome 99"),
	   "an unknown outcome becomes a retry: '%s'", r[0].reason);
	ok(r[1].outcome == HERALD_SINK_RETRY && r[1].retry_after == 0 &&
	       !strcmp(r[1].reason, "sink gave no outcome"),
	   "an item the plugin forgot is retried: '%s'", r[1].reason);
	ok(r[2].outcome == HERALD_SINK_REJECTED && strlen(r[2].reason) == 255,
	   "an unterminated reason is terminated");
	ok(sink_reopen(s) == 0, "reopen beyond the table's size is not called");
	ok(sink_flush(s, 0) == 0, "no flush operation: 0");
	sink_close(s);
}

/* ---- a plugin written to 1.0's "non-zero is failure" ---- */

static void test_old_rc(void)
{
	char path[1200], err[1400];
	struct sink *s = (struct sink *)1;

	snprintf(path, sizeof path, "%s/old_rc.so", test_plugins);
	int rc = open_sink("or", path, NULL, &s, err, sizeof err, "refuse=yes", NULL);
	ok(rc == -EINVAL && !s && !strcmp(err, "sink or: init failed: refused with 1"),
	   "init returning 1 is a failure, passed on as -EINVAL: %d '%s'", rc, err);
	rc = open_sink("or", path, NULL, &s, err, sizeof err, NULL);
	ok(rc == 0, "old_rc opens (%s)", err);
	if (rc)
		return;
	rc = sink_flush(s, 0);
	ok(rc == -EIO, "flush returning 1 is a failure, passed on as -EIO (%d)", rc);
	rc = sink_reopen(s);
	ok(rc == -ENOSPC, "reopen's negative errno is passed on (%d)", rc);
	sink_close(s);
}

/* ---- the file sink ---- */

static void test_file_lines(void)
{
	const char *out = in_dir("out.jsonl");
	char err[1400];
	struct sink *s;
	const char *j1 = "{\"id\":\"n1\",\"title\":\"caf\xc3\xa9 \\\"x\\\"\\n\"}";
	const char *j2 = "{\"id\":\"n2\"}", *j3 = "{\"id\":\"n3\",\"a\":[1,2]}";

	int rc = open_sink("f", "file", NULL, &s, err, sizeof err, "path=", NULL);
	ok(rc < 0 && !strcmp(err, "sink f: init failed: path: empty (line 2)"), "empty path: %s",
	   err);
	rc = open_sink("f", "file", NULL, &s, err, sizeof err, NULL);
	ok(rc < 0 && !strcmp(err, "sink f: init failed: path: required"), "no path: %s", err);
	rc = open_sink("f", "file", NULL, &s, err, sizeof err, "path=/x", "fsync=no", "colour=red",
		       NULL);
	ok(rc < 0 && !strcmp(err, "sink f: init failed: unknown option 'colour' (line 4)"),
	   "an unknown option is refused by name: %s", err);
	rc = open_sink("f", "file", NULL, &s, err, sizeof err, "path=/x", "mode=0999", NULL);
	ok(rc < 0 && strstr(err, "mode: '0999' is not an octal mode"), "a bad mode: %s", err);
	rc = open_sink("f", "file", NULL, &s, err, sizeof err, "path=/x", "fsync=maybe", NULL);
	ok(rc < 0 && strstr(err, "fsync: 'maybe' is not yes or no"), "a bad fsync: %s", err);
	rc = open_sink("f", "file", NULL, &s, err, sizeof err, "path=rel.jsonl", NULL);
	ok(rc < 0 && strstr(err, "is relative and there is no config file"),
	   "a relative path without a config file: %s", err);

	char popt[1300];
	snprintf(popt, sizeof popt, "path=%s", out);
	rc =
	    open_sink("f", "file", NULL, &s, err, sizeof err, popt, "fsync=yes", "mode=0600", NULL);
	ok(rc == 0, "file sink opens with fsync=yes mode=0600 (%s)", err);
	if (rc)
		return;
	struct stat st;
	ok(!stat(out, &st) && (st.st_mode & 07777) == 0600, "the file is created with mode 0600");

	struct herald_sink_result r = deliver1(s, j1);
	ok(r.outcome == HERALD_SINK_DELIVERED && !r.reason[0], "one note delivered (%s)", r.reason);
	char want[1024];
	snprintf(want, sizeof want, "%s\n", j1);
	ok(file_is(out, want), "one line: exactly the note's json and a newline");

	struct herald_notification n1 = note("n1", j1), n2 = note("n2", j2), n3 = note("n3", j3);
	const struct herald_notification *np[] = {&n1, &n2, &n3};
	struct herald_sink_item its[2] = {item(np, 3, 1, "dg"), item(np + 1, 1, 0, "n2")};
	struct herald_sink_result rs[2];
	sink_deliver(s, its, 2, rs);
	ok(rs[0].outcome == HERALD_SINK_DELIVERED && rs[1].outcome == HERALD_SINK_DELIVERED,
	   "a digest and a single item in one call are delivered");
	snprintf(want, sizeof want, "%s\n%s\n%s\n%s\n%s\n", j1, j1, j2, j3, j2);
	ok(file_is(out, want), "the digest wrote one line per note, then the single item");

	/* Parse every line back. */
	char *text = slurp(out, NULL);
	int lines = 0, parsed = 0;
	const char *ids[] = {"n1", "n1", "n2", "n3", "n2"};
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(l, 0, NULL);
		if (lines < 5 && o &&
		    !strcmp(json_string_value(json_object_get(o, "id")), ids[lines]))
			parsed++;
		lines++;
		json_decref(o);
	}
	free(text);
	ok(lines == 5 && parsed == 5, "every line parses back as its note (%d/%d)", parsed, lines);

	r = deliver1(s, "{\"a\":1,\r\n\"b\":2}");
	ok(r.outcome == HERALD_SINK_DELIVERED, "JSON with raw line breaks between tokens");
	text = slurp(out, NULL);
	ok(text && strstr(text, "\n{\"a\":1,  \"b\":2}\n"), "is written as one line");
	free(text);

	ok(sink_validate(s, "anything at all", err, sizeof err) == 0, "file: any address is fine");
	ok(sink_validate(s, "a\tb", err, sizeof err) < 0 &&
	       !strcmp(err, "address has a control character at byte 1"),
	   "file: a control character is refused: %s", err);
	ok(sink_validate(s, "a\xc2\x85", err, sizeof err) < 0, "file: a C1 control is refused");
	char longaddr[2050];
	memset(longaddr, 'a', 2049);
	longaddr[2049] = '\0';
	ok(sink_validate(s, longaddr, err, sizeof err) < 0, "file: 2049 bytes are refused");
	longaddr[2048] = '\0';
	ok(sink_validate(s, longaddr, err, sizeof err) == 0, "file: 2048 bytes are fine");
	sink_close(s);
}

static void test_file_reopen(void)
{
	const char *out = in_dir("rot.jsonl"), *old = in_dir("rot.jsonl.1");
	char err[1400], popt[1300];
	struct sink *s;

	snprintf(popt, sizeof popt, "path=%s", out);
	int rc = open_sink("f", "file", NULL, &s, err, sizeof err, popt, NULL);
	ok(rc == 0, "file sink for rotation (%s)", err);
	if (rc)
		return;
	deliver1(s, "{\"n\":1}");
	ok(rename(out, old) == 0, "rotate the file away");
	deliver1(s, "{\"n\":2}");
	ok(sink_reopen(s) == 0, "reopen");
	struct herald_sink_result r = deliver1(s, "{\"n\":3}");
	ok(r.outcome == HERALD_SINK_DELIVERED && file_is(old, "{\"n\":1}\n{\"n\":2}\n") &&
	       file_is(out, "{\"n\":3}\n"),
	   "before reopen: the old file; after: a new one");
	sink_close(s);

	/* A file cut mid-line (a crash) gets that line ended before ours. */
	write_file(out, "{\"torn\":", 0644);
	rc = open_sink("f", "file", NULL, &s, err, sizeof err, popt, NULL);
	if (!rc) {
		deliver1(s, "{\"n\":4}");
		sink_close(s);
	}
	ok(file_is(out, "{\"torn\":\n{\"n\":4}\n"), "a torn last line is ended first");

	/* Relative to the config file's directory. */
	char conf[1200];
	snprintf(conf, sizeof conf, "%s/heraldd.conf", dir);
	rc = open_sink("f", "file", conf, &s, err, sizeof err, "path=rel.jsonl", NULL);
	if (!rc) {
		deliver1(s, "{\"n\":5}");
		sink_close(s);
	}
	ok(rc == 0 && file_is(in_dir("rel.jsonl"), "{\"n\":5}\n"),
	   "a relative path is under the config file's directory (%s)", err);

	/* A full disk is worth a retry. */
	rc = open_sink("f", "file", NULL, &s, err, sizeof err, "path=/dev/full", NULL);
	if (!rc) {
		r = deliver1(s, "{}");
		ok(r.outcome == HERALD_SINK_RETRY &&
		       !strcmp(r.reason, "write failed: No space left on device"),
		   "ENOSPC: retry (%s: %s)", herald_sink_outcome_name(r.outcome), r.reason);
		sink_close(s);
	}
}

/* ---- the exec sink ---- */

static struct sink *open_exec(const char *command, const char *timeout)
{
	char err[1400], copt[1300], topt[64];
	struct sink *s = NULL;
	snprintf(copt, sizeof copt, "command=%s", command);
	snprintf(topt, sizeof topt, "timeout_ms=%s", timeout ? timeout : "10000");
	if (open_sink("e", "exec", NULL, &s, err, sizeof err, copt, topt, NULL))
		diag("exec sink: %s", err);
	return s;
}

/* Run `body` as the program for one single-note item. */
static struct herald_sink_result run_script(const char *name, const char *body, const char *json)
{
	struct herald_sink_result r = {.outcome = HERALD_SINK_BROKEN, .reason = "did not open"};
	struct sink *s = open_exec(script(name, body), NULL);
	if (s) {
		r = deliver1(s, json);
		sink_close(s);
	}
	return r;
}

static void test_exec_outcomes(void)
{
	struct herald_sink_result r = run_script("ok.sh", "cat >/dev/null\nexit 0\n", "{}");
	ok(r.outcome == HERALD_SINK_DELIVERED && !r.reason[0], "exit 0: delivered (%s)", r.reason);

	r = run_script("tempfail.sh",
		       "echo working\necho 'Retry-After: 7'\necho 'try later' >&2\nexit 75\n",
		       "{}");
	ok(r.outcome == HERALD_SINK_RETRY && r.retry_after == 7 &&
	       !strcmp(r.reason, "exit 75: try later"),
	   "exit 75: retry after 7 s (%s, %u, %s)", herald_sink_outcome_name(r.outcome), r.retry_after,
	   r.reason);

	r = run_script("tempfail2.sh", "exit 75\n", "{}");
	ok(r.outcome == HERALD_SINK_RETRY && r.retry_after == 0 && !strcmp(r.reason, "exit 75"),
	   "exit 75 without retry-after: %s", r.reason);

	r = run_script("reject.sh", "printf 'no such \\033[1muser\\nsecond line\\n' >&2\nexit 3\n",
		       "{}");
	ok(r.outcome == HERALD_SINK_REJECTED && !strcmp(r.reason, "exit 3: no such  [1muser"),
	   "exit 3: rejected with stderr's first line, cleaned (%s)", r.reason);

	r = run_script("long.sh", "head -c 5000 /dev/zero | tr '\\0' 'e' >&2\nexit 4\n", "{}");
	ok(r.outcome == HERALD_SINK_REJECTED && strlen(r.reason) == 255 &&
	       !strncmp(r.reason, "exit 4: eee", 11),
	   "a long stderr line is cut to the reason's size");

	r = run_script("gone.sh", "echo 'sh: 1: frob: not found' >&2\nexit 127\n", "{}");
	ok(r.outcome == HERALD_SINK_BROKEN && !strcmp(r.reason, "exit 127: sh: 1: frob: not found"),
	   "exit 127: broken (%s)", r.reason);

	r = run_script("signal.sh", "kill -9 $$\n", "{}");
	ok(r.outcome == HERALD_SINK_REJECTED && !strcmp(r.reason, "signal 9"),
	   "death by signal: rejected (%s)", r.reason);

	char cmd[1300];
	snprintf(cmd, sizeof cmd, "%s  one\ttwo ",
		 script("args.sh", "echo \"$#:$1:$2\" > @/args.out\n"));
	struct sink *s = open_exec(cmd, NULL);
	ok(s != NULL, "a command with arguments opens");
	if (s) {
		r = deliver1(s, "{}");
		sink_close(s);
	}
	ok(r.outcome == HERALD_SINK_DELIVERED && file_is(in_dir("args.out"), "2:one:two\n"),
	   "arguments split on spaces and tabs, no shell");
}

/* Is `pid` gone (or a zombie waiting for init, which runs nothing)? */
static int pid_gone(pid_t pid)
{
	char path[64], *stat;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 50; i++) {
		stat = slurp(path, NULL);
		char *rp = stat ? strrchr(stat, ')') : NULL;
		int gone = !stat || (rp && rp[1] == ' ' && rp[2] == 'Z');
		free(stat);
		if (gone)
			return 1;
		usleep(20000);
	}
	return 0;
}

static pid_t read_pid(const char *name)
{
	char *t = slurp(in_dir(name), NULL);
	pid_t pid = t ? (pid_t)atoi(t) : 0;
	free(t);
	return pid;
}

static void test_exec_timeout(void)
{
	struct sink *s = open_exec(script("sleep.sh", "echo $$ > @/sleep.pid\nsleep 30 &\n"
						      "echo $! > @/sleep.child\nwait\n"),
				   "300");
	if (!s)
		return;
	int64_t t0 = now_msec();
	struct herald_sink_result r = deliver1(s, "{}");
	int64_t took = now_msec() - t0;
	sink_close(s);
	ok(r.outcome == HERALD_SINK_RETRY && !strcmp(r.reason, "timed out after 300 ms"),
	   "a sleeping program times out: retry (%s)", r.reason);
	ok(took >= 300 && took < 2500, "... after 300 ms, not 30 s (%lld ms)", (long long)took);
	pid_t p = read_pid("sleep.pid"), c = read_pid("sleep.child");
	ok(p > 0 && c > 0 && pid_gone(p) && pid_gone(c),
	   "the program and its background child are gone (%d, %d)", (int)p, (int)c);

	s = open_exec(script("stubborn.sh", "trap '' TERM\necho $$ > @/stubborn.pid\nsleep 30\n"),
		      "200");
	if (!s)
		return;
	t0 = now_msec();
	r = deliver1(s, "{}");
	took = now_msec() - t0;
	sink_close(s);
	ok(r.outcome == HERALD_SINK_RETRY && took >= 1150 && took < 4000,
	   "a program ignoring SIGTERM gets SIGKILL a second later (%lld ms)", (long long)took);
	p = read_pid("stubborn.pid");
	ok(p > 0 && pid_gone(p), "... and is gone");
}

/* NUL-separated `env -0` output: the value of `key`, or NULL. */
static const char *env_get(const char *env, size_t len, const char *key)
{
	size_t k = strlen(key);
	for (const char *p = env; p < env + len; p += strlen(p) + 1)
		if (!strncmp(p, key, k) && p[k] == '=')
			return p + k + 1;
	return NULL;
}

static int env_only(const char *env, size_t len, const char *const *allowed, size_t n)
{
	for (const char *p = env; p < env + len; p += strlen(p) + 1) {
		size_t i = 0, k = strcspn(p, "=");
		while (i < n && !(strlen(allowed[i]) == k && !strncmp(p, allowed[i], k)))
			i++;
		if (i == n) {
			diag("unexpected variable: %.*s", (int)k, p);
			return 0;
		}
	}
	return 1;
}

static void test_exec_env(void)
{
	static const char *const want[][2] = {
	    {"PATH", "/usr/bin:/bin"},
	    {"HERALD_ID", "0123456789abcdef0123456789abcdef"},
	    {"HERALD_USER", "alice"},
	    {"HERALD_DESTINATION", "18446744073709551615"},
	    {"HERALD_ADDRESS", "alice@example.org"},
	    {"HERALD_TOPIC", "org.fedoraproject.prod.bodhi.update.comment"},
	    {"HERALD_TITLE", "kernel-6.1\tcommented"},
	    {"HERALD_SUMMARY", "caf\xc3\xa9 summary"},
	    {"HERALD_LINK", "https://example.org/u/1"},
	    {"HERALD_AGENT", "ralph"},
	    {"HERALD_SEVERITY", "info"},
	    {"HERALD_PACKAGES", "kernel gl_ibc"},
	    {"HERALD_USERNAMES", "ralph zoe"},
	    {"HERALD_SUBSCRIPTIONS", "7,42"},
	    {"HERALD_MSG_ID", "2024-abc"},
	    {"HERALD_ATTEMPT", "3"},
	    {"HERALD_DIGEST", "0"},
	    {"HERALD_COUNT", "1"},
	    {"HERALD_SUBJECT", "kernel-6.1 commented"},
	    {"HERALD_TEXT", "line one\nline two"},
	};
	const size_t nwant = sizeof want / sizeof want[0];
	const char *allowed[sizeof want / sizeof want[0] + 1];
	const char *json = "{\"id\":\"0123\",\"t\":\"\\u00e9\"}";
	size_t len;
	int good = 1;

	setenv("HERALD_TEST_LEAK", "daemon secret", 1);
	struct herald_sink_result r =
	    run_script("env.sh", "env -0 > @/env.out\ncat > @/stdin.out\n", json);
	ok(r.outcome == HERALD_SINK_DELIVERED, "the env script ran (%s)", r.reason);
	char *env = slurp(in_dir("env.out"), &len);
	for (size_t i = 0; env && i < nwant; i++) {
		const char *v = env_get(env, len, want[i][0]);
		allowed[i] = want[i][0];
		if (!v || strcmp(v, want[i][1])) {
			diag("%s: got '%s', want '%s'", want[i][0], v ? v : "(unset)", want[i][1]);
			good = 0;
		}
	}
	allowed[nwant] = "PWD"; /* dash sets it */
	ok(env && good, "the program sees every HERALD_* variable with its exact value");
	ok(env && !env_get(env, len, "HERALD_TEST_LEAK") && !env_get(env, len, "HOME") &&
	       env_only(env, len, allowed, nwant + 1),
	   "... and nothing of our environment");
	free(env);
	ok(file_is(in_dir("stdin.out"), json), "stdin is exactly the note's json");
	unsetenv("HERALD_TEST_LEAK");
}

static void test_exec_digest(void)
{
	const char *j1 = "{\"id\":\"a1\"}", *j2 = "{\"id\":\"b2\",\"x\":[1]}";
	struct herald_notification n1 = note("a1", j1), n2 = note("b2", j2);
	const struct herald_notification *np[] = {&n1, &n2};
	struct herald_sink_item it = item(np, 2, 1, "dig\"est");
	struct herald_sink_result r;
	struct sink *s = open_exec(script("digest.sh", "cat > @/digest.in\n"
						       "echo \"$HERALD_DIGEST $HERALD_COUNT "
						       "$HERALD_SUBJECT\" > @/digest.env\n"),
				   NULL);
	if (!s)
		return;
	sink_deliver(s, &it, 1, &r);
	sink_close(s);
	ok(r.outcome == HERALD_SINK_DELIVERED, "digest delivered (%s)", r.reason);
	ok(file_is(in_dir("digest.in"),
		   "{\"digest\":true,\"id\":\"dig\\\"est\",\"count\":2,"
		   "\"notifications\":[{\"id\":\"a1\"},{\"id\":\"b2\",\"x\":[1]}]}"),
	   "a digest's stdin lists every note");
	char *text = slurp(in_dir("digest.in"), NULL);
	json_t *o = text ? json_loads(text, 0, NULL) : NULL;
	json_t *ns = json_object_get(o, "notifications");
	ok(o && json_integer_value(json_object_get(o, "count")) == 2 && json_array_size(ns) == 2 &&
	       !strcmp(json_string_value(json_object_get(json_array_get(ns, 1), "id")), "b2"),
	   "... and parses as JSON");
	json_decref(o);
	free(text);
	ok(file_is(in_dir("digest.env"), "1 2 2 updates\n"), "HERALD_DIGEST, _COUNT, _SUBJECT");
}

/* A program that writes 1 MB before it reads its 600 KB of stdin: with
 * blocking writes both sides would wait for the other forever. */
static void test_exec_big(void)
{
	size_t n = 600000, len;
	char *json = malloc(n + 16);
	if (!json)
		return;
	memset(json, 'z', n + 16);
	memcpy(json, "{\"pad\":\"", 8);
	memcpy(json + n - 2, "\"}", 3);
	int64_t t0 = now_msec();
	struct herald_sink_result r =
	    run_script("chatty.sh",
		       "head -c 1048576 /dev/zero\nhead -c 1048576 /dev/zero >&2\n"
		       "cat > @/big.in\n",
		       json);
	ok(r.outcome == HERALD_SINK_DELIVERED && now_msec() - t0 < 8000,
	   "1 MB of output before reading stdin does not deadlock (%s)", r.reason);
	char *got = slurp(in_dir("big.in"), &len);
	ok(got && len == strlen(json) && !strcmp(got, json), "... and stdin arrived whole");
	free(got);

	r = run_script("deaf.sh", "exec 0<&-\nexit 0\n", json);
	ok(r.outcome == HERALD_SINK_DELIVERED,
	   "a program that closes stdin unread: delivered, and no SIGPIPE kills us");
	free(json);
}

static void test_exec_init(void)
{
	char err[1400], want[1400];
	struct sink *s;
	const char *noexec = in_dir("noexec.sh");
	char copt[1300];

	write_file(noexec, "#!/bin/sh\nexit 0\n", 0644);
	snprintf(copt, sizeof copt, "command=%s", noexec);
	int rc = open_sink("e", "exec", NULL, &s, err, sizeof err, copt, NULL);
	snprintf(want, sizeof want,
		 "sink e: init failed: command: %s is not executable (Permission denied)", noexec);
	ok(rc < 0 && !strcmp(err, want), "a command that is not executable: %s", err);
	rc = open_sink("e", "exec", NULL, &s, err, sizeof err, "command=bin/true", NULL);
	ok(rc < 0 && !strcmp(err, "sink e: init failed: command: must start with an absolute path"),
	   "a relative command: %s", err);
	rc = open_sink("e", "exec", NULL, &s, err, sizeof err, "command=/nonexistent/x", NULL);
	ok(rc < 0 && strstr(err, "command: /nonexistent/x: No such file"), "a missing command: %s",
	   err);
	rc = open_sink("e", "exec", NULL, &s, err, sizeof err, "timeout_ms=5", NULL);
	ok(rc < 0 && !strcmp(err, "sink e: init failed: command: required"), "no command: %s", err);
	rc = open_sink("e", "exec", NULL, &s, err, sizeof err, "command=/bin/true", "timeout_ms=-1",
		       NULL);
	ok(rc < 0 && strstr(err, "timeout_ms: '-1' is not a number in range"), "bad timeout: %s",
	   err);
	rc = open_sink("e", "exec", NULL, &s, err, sizeof err, "command=/bin/true", "shell=yes",
		       NULL);
	ok(rc < 0 && strstr(err, "unknown option 'shell'"), "unknown option: %s", err);

	s = open_exec("/bin/true", NULL);
	if (s) {
		ok(sink_validate(s, "+15551234567", err, sizeof err) == 0, "exec: a plain address");
		ok(sink_validate(s, "x\n-rf", err, sizeof err) < 0, "exec: a newline is refused");
		ok(sink_validate(s, "\x7f", err, sizeof err) < 0, "exec: DEL is refused");
		sink_close(s);
	}
}

/* ---- a sink process that dies (not inline: it would take us down) ---- */

/* The fds the process has open, as "0 1 2 3". */
static void proc_fds(pid_t pid, char *out, size_t len)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "ls /proc/%ld/fd | sort -n | tr '\\n' ' '", (long)pid);
	FILE *p = popen(cmd, "r");
	out[0] = '\0';
	if (p && !fgets(out, (int)len, p))
		out[0] = '\0';
	if (p)
		pclose(p);
}

/* Under a sanitizer a SIGSEGV is reported and the process aborts or exits. */
static int crash_reason(const char *reason)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return !strncmp(reason, "sink process ", 13);
#else
	return !strcmp(reason, "sink process crashed (signal 11)");
#endif
}

static struct herald_sink_item titled(const struct herald_notification *const *np, const char *id,
				      const char *subject, const char *address)
{
	struct herald_sink_item it = item(np, 1, 0, id);
	it.subject = subject;
	it.address = address;
	return it;
}

static void test_process_crash(void)
{
	char path[1200], err[1400], fds[256];
	struct sink *s = NULL;
	const char *out = in_dir("crashy.out"), *flag = in_dir("crashy.flag");
	char opt_path[1300], opt_flag[1300];
	struct herald_notification n = note("0123456789abcdef0123456789abcdef", "{}");
	const struct herald_notification *np[] = {&n};
	struct herald_sink_result r[2];

	write_file(flag, "", 0644);
	snprintf(path, sizeof path, "%s/crashy.so", test_plugins);
	snprintf(opt_path, sizeof opt_path, "path=%s", out);
	snprintf(opt_flag, sizeof opt_flag, "flag=%s", flag);
	/* an fd of ours without O_CLOEXEC, as a careless library might leave one */
	int leak = open("/dev/null", O_RDONLY);
	int rc = open_sink("c", path, NULL, &s, err, sizeof err, opt_path, opt_flag, NULL);
	ok(rc == 0, "crashy opens (%s)", err);
	if (rc) {
		close(leak);
		return;
	}
	pid_t first = sink_pid(s);
	ok(first > 0 && first != getpid(), "it runs in a process of its own (%ld)", (long)first);
	proc_fds(first, fds, sizeof fds);
	ok(!strcmp(fds, "0 1 2 3 "), "the sink process holds only stdio and its socket: %s (we "
	   "hold fd %d)", fds, leak);
	close(leak);

	struct herald_sink_item its[2] = {titled(np, "a1", "fine", "x"),
					  titled(np, "a2", "a CRASH here", "x")};
	rc = sink_deliver(s, its, 2, r);
	ok(rc == -ECHILD && r[0].outcome == HERALD_SINK_RETRY && r[1].outcome == HERALD_SINK_RETRY &&
	   crash_reason(r[0].reason) && crash_reason(r[1].reason),
	   "a segfault in deliver: -ECHILD, every item RETRY '%s'", r[1].reason);
	ok(sink_pid(s) == 0, "the dead process is reaped, none runs until the next call");

	its[0] = titled(np, "b1", "after the crash", "x");
	rc = sink_deliver(s, its, 1, r);
	pid_t second = sink_pid(s);
	ok(rc == 0 && r[0].outcome == HERALD_SINK_DELIVERED && second > 0 && second != first,
	   "the next call starts a new process (%ld) with the same options: %s", (long)second,
	   herald_sink_outcome_name(r[0].outcome));

	rc = sink_validate(s, "segv", err, sizeof err);
	ok(rc == -ECHILD && crash_reason(err), "a segfault in validate: -ECHILD, '%s'", err);
	ok(sink_validate(s, "fine", err, sizeof err) == 0, "validate works again after it");

	its[0] = titled(np, "c1", "bye", "exit");
	rc = sink_deliver(s, its, 1, r);
	ok(rc == -ECHILD && !strcmp(r[0].reason, "sink process exited (status 3)"),
	   "a plugin that exits: '%s'", r[0].reason);

	unlink(flag); /* "fixed" */
	its[0] = titled(np, "d1", "a CRASH no more", "x");
	rc = sink_deliver(s, its, 1, r);
	ok(rc == 0 && r[0].outcome == HERALD_SINK_DELIVERED, "fixed: the marked item is delivered");
	ok(sink_flush(s, 0) == 0 && sink_reopen(s) == 0, "flush and reopen go through");
	sink_close(s);
	ok(file_is(out, "b1\tafter the crash\nd1\ta CRASH no more\n"),
	   "only what was delivered was written, once");
}

static void test_no_zombies(void)
{
	int status;
	pid_t p = waitpid(-1, &status, WNOHANG);
	ok(p == -1 && errno == ECHILD, "every child was reaped (waitpid: %d)", (int)p);
}

int main(int argc, char **argv)
{
	const char *top = getenv("top_builddir");

	if (argc > 1)
		top = argv[1];
	snprintf(builddir, sizeof builddir, "%s", top ? top : ".");
	snprintf(sinks_dir, sizeof sinks_dir, "%s/sinks", builddir);
	snprintf(test_plugins, sizeof test_plugins, "%s/tests/broken-sinks/.libs", builddir);
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	umask(022);
	if (getenv("SINK_TEST_INLINE") && !strcmp(getenv("SINK_TEST_INLINE"), "1"))
		open_flags = SINK_INLINE;
	test_refusals();
	test_forgetful();
	test_old_rc();
	test_file_lines();
	test_file_reopen();
	test_exec_outcomes();
	test_exec_timeout();
	test_exec_env();
	test_exec_digest();
	test_exec_big();
	test_exec_init();
	if (!(open_flags & SINK_INLINE))
		test_process_crash();
	test_no_zombies();

	char cmd[1200];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (!getenv("KEEP_WORK") && system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
