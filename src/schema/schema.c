/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * schema: rule files in, struct meta out (see schema.h; the file format is
 * doc/herald-schema.5). Loading reads every rule file with jansson, checks
 * every key, compiles templates and expressions (tmpl.c) and pre-analyses
 * topic globs, so describing a message parses nothing. Not for the template
 * language itself (tmpl.c) nor for what filters do with the meta.
 */
#include "schema.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/common/buf.h"
#include "tmpl.h"
#include "topic_index.h"

/* A topic glob cut at its stars: prefix * mid * mid * suffix. */
struct glob {
	const char *prefix, *suffix;
	size_t prefix_len, suffix_len;
	const char *const *mid;
	const size_t *mid_len;
	size_t n_mid;
	size_t min_len; /* a topic shorter than this cannot match */
	bool has_star;
};

struct tlist {
	const struct tmpl *const *v; /* alternatives: the first that renders wins */
	size_t n;
};

struct elist {
	const struct tmpl_expr *const *v; /* all of them: values are pooled */
	size_t n;
};

struct rule {
	const char *where; /* "file: rule N", for messages */
	const struct glob *globs;
	size_t n_globs;
	struct tlist when, app, title, summary, link, severity;
	const struct tmpl_expr *agent;
	struct elist usernames, packages, containers, modules, flatpaks, groups;
	const struct tmpl_var *const *vars;
	size_t n_vars;
};

struct schema {
	struct tmpl_arena arena; /* every compiled rule lives here */
	struct rule *rules;
	size_t n_rules, cap_rules;
	struct rule generic;     /* for messages no rule matches, and missing fields */
	json_t *identity;        /* alias or e-mail -> account, or NULL */
	struct topic_index *index; /* topic segment -> rules that may match */
};

/*
 * The fallback, written in the rule language itself so it obeys the same
 * documented semantics. Usernames come from the fields most services use for
 * "who did this".
 */
static const char generic_rule[] =
	"{\"topic\": \"*\","
	" \"vars\": {"
	"  \"who\": \"{msg.agent | user || msg.agent_name | user || msg.agent.name | user"
	" || msg.user.name | user || msg.user.username | user || msg.username | user"
	" || msg.user | user || msg.actor.login | user || msg.actor.name | user"
	" || msg.actor | user || msg.owner | user || msg.owner.name | user || msg.submitter | user}\","
	"  \"what\": \"{msg.title || msg.subject || msg.summary || msg.name || msg.nvr"
	" || msg.description || msg.comment || msg.message || msg.text || msg.msg.title"
	" || msg.msg.name}\","
	"  \"fields\": \"{msg | keys | sort | join:\\\", \\\" | truncate:80}\"},"
	" \"app\": \"{topic | strip_env | before:.}\","
	" \"title\": [\"{topic | strip_env} by {$who}: {$what | firstline | truncate:80}\","
	" \"{topic | strip_env}: {$what | firstline | truncate:80}\","
	" \"{topic | strip_env} by {$who}\", \"{topic | strip_env} ({$fields})\","
	" \"{topic | strip_env}\"],"
	" \"summary\": [\"{topic | strip_env} by {$who}\", \"{topic | strip_env}\"],"
	" \"agent\": \"$who\","
	" \"usernames\": [\"msg.agent | user\", \"msg.agent_name | user\", \"msg.user | user\","
	" \"msg.user.name | user\", \"msg.username | user\", \"msg.owner | user\","
	" \"msg.owner.name | user\", \"msg.submitter | user\", \"msg.actor | user\","
	" \"msg.actor.login | user\"],"
	" \"severity\": \"info\"}";

/* ---- errors ---- */

struct loader {
	struct schema *s;
	const char *file; /* relative path, for messages */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int lerr(struct loader *l, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err, l->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int lnomem(struct loader *l)
{
	snprintf(l->err, l->errlen, "%s: out of memory", l->file);
	return -ENOMEM;
}

/* ---- topic globs ---- */

static const char *find_bytes(const char *s, const char *end, const char *needle, size_t n)
{
	for (; s + n <= end; s++) {
		s = memchr(s, needle[0], (size_t)(end - s));
		if (!s || s + n > end)
			return NULL;
		if (!memcmp(s, needle, n))
			return s;
	}
	return NULL;
}

static bool glob_match(const struct glob *g, const char *t, size_t len)
{
	if (!g->has_star)
		return len == g->prefix_len && !memcmp(t, g->prefix, len);
	if (len < g->min_len || memcmp(t, g->prefix, g->prefix_len) ||
	    memcmp(t + len - g->suffix_len, g->suffix, g->suffix_len))
		return false;
	/* Leftmost matches of the middle pieces, in order, are enough for
	 * stars that match any run: no backtracking needed. */
	const char *p = t + g->prefix_len, *end = t + len - g->suffix_len;
	for (size_t i = 0; i < g->n_mid; i++) {
		const char *hit = find_bytes(p, end, g->mid[i], g->mid_len[i]);
		if (!hit)
			return false;
		p = hit + g->mid_len[i];
	}
	return true;
}

static int glob_compile(struct loader *l, const char *pat, struct glob *g)
{
	struct tmpl_arena *a = &l->s->arena;
	size_t n_stars = 0;
	for (const char *p = pat; *p; p++)
		n_stars += *p == '*';
	const char *first = strchr(pat, '*'), *last = strrchr(pat, '*');
	memset(g, 0, sizeof *g);
	g->has_star = first != NULL;
	g->prefix = pat;
	g->prefix_len = first ? (size_t)(first - pat) : strlen(pat);
	g->suffix = last ? last + 1 : "";
	g->suffix_len = strlen(g->suffix);
	g->min_len = g->prefix_len + g->suffix_len;
	if (n_stars < 2)
		return 0;
	const char **mid = tmpl_arena_alloc(a, n_stars * sizeof *mid);
	size_t *mid_len = tmpl_arena_alloc(a, n_stars * sizeof *mid_len);
	if (!mid || !mid_len)
		return lnomem(l);
	for (const char *p = first + 1; p < last;) {
		const char *star = strchr(p, '*');
		if (star > p) {
			mid[g->n_mid] = p;
			mid_len[g->n_mid] = (size_t)(star - p);
			g->min_len += mid_len[g->n_mid++];
		}
		p = star + 1;
	}
	g->mid = mid;
	g->mid_len = mid_len;
	return 0;
}

/* ---- compiling one rule ---- */

static const char *const rule_keys[] = {
	"topic", "when", "app", "title", "summary", "link", "agent", "usernames", "packages",
	"containers", "modules", "flatpaks", "groups", "severity", "vars", "comment",
};

static int check_keys(struct loader *l, const char *where, const json_t *obj, bool is_default)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		bool known = false;
		for (size_t i = 0; i < sizeof rule_keys / sizeof rule_keys[0]; i++)
			known |= !strcmp(key, rule_keys[i]);
		if (!known)
			return lerr(l, "%s: unknown key '%s' (expected topic, when, app, title, "
				       "summary, link, agent, usernames, packages, containers, "
				       "modules, flatpaks, groups, severity, vars or comment)",
				    where, key);
		if (is_default && (!strcmp(key, "topic") || !strcmp(key, "vars")))
			return lerr(l, "%s: '%s' cannot have a default", where, key);
	}
	return 0;
}

/*
 * A string, or an array of strings: how many pieces to compile. An empty
 * array is allowed (it overrides a default with "nothing") except for topics.
 */
static int string_list(struct loader *l, const char *where, const char *key, const json_t *v,
		       size_t *n)
{
	if (json_is_string(v)) {
		*n = 1;
		return 0;
	}
	bool is_topic = !strcmp(key, "topic");
	if (!json_is_array(v) || (is_topic && json_array_size(v) == 0))
		return lerr(l, "%s: key '%s': expected a string or %s array of strings", where,
			    key, is_topic ? "a non-empty" : "an");
	size_t i;
	const json_t *el;
	json_array_foreach(v, i, el) {
		if (!json_is_string(el))
			return lerr(l, "%s: key '%s': item %zu is not a string", where, key, i + 1);
	}
	*n = json_array_size(v);
	return 0;
}

static const char *list_item(const json_t *v, size_t i)
{
	return json_string_value(json_is_string(v) ? v : json_array_get(v, i));
}

static int compile_tlist(struct loader *l, const char *where, const char *key, const json_t *v,
			 const struct tmpl_scope *scope, struct tlist *out)
{
	size_t n;
	int rc = string_list(l, where, key, v, &n);
	if (rc)
		return rc;
	const struct tmpl **t = tmpl_arena_alloc(&l->s->arena, (n ? n : 1) * sizeof *t);
	if (!t)
		return lnomem(l);
	for (size_t i = 0; i < n; i++) {
		char e[256];
		const char *src = list_item(v, i);
		rc = tmpl_compile(src, scope, &l->s->arena, (struct tmpl **)&t[i], e, sizeof e);
		if (rc == -ENOMEM)
			return lnomem(l);
		if (rc)
			return lerr(l, "%s: key '%s'%s: %s in \"%s\"", where, key,
				    n > 1 ? " (an alternative)" : "", e, src);
	}
	out->v = t;
	out->n = n;
	return 0;
}

static int compile_elist(struct loader *l, const char *where, const char *key, const json_t *v,
			 const struct tmpl_scope *scope, struct elist *out)
{
	size_t n;
	int rc = string_list(l, where, key, v, &n);
	if (rc)
		return rc;
	const struct tmpl_expr **e = tmpl_arena_alloc(&l->s->arena, (n ? n : 1) * sizeof *e);
	if (!e)
		return lnomem(l);
	for (size_t i = 0; i < n; i++) {
		char msg[256];
		const char *src = list_item(v, i);
		rc = tmpl_expr_compile(src, scope, &l->s->arena, (struct tmpl_expr **)&e[i], msg,
				       sizeof msg);
		if (rc == -ENOMEM)
			return lnomem(l);
		if (rc)
			return lerr(l, "%s: key '%s': %s in \"%s\"", where, key, msg, src);
	}
	out->v = e;
	out->n = n;
	return 0;
}

static bool is_var_name(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/*
 * Append the variables declared in `obj` to the table (base, n_base): each
 * may use the ones before it. The new table is returned in *vars.
 */
static int compile_vars(struct loader *l, const char *where, const json_t *obj,
			const struct tmpl_var *const *base, size_t n_base,
			const struct tmpl_var *const **vars, size_t *n_vars)
{
	if (!json_is_object(obj))
		return lerr(l, "%s: key 'vars': expected an object of name: template", where);
	size_t n = n_base + json_object_size(obj), i = n_base;
	const struct tmpl_var **table = tmpl_arena_alloc(&l->s->arena, (n ? n : 1) * sizeof *table);
	if (!table)
		return lnomem(l);
	if (n_base)
		memcpy(table, base, n_base * sizeof *table);
	const char *name;
	const json_t *v;
	json_object_foreach((json_t *)obj, name, v) {
		char key[300];
		struct tlist t;
		struct tmpl_scope scope = {(const struct tmpl_var *const *)table, i};
		if (!is_var_name(name))
			return lerr(l, "%s: vars: '%s' is not a valid name (letters, digits, _)",
				    where, name);
		snprintf(key, sizeof key, "vars.%s", name);
		int rc = compile_tlist(l, where, key, v, &scope, &t);
		if (rc)
			return rc;
		struct tmpl_var *var = tmpl_arena_alloc(&l->s->arena, sizeof *var);
		if (!var || !(var->name = tmpl_arena_strndup(&l->s->arena, name, strlen(name))))
			return lnomem(l);
		var->alts = t.v;
		var->n_alts = t.n;
		table[i++] = var;
	}
	*vars = (const struct tmpl_var *const *)table;
	*n_vars = n;
	return 0;
}

static int compile_globs(struct loader *l, const char *where, const json_t *v, struct rule *r)
{
	size_t n;
	if (!v)
		return lerr(l, "%s: missing key 'topic' (a glob such as "
			       "\"*.bodhi.update.comment\")", where);
	int rc = string_list(l, where, "topic", v, &n);
	if (rc)
		return rc;
	struct glob *g = tmpl_arena_alloc(&l->s->arena, n * sizeof *g);
	if (!g)
		return lnomem(l);
	for (size_t i = 0; i < n; i++) {
		const char *pat = list_item(v, i);
		if (!*pat)
			return lerr(l, "%s: key 'topic': empty glob", where);
		char *copy = tmpl_arena_strndup(&l->s->arena, pat, strlen(pat));
		if (!copy || (rc = glob_compile(l, copy, &g[i])))
			return copy ? rc : lnomem(l);
	}
	r->globs = g;
	r->n_globs = n;
	return 0;
}

static int check_severity(struct loader *l, const char *where, const struct tlist *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const char *lit = tmpl_literal(t->v[i]);
		enum severity sev;
		if (lit && severity_parse(lit, &sev))
			return lerr(l, "%s: key 'severity': unknown severity '%s' (expected debug, "
				       "info, notice, warning, error or critical)", where, lit);
	}
	return 0;
}

static int compile_field(struct loader *l, const char *where, const char *key, const json_t *v,
			 const struct tmpl_scope *scope, struct rule *r)
{
	struct { const char *key; struct tlist *t; } tl[] = {
		{"when", &r->when},   {"app", &r->app},   {"title", &r->title},
		{"summary", &r->summary}, {"link", &r->link}, {"severity", &r->severity},
	};
	for (size_t i = 0; i < sizeof tl / sizeof tl[0]; i++) {
		if (strcmp(key, tl[i].key))
			continue;
		int rc = compile_tlist(l, where, key, v, scope, tl[i].t);
		return rc ? rc : tl[i].t == &r->severity ? check_severity(l, where, tl[i].t) : 0;
	}
	struct { const char *key; struct elist *e; } el[] = {
		{"usernames", &r->usernames}, {"packages", &r->packages},
		{"containers", &r->containers}, {"modules", &r->modules},
		{"flatpaks", &r->flatpaks}, {"groups", &r->groups},
	};
	for (size_t i = 0; i < sizeof el / sizeof el[0]; i++)
		if (!strcmp(key, el[i].key))
			return compile_elist(l, where, key, v, scope, el[i].e);
	if (!strcmp(key, "agent")) {
		struct elist e;
		if (!json_is_string(v))
			return lerr(l, "%s: key 'agent': expected one expression (use || for "
				       "alternatives)", where);
		int rc = compile_elist(l, where, key, v, scope, &e);
		r->agent = rc ? NULL : e.v[0];
		return rc;
	}
	return 0; /* topic, vars, comment: handled by the caller */
}

struct file_ctx {
	const json_t *defaults; /* object or NULL */
	const struct tmpl_var *const *vars;
	size_t n_vars;
};

static char *rule_where(struct loader *l, size_t index, const json_t *rule)
{
	char buf[512];
	const json_t *topic = json_object_get(rule, "topic");
	if (json_is_string(topic))
		snprintf(buf, sizeof buf, "%s: rule %zu (topic \"%s\")", l->file, index,
			 json_string_value(topic));
	else
		snprintf(buf, sizeof buf, "%s: rule %zu", l->file, index);
	return tmpl_arena_strndup(&l->s->arena, buf, strlen(buf));
}

static int compile_rule(struct loader *l, const struct file_ctx *f, size_t index,
			const json_t *rule, struct rule *r)
{
	memset(r, 0, sizeof *r);
	if (!json_is_object(rule))
		return lerr(l, "%s: rule %zu: expected an object", l->file, index);
	if (!(r->where = rule_where(l, index, rule)))
		return lnomem(l);
	int rc = check_keys(l, r->where, rule, false);
	const json_t *vars = json_object_get(rule, "vars");
	r->vars = f->vars;
	r->n_vars = f->n_vars;
	if (!rc && vars)
		rc = compile_vars(l, r->where, vars, f->vars, f->n_vars, &r->vars, &r->n_vars);
	if (!rc)
		rc = compile_globs(l, r->where, json_object_get(rule, "topic"), r);
	struct tmpl_scope scope = {r->vars, r->n_vars};
	const char *key;
	const json_t *v;
	/* The file's defaults first, so the rule's own keys overwrite them. */
	if (f->defaults)
		json_object_foreach((json_t *)f->defaults, key, v) {
			if (!rc && !json_object_get(rule, key))
				rc = compile_field(l, r->where, key, v, &scope, r);
		}
	json_object_foreach((json_t *)rule, key, v) {
		if (!rc)
			rc = compile_field(l, r->where, key, v, &scope, r);
	}
	return rc;
}

/* ---- files ---- */

static int add_rule(struct loader *l, struct rule **out)
{
	struct schema *s = l->s;
	if (s->n_rules == s->cap_rules) {
		size_t cap = s->cap_rules ? s->cap_rules * 2 : 64;
		struct rule *p = realloc(s->rules, cap * sizeof *p);
		if (!p)
			return lnomem(l);
		s->rules = p;
		s->cap_rules = cap;
	}
	*out = &s->rules[s->n_rules];
	return 0;
}

static int file_header(struct loader *l, const json_t *root, struct file_ctx *f)
{
	static const char *const keys[] = {"rules", "vars", "defaults", "comment"};
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)root, key, v) {
		bool known = false;
		for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
			known |= !strcmp(key, keys[i]);
		if (!known)
			return lerr(l, "%s: unknown top-level key '%s' (expected rules, vars, "
				       "defaults or comment)", l->file, key);
	}
	if (!json_is_array(json_object_get(root, "rules")))
		return lerr(l, "%s: missing key 'rules' (an array of rules)", l->file);
	memset(f, 0, sizeof *f);
	f->defaults = json_object_get(root, "defaults");
	if (f->defaults && !json_is_object(f->defaults))
		return lerr(l, "%s: key 'defaults': expected an object", l->file);
	char where[300];
	snprintf(where, sizeof where, "%s: defaults", l->file);
	int rc = f->defaults ? check_keys(l, where, f->defaults, true) : 0;
	const json_t *vars = json_object_get(root, "vars");
	snprintf(where, sizeof where, "%s", l->file);
	if (!rc && vars)
		rc = compile_vars(l, where, vars, NULL, 0, &f->vars, &f->n_vars);
	return rc;
}

static int load_json(struct loader *l, const json_t *root)
{
	if (!json_is_object(root))
		return lerr(l, "%s: expected a JSON object with a 'rules' array", l->file);
	struct file_ctx f;
	int rc = file_header(l, root, &f);
	size_t i;
	const json_t *rule;
	json_array_foreach(json_object_get(root, "rules"), i, rule) {
		struct rule *r;
		if (rc || (rc = add_rule(l, &r)))
			break;
		if (!(rc = compile_rule(l, &f, i + 1, rule, r)))
			l->s->n_rules++;
	}
	return rc;
}

static int load_file(struct loader *l, const char *dir, const char *rel)
{
	char path[4096];
	json_error_t je;
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	l->file = rel;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return lerr(l, "%s:%d:%d: %s", rel, je.line, je.column, je.text);
	int rc = load_json(l, root);
	json_decref(root);
	return rc;
}

struct names {
	char **v;
	size_t n, cap;
};

static int names_add(struct names *ns, const char *name)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 32;
		char **p = realloc(ns->v, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		ns->v = p;
		ns->cap = cap;
	}
	if (!(ns->v[ns->n] = strdup(name)))
		return -ENOMEM;
	ns->n++;
	return 0;
}

static void names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

static bool is_rule_file(const char *name)
{
	size_t n = strlen(name);
	return name[0] != '.' && n > 5 && !strcmp(name + n - 5, ".json");
}

/* Relative paths of every *.json under root/rel, depth-limited. */
static int collect(const char *root, const char *rel, int depth, struct names *out)
{
	char path[4096];
	snprintf(path, sizeof path, "%s%s%s", root, *rel ? "/" : "", rel);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int rc = 0;
	struct dirent *e;
	while (!rc && (e = readdir(d))) {
		char sub[4096], full[8192];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		snprintf(full, sizeof full, "%s/%s", root, sub);
		if (stat(full, &st))
			continue; /* a dangling link is not a rule file */
		if (S_ISDIR(st.st_mode) && depth < 8)
			rc = collect(root, sub, depth + 1, out);
		else if (S_ISREG(st.st_mode) && is_rule_file(e->d_name))
			rc = names_add(out, sub);
	}
	closedir(d);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(struct loader *l, const char *dir)
{
	struct names ns = {0};
	int rc = collect(dir, "", 0, &ns);
	if (rc == -ENOMEM) {
		rc = lnomem(l);
	} else if (rc) {
		snprintf(l->err, l->errlen, "%s: %s", dir, strerror(-rc));
	} else if (!ns.n) {
		snprintf(l->err, l->errlen, "%s: no *.json rule files", dir);
		rc = -ENOENT;
	}
	if (ns.n > 1)
		qsort(ns.v, ns.n, sizeof *ns.v, cmp_name);
	for (size_t i = 0; !rc && i < ns.n; i++)
		rc = load_file(l, dir, ns.v[i]);
	names_free(&ns);
	return rc;
}

static int load_identity(struct loader *l, const char *path)
{
	json_error_t je;
	l->file = path;
	json_t *map = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!map)
		return lerr(l, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	l->s->identity = map;
	if (!json_is_object(map))
		return lerr(l, "%s: the identity map must be a JSON object", path);
	const char *key;
	const json_t *v;
	json_object_foreach(map, key, v) {
		if (!json_is_string(v) || !json_string_length(v))
			return lerr(l, "%s: key '%s': expected an account name (a string)", path,
				    key);
	}
	return 0;
}

static int load_generic(struct loader *l)
{
	json_error_t je;
	l->file = "<built-in fallback rule>";
	json_t *rule = json_loads(generic_rule, 0, &je);
	if (!rule)
		return lerr(l, "%s: %s", l->file, je.text);
	struct file_ctx f = {0};
	int rc = compile_rule(l, &f, 1, rule, &l->s->generic);
	json_decref(rule);
	return rc;
}

static int build_index(struct schema *s)
{
	const char ***globs = calloc(s->n_rules ? s->n_rules : 1, sizeof *globs);
	size_t *n_globs = calloc(s->n_rules ? s->n_rules : 1, sizeof *n_globs);
	int rc = globs && n_globs ? 0 : -ENOMEM;
	for (size_t i = 0; !rc && i < s->n_rules; i++) {
		const struct rule *r = &s->rules[i];
		n_globs[i] = r->n_globs;
		if (!(globs[i] = malloc(r->n_globs * sizeof *globs[i])))
			rc = -ENOMEM;
		for (size_t g = 0; !rc && g < r->n_globs; g++)
			globs[i][g] = r->globs[g].prefix; /* the whole pattern */
	}
	if (!rc)
		rc = topic_index_build(&s->index, s->n_rules, (const char *const *const *)globs,
				       n_globs);
	for (size_t i = 0; globs && i < s->n_rules; i++)
		free(globs[i]);
	free(globs);
	free(n_globs);
	return rc;
}

int schema_load(const char *rules_dir, const char *identity_map_path, struct schema **out,
		char *err, size_t errlen)
{
	struct schema *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	struct loader l = {.s = s, .file = "", .err = err, .errlen = errlen};
	int rc = load_generic(&l);
	if (!rc && identity_map_path)
		rc = load_identity(&l, identity_map_path);
	if (!rc)
		rc = load_dir(&l, rules_dir);
	if (!rc && (rc = build_index(s)))
		snprintf(err, errlen, "%s: out of memory", rules_dir);
	if (rc) {
		schema_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

size_t schema_rule_count(const struct schema *s)
{
	return s->n_rules;
}

void schema_free(struct schema *s)
{
	if (!s)
		return;
	json_decref(s->identity);
	topic_index_free(s->index);
	free(s->rules);
	tmpl_arena_release(&s->arena);
	free(s);
}

/* ---- describing a message ---- */

static void use_rule(struct tmpl_ctx *c, const struct rule *r)
{
	c->vars = r->vars;
	c->n_vars = r->n_vars;
}

static bool rule_matches(const struct rule *r, const char *topic, size_t len,
			 struct tmpl_ctx *c, struct buf *scratch)
{
	bool hit = false;
	for (size_t i = 0; i < r->n_globs && !hit; i++)
		hit = glob_match(&r->globs[i], topic, len);
	if (!hit || !r->when.n)
		return hit;
	use_rule(c, r);
	buf_reset(scratch);
	/* Out of memory while checking counts as "no": the generic rule follows. */
	return tmpl_render_first(r->when.v, r->when.n, c, scratch) > 0;
}

/* The first rule, in load order, that matches: only the index's candidates
 * need their globs tried. */
static const struct rule *find_rule(const struct schema *s, struct tmpl_ctx *c,
				    struct buf *scratch)
{
	size_t len = strlen(c->topic);
	size_t *cand = s->n_rules ? tmpl_arena_alloc(c->arena, 2 * s->n_rules * sizeof *cand)
				  : NULL;
	if (!cand)
		return &s->generic; /* no rules, or no memory: the fallback */
	size_t n = topic_index_candidates(s->index, c->topic, len, cand);
	for (size_t i = 0; i < n; i++)
		if (rule_matches(&s->rules[cand[i]], c->topic, len, c, scratch))
			return &s->rules[cand[i]];
	return &s->generic;
}

/*
 * Render a template-list field of the rule, or failing that (when g is not
 * NULL) the same field of the generic rule, as a malloc'd string. `off` is
 * the field's offsetof() in struct rule, so one function serves them all.
 * 1 rendered, 0 nothing did, -ENOMEM.
 */
static int render_field(const struct rule *r, const struct rule *g, size_t off,
			struct tmpl_ctx *c, struct buf *b, char **out)
{
	const struct tlist *t = (const struct tlist *)((const char *)r + off);
	buf_reset(b);
	use_rule(c, r);
	int rc = tmpl_render_first(t->v, t->n, c, b);
	if (rc == 0 && g) {
		t = (const struct tlist *)((const char *)g + off);
		use_rule(c, g);
		rc = tmpl_render_first(t->v, t->n, c, b);
	}
	if (rc <= 0)
		return rc;
	*out = strdup(b->data);
	return *out ? 1 : -ENOMEM;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pool every expression's string values into a sorted, unique, owned array. */
static int collect_strings(const struct elist *e, struct tmpl_ctx *c, char ***out, size_t *n)
{
	struct tmpl_vals v = {0};
	for (size_t i = 0; i < e->n; i++)
		if (tmpl_expr_eval(e->v[i], c, &v))
			return -ENOMEM;
	const char **tmp = v.n ? tmpl_arena_alloc(c->arena, v.n * sizeof *tmp) : NULL;
	size_t k = 0;
	if (v.n && !tmp)
		return -ENOMEM;
	for (size_t i = 0; i < v.n; i++)
		if (v.v[i].s && v.v[i].len && strlen(v.v[i].s) == v.v[i].len)
			tmp[k++] = v.v[i].s;
	if (k > 1)
		qsort(tmp, k, sizeof *tmp, cmp_str);
	*out = k ? calloc(k, sizeof **out) : NULL;
	if (k && !*out)
		return -ENOMEM;
	*n = 0;
	for (size_t i = 0; i < k; i++) {
		if (*n && !strcmp((*out)[*n - 1], tmp[i]))
			continue;
		if (!((*out)[*n] = strdup(tmp[i])))
			return -ENOMEM;
		(*n)++;
	}
	return 0;
}

static int eval_agent(const struct rule *r, struct tmpl_ctx *c, char **out)
{
	struct tmpl_vals v = {0};
	if (!r->agent)
		return 0;
	use_rule(c, r);
	if (tmpl_expr_eval(r->agent, c, &v))
		return -ENOMEM;
	for (size_t i = 0; i < v.n; i++) {
		if (v.v[i].s && v.v[i].len) {
			*out = strdup(v.v[i].s);
			return *out ? 0 : -ENOMEM;
		}
	}
	return 0;
}

static enum severity eval_severity(const struct rule *r, const struct rule *g,
				   struct tmpl_ctx *c, struct buf *b)
{
	char *name = NULL;
	enum severity sev = SEV_INFO;
	if (render_field(r, g, offsetof(struct rule, severity), c, b, &name) > 0 &&
	    severity_parse(name, &sev))
		sev = SEV_INFO;
	free(name);
	return sev;
}

/*
 * Titles and summaries are single lines: each run of blanks that holds a
 * line break or a tab becomes one space (other spacing is kept as written).
 */
static void one_line(char *s)
{
	if (!s || !strpbrk(s, "\t\r\n"))
		return;
	char *w = s;
	for (const char *r = s; *r;) {
		if (!strchr(" \t\r\n", *r)) {
			*w++ = *r++;
			continue;
		}
		const char *end = r + strspn(r, " \t\r\n");
		if (memchr(r, '\t', (size_t)(end - r)) || memchr(r, '\r', (size_t)(end - r)) ||
		    memchr(r, '\n', (size_t)(end - r))) {
			*w++ = ' ';
		} else {
			memmove(w, r, (size_t)(end - r));
			w += end - r;
		}
		r = end;
	}
	*w = '\0';
}

static int fill_text(const struct rule *r, const struct rule *g, struct tmpl_ctx *c,
		     struct buf *b, struct meta *m)
{
	int rc = render_field(r, g, offsetof(struct rule, app), c, b, &m->app);
	if (rc >= 0)
		rc = render_field(r, g, offsetof(struct rule, title), c, b, &m->title);
	if (rc < 0)
		return rc;
	/* A matched rule without a summary repeats its title rather than the
	 * generic text, which says less. */
	rc = render_field(r, NULL, offsetof(struct rule, summary), c, b, &m->summary);
	if (rc == 0 && m->title)
		rc = (m->summary = strdup(m->title)) ? 1 : -ENOMEM;
	if (rc >= 0)
		rc = render_field(r, NULL, offsetof(struct rule, link), c, b, &m->link);
	one_line(m->title);
	one_line(m->summary);
	return rc < 0 ? rc : 0;
}

static int fill(const struct schema *s, const struct rule *r, struct tmpl_ctx *c,
		struct buf *b, struct meta *m)
{
	int rc = fill_text(r, &s->generic, c, b, m);
	if (!rc)
		rc = eval_agent(r, c, &m->agent);
	m->severity = eval_severity(r, &s->generic, c, b);
	use_rule(c, r);
	struct { const struct elist *e; char ***v; size_t *n; } lists[] = {
		{&r->usernames, &m->usernames, &m->n_usernames},
		{&r->packages, &m->packages, &m->n_packages},
		{&r->containers, &m->containers, &m->n_containers},
		{&r->modules, &m->modules, &m->n_modules},
		{&r->flatpaks, &m->flatpaks, &m->n_flatpaks},
		{&r->groups, &m->groups, &m->n_groups},
	};
	for (size_t i = 0; !rc && i < sizeof lists / sizeof lists[0]; i++)
		rc = collect_strings(lists[i].e, c, lists[i].v, lists[i].n);
	return rc;
}

/* ---- what fedora-messaging's headers say ---- */

/*
 * Add `name` (len bytes) to the sorted, unique, owned array (v, n) unless it
 * is there already. 0 or -ENOMEM (the array is then unchanged).
 */
static int add_name(char ***v, size_t *n, const char *name, size_t len)
{
	size_t lo = 0, hi = *n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strncmp((*v)[mid], name, len);
		if (!cmp && (*v)[mid][len])
			cmp = 1; /* longer than name, so after it */
		if (!cmp)
			return 0;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	char **p = realloc(*v, (*n + 1) * sizeof *p);
	if (!p)
		return -ENOMEM;
	*v = p;
	if (!(name = strndup(name, len)))
		return -ENOMEM;
	memmove(p + lo + 1, p + lo, (*n - lo) * sizeof *p);
	p[lo] = (char *)name;
	(*n)++;
	return 0;
}

/*
 * fedora-messaging's Message._filter_headers() sets one header
 * `fedora_messaging_KIND_NAME: true` per user, package, container, module,
 * flatpak and group its schema class names: for a message that has them,
 * they are the app's own statement, so they join whatever the rule found.
 */
static int merge_flag_headers(const json_t *headers, struct meta *m)
{
	static const char prefix[] = "fedora_messaging_";
	struct { const char *kind; char ***v; size_t *n; } kinds[] = {
		{"user_", &m->usernames, &m->n_usernames},
		{"rpm_", &m->packages, &m->n_packages},
		{"container_", &m->containers, &m->n_containers},
		{"module_", &m->modules, &m->n_modules},
		{"flatpak_", &m->flatpaks, &m->n_flatpaks},
		{"group_", &m->groups, &m->n_groups},
	};
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)headers, key, v) {
		if (!json_is_true(v) || strncmp(key, prefix, sizeof prefix - 1))
			continue;
		const char *rest = key + sizeof prefix - 1;
		for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
			size_t k = strlen(kinds[i].kind);
			if (strncmp(rest, kinds[i].kind, k) || !rest[k])
				continue;
			if (add_name(kinds[i].v, kinds[i].n, rest + k, strlen(rest + k)))
				return -ENOMEM;
			break;
		}
	}
	return 0;
}

/*
 * fedora_messaging_severity is the schema class's own severity, Python
 * logging's numbers (10 debug, 20 info, 30 warning, 40 error, 50 critical);
 * a number in between counts as the level below it. Anything else leaves
 * the rule's severity alone.
 */
static void header_severity(const json_t *headers, struct meta *m)
{
	const json_t *v = json_object_get(headers, "fedora_messaging_severity");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return;
	json_int_t level = json_integer_value(v);
	m->severity = level >= 50 ? SEV_CRITICAL : level >= 40 ? SEV_ERROR
		    : level >= 30 ? SEV_WARNING : level >= 20 ? SEV_INFO : SEV_DEBUG;
}

const char *schema_match(const struct schema *s, const char *topic, const json_t *msg)
{
	_Alignas(max_align_t) char stack[4096];
	struct tmpl_arena arena;
	struct buf b = BUF_INIT;
	tmpl_arena_init(&arena, stack, sizeof stack);
	struct tmpl_ctx c = {.topic = topic ? topic : "", .msg = msg, .identity = s->identity,
			     .arena = &arena};
	const struct rule *r = find_rule(s, &c, &b);
	buf_release(&b);
	tmpl_arena_release(&arena);
	return r == &s->generic ? NULL : r->where;
}

int schema_describe(const struct schema *s, const char *topic, const json_t *msg,
		    struct meta *out)
{
	return schema_describe_headers(s, topic, msg, NULL, out);
}

int schema_describe_headers(const struct schema *s, const char *topic, const json_t *msg,
			    const json_t *headers, struct meta *out)
{
	/* Most messages fit in this; bigger ones spill into malloc'd chunks. */
	_Alignas(max_align_t) char stack[16384];
	struct tmpl_arena arena;
	struct buf b = BUF_INIT;
	tmpl_arena_init(&arena, stack, sizeof stack);
	if (!json_is_object(headers))
		headers = NULL;
	struct tmpl_ctx c = {.topic = topic ? topic : "", .msg = msg, .headers = headers,
			     .identity = s->identity, .arena = &arena};
	memset(out, 0, sizeof *out);
	const struct rule *r = find_rule(s, &c, &b);
	int rc = fill(s, r, &c, &b, out);
	if (!rc && headers) {
		header_severity(headers, out);
		rc = merge_flag_headers(headers, out);
	}
	buf_release(&b);
	tmpl_arena_release(&arena);
	if (rc)
		meta_release(out);
	return rc;
}
