/*
 * rt_recipe_keys.c - the recipe schema as a table (see rt_recipe_schema.h):
 * lookup by path, suggestions for misspelt keys, defaults and range checks.
 */
#include "rt_recipe_schema.h"

#include <stdio.h>
#include <string.h>

/* Each field's C type must be the one its kind reads and writes. */
#define CHECK_NUMBER(f) sizeof(((rt_recipe *)0)->f) == sizeof(double)
#define CHECK_PAIR(f) sizeof(((rt_recipe *)0)->f) == sizeof(double)
#define CHECK_CHANNELS(f) sizeof(((rt_recipe *)0)->f) == sizeof(data_channels)
#define CHECK_INT(f) sizeof(((rt_recipe *)0)->f) == sizeof(int)
#define CHECK_BOOL(f) sizeof(((rt_recipe *)0)->f) == sizeof(int)
#define CHECK_ENUM(f) sizeof(((rt_recipe *)0)->f) == sizeof(int)
#define CHECK_U64(f) sizeof(((rt_recipe *)0)->f) == sizeof(uint64_t)
#define CHECK_STRING(f) sizeof(((rt_recipe *)0)->f) == sizeof(const char *)
#define ASSERT_N(path, kind, elem, dflt, lo, hi, flags)
#define ASSERT_F(path, kind, field, dflt, lo, hi, flags, choices) \
	_Static_assert(CHECK_##kind(field), "recipe key " path ": field type");
RT_RECIPE_SCHEMA(ASSERT_N, ASSERT_F)
_Static_assert(offsetof(rt_recipe, opt.beta2) == offsetof(rt_recipe, opt.beta1) + sizeof(double),
               "optimizer.betas: beta2 follows beta1");

#define KEY_N(path, kind, elem, dflt, lo, hi, flags) \
	{path, RT_KEY_##kind, RT_KEY_##elem, NULL, -1, dflt, lo, hi, flags, NULL},
#define KEY_F(path, kind, field, dflt, lo, hi, flags, choices) \
	{path, RT_KEY_##kind, RT_KEY_##kind, #field, (long)offsetof(rt_recipe, field), \
	 dflt, lo, hi, flags, choices},
static const rt_key keys[] = {RT_RECIPE_SCHEMA(KEY_N, KEY_F)};
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

const rt_key *rt_recipe_keys(int *n)
{
	*n = NKEYS;
	return keys;
}

const rt_key *rt_recipe_key(const char *path)
{
	for (int i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].path, path) == 0)
			return &keys[i];
	return NULL;
}

/* The last part of k's path if k sits directly under parent, else NULL. */
static const char *child_name(const rt_key *k, const char *parent)
{
	size_t n = strlen(parent);
	if (n == 0)
		return strchr(k->path, '.') ? NULL : k->path;
	if (strncmp(k->path, parent, n) != 0 || k->path[n] != '.')
		return NULL;
	const char *name = k->path + n + 1;
	return strchr(name, '.') ? NULL : name;
}

size_t rt_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return (size_t)-1;
	size_t row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const rt_key *rt_recipe_key_child(const char *parent, const char *name, const char **hint)
{
	const char *best = NULL;
	size_t best_d = 3; /* at most two edits away */
	for (int i = 0; i < NKEYS; i++) {
		const char *c = child_name(&keys[i], parent);
		if (!c)
			continue;
		if (strcmp(c, name) == 0)
			return &keys[i];
		size_t d = rt_edit_distance(name, c);
		if (d < best_d && d < strlen(c)) {
			best = c;
			best_d = d;
		}
	}
	if (hint)
		*hint = best;
	return NULL;
}

void rt_recipe_key_children(const char *parent, char *out, size_t len)
{
	out[0] = '\0';
	for (int i = 0; i < NKEYS; i++) {
		const char *c = child_name(&keys[i], parent);
		if (c)
			snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? ", " : "", c);
	}
}

int rt_recipe_key_choice(const rt_key *k, const char *s)
{
	const char *p = k->choices;
	size_t n = strlen(s);
	for (int i = 0; p && *p; i++) {
		const char *bar = strchr(p, '|');
		size_t m = bar ? (size_t)(bar - p) : strlen(p);
		if (m == n && strncmp(p, s, n) == 0)
			return i;
		p = bar ? bar + 1 : p + m;
	}
	return -1;
}

void rt_recipe_key_choices(const rt_key *k, char *out, size_t len)
{
	out[0] = '\0';
	for (const char *p = k->choices; p && *p && strlen(out) + 3 < len; p++) {
		size_t at = strlen(out);
		if (*p == '|')
			snprintf(out + at, len - at, ", ");
		else
			snprintf(out + at, len - at, "%c", *p);
	}
}

void rt_recipe_defaults(rt_recipe *r)
{
	memset(r, 0, sizeof *r);
	for (int i = 0; i < NKEYS; i++) {
		const rt_key *k = &keys[i];
		char *at = (char *)r + k->offset;
		if (k->offset < 0)
			continue;
		switch (k->kind) {
		case RT_KEY_CHANNELS:
			((data_channels *)at)->v[0] = k->dflt;
			((data_channels *)at)->n = 1;
			break;
		case RT_KEY_PAIR:
			((double *)at)[1] = RT_KEY_PAIR_DFLT2;
			/* fall through */
		case RT_KEY_NUMBER:
			*(double *)at = k->dflt;
			break;
		case RT_KEY_INT:
		case RT_KEY_BOOL:
		case RT_KEY_ENUM:
			*(int *)at = (int)k->dflt;
			break;
		case RT_KEY_U64:
			*(uint64_t *)at = (uint64_t)k->dflt;
			break;
		default: /* strings have no default but NULL */
			break;
		}
	}
}

int rt_recipe_key_check(const rt_key *k, double v, char *msg, size_t len)
{
	int lo_open = (k->flags & RT_KEY_LO_OPEN) != 0, hi_open = (k->flags & RT_KEY_HI_OPEN) != 0;
	int lo_ok = lo_open ? v > k->lo : v >= k->lo, hi_ok = hi_open ? v < k->hi : v <= k->hi;
	if (isfinite(v) && lo_ok && hi_ok)
		return 0;
	if (k->hi != RT_KEY_NOLIMIT)
		snprintf(msg, len, "%s must be in %c%g, %g%c, got %g", k->path, lo_open ? '(' : '[', k->lo,
		         k->hi, hi_open ? ')' : ']', v);
	else if (k->lo != -RT_KEY_NOLIMIT)
		snprintf(msg, len, "%s must be %s %g, got %g", k->path, lo_open ? ">" : ">=", k->lo, v);
	else
		snprintf(msg, len, "%s must be a finite number, got %g", k->path, v);
	return -1;
}

int rt_recipe_key_check_int(const rt_key *k, double v, char *msg, size_t len)
{
	if (v != floor(v) || !(v >= k->lo)) {
		snprintf(msg, len, "%s must be an integer >= %.0f, got %.17g", k->path, k->lo, v);
		return -1;
	}
	if (v > k->hi) {
		snprintf(msg, len, "%s must be an integer from %.0f to %.0f, got %.17g", k->path, k->lo,
		         k->hi, v);
		return -1;
	}
	return 0;
}

const char *rt_opt_name(opt_kind kind)
{
	static const char *const names[] = {"sgd", "adam", "adamw", "rmsprop"};
	return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

int rt_recipe_key_for_optimizer(const rt_key *k, opt_kind kind, char *names, size_t len)
{
	static const struct {
		int flag;
		const char *names;
	} fl[] = {{RT_KEY_SGD, "sgd"}, {RT_KEY_ADAM, "adam, adamw"}, {RT_KEY_RMSPROP, "rmsprop"}};
	int mine = kind == OPT_SGD ? RT_KEY_SGD : kind == OPT_RMSPROP ? RT_KEY_RMSPROP : RT_KEY_ADAM;
	if (names && len) {
		names[0] = '\0';
		for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++)
			if (k->flags & fl[i].flag)
				snprintf(names + strlen(names), len - strlen(names), "%s%s",
				         names[0] ? ", " : "", fl[i].names);
	}
	return !(k->flags & RT_KEY_OPTIMIZERS) || (k->flags & mine);
}
