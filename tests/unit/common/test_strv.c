/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_strv: strv_to_json() makes an array of the strings in order, an
 * empty array for none, and NULL (not a short array) when a string cannot
 * be JSON, so a document is never built with a member silently missing.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/strv.h"
#include "tests/unit/tap.h"

int main(void)
{
	char *v[] = {"ralph", "zoe", "caf\xc3\xa9"};
	json_t *a = strv_to_json(v, 3);
	char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
	ok(s && !strcmp(s, "[\"ralph\",\"zoe\",\"caf\xc3\xa9\"]"), "three strings, in order: %s",
	   s ? s : "(null)");
	free(s);
	json_decref(a);

	a = strv_to_json(NULL, 0);
	ok(json_is_array(a) && json_array_size(a) == 0, "none: an empty array");
	json_decref(a);

	char *bad[] = {"ok", "\xff"};
	ok(strv_to_json(bad, 2) == NULL, "invalid UTF-8: NULL, not a shorter array");
	char *null[] = {"ok", NULL};
	ok(strv_to_json(null, 2) == NULL, "a NULL string: NULL");
	return tap_done();
}
