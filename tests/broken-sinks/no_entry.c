/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test plugin: a shared object without herald_sink_entry (the symbol is
 * misspelt), which the host must refuse with its own message. */
#include <herald/sink.h>

__attribute__((visibility("default"))) const struct herald_sink_ops *
herald_sink_entry_v1(uint32_t host_abi);

const struct herald_sink_ops *herald_sink_entry_v1(uint32_t host_abi)
{
	return NULL;
}
