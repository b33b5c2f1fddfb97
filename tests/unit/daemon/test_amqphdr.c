/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for amqphdr: every field kind rabbitmq-c decodes becomes its
 * JSON form, at the limits of each width; a table that cannot be
 * represented (a key or value not UTF-8, a NUL or over-long key, nesting
 * too deep, NaN, an unknown kind) is refused whole, with its reason.
 * No broker: the tables are built here as rabbitmq-c would decode them.
 */
#include "src/daemon/amqphdr.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tests/unit/tap.h"

static amqp_field_value_t fv(uint8_t kind)
{
	return (amqp_field_value_t){.kind = kind};
}

static amqp_field_value_t str(uint8_t kind, const char *s, size_t n)
{
	amqp_field_value_t v = fv(kind);
	v.value.bytes = (amqp_bytes_t){.len = n, .bytes = (void *)s};
	return v;
}

static amqp_table_entry_t entry(const char *k, size_t klen, amqp_field_value_t v)
{
	return (amqp_table_entry_t){.key = {.len = klen, .bytes = (void *)k}, .value = v};
}

#define E(k, v) entry(k, strlen(k), v)
#define TABLE(arr) ((amqp_table_t){.num_entries = (int)(sizeof arr / sizeof arr[0]), .entries = arr})

static json_int_t int_of(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? json_integer_value(v) : -4242;
}

static double real_of(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_real(v) ? json_real_value(v) : -4242.0;
}

static void every_kind(void)
{
	amqp_field_value_t v[21];
	v[0] = fv(AMQP_FIELD_KIND_BOOLEAN), v[0].value.boolean = 1;
	v[1] = fv(AMQP_FIELD_KIND_BOOLEAN), v[1].value.boolean = 0;
	v[2] = fv(AMQP_FIELD_KIND_I8), v[2].value.i8 = INT8_MIN;
	v[3] = fv(AMQP_FIELD_KIND_U8), v[3].value.u8 = UINT8_MAX;
	v[4] = fv(AMQP_FIELD_KIND_I16), v[4].value.i16 = INT16_MIN;
	v[5] = fv(AMQP_FIELD_KIND_U16), v[5].value.u16 = UINT16_MAX;
	v[6] = fv(AMQP_FIELD_KIND_I32), v[6].value.i32 = INT32_MIN;
	v[7] = fv(AMQP_FIELD_KIND_U32), v[7].value.u32 = UINT32_MAX;
	v[8] = fv(AMQP_FIELD_KIND_I64), v[8].value.i64 = INT64_MIN;
	v[9] = fv(AMQP_FIELD_KIND_U64), v[9].value.u64 = INT64_MAX;
	v[10] = fv(AMQP_FIELD_KIND_U64), v[10].value.u64 = (uint64_t)INT64_MAX + 1;
	v[11] = fv(AMQP_FIELD_KIND_TIMESTAMP), v[11].value.u64 = 1714564800;
	v[12] = fv(AMQP_FIELD_KIND_F32), v[12].value.f32 = 1.5f;
	v[13] = fv(AMQP_FIELD_KIND_F64), v[13].value.f64 = -2.25;
	v[14] = fv(AMQP_FIELD_KIND_DECIMAL), v[14].value.decimal = (amqp_decimal_t){2, 12345};
	v[15] = fv(AMQP_FIELD_KIND_DECIMAL), v[15].value.decimal = (amqp_decimal_t){0, UINT32_MAX};
	v[16] = fv(AMQP_FIELD_KIND_VOID);
	v[17] = str(AMQP_FIELD_KIND_UTF8, "bodhi.update.comment.v1", 23);
	v[18] = str(AMQP_FIELD_KIND_BYTES, "caf\xc3\xa9", 5);
	v[19] = str(AMQP_FIELD_KIND_UTF8, "a\0b", 3);
	v[20] = str(AMQP_FIELD_KIND_BYTES, NULL, 0);
	amqp_table_entry_t inner[] = {E("x", v[6])};
	amqp_field_value_t items[] = {v[17], v[2], v[16]};
	amqp_field_value_t tab = fv(AMQP_FIELD_KIND_TABLE), arr = fv(AMQP_FIELD_KIND_ARRAY);
	tab.value.table = TABLE(inner);
	arr.value.array = (amqp_array_t){.num_entries = 3, .entries = items};
	amqp_table_entry_t e[] = {
		E("t", v[0]), E("f", v[1]), E("i8", v[2]), E("u8", v[3]), E("i16", v[4]),
		E("u16", v[5]), E("i32", v[6]), E("u32", v[7]), E("i64", v[8]), E("u64", v[9]),
		E("u64big", v[10]), E("ts", v[11]), E("f32", v[12]), E("f64", v[13]),
		E("dec", v[14]), E("dec0", v[15]), E("void", v[16]), E("s", v[17]),
		E("bytes", v[18]), E("nul", v[19]), E("empty", v[20]), E("table", tab),
		E("array", arr), entry("", 0, v[3])};
	amqp_table_t t = TABLE(e);
	const char *why = "unset";
	json_t *o = amqphdr_to_json(&t, &why);
	ok(o && !why && json_object_size(o) == 24, "a table of every kind reads (%s)",
	   why ? why : "ok");
	ok(json_is_true(json_object_get(o, "t")) && json_is_false(json_object_get(o, "f")),
	   "booleans");
	ok(int_of(o, "i8") == INT8_MIN && int_of(o, "u8") == UINT8_MAX &&
		   int_of(o, "i16") == INT16_MIN && int_of(o, "u16") == UINT16_MAX,
	   "8 and 16-bit integers at their limits");
	ok(int_of(o, "i32") == INT32_MIN && int_of(o, "u32") == UINT32_MAX &&
		   int_of(o, "i64") == INT64_MIN && int_of(o, "u64") == INT64_MAX,
	   "32 and 64-bit integers at their limits");
	ok(real_of(o, "u64big") == 9223372036854775808.0,
	   "an unsigned 64-bit value over INT64_MAX is a real");
	ok(int_of(o, "ts") == 1714564800, "a timestamp is its seconds");
	ok(real_of(o, "f32") == 1.5 && real_of(o, "f64") == -2.25, "float and double");
	ok(fabs(real_of(o, "dec") - 123.45) < 1e-9 && real_of(o, "dec0") == 4294967295.0,
	   "decimal: value / 10^scale (%g, %g)", real_of(o, "dec"), real_of(o, "dec0"));
	ok(json_is_null(json_object_get(o, "void")), "void is null");
	ok(!strcmp(json_string_value(json_object_get(o, "s")), "bodhi.update.comment.v1") &&
		   !strcmp(json_string_value(json_object_get(o, "bytes")), "caf\xc3\xa9"),
	   "a string and UTF-8 bytes are strings");
	ok(json_string_length(json_object_get(o, "nul")) == 3 &&
		   !strcmp(json_string_value(json_object_get(o, "empty")), ""),
	   "a NUL inside a value is kept; empty bytes are an empty string");
	ok(int_of(json_object_get(o, "table"), "x") == INT32_MIN, "a nested table is an object");
	const json_t *a = json_object_get(o, "array");
	ok(json_array_size(a) == 3 && json_is_string(json_array_get(a, 0)) &&
		   json_integer_value(json_array_get(a, 1)) == INT8_MIN &&
		   json_is_null(json_array_get(a, 2)),
	   "an array keeps its values in order");
	ok(int_of(o, "") == UINT8_MAX, "an empty key is a key");
	json_decref(o);

	amqp_table_t none = {0};
	o = amqphdr_to_json(&none, &why);
	ok(json_is_object(o) && json_object_size(o) == 0 && !why, "an empty table is {}");
	json_decref(o);
	amqp_table_entry_t dup[] = {E("k", v[2]), E("k", v[3])};
	t = TABLE(dup);
	o = amqphdr_to_json(&t, &why);
	ok(int_of(o, "k") == UINT8_MAX, "a repeated key keeps its last value");
	json_decref(o);
}

/* A one-entry table holding v: refused with a reason containing `needle`. */
static void refused(const char *what, amqp_table_entry_t e, const char *needle)
{
	amqp_table_t t = {.num_entries = 1, .entries = &e};
	const char *why = NULL;
	json_t *o = amqphdr_to_json(&t, &why);
	ok(!o && why && strstr(why, needle), "%s: refused (%s)", what, why ? why : "accepted");
	json_decref(o);
}

static void bad_tables(void)
{
	amqp_field_value_t one = fv(AMQP_FIELD_KIND_I8);
	char key[300];
	memset(key, 'k', sizeof key);
	amqp_table_entry_t e = entry(key, 255, one);
	amqp_table_t t = {.num_entries = 1, .entries = &e};
	const char *why;
	json_t *o = amqphdr_to_json(&t, &why);
	ok(o && json_object_size(o) == 1, "a 255-byte key (AMQP's longest) is read");
	json_decref(o);
	refused("a 256-byte key", entry(key, 256, one), "longer than 255");
	refused("a key not UTF-8", entry("user_\xc3\x28", 7, one), "key is not UTF-8");
	refused("a key with a NUL", entry("a\0b", 3, one), "NUL");
	refused("an overlong encoding in a key", entry("\xc0\xaf", 2, one), "key is not UTF-8");
	refused("a string not UTF-8", E("s", str(AMQP_FIELD_KIND_UTF8, "\xff", 1)),
		"value is not UTF-8");
	refused("bytes not UTF-8", E("b", str(AMQP_FIELD_KIND_BYTES, "x\xed\xa0\x80", 4)),
		"value is not UTF-8");
	amqp_field_value_t nan = fv(AMQP_FIELD_KIND_F64), inf = fv(AMQP_FIELD_KIND_F32);
	nan.value.f64 = NAN;
	inf.value.f32 = INFINITY;
	refused("NaN", E("n", nan), "NaN");
	refused("infinity", E("n", inf), "infinite");
	refused("an unknown kind", E("z", fv('Z')), "unknown");
	/* a bad value deep inside: the whole table goes */
	amqp_field_value_t items[] = {one, str(AMQP_FIELD_KIND_UTF8, "\xc3", 1)};
	amqp_field_value_t arr = fv(AMQP_FIELD_KIND_ARRAY);
	arr.value.array = (amqp_array_t){.num_entries = 2, .entries = items};
	refused("a bad string in an array", E("a", arr), "value is not UTF-8");
	amqp_table_entry_t inner = entry("\xe2\x82", 2, one);
	amqp_field_value_t tab = fv(AMQP_FIELD_KIND_TABLE);
	tab.value.table = (amqp_table_t){.num_entries = 1, .entries = &inner};
	refused("a bad key in a nested table", E("t", tab), "key is not UTF-8");
}

/* Tables (or arrays) nested `levels` deep, the top table included. */
static void nesting(uint8_t kind, const char *what)
{
	for (int levels = AMQPHDR_DEPTH_MAX; levels <= AMQPHDR_DEPTH_MAX + 1; levels++) {
		amqp_table_entry_t e[AMQPHDR_DEPTH_MAX + 1];
		amqp_field_value_t v[AMQPHDR_DEPTH_MAX + 1];
		v[levels - 1] = fv(AMQP_FIELD_KIND_I8);
		for (int i = levels - 2; i >= 0; i--) {
			v[i] = fv(kind);
			if (kind == AMQP_FIELD_KIND_TABLE) {
				e[i + 1] = E("n", v[i + 1]);
				v[i].value.table = (amqp_table_t){.num_entries = 1, .entries = &e[i + 1]};
			} else {
				v[i].value.array = (amqp_array_t){.num_entries = 1, .entries = &v[i + 1]};
			}
		}
		e[0] = E("top", v[0]);
		amqp_table_t t = {.num_entries = 1, .entries = &e[0]};
		const char *why = NULL;
		json_t *o = amqphdr_to_json(&t, &why);
		if (levels == AMQPHDR_DEPTH_MAX)
			ok(o != NULL, "%s: %d levels are read (%s)", what, levels, why ? why : "ok");
		else
			ok(!o && why && strstr(why, "too deep"), "%s: %d levels are refused (%s)", what,
			   levels, why ? why : "accepted");
		json_decref(o);
	}
}

int main(void)
{
	every_kind();
	bad_tables();
	nesting(AMQP_FIELD_KIND_TABLE, "tables");
	nesting(AMQP_FIELD_KIND_ARRAY, "arrays");
	return tap_done();
}
