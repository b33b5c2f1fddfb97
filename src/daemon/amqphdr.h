/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * amqphdr: an AMQP headers table (rabbitmq-c's amqp_table_t, as it decoded
 * a delivery's properties) as a JSON object, for fmsg and the schema.
 * Pure: no connection; the consumer thread (amqpsrc.c) calls it on each
 * delivery, and tests call it on tables they build.
 *
 * Every field type rabbitmq-c can deliver has a JSON form: strings and
 * byte arrays -> strings (UTF-8 only), bool -> true/false, integers of
 * every width and timestamps -> integers (an unsigned 64-bit value over
 * INT64_MAX -> a real), float/double -> reals, decimal -> the real
 * value / 10^scale, void -> null, table -> object, array -> array.
 * A table that cannot be represented is refused as a whole, with a short
 * static reason: fedora-messaging's headers are read from it, and a
 * half-read table would misfile a message (the delivery is rejected).
 *
 * Thread-safety: no shared state.
 */
#ifndef HERALD_AMQPHDR_H
#define HERALD_AMQPHDR_H

#include <amqp.h>
#include <jansson.h>

#define AMQPHDR_DEPTH_MAX 8 /* nested tables/arrays, the top table included */

/*
 * `t` as a JSON object (a new reference), or NULL with *why set to why
 * not: a key or string value that is not UTF-8, a key with a NUL byte or
 * over 255 bytes (AMQP's short string), nesting deeper than
 * AMQPHDR_DEPTH_MAX, an unknown field kind, or out of memory. A key that
 * repeats keeps its last value (as pika's dict does).
 */
json_t *amqphdr_to_json(const amqp_table_t *t, const char **why);

#endif
