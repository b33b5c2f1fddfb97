/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test plugin: speaks only sink ABI 2, so its entry point returns NULL to a
 * 1.x host ("does not speak sink ABI 1.2 (it refused it)"). */
#include <herald/sink.h>

__attribute__((visibility("default"))) const struct herald_sink_ops *
herald_sink_entry(uint32_t host_abi);

const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
{
	return NULL;
}
