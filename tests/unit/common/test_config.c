/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for config: every key validated, errors name file and line. */
#include "src/common/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/tap.h"

static char dir[] = "/tmp/herald-test-config-XXXXXX";

static const char *write_conf(const char *name, const char *text)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

#define BASE "[daemon]\nstate_dir = state\n[endpoint relay]\nconnect = tcp://127.0.0.1:9940\n"

/* The config must fail, and the error must mention `line` and `needle`. */
static void bad(const char *what, const char *text, int line, const char *needle)
{
	struct config cfg;
	char err[600] = "", want[64];
	const char *path = write_conf("bad.conf", text);
	int rc = config_load(path, &cfg, err, sizeof err);
	snprintf(want, sizeof want, "bad.conf:%d: ", line);
	ok(rc < 0 && strstr(err, want) && strstr(err, needle), "%s -> '%s'", what, err);
}

static void good(void)
{
	struct config cfg;
	char err[600] = "";
	const char *path = write_conf(
		"good.conf",
		"# comment\n[daemon]\nstate_dir = state\nlog_level = debug\nworkers = 3\n"
		"print_accepted = yes\napi_listen = 127.0.0.1:8470\n"
		"[bus]\nsubscribe = org.fedoraproject.\nsubscribe = org.release-monitoring.\n"
		"rcvhwm = 5000\nmax_message_size = 65536\n"
		"[endpoint relay]\nconnect = tcp://127.0.0.1:9940\nreplay = tcp://127.0.0.1:9941\n"
		"[endpoint bodhi]\nconnect = tcp://127.0.0.1:3000\nconnect = tcp://127.0.0.1:3001\n"
		"[verify]\nrequire_signatures = no\nsecurity_level = 0\nignore_cert_time = yes\n"
		"routing_strict = true\n"
		"[routing]\norg.fedoraproject.prod.bodhi.* = bodhi01 bodhi02, bodhi03\n"
		"[keys]\ndemo = 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n");
	int rc = config_load(path, &cfg, err, sizeof err);
	ok(rc == 0, "a full config loads (%s)", err);
	if (rc)
		return;
	char state[300];
	snprintf(state, sizeof state, "%s/state", dir);
	ok(!strcmp(cfg.state_dir, state), "state_dir is resolved against the config's directory");
	ok(cfg.workers == 3 && cfg.log_level == L_DEBUG && cfg.print_accepted, "daemon keys");
	ok(cfg.n_subscribe == 2 && !strcmp(cfg.subscribe[1], "org.release-monitoring."),
	   "subscribe is repeatable");
	ok(cfg.rcvhwm == 5000 && cfg.max_message_size == 65536, "bus numbers");
	ok(cfg.n_endpoints == 2 && cfg.endpoints[1].n_connect == 2 && cfg.endpoints[0].replay,
	   "two endpoints, one with two addresses, one with replay");
	ok(!cfg.verify.require_signatures && cfg.verify.security_level == 0 &&
		   cfg.verify.ignore_cert_time && cfg.verify.routing_strict,
	   "verify switches");
	ok(cfg.verify.n_routes == 1 && cfg.verify.routes[0].n_names == 3, "routing names split on spaces and commas");
	ok(cfg.verify.n_keys == 1 && cfg.verify.keys[0].pub[0] == 0xd7, "base64 key decoded");
	ok(cfg.api_socket && strstr(cfg.api_socket, "/state/heraldd.sock"), "api socket defaults into state_dir");
	ok(!cfg.api_tokens && !cfg.identity_map, "no token file, no identity map by default");
	ok(cfg.rules_dir && !strcmp(cfg.rules_dir, HERALD_RULES_DIR),
	   "rules_dir defaults to the installed rules (%s)", cfg.rules_dir);
	config_release(&cfg);
}

/* [dispatch] and [sink NAME]: host keys kept, the rest handed to the plugin. */
static void sinks(void)
{
	struct config cfg;
	char err[600] = "";
	const char *path = write_conf(
		"sinks.conf", BASE "[dispatch]\nplugin_dir = plugins\nretry_base_ms = 100\n"
		"retry_max_ms = 1000\nmax_attempts = 3\nrate = 0.5\nburst = 4\n"
		"[sink inbox]\nplugin = file\npath = out.jsonl\nfsync = yes\n"
		"template = {title}\\n{link}\nfooter = yes\nbatch = 8\nverify = yes\n"
		"[sink hook]\nplugin = ./hooks/x.so\nrate = 120\n"
		"[sink free]\nplugin = file\nrate = none\n");
	int rc = config_load(path, &cfg, err, sizeof err);
	ok(rc == 0, "a config with [dispatch] and two sinks loads (%s)", err);
	if (rc)
		return;
	const struct config_sink *in = config_sink_find(&cfg, "inbox");
	const struct config_sink *hook = config_sink_find(&cfg, "hook");
	ok(cfg.dispatch.retry_base_ms == 100 && cfg.dispatch.retry_max_ms == 1000 &&
		   cfg.dispatch.max_attempts == 3 && cfg.dispatch.rate == 0.5 &&
		   cfg.dispatch.burst == 4 && strstr(cfg.dispatch.plugin_dir, "/plugins"),
	   "[dispatch] keys");
	ok(cfg.dispatch.digest_max_items == 100 && cfg.dispatch.pause_after_ms == 6 * 3600000L,
	   "[dispatch] defaults");
	ok(in && !strcmp(in->plugin, "file") && in->footer && in->verify && in->batch == 8 &&
		   !strcmp(in->template_text, "{title}\\n{link}"),
	   "host keys of [sink inbox]");
	ok(in && in->n_options == 2 && !strcmp(in->options[0].key, "path") &&
		   !strcmp(in->options[1].value, "yes") && in->options[0].line == 14,
	   "the plugin's own keys, with their lines, in order");
	ok(hook && hook->plugin[0] == '/' && hook->rate == 120 && hook->batch == 64 && !hook->verify,
	   "a plugin path is resolved; batch defaults to 64");
	const struct config_sink *fr = config_sink_find(&cfg, "free");
	ok(fr && fr->rate == 0 && in && in->rate < 0,
	   "rate = none: no limit; no rate: [dispatch]'s (unset, < 0)");
	ok(!config_sink_find(&cfg, "nope"), "config_sink_find of an unknown name");
	config_release(&cfg);
	bad("unknown [dispatch] key", BASE "[dispatch]\nretries = 3\n", 6,
	    "unknown key 'retries' in [dispatch]");
	bad("bad rate", BASE "[dispatch]\nrate = fast\n", 6, "rate: expected notifications per minute");
	bad("negative retry", BASE "[dispatch]\nretry_base_ms = -5\n", 6, "retry_base_ms: expected milliseconds");
	bad("max below base", BASE "[dispatch]\nretry_base_ms = 5000\nretry_max_ms = 10\n", 7,
	    "retry_max_ms is smaller than retry_base_ms");
	bad("sink without plugin", BASE "[sink x]\npath = a\n", 6, "[sink x] needs plugin =");
	bad("sink without name", BASE "[sink]\nplugin = file\n", 6, "needs a name");
	bad("bad sink name", BASE "[sink a.b]\nplugin = file\n", 6, "sink name 'a.b'");
	bad("option twice", BASE "[sink x]\nplugin = file\npath = a\npath = b\n", 8,
	    "path: given twice in [sink x]");
	bad("bad footer", BASE "[sink x]\nplugin = file\nfooter = perhaps\n", 7, "expected yes or no");
	bad("batch zero", BASE "[sink x]\nplugin = file\nbatch = 0\n", 7, "batch: expected an integer");
}

/* The API and schema keys: paths resolved against the config's directory. */
static void api_and_schema_keys(void)
{
	struct config cfg;
	char err[600] = "", want[300];
	const char *path = write_conf("keys.conf", BASE "[daemon]\napi_tokens = tokens\n"
						  "rules_dir = /usr/share/herald/rules\n"
						  "identity_map = ids.json\n");
	int rc = config_load(path, &cfg, err, sizeof err);
	ok(rc == 0, "api_tokens, rules_dir and identity_map load (%s)", err);
	if (rc)
		return;
	snprintf(want, sizeof want, "%s/tokens", dir);
	ok(!strcmp(cfg.api_tokens, want), "api_tokens is resolved against the config's directory");
	snprintf(want, sizeof want, "%s/ids.json", dir);
	ok(!strcmp(cfg.identity_map, want), "so is identity_map");
	ok(!strcmp(cfg.rules_dir, "/usr/share/herald/rules"), "an absolute rules_dir is kept");
	config_release(&cfg);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	good();
	api_and_schema_keys();
	bad("empty api_tokens", BASE "[daemon]\napi_tokens =\n", 6, "api_tokens: empty value");
	bad("empty rules_dir", BASE "[daemon]\nrules_dir =\n", 6, "rules_dir: empty value");
	bad("misspelt api key", BASE "[daemon]\napi_token = t\n", 6, "unknown key 'api_token'");
	bad("unknown section", BASE "[bogus]\nx = 1\n", 6, "unknown section [bogus]");
	bad("unknown key", BASE "[daemon]\nworkerz = 2\n", 6, "unknown key 'workerz'");
	bad("workers out of range", "[daemon]\nworkers = 0\n", 2, "workers: expected an integer from 1 to 64");
	bad("workers not a number", "[daemon]\nworkers = two\n", 2, "got 'two'");
	bad("bad bool", BASE "[verify]\nrequire_signatures = maybe\n", 6, "expected yes or no");
	bad("bad log level", "[daemon]\nlog_level = loud\n", 2, "log_level");
	bad("bad log target", "[daemon]\nlog_target = file\n", 2, "log_target");
	bad("bad endpoint address", BASE "[endpoint x]\nconnect = http://a\n", 6, "tcp://");
	bad("endpoint without name", BASE "[endpoint]\nconnect = tcp://127.0.0.1:1\n", 6, "needs a name");
	bad("bad endpoint name", BASE "[endpoint a/b]\nconnect = tcp://127.0.0.1:1\n", 6, "endpoint name");
	bad("bad api_listen", "[daemon]\napi_listen = localhost\n", 2, "HOST:PORT");
	bad("bad key", BASE "[keys]\nk = not-a-key\n", 6, "Ed25519");
	/* A FIFO named as a key file: refused at once (a blocking open would
	 * hang heraldd --check-config for ever). */
	char fifo[300];
	snprintf(fifo, sizeof fifo, "%s/key.fifo", dir);
	ok(mkfifo(fifo, 0600) == 0, "a FIFO for a key file");
	bad("key file is a FIFO", BASE "[keys]\nk = key.fifo\n", 6, "key.fifo is not a regular file");
	bad("key file is a directory", BASE "[keys]\nk = .\n", 6, ". is not a regular file");
	bad("duplicate key", BASE "[keys]\nk = 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
			     "k = 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n", 7, "defined twice");
	bad("empty routing", BASE "[routing]\na.b = ,\n", 6, "signer names");
	bad("syntax error", BASE "this is not ini\n", 5, "syntax error");
	bad("missing state_dir", "[endpoint relay]\nconnect = tcp://127.0.0.1:1\n", 2, "state_dir is required");
	bad("no endpoint", "[daemon]\nstate_dir = s\n", 2, "at least one [endpoint");
	bad("security level", BASE "[verify]\nsecurity_level = 9\n", 6, "security_level");
	bad("empty value", "[daemon]\nstate_dir =\n", 2, "empty value");
	sinks();
	char longline[400];
	memset(longline, 'a', sizeof longline);
	memcpy(longline, "[daemon]\nstate_dir = ", 21);
	longline[sizeof longline - 2] = '\n';
	longline[sizeof longline - 1] = '\0';
	bad("line too long", longline, 2, "line too long");
	struct config cfg;
	char err[600];
	ok(config_load("/nonexistent/heraldd.conf", &cfg, err, sizeof err) < 0 &&
		   strstr(err, "No such file"),
	   "missing file -> %s", err);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("could not remove %s", dir);
	return tap_done();
}
