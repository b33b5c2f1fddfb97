/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fmsg: one fedora-messaging delivery into an envelope (see fmsg.h). Every
 * refusal has its own reason, because each is a publisher's bug that an
 * operator wants to see counted apart.
 */
#include "fmsg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const reason_name[FMSG_REASON_COUNT] = {
	[FMSG_OK] = "ok",
	[FMSG_NO_TOPIC] = "no_topic",
	[FMSG_BAD_TOPIC] = "bad_topic",
	[FMSG_TOO_LARGE] = "too_large",
	[FMSG_BAD_ENCODING] = "bad_encoding",
	[FMSG_NOT_UTF8] = "not_utf8",
	[FMSG_BAD_JSON] = "bad_json",
	[FMSG_NOT_OBJECT] = "not_object",
	[FMSG_BAD_ID] = "bad_message_id",
	[FMSG_BAD_HEADER] = "bad_header",
};

const char *fmsg_reason_name(enum fmsg_reason r)
{
	return (unsigned)r < FMSG_REASON_COUNT ? reason_name[r] : "unknown";
}

bool fmsg_utf8_valid(const char *s, size_t n)
{
	if (!n) /* s may be NULL then (an empty body): NULL + 0 is undefined in C */
		return true;
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		unsigned c = *p++;
		if (c < 0x80)
			continue;
		size_t more;
		unsigned min, cp;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, min = 0x10000, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) < more)
			return false;
		for (size_t i = 0; i < more; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		p += more;
	}
	return true;
}

/* UTF-8 without control characters (C0 and DEL): topics and ids. */
static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return fmsg_utf8_valid(s, n);
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

/* The zone: Z, +HH:MM, -HH:MM or +HHMM, as seconds east of UTC. */
static int zone(const char *p, int *east)
{
	int hh, mm, sign;
	if (!strcmp(p, "Z") || !strcmp(p, "z"))
		return (*east = 0), 0;
	if (*p != '+' && *p != '-')
		return -EINVAL;
	sign = *p++ == '-' ? -1 : 1;
	if (digits(&p, 2, &hh))
		return -EINVAL;
	if (*p == ':')
		p++;
	if (digits(&p, 2, &mm) || *p || hh > 23 || mm > 59)
		return -EINVAL;
	*east = sign * (hh * 3600 + mm * 60);
	return 0;
}

int fmsg_parse_time(const char *s, double *out)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, east;
	double frac = 0;
	const char *p = s;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d) || (*p != 'T' && *p != ' ') || !*p++ || digits(&p, 2, &h) ||
	    *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		double scale = 0.1;
		if (*++p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (zone(p, &east) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (double)timegm(&tm) - east + frac;
	return 0;
}

static bool is_utf8_name(const char *enc)
{
	return !strcasecmp(enc, "utf-8") || !strcasecmp(enc, "utf8");
}

/* The headers fedora-messaging defines, when present, have its types:
 * severity one of its four levels, schema and sent-at strings. */
static enum fmsg_reason check_headers(const json_t *h, double now_s, double *ts,
				      const char **detail)
{
	const json_t *sev = json_object_get(h, "fedora_messaging_severity");
	const json_t *schema = json_object_get(h, "fedora_messaging_schema");
	const json_t *sent = json_object_get(h, "sent-at");
	*ts = now_s;
	if (sev) {
		double v = json_number_value(sev);
		if (!json_is_number(sev) || (v != 10 && v != 20 && v != 30 && v != 40))
			return (*detail = "fedora_messaging_severity is not 10, 20, 30 or 40"),
			       FMSG_BAD_HEADER;
	}
	if (schema && !json_is_string(schema))
		return (*detail = "fedora_messaging_schema is not a string"), FMSG_BAD_HEADER;
	if (sent && !json_is_string(sent))
		return (*detail = "sent-at is not a string"), FMSG_BAD_HEADER;
	if (sent && fmsg_parse_time(json_string_value(sent), ts))
		*ts = now_s; /* fedora-messaging only asks for a string: keep the message */
	return FMSG_OK;
}

static enum fmsg_reason check_transport(const struct fmsg_in *in, size_t max_body,
					const char **detail)
{
	if (!in->routing_key_len)
		return (*detail = "empty routing key"), FMSG_NO_TOPIC;
	if (!printable(in->routing_key, in->routing_key_len))
		return (*detail = "routing key is not printable UTF-8"), FMSG_BAD_TOPIC;
	if (in->message_id && (!in->message_id_len || !printable(in->message_id, in->message_id_len)))
		return (*detail = "message_id is empty or not printable UTF-8"), FMSG_BAD_ID;
	if (in->body_len > max_body)
		return (*detail = "body over max_message_size"), FMSG_TOO_LARGE;
	if (in->content_encoding && !is_utf8_name(in->content_encoding))
		return (*detail = "content_encoding is not utf-8"), FMSG_BAD_ENCODING;
	if (!fmsg_utf8_valid(in->body, in->body_len))
		return (*detail = "body is not UTF-8"), FMSG_NOT_UTF8;
	return FMSG_OK;
}

enum fmsg_reason fmsg_parse(const struct fmsg_in *in, size_t max_body, double now_s,
			    struct envelope *env, const char **detail)
{
	const char *dummy;
	double ts;
	if (!detail)
		detail = &dummy;
	envelope_clear(env);
	enum fmsg_reason r = check_transport(in, max_body, detail);
	if (!r && in->headers)
		r = check_headers(in->headers, now_s, &ts, detail);
	else
		ts = now_s;
	if (r)
		return r;
	if (envelope_adopt(env, in->routing_key, in->routing_key_len, in->message_id,
			   in->message_id_len, ts, in->body, in->body_len, NULL))
		return (*detail = "out of memory"), FMSG_BAD_JSON;
	/* envelope_msg parses the body with the same refusals as a fedmsg
	 * body (duplicate keys, NaN...), and keeps the parse. */
	const json_t *msg = envelope_msg(env);
	if (!msg || !json_is_object(msg)) {
		r = msg ? FMSG_NOT_OBJECT : FMSG_BAD_JSON;
		*detail = msg ? "body is not a JSON object" : "body is not JSON";
		envelope_clear(env);
		return r;
	}
	return FMSG_OK;
}
