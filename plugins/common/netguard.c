/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* netguard: special-purpose address ranges and allow lists (see netguard.h). */
#include "netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct range {
	const char *cidr; /* parsed on each use: the table stays const and tiny */
	const char *name;
};

/* RFC 6890 and its successors: what a webhook has no business reaching.
 * Order matters only for overlaps (none here). */
static const struct range v4_ranges[] = {
    {"0.0.0.0/8", "unspecified 0.0.0.0/8"},
    {"10.0.0.0/8", "private 10.0.0.0/8"},
    {"100.64.0.0/10", "shared CGNAT 100.64.0.0/10"},
    {"127.0.0.0/8", "loopback 127.0.0.0/8"},
    {"169.254.0.0/16", "link-local 169.254.0.0/16"},
    {"172.16.0.0/12", "private 172.16.0.0/12"},
    {"192.0.0.0/24", "IETF protocol assignments 192.0.0.0/24"},
    {"192.0.2.0/24", "documentation 192.0.2.0/24"},
    {"192.88.99.0/24", "6to4 relay 192.88.99.0/24"},
    {"192.168.0.0/16", "private 192.168.0.0/16"},
    {"198.18.0.0/15", "benchmarking 198.18.0.0/15"},
    {"198.51.100.0/24", "documentation 198.51.100.0/24"},
    {"203.0.113.0/24", "documentation 203.0.113.0/24"},
    {"224.0.0.0/4", "multicast 224.0.0.0/4"},
    {"240.0.0.0/4", "reserved 240.0.0.0/4"},
};
static const struct range v6_ranges[] = {
    {"::/128", "unspecified ::/128"},
    {"::1/128", "loopback ::1/128"},
    {"100::/64", "discard-only 100::/64"},
    {"64:ff9b:1::/48", "local-use NAT64 64:ff9b:1::/48"},
    {"2001:2::/48", "benchmarking 2001:2::/48"},
    {"2001:db8::/32", "documentation 2001:db8::/32"},
    {"fc00::/7", "unique local fc00::/7"},
    {"fe80::/10", "link-local fe80::/10"},
    {"fec0::/10", "site-local fec0::/10"},
    {"ff00::/8", "multicast ff00::/8"},
};

/* IPv6 prefixes that carry an IPv4 address, and where it sits. */
static const struct {
	const char *cidr;
	unsigned offset;
} v6_embedding[] = {
    {"::ffff:0:0/96", 12}, /* IPv4-mapped */
    {"::/96", 12},         /* IPv4-compatible (deprecated), after ::/128 and ::1/128 */
    {"64:ff9b::/96", 12},  /* NAT64 well-known prefix */
    {"2002::/16", 2},      /* 6to4 */
};

int netguard_parse_cidr(const char *s, struct netguard_cidr *out, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix;
	char *end;

	*out = (struct netguard_cidr){0};
	if (alen == 0 || alen >= INET6_ADDRSTRLEN)
		goto bad;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else
		goto bad;
	unsigned max = out->family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash) {
		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			goto bad;
		prefix = strtoul(slash + 1, &end, 10);
		if (*end || prefix > max)
			goto bad;
	}
	out->prefix = (unsigned)prefix;
	for (unsigned bit = out->prefix; bit < max; bit++)
		if (out->addr[bit / 8] & (0x80 >> (bit % 8))) {
			snprintf(err, errlen, "'%s': bits set after the /%u prefix", s, out->prefix);
			return -1;
		}
	return 0;
bad:
	snprintf(err, errlen, "'%.60s' is not an IPv4 or IPv6 network (ADDR/PREFIX)", s);
	return -1;
}

void netguard_list_release(struct netguard_list *l)
{
	free(l->v);
	*l = (struct netguard_list){0};
}

int netguard_parse_list(const char *s, struct netguard_list *l, char *err, size_t errlen)
{
	struct netguard_list n = {0};
	char word[128];

	while (*s) {
		size_t k = strcspn(s, " \t,");
		if (k == 0) {
			s++;
			continue;
		}
		if (k >= sizeof word) {
			snprintf(err, errlen, "'%.40s...' is not a network", s);
			goto fail;
		}
		memcpy(word, s, k);
		word[k] = '\0';
		s += k;
		struct netguard_cidr *v = realloc(n.v, (n.n + 1) * sizeof *v);
		if (!v) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		n.v = v;
		if (netguard_parse_cidr(word, &n.v[n.n], err, errlen))
			goto fail;
		n.n++;
	}
	netguard_list_release(l);
	*l = n;
	return 0;
fail:
	netguard_list_release(&n);
	return -1;
}

bool netguard_cidr_match(const struct netguard_cidr *c, int family, const unsigned char *addr)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (c->family != family)
		return false;
	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff00 >> rest);
	return (c->addr[full] & mask) == (addr[full] & mask);
}

static bool in(const char *cidr, int family, const unsigned char *addr)
{
	struct netguard_cidr c;
	char err[1];

	return !netguard_parse_cidr(cidr, &c, err, sizeof err) && netguard_cidr_match(&c, family, addr);
}

/* The IPv4 address an IPv6 one carries, into v4; false when none. ::/128
 * and ::1/128 carry none (they are ranges of their own). */
static bool embedded_v4(const unsigned char *a6, unsigned char v4[4])
{
	if (in("::/127", AF_INET6, a6))
		return false;
	for (size_t i = 0; i < sizeof v6_embedding / sizeof v6_embedding[0]; i++)
		if (in(v6_embedding[i].cidr, AF_INET6, a6)) {
			memcpy(v4, a6 + v6_embedding[i].offset, 4);
			return true;
		}
	return false;
}

const char *netguard_classify(int family, const unsigned char *addr)
{
	unsigned char v4[4];

	if (family == AF_INET) {
		for (size_t i = 0; i < sizeof v4_ranges / sizeof v4_ranges[0]; i++)
			if (in(v4_ranges[i].cidr, AF_INET, addr))
				return v4_ranges[i].name;
		return NULL;
	}
	if (family != AF_INET6)
		return "not an IP address";
	for (size_t i = 0; i < sizeof v6_ranges / sizeof v6_ranges[0]; i++)
		if (in(v6_ranges[i].cidr, AF_INET6, addr))
			return v6_ranges[i].name;
	return embedded_v4(addr, v4) ? netguard_classify(AF_INET, v4) : NULL;
}

static bool allowed(const struct netguard_list *allow, int family, const unsigned char *addr)
{
	unsigned char v4[4];
	bool has_v4 = family == AF_INET6 && embedded_v4(addr, v4);

	for (size_t i = 0; allow && i < allow->n; i++)
		if (netguard_cidr_match(&allow->v[i], family, addr) ||
		    (has_v4 && netguard_cidr_match(&allow->v[i], AF_INET, v4)))
			return true;
	return false;
}

int netguard_check(const struct netguard_list *allow, const struct sockaddr *sa, socklen_t len,
		   char *why, size_t whylen)
{
	char text[INET6_ADDRSTRLEN] = "?";
	const unsigned char *addr;
	const char *range;

	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
		addr = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	else {
		snprintf(why, whylen, "address family %d is not IPv4 or IPv6", sa->sa_family);
		return -1;
	}
	range = netguard_classify(sa->sa_family, addr);
	if (!range || allowed(allow, sa->sa_family, addr))
		return 0;
	inet_ntop(sa->sa_family, addr, text, sizeof text);
	snprintf(why, whylen, "address %s is in a private range (%s; allow it with allow_networks)",
		 text, range);
	return -1;
}
