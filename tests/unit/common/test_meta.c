/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_meta: the flag lists' JSON form (meta_flags_to_json/_from_json), as
 * notifications, explain and `herald describe` carry them: only non-empty
 * lists are written, what is written reads back the same, absent or junk
 * members read as empty, and meta_release frees all of it (ASan checks).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/meta.h"
#include "tests/unit/tap.h"

int main(void)
{
	char *containers[] = {"f39/python3", "rawhide:latest"}, *groups[] = {"packager"};
	struct meta m = {.containers = containers, .n_containers = 2, .groups = groups,
			 .n_groups = 1};
	json_t *o = json_object();
	ok(!meta_flags_to_json(&m, o), "to_json");
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	ok(s && !strcmp(s, "{\"containers\":[\"f39/python3\",\"rawhide:latest\"],"
			    "\"groups\":[\"packager\"]}"),
	   "only the non-empty lists, in order: %s", s ? s : "(null)");
	free(s);

	struct meta back = {0};
	json_object_set_new(o, "modules", json_pack("[s,i,s]", "nodejs", 3, "ripgrep"));
	json_object_set_new(o, "flatpaks", json_string("firefox"));
	ok(!meta_flags_from_json(&back, o), "from_json");
	ok(back.n_containers == 2 && !strcmp(back.containers[1], "rawhide:latest") &&
		   back.n_groups == 1 && !strcmp(back.groups[0], "packager"),
	   "what was written reads back");
	ok(back.n_modules == 2 && !strcmp(back.modules[0], "nodejs") &&
		   !strcmp(back.modules[1], "ripgrep"),
	   "a non-string element is skipped");
	ok(back.n_flatpaks == 0 && !back.flatpaks, "a member that is not an array reads as empty");
	meta_release(&back);
	ok(!back.containers && !back.n_groups, "meta_release clears the lists");
	json_decref(o);

	o = json_object();
	struct meta none = {0};
	ok(!meta_flags_to_json(&none, o) && json_object_size(o) == 0, "no lists: nothing written");
	ok(!meta_flags_from_json(&none, o) && !none.n_containers && !none.containers,
	   "nothing to read: all empty");
	json_decref(o);
	return tap_done();
}
