/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_config: libFuzzer target for heraldd.conf parsing. The input is
 * written to a memory-backed file because config_load reads a path, as the
 * daemon does.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "src/common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("herald-fuzz-config", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		char path[64], err[600];
		struct config cfg;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if (config_load(path, &cfg, err, sizeof err) == 0)
			config_release(&cfg);
	}
	close(fd);
	return 0;
}
