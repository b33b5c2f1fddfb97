/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lines: turning hostile text into IRC message lines, and checking IRC
 * destinations. Pure functions, no I/O, no libircclient: irc.c sends what
 * these build, and tests can drive them directly.
 *
 * Contract: every line lines_split() produces is valid UTF-8, holds no C0
 * control, DEL or C1 control (so no CR, LF or NUL can end the command and
 * start another), is not empty or blank, and is at most `budget` bytes.
 * Not here: flood control, summaries, the protocol (irc.c).
 */
#ifndef HERALD_IRC_LINES_H
#define HERALD_IRC_LINES_H

#include <stdbool.h>
#include <stddef.h>

#define IRC_LINE_MAX	 510 /* RFC 1459: 512 with CR LF */
#define IRC_HOST_RESERVE 64  /* the host part of our prefix, as relayed */
#define IRC_TARGET_MAX	 50  /* channel or nick, as we accept it */
#define IRC_KEY_MAX	 23

/* A list of malloc'd lines. */
struct irc_lines {
	char **v;
	size_t n, cap;
	bool failed; /* out of memory: the list is incomplete */
};

/* Bytes of text a "PRIVMSG target :" line may carry so that the server's
 * relay of it, ":nick!user@host PRIVMSG target :text", stays within 510
 * bytes: 510 - (1 + nick + 1 + user + 1 + IRC_HOST_RESERVE + 1) - 8 -
 * target - 2. At least 64 (callers keep nick, user and target short). */
size_t irc_lines_budget(size_t nick_len, size_t user_len, size_t target_len);

/* Append the lines of `text` (split at its line breaks, then at `budget`
 * bytes, at a space where one is near, never inside a UTF-8 character).
 * Controls become spaces, bytes that are not UTF-8 become '?'. With `bold`,
 * each line is wrapped in mIRC bold (\x02 ... \x02, inside the budget). */
void irc_lines_split(struct irc_lines *out, const char *text, size_t budget, bool bold);
/* Append one line as it is (the caller built it from safe parts). */
void irc_lines_add(struct irc_lines *out, const char *line);
void irc_lines_free(struct irc_lines *l);

/* A destination: "#channel", "#channel key" or "nick". Splits it into
 * target and key (key "" when none). 0, or -1 with err set. Checks: at most
 * IRC_TARGET_MAX bytes of target, channel names start with # or & and hold
 * no space, comma, BEL or control; keys are printable ASCII without space
 * or comma; nicks follow RFC 2812 (letter or special, then letters, digits,
 * specials, '-'); exactly one space, only between a channel and its key. */
int irc_parse_dest(const char *address, char *target, size_t tlen, char *key, size_t klen,
		   char *err, size_t errlen);

/* Case-insensitive IRC name comparison (RFC 1459 casemapping). */
bool irc_name_eq(const char *a, const char *b);

#endif
