/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * strv: arrays of C strings as JSON (see strv.h).
 *
 * Not for NULL-terminated vectors nor for owning strings: see strv.h.
 */
#include "strv.h"

json_t *strv_to_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}
