/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_canon: canon_json() and canon_double() against CPython's output, and
 * the parse-once API (canon_parse, canon_emit, the accessors).
 *
 * For: the vectors in tests/data/canon/vectors.jsonl, whose expected bytes
 * CPython produced (gen_vectors.py), plus what CPython cannot tell us: the
 * inputs canon.c refuses on purpose (duplicate keys, lone surrogates, bad
 * UTF-8), error offsets, the heap fallback, and the flag edge cases. Every
 * vector also goes through canon_parse + canon_emit on one reused doc,
 * which must agree with canon_json byte for byte.
 * Not for: speed (see the timing loop in bench/) or fuzzing (tests/fuzz/).
 *
 * Usage: test_canon [vectors.jsonl]; without an argument the file is found
 * under $srcdir (default ".").
 */
#include "src/common/canon.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VECTORS "tests/data/canon/vectors.jsonl"

static struct buf out = BUF_INIT;
/* One doc for every parse-once check: it is reused, as the daemon does. */
static struct canon_doc doc = CANON_DOC_INIT;

/* Canonicalise into the shared buffer; its text is out.data. */
static int canon(const char *in, size_t len, unsigned flags, struct canon_error *err)
{
	buf_reset(&out);
	return canon_json(in, len, flags, &out, err);
}

/* The input as a C literal, for test names: raw control bytes would break TAP. */
static const char *show(const char *in, size_t len)
{
	static char s[256];
	size_t o = 0;

	for (size_t i = 0; i < len && o < sizeof s - 8; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			s[o++] = (char)c;
		else
			o += (size_t)snprintf(s + o, sizeof s - o, "\\x%02x", c);
	}
	s[o] = '\0';
	return s;
}

static void expect_out(const char *in, unsigned flags, const char *want)
{
	struct canon_error err = {0, NULL};
	int rc = canon(in, strlen(in), flags, &err);

	if (!ok(rc == 0 && strcmp(out.data, want) == 0, "canon(%s, %u)", show(in, strlen(in)), flags))
		diag("rc %d (%s), got '%s', want '%s'", rc, err.what ? err.what : "-",
		     rc ? "" : out.data, want);
}

static void expect_reject_f(const char *in, size_t len, unsigned flags, long offset)
{
	struct canon_error err = {0, NULL};
	int rc = canon(in, len, flags, &err);
	bool good = rc == -EINVAL && err.what && (offset < 0 || err.offset == (size_t)offset);

	if (!ok(good, "rejects %s", show(in, len)))
		diag("rc %d, offset %zu (want %ld), what '%s'", rc, err.offset, offset,
		     err.what ? err.what : "(null)");
}

static void expect_reject_n(const char *in, size_t len, long offset)
{
	expect_reject_f(in, len, 0, offset);
}

static void expect_reject(const char *in, long offset)
{
	expect_reject_f(in, strlen(in), 0, offset);
}

/* ---- built-in cases ---------------------------------------------------- */

static void test_syntax_errors(void)
{
	static const struct {
		const char *in;
		long offset; /* -1: any */
	} cases[] = {
		{"", 0}, {"   ", 3}, {"\r\n\t", 3}, {"{} x", 3}, {"1 2", 2}, {"[1]]", 3},
		{"01", 0}, {"-01", 0}, {"[00]", 1}, {"1.", 2}, {"1.e5", 2}, {".5", 0}, {"+1", 0},
		{"-", 0}, {"--1", 0}, {"1e", 2}, {"1e+", 3}, {"0x10", 1}, {"-a", 0},
		{"tru", 0}, {"nul", 0}, {"falsey", 5}, {"NAN", 0}, {"-NaN", 0}, {"infinity", 0},
		{"-Inf", 0}, {"[1,]", 3}, {"[,1]", 1}, {"[1 2]", 3}, {"{,}", 1}, {"{\"a\":1,}", 7},
		{"{\"a\"}", 4}, {"{\"a\" 1}", 5}, {"{1:2}", 1}, {"{'a':1}", 1}, {"[", 1},
		{"{\"a\":", 5}, {"[1", 2}, {"\"abc", 0}, {"\"\\", 1}, {"\"\\x\"", 1},
		{"\"\\u12\"", 1}, {"\"\\u12g4\"", 1}, {"\"\\U0041\"", 1}, {"\"\\'\"", 1},
		{"\f1", 0}, {"\v1", 0}, {"\xef\xbb\xbf{}", 0}, {"\xc2\xa0" "1", 0},
		{"//c\n1", 0}, {"True", 0}, {"[\"a\" \"b\"]", 5},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_reject(cases[i].in, cases[i].offset);
	expect_reject_n("[1]\0", 4, 3);
	expect_reject_n("\0[1]", 4, 0);
}

static void test_string_errors(void)
{
	/* Raw control characters. */
	expect_reject("\"\x01\"", 1);
	expect_reject("\"a\tb\"", 2);
	expect_reject("\"a\nb\"", 2);
	expect_reject("\"\x1f\"", 1);
	expect_reject_n("\"a\0b\"", 5, 2);
	/* Invalid UTF-8: stray continuation, overlongs, encoded surrogates, too big, truncated. */
	expect_reject("\"\x80\"", 1);
	expect_reject("\"a\xbf\"", 2);
	expect_reject("\"\xc0\xaf\"", 1);
	expect_reject("\"\xc1\xbf\"", 1);
	expect_reject("\"\xe0\x80\xaf\"", 1);
	expect_reject("\"\xe0\x9f\xbf\"", 1);
	expect_reject("\"\xf0\x80\x80\xaf\"", 1);
	expect_reject("\"\xf0\x8f\xbf\xbf\"", 1);
	expect_reject("\"\xed\xa0\x80\"", 1);
	expect_reject("\"\xed\xbf\xbf\"", 1);
	expect_reject("\"\xf4\x90\x80\x80\"", 1);
	expect_reject("\"\xf5\x80\x80\x80\"", 1);
	expect_reject("\"\xff\"", 1);
	expect_reject("\"\xe2\x82\"", 1);
	expect_reject("\"\xe2\x82", 1);
	expect_reject("\"\xf0\x9f\x98\"", 1);
	expect_reject("\"\xc3(\"", 1);
	/* Lone surrogates, which CPython would keep. */
	expect_reject("\"\\ud800\"", 1);
	expect_reject("\"\\udc00\"", 1);
	expect_reject("\"\\uDFFF\"", 1);
	expect_reject("\"a\\ud83d\"", 2);
	expect_reject("\"\\ud800\\u0041\"", 1);
	expect_reject("\"\\ud800\\ud800\"", 1);
	expect_reject("\"\\ud800x\\udc00\"", 1);
	expect_reject("\"\\ud800\\n\"", 1);
	expect_reject("\"\\ud800\\udc0", 1);
	expect_reject("\"\\ude00\\ud83d\"", 1);
	/* The same, as keys. */
	expect_reject("{\"\\ud800\":1}", 2);
	expect_reject("{\"\xc0\xaf\":1}", 2);
	/* The limits are accepted. */
	expect_out("\"\xf4\x8f\xbf\xbf\"", 0, "\"\\udbff\\udfff\"");
	expect_out("\"\xef\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"", 0, "\"\\uffff\\ud7ff\\ue000\"");
	expect_out("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xf0\x90\x80\x80\"", 0,
		   "\"\\u0080\\u07ff\\u0800\\ud800\\udc00\"");
}

/* Special bytes at every position of a long plain run (the 8-byte scan). */
static void test_long_strings(void)
{
	static const struct {
		const char *raw, *want;
		bool reject;
	} special[] = {
		{"\x7f", "\\u007f", false}, {"\xc3\xa9", "\\u00e9", false},
		{"\\\"", "\\\"", false}, {"\\\\", "\\\\", false},
		{"\xff", NULL, true}, {"\x01", NULL, true}, {"\x1f", NULL, true}, {"\t", NULL, true},
	};
	int bad = 0;

	for (size_t k = 0; k < sizeof special / sizeof special[0]; k++) {
		for (int i = 0; i < 24; i++) {
			char in[64], want[64];
			snprintf(in, sizeof in, "\"%.*s%s%.*s\"", i, "abcdefghijklmnopqrstuvwxyz",
				 special[k].raw, 23 - i, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
			snprintf(want, sizeof want, "\"%.*s%s%.*s\"", i, "abcdefghijklmnopqrstuvwxyz",
				 special[k].want ? special[k].want : "", 23 - i,
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
			int rc = canon(in, strlen(in), 0, NULL);
			if (special[k].reject ? rc != -EINVAL : rc != 0 || strcmp(out.data, want) != 0) {
				if (bad++ < 5)
					diag("special %zu at %d: rc %d", k, i, rc);
			}
		}
	}
	ok(bad == 0, "special bytes at every offset of a long string");
}

static void test_duplicates(void)
{
	expect_reject("{\"a\":1,\"a\":2}", 7);
	expect_reject("{\"a\":1,\"\\u0061\":2}", 7);
	expect_reject("{\"\\u0061\":1,\"a\":2}", 12);
	expect_reject("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", 18);
	expect_reject("{\"\\/\":1,\"/\":2}", 8);
	expect_reject("{\"x\":{\"b\":1,\"c\":2,\"b\":3}}", 18);
	expect_reject("[{},{\"a\":1,\"a\":1}]", 11);
	expect_reject("{\"a\":1,\"b\":2,\"a\":{\"c\":3}}", 13);
	/* Not duplicates: a prefix, a NUL, case. */
	expect_out("{\"a\\u0000\":1,\"a\":2,\"A\":3}", 0, "{\"A\":3,\"a\":2,\"a\\u0000\":1}");

	/* Big object (qsort path): the duplicate is found among 40 keys. */
	struct buf in = BUF_INIT;
	buf_putc(&in, '{');
	for (int i = 39; i >= 0; i--)
		buf_printf(&in, "\"k%02d\":%d,", i, i);
	buf_puts(&in, "\"k\\u00317\":0}");
	expect_reject_n(in.data, in.len, -1);
	buf_release(&in);
}

/* `n` nested containers made of `open`/`close`. */
static void nested(struct buf *b, int n, const char *open, const char *inner, const char *close)
{
	buf_reset(b);
	for (int i = 0; i < n; i++)
		buf_puts(b, open);
	buf_puts(b, inner);
	for (int i = 0; i < n; i++)
		buf_puts(b, close);
}

static void test_depth(void)
{
	struct buf in = BUF_INIT, want = BUF_INIT;
	struct canon_error err = {0, NULL};

	nested(&in, CANON_MAX_DEPTH, "[", "", "]");
	ok(canon(in.data, in.len, 0, NULL) == 0 && strcmp(out.data, in.data) == 0,
	   "%d nested arrays accepted", CANON_MAX_DEPTH);
	nested(&in, CANON_MAX_DEPTH + 1, "[", "", "]");
	ok(canon(in.data, in.len, 0, &err) == -EINVAL && err.offset == CANON_MAX_DEPTH,
	   "%d nested arrays rejected at the innermost '['", CANON_MAX_DEPTH + 1);
	nested(&in, CANON_MAX_DEPTH, "{ \"k\" : ", "1", "}");
	nested(&want, CANON_MAX_DEPTH, "{\"k\":", "1", "}");
	ok(canon(in.data, in.len, 0, NULL) == 0 && strcmp(out.data, want.data) == 0,
	   "%d nested objects accepted", CANON_MAX_DEPTH);
	nested(&in, CANON_MAX_DEPTH, "{\"k\":", "{}", "}");
	ok(canon(in.data, in.len, 0, NULL) == -EINVAL, "%d nested objects rejected",
	   CANON_MAX_DEPTH + 1);
	nested(&in, 100000, "[", "", "]");
	ok(canon(in.data, in.len, 0, NULL) == -EINVAL, "100000 nested arrays rejected");
	buf_release(&in);
	buf_release(&want);
}

static void test_strings(void)
{
	expect_out("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0, "\"\\\"\\\\/\\b\\f\\n\\r\\t\"");
	expect_out("\"\\u0000\\u0001\\u001F\\u0020\\u007e\"", 0, "\"\\u0000\\u0001\\u001f ~\"");
	/* DEL is outside ' '..'~', so CPython escapes it. */
	expect_out("\"\x7f\"", 0, "\"\\u007f\"");
	expect_out("\"\\u007F\"", 0, "\"\\u007f\"");
	expect_out("\"caf\xc3\xa9 \xe6\xbc\xa2 \xd7\xa9\"", 0, "\"caf\\u00e9 \\u6f22 \\u05e9\"");
	expect_out("\"\xf0\x9f\x98\x80\"", 0, "\"\\ud83d\\ude00\"");
	expect_out("\"\\uD83D\\uDE00\"", 0, "\"\\ud83d\\ude00\"");
	expect_out("\"\xe2\x80\xa8\xef\xbb\xbf\"", 0, "\"\\u2028\\ufeff\"");
	expect_out("\"\"", 0, "\"\"");
	/* Keys: sorted by code point, so U+FFFF before U+1F600 (UTF-16 order would differ). */
	expect_out("{\"\xf0\x9f\x98\x80\":1,\"\xef\xbf\xbf\":2,\"\xc3\xa9\":3,\"z\":4,\"\":5}", 0,
		   "{\"\":5,\"z\":4,\"\\u00e9\":3,\"\\uffff\":2,\"\\ud83d\\ude00\":1}");
	expect_out("{\"b\":1,\"\\u0061\":2,\"ab\":3,\"a\\u0000\":4}", 0,
		   "{\"a\":2,\"a\\u0000\":4,\"ab\":3,\"b\":1}");
}

static void test_numbers(void)
{
	expect_out("-0", 0, "0");
	expect_out("[-0,0,-10,10,-1]", 0, "[0,0,-10,10,-1]");
	expect_out("18446744073709551616", 0, "18446744073709551616");
	expect_out("-10000000000000000000000000000000000000000", 0,
		   "-10000000000000000000000000000000000000000");
	expect_out("1504643075.0", 0, "1504643075.0");
	expect_out("1E5", 0, "100000.0");
	expect_out("1e16", 0, "1e+16");
	expect_out("1e-5", 0, "1e-05");
	expect_out("-0.0", 0, "-0.0");
	expect_out("0e0", 0, "0.0");
	expect_out("-0e+00", 0, "-0.0");
	expect_out("1e400", 0, "Infinity");
	expect_out("-1e400", 0, "-Infinity");
	expect_out("1e-400", 0, "0.0");
	expect_out("-1e-400", 0, "-0.0");
	expect_out("0.10000000000000001", 0, "0.1");
	expect_out("100e-2", 0, "1.0");
	expect_out("0.000000000000000000000000000001e30", 0, "1.0");
	expect_out("1e99999999999999999999999", 0, "Infinity");
	expect_out("[NaN,Infinity,-Infinity]", 0, "[NaN,Infinity,-Infinity]");
}

static void test_double(void)
{
	static const struct {
		double d;
		const char *want;
	} cases[] = {
		{0.0, "0.0"}, {-0.0, "-0.0"}, {1.0, "1.0"}, {-1.5, "-1.5"},
		{1504643075.0, "1504643075.0"}, {1e-05, "1e-05"}, {1e16, "1e+16"},
		{1e15, "1000000000000000.0"}, {9999999999999998.0, "9999999999999998.0"},
		{0.1, "0.1"}, {1.0 / 3, "0.3333333333333333"}, {2.0 / 3, "0.6666666666666666"},
		{5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
		{2.2250738585072014e-308, "2.2250738585072014e-308"}, {1e22, "1e+22"},
		{1e23, "1e+23"}, {1e-7, "1e-07"}, {0.0001, "0.0001"}, {0.001, "0.001"},
		{123456789.123, "123456789.123"}, {1.5e300, "1.5e+300"}, {1e100, "1e+100"},
		{0.30000000000000004, "0.30000000000000004"}, {100.0, "100.0"},
		{1344350850.886738, "1344350850.886738"}, {12345678901234567890.0, "1.2345678901234567e+19"},
		/* Powers of two where the nearest shortest decimal is not the answer. */
		{0x1p-1017, "7.120236347223045e-307"}, {0x1p-1007, "7.291122019556398e-304"},
		{0x1p-957, "8.209073602596753e-289"}, {0x1p-44, "5.684341886080802e-14"},
		{INFINITY, "Infinity"}, {-INFINITY, "-Infinity"}, {NAN, "NaN"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_reset(&out);
		int rc = canon_double(cases[i].d, &out);
		if (!ok(rc == 0 && strcmp(out.data, cases[i].want) == 0, "canon_double -> %s",
			cases[i].want))
			diag("got '%s'", out.data ? out.data : "");
	}
}

static void test_flags(void)
{
	const unsigned S = CANON_STRIP_CREDENTIALS, A = CANON_FIX_ARCHIVE;
	const char *signed_msg = "{\"topic\":\"t\",\"signature\":\"s\",\"certificate\":\"c\","
				 "\"msg\":{\"signature\":1},\"crypto\":\"x509\"}";
	const char *archived = "{\"source_name\":\"datanommer\",\"source_version\":\"1\","
			       "\"headers\":{},\"timestamp\":1504643075.9,\"i\":1}";

	expect_out(signed_msg, 0, "{\"certificate\":\"c\",\"crypto\":\"x509\",\"msg\":{\"signature\":1},"
				  "\"signature\":\"s\",\"topic\":\"t\"}");
	expect_out(signed_msg, S, "{\"crypto\":\"x509\",\"msg\":{\"signature\":1},\"topic\":\"t\"}");
	expect_out("{\"\\u0073ignature\":1,\"certificat\\u0065\":2,\"a\":3}", S, "{\"a\":3}");
	expect_out("[{\"signature\":1}]", S | A, "[{\"signature\":1}]");
	expect_out("\"signature\"", S, "\"signature\"");
	expect_out("{\"signature\":1}", S, "{}");
	expect_out(archived, 0, "{\"headers\":{},\"i\":1,\"source_name\":\"datanommer\","
				"\"source_version\":\"1\",\"timestamp\":1504643075.9}");
	expect_out(archived, A, "{\"i\":1,\"timestamp\":1504643075}");
	expect_out("{\"source_name\":\"a\",\"timestamp\":1.5,\"headers\":null}", A,
		   "{\"headers\":null,\"source_name\":\"a\",\"timestamp\":1.5}");
	expect_out("{\"source_version\":\"a\",\"timestamp\":1.5}", A,
		   "{\"source_version\":\"a\",\"timestamp\":1.5}");
	/* headers: dropped only when falsy in Python's terms. */
	static const struct {
		const char *headers;
		bool dropped;
	} h[] = {
		{"null", true}, {"false", true}, {"0", true}, {"-0", true}, {"0.0", true},
		{"-0e5", true}, {"1e-400", true}, {"\"\"", true}, {"{}", true}, {"[ ]", true},
		{"true", false}, {"1", false}, {"10", false}, {"-10", false}, {"0.5", false},
		{"\"0\"", false}, {"{\"a\":0}", false}, {"[0]", false}, {"NaN", false},
		{"Infinity", false},
	};
	for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
		char in[128], want[128];
		snprintf(in, sizeof in, "{\"source_name\":1,\"source_version\":2,\"headers\":%s}",
			 h[i].headers);
		canon(h[i].headers, strlen(h[i].headers), 0, NULL);
		if (h[i].dropped)
			snprintf(want, sizeof want, "{}");
		else
			snprintf(want, sizeof want, "{\"headers\":%s}", out.data);
		expect_out(in, A, want);
	}
	/* timestamp: Python int(), exactly. */
	static const struct {
		const char *ts, *want;
	} t[] = {
		{"1504643075.9", "1504643075"}, {"1504643075", "1504643075"}, {"-1.5", "-1"},
		{"-0.5", "0"}, {"-0.0", "0"}, {"-0", "0"}, {"1e20", "100000000000000000000"},
		{"1.5e17", "150000000000000000"}, {"5e-324", "0"}, {"true", "1"}, {"false", "0"},
		{"12345678901234567890123", "12345678901234567890123"},
		{"1e23", "99999999999999991611392"}, {"\"12\"", "\"12\""}, {"null", "null"},
		{"[1.5]", "[1.5]"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char in[128], want[128];
		snprintf(in, sizeof in, "{\"source_name\":1,\"source_version\":2,\"timestamp\":%s}",
			 t[i].ts);
		snprintf(want, sizeof want, "{\"timestamp\":%s}", t[i].want);
		expect_out(in, A, want);
	}
	static const char nan_ts[] = "{\"source_name\":1,\"source_version\":2,\"timestamp\":NaN}";
	static const char inf_ts[] = "{\"source_name\":1,\"source_version\":2,\"timestamp\":-1e400}";
	expect_reject_f(nan_ts, strlen(nan_ts), A, 48);
	expect_reject_f(inf_ts, strlen(inf_ts), A, 48);
	expect_out(nan_ts, 0, "{\"source_name\":1,\"source_version\":2,\"timestamp\":NaN}");
	struct canon_error err = {0, NULL};
	ok(canon("{}", 2, 1u << 7, &err) == -EINVAL && err.what, "unknown flag rejected");
}

static void test_buffers(void)
{
	struct buf b = BUF_INIT, in = BUF_INIT, want = BUF_INIT;
	struct canon_error err = {0, NULL};
	int rc;

	/* Appends, and tolerates err == NULL. */
	buf_puts(&b, "prefix:");
	rc = canon_json("{\"b\":1,\"a\":2}", 13, 0, &b, NULL);
	ok(rc == 0 && strcmp(b.data, "prefix:{\"a\":2,\"b\":1}") == 0, "appends to the buffer");
	ok(canon_json("[1,", 3, 0, &b, NULL) == -EINVAL, "error with err == NULL");
	/* Only len bytes count: what follows is not trailing garbage. */
	buf_reset(&b);
	rc = canon_json("[1]x", 3, 0, &b, &err);
	ok(rc == 0 && strcmp(b.data, "[1]") == 0, "respects len");
	buf_reset(&b);
	rc = canon_json("12345", 2, 0, &b, &err);
	ok(rc == 0 && strcmp(b.data, "12") == 0, "respects len inside a number");

	/* More nodes and keys than fit on the stack; reverse-sorted keys. */
	buf_reset(&in);
	buf_putc(&in, '{');
	buf_putc(&want, '{');
	for (int i = 0; i < 3000; i++)
		buf_printf(&in, "%s\"k%04d\":[%d,\"\\u00e9\"]", i ? "," : "", 2999 - i, i);
	for (int i = 0; i < 3000; i++)
		buf_printf(&want, "%s\"k%04d\":[%d,\"\\u00e9\"]", i ? "," : "", i, 2999 - i);
	buf_putc(&in, '}');
	buf_putc(&want, '}');
	rc = canon(in.data, in.len, 0, &err);
	ok(rc == 0 && strcmp(out.data, want.data) == 0, "3000 keys, 12000 nodes on the heap");

	/* Nested objects, each sorting its own keys as it closes. */
	buf_reset(&in);
	buf_reset(&want);
	buf_puts(&in, "{\"z\":{\"y\":{\"x\":1,\"w\":2},\"v\":3},\"u\":[{\"t\":4,\"s\":5}],\"r\":6}");
	buf_puts(&want, "{\"r\":6,\"u\":[{\"s\":5,\"t\":4}],\"z\":{\"v\":3,\"y\":{\"w\":2,\"x\":1}}}");
	rc = canon(in.data, in.len, 0, &err);
	ok(rc == 0 && strcmp(out.data, want.data) == 0, "nested sorts");
	buf_release(&b);
	buf_release(&in);
	buf_release(&want);
}

/* ---- parse once ------------------------------------------------------- */

/* canon_parse into the shared doc, then canon_emit: same verdict and bytes as canon_json. */
static bool parse_once_agrees(const char *in, size_t len, unsigned flags)
{
	static struct buf emitted = BUF_INIT;
	struct canon_error e1 = {0, NULL}, e2 = {0, NULL};
	int rc1 = canon(in, len, flags, &e1), rc2;

	buf_reset(&emitted);
	rc2 = canon_parse(&doc, in, len, &e2);
	if (!rc2)
		rc2 = canon_emit(&doc, flags, &emitted, &e2);
	if (rc1 || rc2)
		return rc1 == rc2 && (rc1 != -EINVAL || (e1.offset == e2.offset && !strcmp(e1.what, e2.what)));
	return out.len == emitted.len && memcmp(out.data, emitted.data, out.len) == 0;
}

static uint32_t find(const char *key)
{
	uint32_t v = 0;

	return canon_find(&doc, CANON_ROOT, key, strlen(key), &v) ? 0 : v;
}

static void test_emit(void)
{
	static const char env[] = "{\"topic\":\"t\",\"signature\":\"s\",\"b\":[1,{\"y\":2,\"x\":1}],"
				  "\"source_name\":\"a\",\"source_version\":\"1\",\"timestamp\":5.7}";
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct canon_error err = {0, NULL};

	ok(canon_parse(&doc, env, strlen(env), &err) == 0, "parse an envelope");
	ok(canon_emit(&doc, 0, &a, NULL) == 0 &&
		   canon_emit(&doc, CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE, &b, NULL) == 0 &&
		   !strcmp(a.data, "{\"b\":[1,{\"x\":1,\"y\":2}],\"signature\":\"s\",\"source_name\":"
				   "\"a\",\"source_version\":\"1\",\"timestamp\":5.7,\"topic\":\"t\"}") &&
		   !strcmp(b.data, "{\"b\":[1,{\"x\":1,\"y\":2}],\"timestamp\":5,\"topic\":\"t\"}"),
	   "one parse, emitted with and without flags");
	buf_reset(&a);
	ok(canon_emit(&doc, 1u << 5, &a, &err) == -EINVAL && err.what, "emit: unknown flag");
	/* A failed parse leaves no document, and keeps the memory. */
	size_t bytes = canon_doc_bytes(&doc);
	ok(canon_parse(&doc, "{\"a\":1,\"a\":2}", 13, &err) == -EINVAL && err.offset == 7 &&
		   canon_emit(&doc, 0, &a, &err) == -EINVAL && canon_doc_bytes(&doc) == bytes,
	   "after a failed parse (a duplicate key) nothing is emitted, memory kept");
	static const char deep[] = "[{},{\"b\":[{\"c\":1,\"c\":1}]}]";
	ok(canon_parse(&doc, deep, strlen(deep), &err) == -EINVAL && err.offset == 17,
	   "duplicates refused at parse time, at any depth");

	/* A document bigger than any before: the nodes grow, then stay. */
	struct canon_doc big = CANON_DOC_INIT;
	buf_reset(&a);
	buf_putc(&a, '[');
	for (int i = 0; i < 5000; i++)
		buf_printf(&a, "%s{\"k\":%d,\"j\":\"\\u00e9\"}", i ? "," : "", i);
	buf_putc(&a, ']');
	buf_reset(&b);
	int rc = canon_parse(&big, a.data, a.len, &err);
	size_t grown = canon_doc_bytes(&big);
	rc = rc ? rc : canon_parse(&big, a.data, a.len, &err);
	rc = rc ? rc : canon_emit(&big, 0, &b, &err);
	ok(rc == 0 && grown >= 15001 * 16 && canon_doc_bytes(&big) == grown &&
		   canon(a.data, a.len, 0, NULL) == 0 && !strcmp(out.data, b.data),
	   "15001 nodes: the doc grows once, is reused, and emits what canon_json does");
	canon_doc_release(&big);
	ok(canon_doc_bytes(&big) == 0 && canon_emit(&big, 0, &b, NULL) == -EINVAL,
	   "a released doc is empty");
	buf_release(&a);
	buf_release(&b);
}

static void test_find(void)
{
	static const char in[] = " { \"a\" : 1 , \"\\u0074opic\":\"x\", \"caf\\u00e9\":2, \"caf\xc3\xa9s\":3,"
				 " \"k\\u0000z\":4, \"\\ud83d\\ude00\":5, \"o\":{\"a\":6}, \"\":7 } ";
	uint32_t v = 0, o;

	ok(canon_parse(&doc, in, strlen(in), NULL) == 0, "parse for find");
	ok(find("a") && canon_type(&doc, find("a")) == CANON_INT, "find a plain key");
	ok(find("topic") && canon_type(&doc, find("topic")) == CANON_STRING,
	   "find a key spelled with an escape");
	ok(find("caf\xc3\xa9") && find("caf\xc3\xa9s") && find("caf\xc3\xa9") != find("caf\xc3\xa9s"),
	   "escaped and raw UTF-8 keys, one a prefix of the other");
	ok(canon_find(&doc, CANON_ROOT, "k\0z", 3, &v) == 0 && !find("k"), "a key holding U+0000");
	ok(find("\xf0\x9f\x98\x80") != 0, "a key from a surrogate pair, found by its UTF-8");
	ok(find("") != 0 && !find("b") && !find("topi") && !find("topics"),
	   "the empty key; absent, prefix and longer keys are not found");
	static const char *const keys[] = {"topic", "zz", "a", "caf\xc3\xa9s", "", "o"};
	uint32_t vals[6];
	ok(canon_find_all(&doc, CANON_ROOT, keys, 6, vals) == 0 && vals[0] == find("topic") &&
		   vals[1] == 0 && vals[2] == find("a") && vals[3] == find("caf\xc3\xa9s") &&
		   vals[4] == find("") && vals[5] == find("o") && vals[0] && vals[5],
	   "canon_find_all finds what canon_find does, in one pass");
	o = find("o");
	ok(canon_find(&doc, o, "a", 1, &v) == 0 && canon_type(&doc, v) == CANON_INT &&
		   v != find("a"), "find in a nested object");
	ok(canon_find(&doc, find("a"), "a", 1, &v) == -EINVAL &&
		   canon_find_all(&doc, find("a"), keys, 1, vals) == -EINVAL,
	   "find in a number: -EINVAL");
	ok(canon_parse(&doc, "[1]", 3, NULL) == 0 && canon_find(&doc, CANON_ROOT, "a", 1, &v) == -EINVAL,
	   "find in an array root: -EINVAL");
	ok(canon_parse(&doc, "{}", 2, NULL) == 0 && canon_find(&doc, CANON_ROOT, "a", 1, &v) == -ENOENT,
	   "find in an empty object: -ENOENT");
}

static void test_types_spans(void)
{
	static const char in[] = "{\"n\":null,\"f\":false,\"t\":true,\"nan\":NaN,\"inf\":Infinity,"
				 "\"ninf\":-Infinity,\"i\":-12,\"d\":1.5e3,\"s\":\"a\\\"b\","
				 "\"arr\":[ 1 , [ ] ],\"obj\": { \"x\" : { } } , \"e\":{}}";
	static const struct {
		const char *key, *span;
		enum canon_type type;
	} want[] = {
		{"n", "null", CANON_NULL}, {"f", "false", CANON_FALSE}, {"t", "true", CANON_TRUE},
		{"nan", "NaN", CANON_NAN}, {"inf", "Infinity", CANON_INF},
		{"ninf", "-Infinity", CANON_NINF}, {"i", "-12", CANON_INT},
		{"d", "1.5e3", CANON_FLOAT}, {"s", "\"a\\\"b\"", CANON_STRING},
		{"arr", "[ 1 , [ ] ]", CANON_ARRAY}, {"obj", "{ \"x\" : { } }", CANON_OBJECT},
		{"e", "{}", CANON_OBJECT},
	};
	size_t off, len;
	int bad = 0;

	ok(canon_parse(&doc, in, strlen(in), NULL) == 0, "parse every type");
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		uint32_t v = find(want[i].key);
		canon_span(&doc, v, &off, &len);
		if (!v || canon_type(&doc, v) != want[i].type || len != strlen(want[i].span) ||
		    memcmp(in + off, want[i].span, len) != 0) {
			diag("%s: type %d, span '%.*s'", want[i].key, v ? (int)canon_type(&doc, v) : -1,
			     (int)len, in + off);
			bad++;
		}
	}
	ok(!bad, "type and exact span of each kind of value");
	canon_span(&doc, CANON_ROOT, &off, &len);
	ok(off == 0 && len == strlen(in), "the root's span is the whole text");
	ok(canon_type(&doc, CANON_ROOT) == CANON_OBJECT, "the root is an object");
}

static void test_strings_numbers(void)
{
	static const char in[] = "{\"plain\":\"abc\",\"esc\":\"a\\n\\u00e9\\ud83d\\ude00\\/\\\"\","
				 "\"nul\":\"x\\u0000y\",\"wide\":\"\xc3\xa9\x7f\",\"num\":1,"
				 "\"max\":9223372036854775807,\"min\":-9223372036854775808,"
				 "\"over\":9223372036854775808,\"under\":-9223372036854775809,"
				 "\"huge\":123456789012345678901234567890,\"mz\":-0,\"fl\":2.5,"
				 "\"e\":1e400,\"tiny\":1e-400,\"nan\":NaN}";
	char s[64];
	size_t len = 0;
	bool nul = true;
	int64_t i = 0;
	double d = 0;

	ok(canon_parse(&doc, in, strlen(in), NULL) == 0, "parse strings and numbers");
	ok(canon_string(&doc, find("plain"), s, sizeof s, &len, &nul) == 0 && len == 3 &&
		   !strcmp(s, "abc") && !nul, "a plain string");
	ok(canon_string(&doc, find("esc"), s, sizeof s, &len, &nul) == 0 &&
		   len == 1 + 1 + 2 + 4 + 2 && !memcmp(s, "a\n\xc3\xa9\xf0\x9f\x98\x80/\"", len + 1) &&
		   !nul, "escapes decoded to UTF-8");
	ok(canon_string(&doc, find("nul"), s, sizeof s, &len, &nul) == 0 && len == 3 &&
		   !memcmp(s, "x\0y", 4) && nul, "U+0000 decoded and reported");
	ok(canon_string(&doc, find("wide"), s, sizeof s, &len, NULL) == 0 && len == 3 &&
		   !strcmp(s, "\xc3\xa9\x7f"), "raw UTF-8 and DEL copied as they are");
	ok(canon_string_max(&doc, find("esc")) <= sizeof s &&
		   canon_string(&doc, find("esc"), s, canon_string_max(&doc, find("esc")) - 1, &len,
				NULL) == -ENOBUFS, "-ENOBUFS below canon_string_max()");
	ok(canon_string(&doc, find("num"), s, sizeof s, &len, NULL) == -EINVAL,
	   "a number is not a string");
	ok(canon_int64(&doc, find("num"), &i) == 0 && i == 1, "an integer");
	ok(canon_int64(&doc, find("max"), &i) == 0 && i == INT64_MAX, "INT64_MAX");
	ok(canon_int64(&doc, find("min"), &i) == 0 && i == INT64_MIN, "INT64_MIN");
	ok(canon_int64(&doc, find("over"), &i) == -ERANGE &&
		   canon_int64(&doc, find("under"), &i) == -ERANGE &&
		   canon_int64(&doc, find("huge"), &i) == -ERANGE, "overflow either way is -ERANGE");
	ok(canon_int64(&doc, find("mz"), &i) == 0 && i == 0, "-0 is 0");
	ok(canon_int64(&doc, find("fl"), &i) == -EINVAL &&
		   canon_int64(&doc, find("plain"), &i) == -EINVAL, "a float or a string is not an integer");
	ok(canon_number(&doc, find("fl"), &d) == 0 && d == 2.5 &&
		   canon_number(&doc, find("huge"), &d) == 0 && d == 123456789012345678901234567890.0,
	   "numbers as doubles, huge integers rounded");
	ok(canon_number(&doc, find("e"), &d) == 0 && isinf(d) &&
		   canon_number(&doc, find("tiny"), &d) == 0 && d == 0 &&
		   canon_number(&doc, find("nan"), &d) == 0 && isnan(d), "overflow, underflow, NaN");
	ok(canon_number(&doc, find("plain"), &d) == -EINVAL, "a string is not a number");

	/* A number too long for the on-stack scratch. */
	struct buf b = BUF_INIT;
	buf_puts(&b, "[0.");
	for (int k = 0; k < 300; k++)
		buf_putc(&b, '0');
	buf_puts(&b, "15]");
	ok(canon_parse(&doc, b.data, b.len, NULL) == 0 && canon_number(&doc, 1, &d) == 0 &&
		   d == 1.5e-301, "a 300-digit fraction");
	buf_release(&b);
}

static void test_extensions(void)
{
	static const struct {
		const char *in;
		unsigned ext;
	} cases[] = {
		{"{\"a\":[1,2.5,\"x\",1e308,-1e-400,1E+2]}", 0},
		{"[NaN]", CANON_EXT_NONFINITE},
		{"{\"a\":-Infinity}", CANON_EXT_NONFINITE},
		{"[1e309]", CANON_EXT_RANGE},
		{"[-1.8e308]", CANON_EXT_RANGE},
		{"[1.7e308]", 0},
		{"{\"a\\u0000\":1}", CANON_EXT_NUL_KEY},
		{"{\"a\":\"\\u0000\"}", 0},
		{"[NaN,{\"\\u0000\":1e999}]",
		 CANON_EXT_NONFINITE | CANON_EXT_NUL_KEY | CANON_EXT_RANGE},
	};
	struct buf b = BUF_INIT;
	int bad = 0;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned got = ~0u;
		if (canon_parse(&doc, cases[i].in, strlen(cases[i].in), NULL) == 0)
			got = canon_extensions(&doc);
		if (got != cases[i].ext) {
			diag("%s: extensions %#x, want %#x", cases[i].in, got, cases[i].ext);
			bad++;
		}
	}
	ok(!bad, "extensions: non-finite literals, doubles out of range, NUL in keys");
	/* Integers: 309 digits may overflow a double, 308 never do. */
	buf_putc(&b, '[');
	for (int k = 0; k < 308; k++)
		buf_putc(&b, '9');
	buf_putc(&b, ']');
	ok(canon_parse(&doc, b.data, b.len, NULL) == 0 && canon_extensions(&doc) == 0,
	   "a 308-digit integer is in range");
	buf_reset(&b);
	buf_puts(&b, "[2");
	for (int k = 0; k < 308; k++)
		buf_putc(&b, '0');
	buf_putc(&b, ']');
	ok(canon_parse(&doc, b.data, b.len, NULL) == 0 && canon_extensions(&doc) == CANON_EXT_RANGE,
	   "2e308 written as an integer is out of range");
	buf_release(&b);
}

/* ---- vectors ----------------------------------------------------------- */

struct group {
	char name[32];
	int pass, fail;
};

static struct group *find_group(struct group *g, int *n, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(g[i].name, name) == 0)
			return &g[i];
	if (*n == 16)
		return &g[15];
	g[*n] = (struct group){.pass = 0, .fail = 0};
	snprintf(g[*n].name, sizeof g[*n].name, "%s", name);
	return &g[(*n)++];
}

/* One vector: 1 if it passes. Idempotence is checked too. */
static int run_vector(json_t *v, long lineno)
{
	json_t *jin = json_object_get(v, "in"), *jout = json_object_get(v, "out");
	unsigned flags = (unsigned)json_integer_value(json_object_get(v, "flags"));
	struct canon_error err = {0, NULL};
	int rc;

	if (!json_is_string(jin)) {
		diag("line %ld: no \"in\"", lineno);
		return 0;
	}
	if (!parse_once_agrees(json_string_value(jin), json_string_length(jin), flags)) {
		diag("line %ld: canon_parse + canon_emit differs from canon_json: %s", lineno,
		     show(json_string_value(jin), json_string_length(jin)));
		return 0;
	}
	rc = canon(json_string_value(jin), json_string_length(jin), flags, &err);
	if (json_is_null(jout)) {
		if (rc == -EINVAL)
			return 1;
		diag("line %ld: accepted what CPython rejects: %s", lineno,
		     show(json_string_value(jin), json_string_length(jin)));
		return 0;
	}
	const char *want = json_string_value(jout);
	if (rc || out.len != strlen(want) || memcmp(out.data, want, out.len) != 0) {
		diag("line %ld: rc %d (%s at %zu)\n#  in:   %s\n#  got:  %.300s\n#  want: %.300s",
		     lineno, rc, err.what ? err.what : "-", err.offset,
		     show(json_string_value(jin), json_string_length(jin)), rc ? "" : out.data, want);
		return 0;
	}
	rc = canon(want, strlen(want), 0, &err);
	if (rc || strcmp(out.data, want) != 0) {
		diag("line %ld: not idempotent", lineno);
		return 0;
	}
	return 1;
}

static void test_vectors(const char *path)
{
	static const char *const required[] = {"corpus", "random", "unicode", "float", "int",
					       "keys", "nesting", "flags", "reject"};
	struct group groups[16];
	int ngroups = 0;
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0, total = 0;
	FILE *f = fopen(path, "r");

	if (!ok(f != NULL, "open %s", path))
		return;
	while (getline(&line, &cap, f) > 0) {
		json_error_t jerr;
		json_t *v = json_loads(line, JSON_ALLOW_NUL, &jerr);
		lineno++;
		if (!v) {
			diag("line %ld: %s", lineno, jerr.text);
			continue;
		}
		const char *name = json_string_value(json_object_get(v, "group"));
		struct group *g = find_group(groups, &ngroups, name ? name : "?");
		if (run_vector(v, lineno))
			g->pass++;
		else if (g->fail++ > 5)
			diag("(more failures in '%s' not shown)", g->name);
		json_decref(v);
		total++;
	}
	free(line);
	fclose(f);
	ok(total == lineno && total >= 3000, "%ld vectors parsed from %ld lines", total, lineno);
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		int passed = 0;
		for (int j = 0; j < ngroups; j++)
			if (strcmp(groups[j].name, required[i]) == 0)
				passed = groups[j].pass;
		ok(passed > 0, "vector group '%s' present", required[i]);
	}
	for (int i = 0; i < ngroups; i++)
		ok(groups[i].fail == 0, "vectors '%s': %d passed, %d failed", groups[i].name,
		   groups[i].pass, groups[i].fail);
}

int main(int argc, char **argv)
{
	char path[4096];
	const char *srcdir = getenv("srcdir");

	if (argc > 1)
		snprintf(path, sizeof path, "%s", argv[1]);
	else
		snprintf(path, sizeof path, "%s/%s", srcdir ? srcdir : ".", VECTORS);

	test_syntax_errors();
	test_string_errors();
	test_long_strings();
	test_duplicates();
	test_depth();
	test_strings();
	test_numbers();
	test_double();
	test_flags();
	test_buffers();
	test_emit();
	test_find();
	test_types_spans();
	test_strings_numbers();
	test_extensions();
	test_vectors(path);
	buf_release(&out);
	canon_doc_release(&doc);
	return tap_done();
}
