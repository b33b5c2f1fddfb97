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

#define WEB BASE "[web]\nlisten = 127.0.0.1:8080\nbase_url = https://h.example.org\n"
#define OIDC "[oidc]\nissuer = https://id.example.org\nclient_id = herald\nclient_secret_file = s\n"

/* [web] and [oidc]: every key, its default, and each bad value. */
static void web_keys(void)
{
	struct config cfg;
	char err[600] = "", want[300];
	const char *path = write_conf(
		"web.conf", BASE "[web]\nlisten = 127.0.0.1:8080\nbase_url = https://h.example.org/herald/\n"
		"tls_cert = c.pem\ntls_key = /etc/k.pem\ntrusted_proxies = 127.0.0.1, ::1\n"
		"assets = www\nsession_ttl = 2h\nadmins = alice, bob\nadmins = carol\n"
		"dashboard = public\nrecent_messages = 500\nlink_ttl = 30d\nmax_per_ip = 8\n"
		"[oidc]\nissuer = https://id.example.org/openidc/\nclient_id = herald-web\n"
		"client_secret_file = secret\nusername_claim = nickname\nscopes = openid email\n"
		"create_users = yes\n");
	int rc = config_load(path, &cfg, err, sizeof err);
	ok(rc == 0, "a full [web] + [oidc] config loads (%s)", err);
	if (rc)
		return;
	const struct config_web *w = &cfg.web;
	const struct config_oidc *o = &cfg.oidc;
	ok(!strcmp(w->listen, "127.0.0.1:8080"), "web listen");
	ok(!strcmp(w->base_url, "https://h.example.org/herald"), "base_url keeps its prefix, not the trailing /");
	snprintf(want, sizeof want, "%s/c.pem", dir);
	ok(!strcmp(w->tls_cert, want) && !strcmp(w->tls_key, "/etc/k.pem"), "tls paths resolved");
	ok(w->n_trusted_proxies == 2 && !strcmp(w->trusted_proxies[1], "::1"), "trusted_proxies split");
	snprintf(want, sizeof want, "%s/www", dir);
	ok(!strcmp(w->assets, want), "assets resolved against the config's directory");
	ok(w->session_ttl_s == 7200 && w->link_ttl_s == 30 * 86400L, "durations");
	ok(w->n_admins == 3 && !strcmp(w->admins[2], "carol"), "admins split and repeatable");
	ok(w->dashboard == CONFIG_DASHBOARD_PUBLIC && w->recent_messages == 500 && w->max_per_ip == 8,
	   "dashboard, recent_messages, max_per_ip");
	ok(!strcmp(o->issuer, "https://id.example.org/openidc") && !strcmp(o->client_id, "herald-web"),
	   "issuer (trailing / dropped), client_id");
	snprintf(want, sizeof want, "%s/secret", dir);
	ok(!strcmp(o->client_secret_file, want), "client_secret_file resolved");
	ok(!strcmp(o->username_claim, "nickname") && !strcmp(o->scopes, "openid email") &&
		   o->create_users,
	   "username_claim, scopes, create_users");
	config_release(&cfg);

	path = write_conf("webdef.conf", WEB OIDC);
	rc = config_load(path, &cfg, err, sizeof err);
	ok(rc == 0, "a minimal [web] + [oidc] loads (%s)", err);
	if (!rc) {
		ok(cfg.web.session_ttl_s == 8 * 3600 && cfg.web.link_ttl_s == 60 * 86400L &&
			   cfg.web.recent_messages == 2000 && cfg.web.max_per_ip == 64 &&
			   cfg.web.dashboard == CONFIG_DASHBOARD_SIGNED_IN && !cfg.web.tls_cert &&
			   !cfg.web.n_admins && !cfg.web.n_trusted_proxies,
		   "[web] defaults");
		ok(!strcmp(cfg.web.assets, HERALD_WEB_DIR), "assets defaults to the installed pages");
		ok(!strcmp(cfg.oidc.username_claim, "preferred_username") &&
			   !strcmp(cfg.oidc.scopes, "openid profile email") && !cfg.oidc.create_users,
		   "[oidc] defaults");
		config_release(&cfg);
	}
	path = write_conf("noweb.conf", BASE);
	rc = config_load(path, &cfg, err, sizeof err);
	ok(rc == 0 && !cfg.web.listen && !cfg.oidc.issuer, "no [web]: no web app");
	if (!rc)
		config_release(&cfg);
	path = write_conf("loop.conf", WEB "[oidc]\nissuer = http://127.0.0.1:9999\nclient_id = h\n"
					  "client_secret_file = s\n");
	rc = config_load(path, &cfg, err, sizeof err);
	ok(rc == 0, "an http issuer on loopback is allowed (%s)", err);
	if (!rc)
		config_release(&cfg);

	bad("unknown [web] key", WEB "port = 1\n", 8, "unknown key 'port' in [web]");
	bad("bad listen", BASE "[web]\nlisten = 8080\n", 6, "listen: expected HOST:PORT");
	bad("listen port range", BASE "[web]\nlisten = 127.0.0.1:70000\n", 6, "listen: expected HOST:PORT");
	bad("base_url without scheme", BASE "[web]\nbase_url = herald.example.org\n", 6,
	    "base_url: expected http(s)://");
	bad("base_url ftp", BASE "[web]\nbase_url = ftp://h\n", 6, "base_url: expected");
	bad("base_url with query", BASE "[web]\nbase_url = https://h/?a=1\n", 6, "base_url: expected");
	bad("base_url with user", BASE "[web]\nbase_url = https://u@h\n", 6, "base_url: expected");
	bad("base_url bad port", BASE "[web]\nbase_url = https://h:0\n", 6, "base_url: expected");
	bad("bad proxy", BASE "[web]\ntrusted_proxies = 127.0.0.1, proxy.lan\n", 6,
	    "trusted_proxies: 'proxy.lan' is not a numeric IPv4 or IPv6 address");
	bad("empty proxy list", BASE "[web]\ntrusted_proxies = ,\n", 6, "trusted_proxies: expected");
	bad("session_ttl unit", BASE "[web]\nsession_ttl = 8 hours\n", 6, "session_ttl: expected a duration");
	bad("session_ttl too short", BASE "[web]\nsession_ttl = 5s\n", 6, "session_ttl: expected a duration");
	bad("session_ttl negative", BASE "[web]\nsession_ttl = -1h\n", 6, "session_ttl: expected a duration");
	bad("link_ttl too long", BASE "[web]\nlink_ttl = 5000d\n", 6, "link_ttl: expected a duration");
	bad("dashboard", BASE "[web]\ndashboard = everyone\n", 6,
	    "dashboard: expected public, signed-in or off");
	bad("recent_messages zero", BASE "[web]\nrecent_messages = 0\n", 6, "recent_messages: expected");
	bad("recent_messages big", BASE "[web]\nrecent_messages = 100001\n", 6, "recent_messages: expected");
	bad("max_per_ip", BASE "[web]\nmax_per_ip = 0\n", 6, "max_per_ip: expected");
	bad("empty admins", BASE "[web]\nadmins = ,\n", 6, "admins: expected");
	bad("empty assets", BASE "[web]\nassets =\n", 6, "assets: empty value");
	bad("web without listen", BASE "[web]\nbase_url = https://h\n", 6, "[web] needs listen");
	bad("listen without base_url", BASE "[web]\nlisten = 127.0.0.1:1\n", 6, "[web] base_url is required");
	bad("cert without key", WEB "tls_cert = c.pem\n", 8, "tls_cert and tls_key: both or neither");
	bad("key without cert", WEB "tls_key = k.pem\n", 8, "both or neither");

	bad("unknown [oidc] key", WEB "[oidc]\nsecret = x\n", 9, "unknown key 'secret' in [oidc]");
	bad("oidc without web", BASE OIDC, 8, "[oidc] needs the web app");
	bad("issuer http remote", WEB "[oidc]\nissuer = http://id.example.org\n", 9,
	    "issuer: http:// only for a loopback host");
	bad("issuer not a URL", WEB "[oidc]\nissuer = id.example.org\n", 9, "issuer: expected https://");
	bad("issuer with fragment", WEB "[oidc]\nissuer = https://id.example.org/#x\n", 9,
	    "issuer: expected https://");
	bad("client_id with space", WEB "[oidc]\nclient_id = a b\n", 9, "client_id: printable");
	bad("username_claim", WEB "[oidc]\nusername_claim = a b\n", 9, "username_claim: expected a claim");
	bad("scopes without openid", WEB "[oidc]\nscopes = profile email\n", 9, "scopes: must include openid");
	bad("scopes bad char", WEB "[oidc]\nscopes = openid \"x\"\n", 9, "scopes: expected scope names");
	bad("create_users", WEB "[oidc]\ncreate_users = sometimes\n", 9, "create_users: expected yes or no");
	bad("oidc incomplete", WEB "[oidc]\nissuer = https://id.example.org\n", 9,
	    "[oidc] needs issuer, client_id and client_secret_file");

	long d = 0;
	ok(!config_parse_duration("90", &d) && d == 90 && !config_parse_duration("3m", &d) &&
		   d == 180 && !config_parse_duration("1d", &d) && d == 86400,
	   "config_parse_duration: seconds, minutes, days");
	ok(config_parse_duration("", &d) && config_parse_duration("h", &d) &&
		   config_parse_duration("1w", &d) && config_parse_duration("1hh", &d) &&
		   config_parse_duration(" 1h", &d) && config_parse_duration("99999999999999999d", &d),
	   "config_parse_duration refuses empty, unitless, unknown units, overflow");
}

#define AMQP_BASE "[daemon]\nstate_dir = state\n[amqp fedora]\n"

/* The vhost as pika reads it (config_amqp_vhost); want NULL: refused. */
static void vhost_is(const char *url, const char *want)
{
	char out[CONFIG_AMQP_VHOST_MAX + 1];
	const char *why = config_amqp_vhost(url, out);
	if (want)
		ok(!why && !strcmp(out, want), "vhost of %.60s is '%s' (%s)", url, out,
		   why ? why : "ok");
	else
		ok(why != NULL, "vhost of %.60s refused (%s)", url, why ? why : "accepted");
}

static void amqp_vhosts(void)
{
	char url[900], want[300];
	vhost_is("amqp://h", "/");
	vhost_is("amqp://h/", "/");
	vhost_is("amqps://fedora:@rabbitmq.fedoraproject.org/%2Fpublic_pubsub", "/public_pubsub");
	vhost_is("amqp://u:p%2Fw@h:5672/%2F", "/"); /* an escaped '/' in the password */
	vhost_is("amqp://h/%2f", "/");
	vhost_is("amqp://h/x", "x");
	vhost_is("amqp://h/a%20b%2Fc", "a b/c");
	vhost_is("amqp://h/a/b", NULL);
	vhost_is("amqp://h//", NULL);
	vhost_is("amqp://h/v?heartbeat=10", NULL);
	vhost_is("amqp://h/v#f", NULL);
	vhost_is("amqp://h/%", NULL);
	vhost_is("amqp://h/%4", NULL);
	vhost_is("amqp://h/%4g", NULL);
	vhost_is("amqp://h/%g4", NULL);
	vhost_is("amqp://h/a%00b", NULL);
	/* 255 bytes is AMQP's limit, counted after decoding */
	memset(want, 'v', 255);
	want[255] = '\0';
	snprintf(url, sizeof url, "amqp://h/%s", want);
	vhost_is(url, want);
	strcat(url, "v");
	vhost_is(url, NULL);
	int n = snprintf(url, sizeof url, "amqp://h/");
	for (int i = 0; i < 255; i++)
		n += snprintf(url + n, sizeof url - (size_t)n, "%%%02X", 'v');
	vhost_is(url, want);
	snprintf(url + n, sizeof url - (size_t)n, "%%2F");
	vhost_is(url, NULL);
	bad("amqp url two path segments", AMQP_BASE "url = amqp://h/a/b\n", 4, "second '/'");
	bad("amqp url with a query", AMQP_BASE "url = amqp://h/%2F?heartbeat=5\n", 4, "query");
	bad("amqp url bad escape", AMQP_BASE "url = amqps://h/%2\n", 4, "two hex digits");
}

/* [amqp NAME]: defaults, every key, and each way a section can be wrong. */
static void amqp_sections(void)
{
	struct config cfg;
	char err[600] = "";
	const char *path = write_conf(
		"amqp.conf", AMQP_BASE "url = amqps://fedora:s3cret@rabbitmq.example.org/%2Fpublic_pubsub\n"
			     "trust = broker\nca_file = cacert.pem\ncert_file = /etc/fedora-cert.pem\n"
			     "key_file = fedora-key.pem\nexchange = amq.topic\nqueue = 9f1c-herald\n"
			     "bind = org.fedoraproject.prod.bodhi.#\nbind = org.fedoraproject.prod.copr.#\n"
			     "prefetch = 2000\nheartbeat = 10\n"
			     "[amqp local]\nurl = amqp://127.0.0.1:5672\ntrust = broker\n");
	int rc = config_load(path, &cfg, err, sizeof err);
	ok(rc == 0, "two [amqp] sections and no [endpoint] load (%s)", err);
	if (!rc) {
		const struct config_amqp *a = &cfg.amqp[0], *b = &cfg.amqp[1];
		ok(cfg.n_amqp == 2 && cfg.n_endpoints == 0 && !strcmp(a->name, "fedora"), "names");
		ok(a->trust_broker && a->prefetch == 2000 && a->heartbeat_s == 10 && a->n_bind == 2 &&
			   !strcmp(a->bind[1], "org.fedoraproject.prod.copr.#"),
		   "every key of a full section");
		ok(strstr(a->ca_file, "/cacert.pem") && a->ca_file[0] == '/' &&
			   !strcmp(a->cert_file, "/etc/fedora-cert.pem"),
		   "file names are resolved against the config's folder");
		ok(a->queue && !strcmp(a->queue, "9f1c-herald") && a->queue_durable,
		   "a named queue is durable by default");
		ok(!b->queue && !b->queue_durable && !strcmp(b->exchange, "amq.topic") &&
			   b->n_bind == 1 && !strcmp(b->bind[0], "#") && b->prefetch == 4096 &&
			   b->heartbeat_s == 30 && !b->ca_file,
		   "defaults: server-named queue, amq.topic, '#', prefetch 4096, heartbeat 30");
		config_release(&cfg);
	}
	char shown[128];
	ok(!strcmp(config_amqp_redact("amqps://fedora:s3cret@host/%2F", shown, sizeof shown),
		   "amqps://fedora:***@host/%2F"),
	   "redact hides the password (%s)", shown);
	ok(!strcmp(config_amqp_redact("amqps://fedora:@host/", shown, sizeof shown),
		   "amqps://fedora:***@host/") &&
		   !strcmp(config_amqp_redact("amqp://host:5672/", shown, sizeof shown),
			   "amqp://host:5672/") &&
		   !strcmp(config_amqp_redact("amqp://user@host/", shown, sizeof shown),
			   "amqp://user@host/"),
	   "redact leaves URLs without a password as they are");

	bad("amqp without a name", "[daemon]\nstate_dir = s\n[amqp]\nurl = amqp://h\n", 4,
	    "needs a name");
	bad("amqp bad name", "[daemon]\nstate_dir = s\n[amqp a b]\nurl = amqp://h\n", 4,
	    "use letters");
	bad("amqp unknown key", AMQP_BASE "url = amqp://h\ntrust = broker\nqueues = x\n", 6,
	    "unknown key 'queues' in [amqp fedora]");
	bad("amqp http url", AMQP_BASE "url = http://h\n", 4, "amqp:// or amqps://");
	bad("amqp url without host", AMQP_BASE "url = amqps://user@/vhost\n", 4, "no host");
	bad("amqp url bad port", AMQP_BASE "url = amqp://h:99999/\n", 4, "port");
	bad("amqp url port 0", AMQP_BASE "url = amqp://h:0/\n", 4, "port");
	bad("amqp url empty port", AMQP_BASE "url = amqp://h:/\n", 4, "port is empty");
	bad("amqp url with a space", AMQP_BASE "url = amqp://h/a b\n", 4, "space");
	/* the password never shows, even in the error about the URL */
	struct config c2;
	char e2[600] = "";
	const char *p2 = write_conf("pw.conf", AMQP_BASE "url = amqps://u:hunter2@/x\n");
	ok(config_load(p2, &c2, e2, sizeof e2) < 0 && !strstr(e2, "hunter2") && strstr(e2, "***"),
	   "a bad URL's error hides its password (%s)", e2);
	bad("amqp without url", AMQP_BASE "trust = broker\n", 4, "needs url");
	bad("amqp without trust", AMQP_BASE "url = amqps://h/\n", 4, "needs trust = broker");
	bad("amqp trust other", AMQP_BASE "url = amqps://h/\ntrust = signatures\n", 5,
	    "expected 'broker'");
	bad("amqp ca_file on plain amqp", AMQP_BASE "url = amqp://h/\ntrust = broker\nca_file = x\n",
	    4, "need an amqps:// url");
	bad("amqp cert without key", AMQP_BASE "url = amqps://h/\ntrust = broker\ncert_file = c\n", 4,
	    "both or neither");
	bad("amqp key without cert", AMQP_BASE "url = amqps://h/\ntrust = broker\nkey_file = k\n", 4,
	    "both or neither");
	bad("amqp durable server-named queue",
	    AMQP_BASE "url = amqp://h/\ntrust = broker\nqueue_durable = yes\n", 4, "needs a queue name");
	bad("amqp prefetch 0", AMQP_BASE "url = amqp://h/\nprefetch = 0\n", 5, "prefetch");
	bad("amqp prefetch 65536", AMQP_BASE "url = amqp://h/\nprefetch = 65536\n", 5, "prefetch");
	bad("amqp heartbeat -1", AMQP_BASE "url = amqp://h/\nheartbeat = -1\n", 5, "heartbeat");
	bad("amqp bind with a space", AMQP_BASE "url = amqp://h/\nbind = a b\n", 5, "one binding key");
	bad("amqp queue_durable not a bool", AMQP_BASE "url = amqp://h/\nqueue_durable = maybe\n", 5,
	    "yes or no");
	/* the boundaries are accepted */
	struct config c3;
	const char *p3 = write_conf("edge.conf", AMQP_BASE "url = amqp://h:65535/\ntrust = broker\n"
							   "prefetch = 65535\nheartbeat = 0\n"
							   "[amqp two]\nurl = amqp://h:1\ntrust = broker\n"
							   "prefetch = 1\nheartbeat = 3600\n");
	rc = config_load(p3, &c3, e2, sizeof e2);
	ok(rc == 0 && c3.amqp[0].prefetch == 65535 && c3.amqp[0].heartbeat_s == 0 &&
		   c3.amqp[1].prefetch == 1 && c3.amqp[1].heartbeat_s == 3600,
	   "port 65535 and 1, prefetch 1 and 65535, heartbeat 0 and 3600 (%s)", e2);
	if (!rc)
		config_release(&c3);
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
	amqp_sections();
	amqp_vhosts();
	bad("security level", BASE "[verify]\nsecurity_level = 9\n", 6, "security_level");
	bad("empty value", "[daemon]\nstate_dir =\n", 2, "empty value");
	sinks();
	web_keys();
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
