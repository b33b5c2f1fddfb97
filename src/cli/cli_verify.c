/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_verify: `herald verify`, which answers "would heraldd accept this
 * envelope's signature?" for one message, with the daemon's own config and
 * the daemon's own code (config_load, envelope_parse, verify_envelope).
 * Also the helpers tail shares with it: loading a config into a verifier
 * and naming envelope errors. Not for checking sequence numbers,
 * duplicates or filters: only what verify.c decides.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "src/common/config.h"
#include "src/common/verify.h"

static const char help_text[] =
	"usage: herald verify [-c CONFIG] [MESSAGE.json]\n"
	"\n"
	"Check one envelope (from the file, or stdin) against heraldd's [verify],\n"
	"[routing] and [keys] configuration. Prints 'valid (signer NAME)' or\n"
	"'invalid: REASON'.\n"
	"\n"
	"  -c, --config FILE    heraldd config (default: " HERALD_DEFAULT_CONFIG ")\n"
	"  -q, --quiet          print nothing; the exit status tells\n"
	"      --log-level L    error, warn, info or debug\n"
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 valid, 1 invalid or unreadable, 2 usage or config error.\n";

const char *cli_envelope_error_name(enum envelope_error e)
{
	switch (e) {
	case ENVELOPE_OK: return "ok";
	case ENVELOPE_BAD_JSON: return "bad_json";
	case ENVELOPE_BAD_FIELD: return "bad_field";
	case ENVELOPE_NO_TOPIC: return "no_topic";
	case ENVELOPE_NO_BODY: return "no_body";
	}
	return "bad_envelope";
}

int cli_load_verifier(const struct cli *cli, const char *path, struct config *cfg,
		      struct verifier **out)
{
	char err[1024] = "";
	if (config_load(path, cfg, err, sizeof err)) {
		cli_error(cli, "%s", err);
		return CLI_USAGE;
	}
	if (verifier_new(&cfg->verify, out, err, sizeof err)) {
		cli_error(cli, "%s: %s", path, err[0] ? err : "cannot set up verification");
		config_release(cfg);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* What we print for a refusal: "reason (detail)". */
static void print_invalid(const struct cli *cli, const char *reason, const char *detail)
{
	if (cli->quiet)
		return;
	if (detail && *detail)
		printf("invalid: %s (%s)\n", reason, detail);
	else
		printf("invalid: %s\n", reason);
}

/* A trailing newline from an editor or `echo` is not part of the message. */
static size_t trim_end(const char *s, size_t len)
{
	while (len && strchr(" \t\r\n", s[len - 1]))
		len--;
	return len;
}

static int check(const struct cli *cli, struct verifier *v, const char *raw, size_t len)
{
	struct envelope env;
	struct buf scratch = BUF_INIT;
	const char *detail = NULL, *signer = NULL;
	enum envelope_error ee = envelope_parse(&env, raw, len, &detail);
	if (ee != ENVELOPE_OK) {
		print_invalid(cli, cli_envelope_error_name(ee), detail);
		return CLI_FAIL;
	}
	enum verify_result r = verify_envelope(v, &env, raw, len, &scratch, &signer, &detail);
	if (r != VERIFY_OK)
		print_invalid(cli, verify_result_name(r), detail);
	else if (!cli->quiet && signer)
		printf("valid (signer %s)\n", signer);
	else if (!cli->quiet)
		printf("valid (unsigned, signatures not required)\n");
	buf_release(&scratch);
	envelope_release(&env);
	return r == VERIFY_OK ? CLI_OK : CLI_FAIL;
}

static int parse_opts(struct cli *cli, int argc, char **argv, const char **config,
		      const char **file)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS, {"config", required_argument, NULL, 'c'}, {NULL, 0, NULL, 0}};
	int c;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "c:", longopts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, argv, help_text);
		if (r == CLI_OPT_DONE)
			continue;
		if (r != CLI_OPT_NOT_MINE)
			return r;
		if (c == 'c')
			*config = optarg;
	}
	if (optind < argc)
		*file = argv[optind++];
	return cli_no_operands(cli, argc, argv);
}

int cli_verify(struct cli *cli, int argc, char **argv)
{
	const char *config = HERALD_DEFAULT_CONFIG, *file = NULL;
	int r = parse_opts(cli, argc, argv, &config, &file);
	if (r != CLI_OPT_DONE)
		return r;
	struct config cfg;
	struct verifier *v = NULL;
	if ((r = cli_load_verifier(cli, config, &cfg, &v)) != CLI_OK)
		return r;
	struct buf in = BUF_INIT;
	int rc = cli_read_file(file, &in);
	if (rc < 0) {
		cli_error(cli, "%s: %s", file ? file : "stdin", strerror(-rc));
		r = CLI_FAIL;
	} else {
		r = check(cli, v, in.data ? in.data : "", trim_end(in.data ? in.data : "", in.len));
	}
	buf_release(&in);
	verifier_free(v);
	config_release(&cfg);
	return r;
}
