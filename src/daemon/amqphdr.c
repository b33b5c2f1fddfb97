/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * amqphdr: an AMQP headers table as JSON (see amqphdr.h). Recursive over
 * tables and arrays, bounded by AMQPHDR_DEPTH_MAX.
 */
#include "amqphdr.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "src/common/fmsg.h"

#define KEY_MAX 255 /* AMQP short string */

static json_t *table_json(const amqp_table_t *t, int depth, const char **why);

static json_t *fail(const char **why, const char *reason)
{
	*why = reason;
	return NULL;
}

static json_t *string_json(amqp_bytes_t b, const char **why)
{
	const char *p = b.bytes ? b.bytes : "";
	if (!fmsg_utf8_valid(p, b.len))
		return fail(why, "a header value is not UTF-8");
	json_t *s = json_stringn(p, b.len);
	return s ? s : fail(why, "out of memory");
}

/* AMQP's decimal: an unsigned value and a count of decimal places. */
static json_t *decimal_json(amqp_decimal_t d)
{
	double v = (double)d.value;
	for (unsigned i = 0; i < d.decimals; i++)
		v /= 10;
	return json_real(v);
}

static json_t *u64_json(uint64_t v)
{
	return v > INT64_MAX ? json_real((double)v) : json_integer((json_int_t)v);
}

static json_t *array_json(const amqp_array_t *a, int depth, const char **why);

static json_t *value_json(const amqp_field_value_t *v, int depth, const char **why)
{
	json_t *j;
	switch (v->kind) {
	case AMQP_FIELD_KIND_BOOLEAN: j = json_boolean(v->value.boolean); break;
	case AMQP_FIELD_KIND_I8: j = json_integer(v->value.i8); break;
	case AMQP_FIELD_KIND_U8: j = json_integer(v->value.u8); break;
	case AMQP_FIELD_KIND_I16: j = json_integer(v->value.i16); break;
	case AMQP_FIELD_KIND_U16: j = json_integer(v->value.u16); break;
	case AMQP_FIELD_KIND_I32: j = json_integer(v->value.i32); break;
	case AMQP_FIELD_KIND_U32: j = json_integer(v->value.u32); break;
	case AMQP_FIELD_KIND_I64: j = json_integer(v->value.i64); break;
	case AMQP_FIELD_KIND_U64:
	case AMQP_FIELD_KIND_TIMESTAMP: j = u64_json(v->value.u64); break;
	case AMQP_FIELD_KIND_F32: j = json_real(v->value.f32); break;
	case AMQP_FIELD_KIND_F64: j = json_real(v->value.f64); break;
	case AMQP_FIELD_KIND_DECIMAL: j = decimal_json(v->value.decimal); break;
	case AMQP_FIELD_KIND_VOID: j = json_null(); break;
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES: return string_json(v->value.bytes, why);
	case AMQP_FIELD_KIND_TABLE: return table_json(&v->value.table, depth + 1, why);
	case AMQP_FIELD_KIND_ARRAY: return array_json(&v->value.array, depth + 1, why);
	default: return fail(why, "a header value has an unknown AMQP field kind");
	}
	/* json_real refuses NaN and infinities: not representable in JSON */
	return j ? j : fail(why, "a header value is a NaN or infinite number, or out of memory");
}

/* A new array or object for a value `depth` tables or arrays down. */
static json_t *container_new(bool object, int depth, const char **why)
{
	if (depth >= AMQPHDR_DEPTH_MAX)
		return fail(why, "the headers nest tables or arrays too deep");
	json_t *c = object ? json_object() : json_array();
	return c ? c : fail(why, "out of memory");
}

/* Put v (taken; NULL when its conversion failed and set *why) into c, under
 * key, or appended when key is NULL. 0, or -1 with c released. */
static int put(json_t *c, const char *key, json_t *v, const char **why)
{
	if (v && !(key ? json_object_set_new(c, key, v) : json_array_append_new(c, v)))
		return 0;
	if (v) /* jansson released it */
		*why = "out of memory";
	json_decref(c);
	return -1;
}

static json_t *array_json(const amqp_array_t *a, int depth, const char **why)
{
	json_t *arr = container_new(false, depth, why);
	for (int i = 0; arr && i < a->num_entries; i++)
		if (put(arr, NULL, value_json(&a->entries[i], depth, why), why))
			return NULL;
	return arr;
}

static const char *key_problem(amqp_bytes_t k)
{
	if (k.len > KEY_MAX)
		return "a header key is longer than 255 bytes";
	if (k.len && memchr(k.bytes, '\0', k.len))
		return "a header key contains a NUL byte";
	if (!fmsg_utf8_valid(k.len ? k.bytes : "", k.len))
		return "a header key is not UTF-8";
	return NULL;
}

static json_t *table_json(const amqp_table_t *t, int depth, const char **why)
{
	json_t *o = container_new(true, depth, why);
	for (int i = 0; o && i < t->num_entries; i++) {
		const amqp_table_entry_t *e = &t->entries[i];
		const char *bad = key_problem(e->key);
		char key[KEY_MAX + 1] = "";
		if (!bad && e->key.len)
			memcpy(key, e->key.bytes, e->key.len);
		if (put(o, key, bad ? fail(why, bad) : value_json(&e->value, depth, why), why))
			return NULL;
	}
	return o;
}

json_t *amqphdr_to_json(const amqp_table_t *t, const char **why)
{
	*why = NULL;
	return table_json(t, 0, why);
}
