/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli: what the `herald` command-line tool's subcommands share.
 *
 * src/herald.c parses the global options and dispatches; each subcommand
 * lives in src/cli_<name>.c and exposes one entry point taking the shared
 * context and its own argv (argv[0] is the subcommand name). The helpers
 * below keep messages, exit codes and option handling the same everywhere.
 * Not for anything the daemon uses: nothing in here is linked into heraldd.
 *
 * Exit codes are part of the interface (see doc/herald.1): 0 success, 1 a
 * runtime failure (or, for `verify`, an invalid message), 2 a usage error
 * (or, for `verify`/`stats`, an unusable config file).
 *
 * Single-threaded: the tool never starts threads of its own.
 */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "src/common/buf.h"
#include "src/common/envelope.h"
#include "src/common/log.h"

#ifndef HERALD_DEFAULT_CONFIG
#define HERALD_DEFAULT_CONFIG "/etc/herald/heraldd.conf"
#endif

enum cli_exit { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Per-invocation state, passed down instead of globals. */
struct cli {
	const char *prog;      /* "herald" */
	const char *cmd;       /* subcommand being run, for messages */
	bool quiet;            /* -q: only errors and results */
	enum log_level level;  /* --log-level */
};

/*
 * Long-option codes shared by every subcommand; subcommands number their own
 * options from CLI_OPT_FIRST_OWN so the two ranges never collide.
 */
enum {
	CLI_OPT_LOG_LEVEL = 0x100,
	CLI_OPT_URL,        /* cli_http.h: --url */
	CLI_OPT_TOKEN_FILE, /* cli_http.h: --token-file */
	CLI_OPT_FIRST_OWN = 0x200,
};

/* Spliced into each subcommand's option table (before its terminator). */
#define CLI_COMMON_LONGOPTS                                          \
	{"help", no_argument, NULL, 'h'},                            \
	{"quiet", no_argument, NULL, 'q'},                           \
	{"log-level", required_argument, NULL, CLI_OPT_LOG_LEVEL}

/* Short options every subcommand accepts; prefix of each optstring. Options
 * may follow operands (GNU permutation); only the global parse stops at the
 * command name ("+"). */
#define CLI_COMMON_SHORTOPTS ":hq"

/* Subcommands: argv[0] is the subcommand name. Return an enum cli_exit. */
int cli_keygen(struct cli *cli, int argc, char **argv);
int cli_publish(struct cli *cli, int argc, char **argv);
int cli_tail(struct cli *cli, int argc, char **argv);
int cli_verify(struct cli *cli, int argc, char **argv);
int cli_stats(struct cli *cli, int argc, char **argv);
/* Management, through the daemon's API (cli_http.h). */
int cli_user(struct cli *cli, int argc, char **argv);
int cli_dest(struct cli *cli, int argc, char **argv);
int cli_sub(struct cli *cli, int argc, char **argv);
int cli_token(struct cli *cli, int argc, char **argv);
int cli_filter(struct cli *cli, int argc, char **argv);
int cli_describe(struct cli *cli, int argc, char **argv);
/* The outbox, dead letters, delivery log and sinks (cli_outbox.c). */
int cli_outbox(struct cli *cli, int argc, char **argv);
int cli_deadletter(struct cli *cli, int argc, char **argv);
int cli_delivered(struct cli *cli, int argc, char **argv);
int cli_sinks(struct cli *cli, int argc, char **argv);

/* "herald CMD: message" on stderr. Always printed, even with -q. */
void cli_error(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like cli_error, plus a hint to --help; returns CLI_USAGE. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Status chatter on stderr ("published 20 messages"); silenced by -q. */
void cli_note(const struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Handle an option every subcommand shares, or a getopt error, inside a
 * subcommand's getopt_long loop (`c` is getopt's return value, `help` the
 * subcommand's --help text). Returns CLI_OPT_NOT_MINE when the caller must
 * handle `c`, CLI_OPT_DONE when it was consumed, or an exit code to return
 * at once: CLI_OK after printing --help, CLI_USAGE after a usage error.
 */
#define CLI_OPT_NOT_MINE (-1)
#define CLI_OPT_DONE (-2)
int cli_common_opt(struct cli *cli, int c, char **argv, const char *help);

/*
 * Convention for each subcommand's option parser: it returns CLI_OPT_DONE
 * when the command should run, anything else is the exit code to return
 * (CLI_OK after --help). cli_no_operands follows it: CLI_OPT_DONE, or
 * CLI_USAGE when an argument was left over.
 */
int cli_no_operands(const struct cli *cli, int argc, char **argv);

/* Reset getopt before parsing a subcommand's argv (GNU: optind = 0). */
void cli_getopt_reset(void);

/* Parse a non-negative integer in [min, max]. 0 or -EINVAL. */
int cli_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);
/* Parse a finite number of seconds or a rate in (min, max]. 0 or -EINVAL. */
int cli_parse_double(const char *s, double min, double max, double *out);

/*
 * Read a whole file ("-" or NULL = stdin) into `out`. 0 or a negative
 * errno; the caller reports it with the path.
 */
int cli_read_file(const char *path, struct buf *out);

/*
 * Shared by tail and verify (cli_verify.c): load the heraldd config at
 * `path` into *cfg and build a verifier from its [verify], [routing] and
 * [keys]. CLI_OK, or CLI_USAGE after printing the config error (file:line);
 * on success the caller releases both with config_release/verifier_free.
 */
struct config;
struct verifier;
int cli_load_verifier(const struct cli *cli, const char *path, struct config *cfg,
		      struct verifier **out);

/* Metric-style name of an envelope_parse() failure ("bad_json", ...). */
const char *cli_envelope_error_name(enum envelope_error e);

/* Monotonic deadline helpers, in milliseconds (log.h's clock). */
uint64_t cli_deadline_ms(double seconds);
/* Milliseconds left until `deadline` (0 when past), clamped for zmq_poll. */
long cli_ms_left(uint64_t deadline);

#endif
