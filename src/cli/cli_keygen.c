/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_keygen: `herald keygen NAME`, which makes an Ed25519 key pair for a
 * publisher: DIR/NAME.key (PKCS#8 PEM, mode 0600) for `herald publish --key`,
 * DIR/NAME.pub (PEM) and the `NAME = BASE64` line for heraldd.conf's [keys];
 * and `herald keygen --vapid NAME`, which makes the P-256 key a Web Push sink
 * signs with (RFC 8292): DIR/NAME.pem (PKCS#8 PEM, mode 0600), its public
 * key in base64url (what a page passes to pushManager.subscribe as
 * applicationServerKey) and the `vapid_key = PATH` line for the sink's
 * section. It never overwrites a file: losing a private key that is in use
 * is worse than a failed command. Not for loading or using keys (verify.c
 * and plugins/webpush/vapid.c do that).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "src/common/p256pub.h"

static const char help_text[] =
	"usage: herald keygen [--dir DIR] NAME\n"
	"       herald keygen --vapid NAME [--dir DIR]\n"
	"\n"
	"Make an Ed25519 key pair: DIR/NAME.key (private, PKCS#8 PEM, mode 0600)\n"
	"and DIR/NAME.pub (public, PEM), then print the line that trusts it in\n"
	"heraldd.conf's [keys] section: NAME = BASE64-PUBLIC-KEY.\n"
	"With --vapid, make a Web Push (VAPID) P-256 key: DIR/NAME.pem (PKCS#8\n"
	"PEM, mode 0600), then print its public key in base64url (a page's\n"
	"applicationServerKey) and the line for the sink's section:\n"
	"vapid_key = PATH.\n"
	"Existing files are never overwritten.\n"
	"\n"
	"  -d, --dir DIR        where to write the files (default: .)\n"
	"      --vapid NAME     make a VAPID key for a webpush sink\n"
	"  -q, --quiet          print only the config line\n"
	"      --log-level L    error, warn, info or debug\n"
	"  -h, --help           this text\n";

struct keygen_paths {
	char key[4096];
	char pub[4096];
};

/* The name becomes a file name and an INI key: keep it to a safe alphabet. */
static bool valid_name(const char *name)
{
	if (!*name || *name == '.' || strlen(name) > 200)
		return false;
	for (const char *p = name; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
			return false;
	return true;
}

static void openssl_error(const struct cli *cli, const char *what)
{
	char detail[256] = "unknown error";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, detail, sizeof detail);
	ERR_clear_error();
	cli_error(cli, "%s (%s)", what, detail);
}

/*
 * Create `path` exclusively with `mode` and write the PEM with `write`.
 * O_EXCL is the overwrite check: no window between "does it exist" and
 * "create it" in which another process could put a file (or symlink) there.
 */
static int write_pem(const struct cli *cli, const char *path, mode_t mode, EVP_PKEY *pk,
		     bool private_key)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		cli_error(cli, "%s: %s", path,
			  errno == EEXIST ? "already exists, not overwriting" : strerror(errno));
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		cli_error(cli, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	int ok = private_key ? PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL)
			     : PEM_write_PUBKEY(f, pk);
	/* fclose reports a delayed write error (full disk) too. */
	if (fclose(f) != 0 || ok != 1) {
		if (ok != 1)
			openssl_error(cli, "writing the key");
		else
			cli_error(cli, "%s: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

static int make_paths(const struct cli *cli, const char *dir, const char *name,
		      struct keygen_paths *p)
{
	int a = snprintf(p->key, sizeof p->key, "%s/%s.key", dir, name);
	int b = snprintf(p->pub, sizeof p->pub, "%s/%s.pub", dir, name);
	if (a < 0 || b < 0 || (size_t)a >= sizeof p->key || (size_t)b >= sizeof p->pub) {
		cli_error(cli, "%s: directory name too long", dir);
		return -1;
	}
	/* Check both before writing either, so a refusal leaves nothing behind. */
	if (access(p->key, F_OK) == 0 || access(p->pub, F_OK) == 0) {
		cli_error(cli, "%s: already exists, not overwriting",
			  access(p->key, F_OK) == 0 ? p->key : p->pub);
		return -1;
	}
	return 0;
}

/* `NAME = ` + base64 of the raw 32-byte public key, as config.c reads it. */
static int print_config_line(const struct cli *cli, const char *name, EVP_PKEY *pk)
{
	unsigned char raw[32], b64[64];
	size_t len = sizeof raw;
	if (EVP_PKEY_get_raw_public_key(pk, raw, &len) != 1 || len != sizeof raw) {
		openssl_error(cli, "reading the public key");
		return -1;
	}
	EVP_EncodeBlock(b64, raw, (int)len);
	printf("%s = %s\n", name, b64);
	return 0;
}

static int generate(const struct cli *cli, const char *dir, const char *name)
{
	struct keygen_paths p = {{0}, {0}};
	EVP_PKEY *pk = NULL;
	int rc = CLI_FAIL;
	if (make_paths(cli, dir, name, &p))
		goto out;
	if (!(pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"))) {
		openssl_error(cli, "generating an Ed25519 key");
		goto out;
	}
	if (write_pem(cli, p.key, 0600, pk, true))
		goto out;
	if (write_pem(cli, p.pub, 0644, pk, false)) {
		unlink(p.key);
		goto out;
	}
	if (print_config_line(cli, name, pk))
		goto out;
	cli_note(cli, "wrote %s and %s; add the line above to [keys] in heraldd.conf", p.key,
		 p.pub);
	rc = CLI_OK;
out:
	EVP_PKEY_free(pk);
	return rc;
}

/* The public key as browsers take it (applicationServerKey). */
static int print_vapid_public(const struct cli *cli, EVP_PKEY *pk)
{
	char b64[P256PUB_B64_LEN], err[200];

	if (p256pub_b64url(pk, b64, err, sizeof err)) {
		cli_error(cli, "reading the public key: %s", err);
		return -1;
	}
	printf("%s\n", b64);
	return 0;
}

static int generate_vapid(const struct cli *cli, const char *dir, const char *name)
{
	char path[4096], abs[PATH_MAX];
	EVP_PKEY *pk = NULL;
	int rc = CLI_FAIL;
	int n = snprintf(path, sizeof path, "%s/%s.pem", dir, name);

	if (n < 0 || (size_t)n >= sizeof path) {
		cli_error(cli, "%s: directory name too long", dir);
		goto out;
	}
	if (!(pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"))) {
		openssl_error(cli, "generating a P-256 key");
		goto out;
	}
	if (write_pem(cli, path, 0600, pk, true))
		goto out;
	if (print_vapid_public(cli, pk))
		goto out;
	/* The sink reads the file from heraldd's directory: give it whole. */
	printf("vapid_key = %s\n", realpath(path, abs) ? abs : path);
	cli_note(cli,
		 "wrote %s; put the vapid_key line in the webpush sink's section, and "
		 "the public key above in the page that subscribes",
		 path);
	rc = CLI_OK;
out:
	EVP_PKEY_free(pk);
	return rc;
}

int cli_keygen(struct cli *cli, int argc, char **argv)
{
	enum { OPT_VAPID = CLI_OPT_FIRST_OWN };
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS,
						 {"dir", required_argument, NULL, 'd'},
						 {"vapid", required_argument, NULL, OPT_VAPID},
						 {NULL, 0, NULL, 0}};
	const char *dir = ".", *name, *vapid = NULL;
	int c;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "d:", longopts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, argv, help_text);
		if (r == CLI_OPT_DONE)
			continue;
		if (r != CLI_OPT_NOT_MINE)
			return r;
		if (c == 'd')
			dir = optarg;
		else if (c == OPT_VAPID)
			vapid = optarg;
	}
	if (vapid && optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s' (--vapid takes the NAME)",
				       argv[optind]);
	if (!vapid && optind >= argc)
		return cli_usage_error(cli, "missing the key NAME");
	name = vapid ? vapid : argv[optind++];
	if (optind < argc)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
	if (!valid_name(name))
		return cli_usage_error(cli, "key name '%s': use letters, digits, '.', '_' or '-' "
					    "(not starting with '.')", name);
	return vapid ? generate_vapid(cli, dir, name) : generate(cli, dir, name);
}
