/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * be64: big-endian u64 in LMDB keys and values, so byte order is numeric
 * order. Shared by every module that keeps LMDB tables.
 */
#ifndef HERALD_BE64_H
#define HERALD_BE64_H

#include <stdint.h>

static inline void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static inline uint64_t get_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

#endif
