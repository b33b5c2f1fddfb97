/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * herald: the command-line tool's entry point. Parses the options shared by
 * every subcommand, picks the subcommand and runs it; also holds the small
 * helpers all subcommands share (messages, exit codes, number parsing, file
 * reading). What each subcommand does lives in src/cli_<name>.c, not here.
 */
#ifdef HAVE_CONFIG_H
#include "herald_build.h" /* PACKAGE_VERSION from configure */
#endif

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "src/common/clock.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

static const char usage_text[] =
	"usage: herald [-q] [--log-level LEVEL] COMMAND [OPTIONS] [ARGS]\n"
	"\n"
	"Commands:\n"
	"  keygen NAME      make an Ed25519 key pair and print its [keys] config line\n"
	"                   (--vapid NAME: a P-256 key for a webpush sink)\n"
	"  publish          sign and send messages to the bus (like fedmsg-logger)\n"
	"  tail             print messages from the bus, optionally verified (like fedmsg-tail)\n"
	"  verify           check one envelope's signature against a heraldd config\n"
	"  stats            show heraldd's counters over its API socket\n"
	"  user             add, list, show or remove users (through heraldd)\n"
	"  dest             add, list, pause, resume or remove a user's destinations\n"
	"  sub              add, list, show, enable, disable, remove or explain subscriptions\n"
	"  token            add, list or revoke a user's personal API tokens\n"
	"  filter test      does a message match a filter, and why\n"
	"  describe         print what the schema rules make of messages\n"
	"  outbox           list, show, retry or drop notifications waiting for delivery\n"
	"  deadletter       list, show, retry or drop notifications given up on\n"
	"  delivered        the latest deliveries\n"
	"  sinks            the sink instances' state and the outbox's counts; resume one\n"
	"\n"
	"Options:\n"
	"  -q, --quiet          print only results and errors\n"
	"      --log-level L    error, warn (default), info or debug\n"
	"  -h, --help           this text; `herald COMMAND --help` for a command\n"
	"      --version        print the version\n"
	"\n"
	"Exit status: 0 success, 1 failure, 2 usage error. See herald(1).\n";

static const struct {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
} commands[] = {
	{"keygen", cli_keygen}, {"publish", cli_publish}, {"tail", cli_tail},
	{"verify", cli_verify}, {"stats", cli_stats}, {"user", cli_user}, {"dest", cli_dest},
	{"sub", cli_sub}, {"token", cli_token}, {"filter", cli_filter}, {"describe", cli_describe},
	{"outbox", cli_outbox}, {"deadletter", cli_deadletter}, {"delivered", cli_delivered},
	{"sinks", cli_sinks},
};

static void vmessage(const struct cli *cli, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vmessage(const struct cli *cli, const char *fmt, va_list ap)
{
	if (cli->cmd)
		fprintf(stderr, "%s %s: ", cli->prog, cli->cmd);
	else
		fprintf(stderr, "%s: ", cli->prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void cli_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(cli, fmt, ap);
	va_end(ap);
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(cli, fmt, ap);
	va_end(ap);
	if (cli->cmd)
		fprintf(stderr, "Try '%s %s --help'.\n", cli->prog, cli->cmd);
	else
		fprintf(stderr, "Try '%s --help'.\n", cli->prog);
	return CLI_USAGE;
}

void cli_note(const struct cli *cli, const char *fmt, ...)
{
	if (cli->quiet)
		return;
	va_list ap;
	va_start(ap, fmt);
	vmessage(cli, fmt, ap);
	va_end(ap);
}

void cli_getopt_reset(void)
{
	/* GNU getopt re-initialises fully (including its "+" mode) on 0. */
	optind = 0;
	opterr = 0;
}

/*
 * Name the option getopt choked on. After a missing value optind is past the
 * option itself; an unknown short option is in optopt (it may sit in a
 * bundle like -qz); an unknown long option only in argv.
 */
static int bad_option(const struct cli *cli, int c, char **argv)
{
	if (c == ':')
		return cli_usage_error(cli, "option '%s' needs a value", argv[optind - 1]);
	if (optopt > 0 && optopt < 0x100)
		return cli_usage_error(cli, "unknown option '-%c'", optopt);
	return cli_usage_error(cli, "unknown option '%s'", argv[optind - 1]);
}

static int set_level(struct cli *cli, const char *arg)
{
	if (log_level_parse(arg, &cli->level))
		return cli_usage_error(cli, "--log-level: expected error, warn, info or debug, "
					    "got '%s'", arg);
	log_setup(cli->prog, cli->level, false);
	return CLI_OPT_DONE;
}

int cli_common_opt(struct cli *cli, int c, char **argv, const char *help)
{
	switch (c) {
	case 'h':
		fputs(help, stdout);
		return CLI_OK;
	case 'q':
		cli->quiet = true;
		if (cli->level > L_ERROR)
			cli->level = L_ERROR;
		log_setup(cli->prog, cli->level, false);
		return CLI_OPT_DONE;
	case CLI_OPT_LOG_LEVEL:
		return set_level(cli, optarg);
	case ':':
	case '?':
		return bad_option(cli, c, argv);
	default:
		return CLI_OPT_NOT_MINE;
	}
}

int cli_no_operands(const struct cli *cli, int argc, char **argv)
{
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	return CLI_OPT_DONE;
}

int cli_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '+')
		return -EINVAL;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v <= min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int read_fd(int fd, struct buf *out)
{
	for (;;) {
		int rc = buf_reserve(out, 65536);
		if (rc)
			return rc;
		ssize_t n = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
	}
}

int cli_read_file(const char *path, struct buf *out)
{
	if (!path || !strcmp(path, "-"))
		return read_fd(STDIN_FILENO, out);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = read_fd(fd, out);
	close(fd);
	return rc;
}

uint64_t cli_deadline_ms(double seconds)
{
	return clock_mono_ms() + (uint64_t)(seconds * 1000.0);
}

long cli_ms_left(uint64_t deadline)
{
	uint64_t now = clock_mono_ms();
	if (now >= deadline)
		return 0;
	uint64_t left = deadline - now;
	return left > 86400000u ? 86400000L : (long)left;
}

/* Global options come before the command name; "+" stops at the command. */
static int parse_global(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS, {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0}};
	int c;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, "+" CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
		if (c == 'V') {
			printf("herald %s\n", PACKAGE_VERSION);
			return CLI_OK;
		}
		int r = cli_common_opt(cli, c, argv, usage_text);
		if (r != CLI_OPT_DONE)
			return r == CLI_OPT_NOT_MINE ? CLI_USAGE : r;
	}
	return CLI_OPT_DONE;
}

int main(int argc, char **argv)
{
	struct cli cli = {.prog = "herald", .level = L_WARN};
	log_setup(cli.prog, cli.level, false);
	int r = parse_global(&cli, argc, argv);
	if (r != CLI_OPT_DONE)
		return r;
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return CLI_USAGE;
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(name, commands[i].name) != 0)
			continue;
		cli.cmd = commands[i].name;
		r = commands[i].run(&cli, argc - optind, argv + optind);
		/* A full disk or a closed pipe on stdout is a failure, not success. */
		if (fflush(stdout) != 0 && r == CLI_OK) {
			cli_error(&cli, "writing output: %s", strerror(errno));
			r = CLI_FAIL;
		}
		return r;
	}
	return cli_usage_error(&cli, "unknown command '%s'", name);
}
