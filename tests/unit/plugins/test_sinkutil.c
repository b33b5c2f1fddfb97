/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the bundled sinks' toolkit (plugins/common/sinkutil.c):
 * the table-driven option parser at its boundaries (a number exactly at
 * min and max and one past, words, paths, custom setters, the messages the
 * sinks' users see), and the secret-file reader against what can sit at a
 * path: a FIFO (refused without waiting for a writer), a directory,
 * symlinks to elsewhere, a file one byte too big, modes 0600/0640/0644.
 *
 * Not for the sinks themselves: their options are exercised end to end by
 * tests/integration/test_email.sh, test_irc.sh and test_webhook.sh.
 */
#define _GNU_SOURCE
#include "sinkutil.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

static char dir[] = "/tmp/herald-test-sinkutil-XXXXXX";

static const char *in_dir(const char *name)
{
	static char ring[8][600];
	static int next;
	char *p = ring[next++ % 8];
	snprintf(p, sizeof ring[0], "%s/%s", dir, name);
	return p;
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(text, 1, len, f) != len || fclose(f))
		diag("cannot write %s", path);
	chmod(path, mode);
}

/* ---- a host that keeps the last line logged ---- */

static char logged[600];

__attribute__((format(printf, 3, 4))) static void
keep_log(const struct herald_sink_host *h, enum herald_sink_log_level l, const char *fmt, ...)
{
	va_list ap;

	(void)h;
	(void)l;
	va_start(ap, fmt);
	vsnprintf(logged, sizeof logged, fmt, ap);
	va_end(ap);
}

static struct herald_sink_host host = {
    .size = sizeof host,
    .abi = HERALD_SINK_ABI_VERSION,
    .instance = "t",
    .config_path = "/etc/herald/heraldd.conf",
    .log = keep_log,
};

/* ---- the option table under test ---- */

struct conf {
	char *name;
	unsigned long n;
	bool flag;
	int mode;
	char *file;
	struct sinkutil_secret pw;
	int custom_calls;
};

static int check_name(const char *k, const char *v, char *err, size_t errlen)
{
	if (strchr(v, ' ')) {
		snprintf(err, errlen, "%s: no spaces", k);
		return -EINVAL;
	}
	return 0;
}

/* Returns 1 for "one", as a 1.0-style helper might: still a failure. */
static int set_custom(void *obj, const struct herald_sink_option *o, char *err, size_t errlen)
{
	struct conf *c = obj;

	c->custom_calls++;
	if (!strcmp(o->value, "one")) {
		snprintf(err, errlen, "custom said 1");
		return 1;
	}
	return 0;
}

static const char *const modes[] = {"a", "b", "c", NULL};
static const int mode_values[] = {10, 20, 30};

static const struct sinkutil_option table[] = {
    SINKUTIL_STRING("name", struct conf, name, check_name),
    SINKUTIL_UINT("n", struct conf, n, 10, 20),
    SINKUTIL_BOOL("flag", struct conf, flag),
    SINKUTIL_ENUM("mode", struct conf, mode, modes, mode_values),
    SINKUTIL_PATH("file", struct conf, file, NULL),
    SINKUTIL_SECRET("pw", struct conf, pw, 16),
    SINKUTIL_CUSTOM("custom", set_custom),
    SINKUTIL_END,
};

static char err[600];

static int set(struct conf *c, const char *key, const char *value)
{
	struct herald_sink_option o = {key, value, 7};

	err[0] = '\0';
	return sinkutil_set_option(table, c, &host, &o, err, sizeof err);
}

static void test_uint(void)
{
	struct conf c = {0};

	ok(set(&c, "n", "10") == 0 && c.n == 10, "n = 10: the minimum is taken");
	ok(set(&c, "n", "20") == 0 && c.n == 20, "n = 20: the maximum is taken");
	ok(set(&c, "n", "9") == -ERANGE && c.n == 20 &&
	       !strcmp(err, "n: '9' is not a number from 10 to 20 (line 7)"),
	   "n = 9, one under: refused, the field untouched: %s", err);
	ok(set(&c, "n", "21") == -ERANGE && c.n == 20, "n = 21, one over: refused: %s", err);
	ok(set(&c, "n", "") < 0 && set(&c, "n", "+15") < 0 && set(&c, "n", "15x") < 0 &&
	       set(&c, "n", "-15") < 0 && set(&c, "n", " 15") < 0,
	   "n: empty, signed, trailing junk, leading space: refused");
	ok(set(&c, "n", "18446744073709551626") < 0 && c.n == 20,
	   "n: a number that overflows is refused");
}

static void test_words(void)
{
	struct conf c = {0};

	ok(set(&c, "flag", "yes") == 0 && c.flag && set(&c, "flag", "off") == 0 && !c.flag &&
	       set(&c, "flag", "1") == 0 && c.flag,
	   "bool: yes, off, 1");
	ok(set(&c, "flag", "maybe") == -EINVAL && c.flag &&
	       !strcmp(err, "flag: 'maybe' is not yes or no (line 7)"),
	   "bool: 'maybe' refused: %s", err);
	ok(set(&c, "mode", "a") == 0 && c.mode == 10 && set(&c, "mode", "c") == 0 && c.mode == 30,
	   "enum: the first and the last word");
	ok(set(&c, "mode", "d") == -EINVAL && c.mode == 30 &&
	       !strcmp(err, "mode: 'd' is not a, b or c (line 7)"),
	   "enum: an unknown word lists the others: %s", err);
	ok(set(&c, "mode", "A") < 0, "enum: words are case-sensitive");
	ok(set(&c, "nope", "x") == -EINVAL && !strcmp(err, "unknown option 'nope' (line 7)"),
	   "an unknown option: %s", err);
}

static void test_text(void)
{
	struct conf c = {0};

	ok(set(&c, "name", "first") == 0 && set(&c, "name", "second") == 0 &&
	       !strcmp(c.name, "second"),
	   "string: set twice, the last one stays (the first is freed)");
	ok(set(&c, "name", "a b") == -EINVAL && !strcmp(err, "name: no spaces") &&
	       !strcmp(c.name, "second"),
	   "string: check() refuses with its own message, the field untouched");
	ok(set(&c, "file", "rel/x.pem") == 0 && !strcmp(c.file, "/etc/herald/rel/x.pem"),
	   "path: a relative one hangs off the config file's directory (%s)", c.file);
	ok(set(&c, "file", "/abs/y") == 0 && !strcmp(c.file, "/abs/y"), "path: an absolute one");
	host.config_path = NULL;
	ok(set(&c, "file", "rel") == -EINVAL && !strcmp(c.file, "/abs/y") &&
	       !strcmp(err, "path 'rel' is relative and there is no config file"),
	   "path: relative without a config file: %s", err);
	host.config_path = "/etc/herald/heraldd.conf";
	ok(set(&c, "custom", "fine") == 0 && c.custom_calls == 1, "custom: set() is called");
	ok(set(&c, "custom", "one") == -EINVAL && !strcmp(err, "custom said 1"),
	   "custom: a positive return is a failure, passed on as -EINVAL");

	struct herald_sink_option opts[] = {{"n", "12", 2}, {"mode", "zz", 3}, {"flag", "yes", 4}};
	c.flag = false;
	ok(sinkutil_set_options(table, &c, &host, opts, 3, err, sizeof err) == -EINVAL &&
	       c.n == 12 && !c.flag && !strcmp(err, "mode: 'zz' is not a, b or c (line 3)"),
	   "set_options stops at the first error: %s", err);
	sinkutil_options_release(table, &c);
	ok(!c.name && !c.file && !c.pw.value, "options_release frees and clears the fields");
}

/* ---- the secret reader ---- */

static struct sinkutil_secret sec;

static int rd(const char *path, size_t max, unsigned flags)
{
	err[0] = '\0';
	return sinkutil_secret_read("pw", path, max, flags, &sec, err, sizeof err);
}

static void test_secret_content(void)
{
	const char *f = in_dir("pw");
	char want[700];

	write_file(f, "s3cret\n", 7, 0600);
	ok(rd(f, 16, 0) == 0 && !strcmp(sec.value, "s3cret") && sec.len == 6 && !sec.exposed &&
	       !strcmp(sec.path, f),
	   "a 0600 file: its text less the newline");
	write_file(f, "a\r\nb\r\n\n", 7, 0600);
	ok(rd(f, 16, 0) == 0 && !strcmp(sec.value, "a\r\nb") && sec.len == 4,
	   "the whole file: only the trailing line ends go");
	ok(rd(f, 16, SINKUTIL_SECRET_FIRST_LINE) == 0 && !strcmp(sec.value, "a") && sec.len == 1,
	   "the first line: cut at its CR");

	write_file(f, "0123456789abcdef", 16, 0600);
	ok(rd(f, 16, 0) == 0 && sec.len == 16, "exactly max bytes: read");
	write_file(f, "0123456789abcdefX", 17, 0600);
	snprintf(want, sizeof want, "pw: %s: longer than 16 bytes", f);
	ok(rd(f, 16, 0) == -EFBIG && !strcmp(err, want) && sec.len == 16 &&
	       !strcmp(sec.value, "0123456789abcdef"),
	   "max + 1 bytes: refused, the old secret kept: %s", err);

	write_file(f, "ab\0cd", 5, 0600);
	snprintf(want, sizeof want, "pw: %s: has a NUL byte", f);
	ok(rd(f, 16, 0) == -EINVAL && !strcmp(err, want), "a NUL byte: %s", err);
	write_file(f, "\r\n", 2, 0600);
	snprintf(want, sizeof want, "pw: %s: empty", f);
	ok(rd(f, 16, 0) == -EINVAL && !strcmp(err, want), "only a line end: %s", err);
	write_file(f, "", 0, 0600);
	ok(rd(f, 16, 0) == -EINVAL && !strcmp(err, want), "an empty file: %s", err);
	write_file(f, "\nsecond", 7, 0600);
	ok(rd(f, 16, SINKUTIL_SECRET_FIRST_LINE) == -EINVAL && !strcmp(err, want),
	   "an empty first line: %s", err);
	snprintf(want, sizeof want, "pw: %s: No such file or directory", in_dir("none"));
	ok(rd(in_dir("none"), 16, 0) == -ENOENT && !strcmp(err, want), "a missing file: %s", err);
}

static void test_secret_kinds(void)
{
	const char *fifo = in_dir("fifo"), *sub = in_dir("elsewhere");
	char target[700], want[700];

	sinkutil_secret_release(&sec);
	/* a FIFO with no writer: open() would wait for ever without O_NONBLOCK */
	if (mkfifo(fifo, 0600))
		diag("mkfifo: %s", strerror(errno));
	alarm(20);
	snprintf(want, sizeof want, "pw: %s: not a regular file", fifo);
	ok(rd(fifo, 16, 0) == -EINVAL && !strcmp(err, want) && !sec.value,
	   "a FIFO: refused at once: %s", err);
	alarm(0);
	snprintf(want, sizeof want, "pw: %s: not a regular file", dir);
	ok(rd(dir, 16, 0) == -EINVAL && !strcmp(err, want), "a directory: %s", err);

	if (mkdir(sub, 0700))
		diag("mkdir: %s", strerror(errno));
	snprintf(target, sizeof target, "%s/real", sub);
	write_file(target, "linked\n", 7, 0600);
	if (symlink(target, in_dir("link")))
		diag("symlink: %s", strerror(errno));
	ok(rd(in_dir("link"), 16, 0) == 0 && !strcmp(sec.value, "linked"),
	   "a symlink to a regular file elsewhere: followed (as for mounted secrets)");
	if (symlink(sub, in_dir("link_dir")))
		diag("symlink: %s", strerror(errno));
	if (symlink(fifo, in_dir("link_fifo")))
		diag("symlink: %s", strerror(errno));
	ok(rd(in_dir("link_dir"), 16, 0) == -EINVAL && rd(in_dir("link_fifo"), 16, 0) == -EINVAL &&
	       strstr(err, "not a regular file"),
	   "a symlink to a directory or a FIFO: what it points to is judged: %s", err);
	if (symlink(in_dir("gone"), in_dir("dangling")))
		diag("symlink: %s", strerror(errno));
	ok(rd(in_dir("dangling"), 16, 0) == -ENOENT, "a dangling symlink: %s", err);

	/* a file far over the cap is refused by its size, before reading */
	write_file(in_dir("big"), "x", 1, 0600);
	if (truncate(in_dir("big"), 1 << 20))
		diag("truncate: %s", strerror(errno));
	ok(rd(in_dir("big"), 16, 0) == -EFBIG && !strcmp(sec.value, "linked"),
	   "a 1 MiB file: too big: %s", err);
}

static void test_secret_modes(void)
{
	const char *f = in_dir("mode");
	struct conf c = {0};

	write_file(f, "pw-value\n", 9, 0640);
	ok(rd(f, 16, 0) == 0 && !sec.exposed, "group-readable (0640): read, nothing to say");
	chmod(f, 0644);
	ok(rd(f, 16, 0) == 0 && sec.exposed, "readable by every user (0644): read, exposed");
	sinkutil_secret_release(&sec);
	ok(!sec.value && !sec.path && !sec.len, "release clears");

	logged[0] = '\0';
	ok(set(&c, "pw", f) == 0 && !strcmp(c.pw.value, "pw-value") && strstr(logged, f) &&
	       strstr(logged, "pw: ") && strstr(logged, "is readable by every user") &&
	       !strstr(logged, "pw-value"),
	   "SECRET option: read now, a 0644 file draws a warning without the secret: %s", logged);
	chmod(f, 0600);
	logged[0] = '\0';
	ok(set(&c, "pw", f) == 0 && !logged[0], "SECRET option: a 0600 file, no warning");
	write_file(in_dir("long"), "0123456789abcdefX\n", 18, 0600);
	ok(set(&c, "pw", in_dir("long")) == -EFBIG && !strcmp(c.pw.value, "pw-value") &&
	       !strstr(err, "0123"),
	   "SECRET option: over the table's cap, the secret not in the message: %s", err);
	sinkutil_options_release(table, &c);
}

/* fit(s, max) -> what sinkutil_utf8_fit appends to an empty buffer */
static char *fit(const char *s, size_t max, bool *cut)
{
	struct sbuf b = {0};

	sb_str(&b, "");
	*cut = sinkutil_utf8_fit(&b, s, max);
	return b.p;
}

static void test_utf8(void)
{
	bool cut;
	char *t;

	ok(sinkutil_utf8_len((const unsigned char *)"\xc3\xa9") == 2 &&
	       sinkutil_utf8_len((const unsigned char *)"\xe2\x82\xac") == 3 &&
	       sinkutil_utf8_len((const unsigned char *)"\xf0\x9f\x93\xa6") == 4,
	   "utf8_len: 2, 3 and 4-byte characters");
	ok(!sinkutil_utf8_len((const unsigned char *)"\xc0\xaf") &&
	       !sinkutil_utf8_len((const unsigned char *)"\xed\xa0\x80") &&
	       !sinkutil_utf8_len((const unsigned char *)"\xf4\x90\x80\x80") &&
	       !sinkutil_utf8_len((const unsigned char *)"\xe2\x82"),
	   "utf8_len: overlong, surrogate, past U+10FFFF and truncated are invalid");
	t = fit("abcdef", 6, &cut);
	ok(!cut && !strcmp(t, "abcdef"), "fit: exactly max bytes is kept whole: %s", t);
	free(t);
	t = fit("abcdefg", 6, &cut);
	ok(cut && !strcmp(t, "abc\xe2\x80\xa6") && strlen(t) == 6,
	   "fit: one byte over is cut to max with the ellipsis: %s", t);
	free(t);
	/* "ab" + U+20AC (3 bytes) + "cd": 7 bytes; max 6 cannot split the euro */
	t = fit("ab\xe2\x82\xac" "cd", 6, &cut);
	ok(cut && !strcmp(t, "ab\xe2\x80\xa6"), "fit: never inside a character: %s", t);
	free(t);
	t = fit("a\xffz", 10, &cut);
	ok(!cut && !strcmp(t, "a\xef\xbf\xbdz"), "fit: an invalid byte becomes U+FFFD");
	free(t);
	t = fit("\xff\xff\xff", 6, &cut);
	ok(cut && !strcmp(t, "\xef\xbf\xbd\xe2\x80\xa6"),
	   "fit: U+FFFD counts its 3 bytes against max");
	free(t);
	t = fit(NULL, 3, &cut);
	ok(!cut && !strcmp(t, ""), "fit: NULL is empty");
	free(t);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_uint();
	test_words();
	test_text();
	test_secret_content();
	test_secret_kinds();
	test_secret_modes();
	test_utf8();

	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (!getenv("KEEP_WORK") && system(cmd) != 0)
		diag("could not remove %s", dir);
	return tap_done();
}
