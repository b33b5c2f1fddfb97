/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * strv: arrays of C strings given as a pointer and a count (struct meta's
 * usernames and packages), and their JSON form for documents and output.
 *
 * Not for NULL-terminated vectors, nor for owning or sorting the strings:
 * the caller keeps its array; nothing here frees or copies it.
 *
 * Thread-safe: no state; the JSON made is the caller's alone.
 */
#ifndef HERALD_STRV_H
#define HERALD_STRV_H

#include <jansson.h>
#include <stddef.h>

/*
 * A new JSON array (the caller owns the reference) holding copies of the n
 * strings, in order; NULL when out of memory, or when a string is NULL or
 * not valid UTF-8 (jansson refuses it), so callers treat it as a failure.
 */
json_t *strv_to_json(char *const *v, size_t n);

#endif
