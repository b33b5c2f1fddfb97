/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * replay_main: run a libFuzzer target over files without libFuzzer, so the
 * seed corpora (and any crash reproducers added to them) run in `make check`
 * with whatever sanitizers the build has. Prints TAP: one point per file.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, int n)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("not ok %d - cannot open %s\n", n, path);
		return 1;
	}
	size_t cap = 1 << 16, len = 0;
	uint8_t *data = malloc(cap);
	size_t got;
	while (data && (got = fread(data + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap) {
			uint8_t *p = realloc(data, cap *= 2);
			if (!p) {
				free(data);
				data = NULL;
			}
			data = p;
		}
	}
	fclose(f);
	if (!data) {
		printf("not ok %d - out of memory on %s\n", n, path);
		return 1;
	}
	/* A copy of exactly `len` bytes so ASan sees reads past the end. */
	uint8_t *exact = malloc(len ? len : 1);
	memcpy(exact, data, len);
	free(data);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	printf("ok %d - %s\n", n, path);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0, failed = 0;
	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		if (!d) {
			failed |= run_file(argv[i], ++n);
			continue;
		}
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			failed |= run_file(path, ++n);
		}
		closedir(d);
	}
	printf("1..%d\n", n);
	return failed || n == 0;
}
