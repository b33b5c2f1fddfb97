/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netguard: the HTTP sinks' SSRF guard, as pure functions over socket
 * addresses: which special-purpose range (loopback, private, link-local,
 * ...) an address is in, and whether an allow list of CIDRs exempts it.
 * IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
 * IPv6 addresses are judged by the IPv4 address they carry.
 *
 * Not here: when the check runs (httpbatch.c calls netguard_check from
 * libcurl's open-socket callback, i.e. after DNS, for every connection
 * attempt). No allocation but the list's own array; thread-safe for reads.
 */
#ifndef HERALD_SINK_NETGUARD_H
#define HERALD_SINK_NETGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* One network: family AF_INET or AF_INET6, the address in network order
 * (IPv4 in the first 4 bytes), the prefix length. */
struct netguard_cidr {
	int family;
	unsigned char addr[16];
	unsigned prefix;
};

/* The allowed networks; {0} is the empty list. Owned by its holder:
 * netguard_list_release frees it. */
struct netguard_list {
	struct netguard_cidr *v;
	size_t n;
};

/* Parse "ADDR/PREFIX" or a bare ADDR (a host: /32 or /128). Host bits under
 * the prefix must be zero (10.0.0.1/8 is refused as a likely typo).
 * 0, or -1 with err set. */
int netguard_parse_cidr(const char *s, struct netguard_cidr *out, char *err, size_t errlen);

/* Parse a space- or comma-separated list into l (replacing what it held).
 * 0, or -1 with err set and l unchanged. */
int netguard_parse_list(const char *s, struct netguard_list *l, char *err, size_t errlen);
void netguard_list_release(struct netguard_list *l);

/* Is the address (family AF_INET/AF_INET6, bytes in network order) in c? */
bool netguard_cidr_match(const struct netguard_cidr *c, int family, const unsigned char *addr);

/* The special-purpose range addr is in, as "loopback 127.0.0.0/8" and so on,
 * or NULL for an ordinary public unicast address. A static string. */
const char *netguard_classify(int family, const unsigned char *addr);

/*
 * The check for one connection attempt: 0 when sa may be connected to
 * (public, or exempted by allow), else -1 with why set to a message for the
 * user naming the address and the range, e.g. "address 127.0.0.1 is in a
 * private range (loopback 127.0.0.0/8; allow it with allow_networks)".
 * An address family other than IPv4/IPv6 is refused.
 */
int netguard_check(const struct netguard_list *allow, const struct sockaddr *sa, socklen_t len,
		   char *why, size_t whylen);

#endif
