/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * web_files: the static pages, styles, scripts and images from [web] assets.
 * Only `/`, `/NAME.html`, `/sw.js` (the service worker: its scope is the
 * folder it is served from, so it must sit at the top to reach every page)
 * and files under /css, /js and /img; every segment
 * of letters, digits, '.', '_' and '-' that does not start with '.'
 * (no "..", no dotfiles, no encoded slashes); regular files only, opened
 * relative to the assets folder. Not for anything dynamic.
 */
#include "web_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_WEB 256

static const struct {
	const char *ext, *type;
} types[] = {
	{".html", "text/html; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
	{".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
	{".ico", "image/x-icon"}, {".webp", "image/webp"}, {".woff2", "font/woff2"},
	{".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return NULL;
}

static bool good_segment(const char *s)
{
	return s[0] && s[0] != '.' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
		       strlen(s);
}

/* The decoded path below the assets folder, checked; -EINVAL when it is
 * malformed (400), -ENOENT when it is not a place files are served from. */
static int asset_path(const char *url, char *out, size_t n)
{
	char *d = web_decode(url, false);
	int rc = 0;
	if (!d || strlen(d) >= n || d[0] != '/') {
		free(d);
		return -EINVAL;
	}
	strcpy(out, !strcmp(d, "/") ? "index.html" : d + 1);
	free(d);
	size_t nseg = 0;
	char first[16] = "";
	for (char *p = out, *end; !rc; p = end + 1) {
		end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char seg[PATH_MAX_WEB];
		memcpy(seg, p, len);
		seg[len] = '\0';
		if (!nseg++)
			snprintf(first, sizeof first, "%.15s", seg);
		if (!strcmp(seg, "..") || !strcmp(seg, ".") || (len && seg[0] == '.'))
			rc = -EINVAL;
		else if (!good_segment(seg))
			rc = -ENOENT;
		if (!end)
			break;
	}
	if (!rc && nseg == 1 && strcmp(out, "sw.js") &&
	    !(strlen(out) > 5 && !strcmp(out + strlen(out) - 5, ".html")))
		rc = -ENOENT;
	if (!rc && nseg > 1 && strcmp(first, "css") && strcmp(first, "js") && strcmp(first, "img"))
		rc = -ENOENT;
	return rc;
}

int web_files_serve(struct web *w, const struct web_call *call, struct web_reply *r)
{
	char path[PATH_MAX_WEB];
	struct stat st;
	int rc = asset_path(call->url, path, sizeof path);
	if (rc == -EINVAL)
		return web_page(r, 400, "Bad request", "That path is not allowed.");
	const char *type = rc ? NULL : type_of(path);
	int fd = type ? openat(w->assets_fd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) : -1;
	if (fd >= 0 && (fstat(fd, &st) || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		return web_page(r, 404, "Not found", "There is no such page here.");
	r->status = 200;
	r->type = type;
	r->fd = fd;
	r->fd_size = (size_t)st.st_size;
	return 0;
}
