/*
 * rt_recipe_set.c - `--set key=value` against the recipe schema (see
 * rt_recipe_schema.h): parsing, shared by samc (which writes the value
 * into the model file's table before it is read) and a standalone trainer
 * (which writes it into its compiled-in recipe, refusing what its compiled
 * steps cannot change).
 */
#include "rt_recipe_schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int err(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* A whole number text (no trailing junk); 0 or -1. */
static int number(const char *v, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(v, &end);
	return end == v || *end || isnan(*out) ? -1 : 0;
}

static int parse_value(rt_recipe_set_arg *s, rt_key_kind kind, char *msg, size_t len)
{
	const char *v = s->text, *key = s->path;
	switch (kind) {
	case RT_KEY_NUMBER:
	case RT_KEY_INT:
	case RT_KEY_U64:
		if (number(v, &s->num[0]))
			return err(msg, len, "%s needs a number, got '%s'", key, v);
		if (kind != RT_KEY_NUMBER &&
		    (!(fabs(s->num[0]) < 9e18) || s->num[0] != (double)(long long)s->num[0]))
			return err(msg, len, "%s needs an integer, got '%s'", key, v);
		s->nnum = 1;
		return 0;
	case RT_KEY_BOOL:
		if (strcmp(v, "true") && strcmp(v, "false"))
			return err(msg, len, "%s needs true or false, got '%s'", key, v);
		s->num[0] = strcmp(v, "true") == 0;
		s->nnum = 1;
		return 0;
	case RT_KEY_PAIR: {
		const char *comma = strchr(v, ',');
		char a[64];
		if (!comma || (size_t)(comma - v) >= sizeof a)
			return err(msg, len, "%s needs two numbers a,b, got '%s'", key, v);
		snprintf(a, sizeof a, "%.*s", (int)(comma - v), v);
		if (number(a, &s->num[0]) || number(comma + 1, &s->num[1]))
			return err(msg, len, "%s needs two numbers a,b, got '%s'", key, v);
		s->nnum = 2;
		return 0;
	}
	case RT_KEY_CHANNELS: /* "a" or "a,b,c": one number per channel */
		for (const char *p = v;; s->nnum++) {
			const char *comma = strchr(p, ',');
			size_t n = comma ? (size_t)(comma - p) : strlen(p);
			char a[64];
			if (s->nnum == RT_DATA_MAX_CHANNELS)
				return err(msg, len, "%s takes at most %d numbers, got '%s'", key,
				           RT_DATA_MAX_CHANNELS, v);
			if (n >= sizeof a)
				return err(msg, len, "%s needs numbers a or a,b,c, got '%s'", key, v);
			snprintf(a, sizeof a, "%.*s", (int)n, p);
			if (number(a, &s->num[s->nnum]))
				return err(msg, len, "%s needs numbers a or a,b,c, got '%s'", key, v);
			if (!comma) {
				s->nnum++;
				return 0;
			}
			p = comma + 1;
		}
	case RT_KEY_ENUM:
	case RT_KEY_STRING:
		return 0;
	default:
		return err(msg, len, "%s cannot be set from the command line", key);
	}
}

/* The first number key of a list's elements ("rho", "lr_scale"). */
static const char *list_example(const rt_key *list)
{
	int n;
	size_t len = strlen(list->path);
	const rt_key *keys = rt_recipe_keys(&n);
	for (int i = 0; i < n; i++)
		if (keys[i].kind == RT_KEY_NUMBER && strncmp(keys[i].path, list->path, len) == 0 &&
		    strncmp(keys[i].path + len, "[].", 3) == 0)
			return keys[i].path + len + 3;
	return "key";
}

int rt_recipe_set_parse(const char *arg, rt_recipe_set_arg *s, char *msg, size_t len)
{
	memset(s, 0, sizeof *s);
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return err(msg, len, "expected key=value, e.g. --set optimizer.lr=0.1");
	size_t klen = (size_t)(eq - arg);
	if (klen >= sizeof s->path)
		return err(msg, len, "key too long");
	memcpy(s->path, arg, klen);
	s->text = eq + 1;

	char parent[sizeof s->path] = "";
	const rt_key *k = NULL;
	rt_key_kind kind = RT_KEY_TABLE;
	for (const char *seg = s->path; seg;) {
		const char *dot = strchr(seg, '.');
		size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
		size_t at = (size_t)(seg - s->path);
		if (n == 0)
			return err(msg, len, "empty part in the key");
		if (s->nparts == 8 || n >= sizeof s->parts[0])
			return err(msg, len, "key too long");
		if (kind != RT_KEY_TABLE && kind != RT_KEY_MAP)
			return err(msg, len, "'%.*s' has no sub-keys", (int)at - 1, s->path);
		char *part = s->parts[s->nparts++];
		memcpy(part, seg, n);
		char *open = kind == RT_KEY_MAP ? NULL : strchr(part, '[');
		if (open) { /* "groups[2]": an element of a list */
			char *end;
			long idx = strtol(open + 1, &end, 10);
			if (open == part || end == open + 1 || strcmp(end, "]") || idx < 1 || idx > 1000000)
				return err(msg, len, "'%.*s': an index is written [N], N >= 1", (int)(at + n),
				           s->path);
			*open = '\0';
			s->list_part = s->nparts - 1;
			s->index = (int)idx;
		}
		if (kind == RT_KEY_MAP) {
			s->map_key = part;
			kind = k->elem;
		} else {
			const char *hint = NULL;
			if (!(k = rt_recipe_key_child(parent, part, &hint))) {
				if (hint)
					return err(msg, len, "unknown recipe key '%.*s' (did you mean '%s'?)",
					           (int)(at + n), s->path, hint);
				return err(msg, len, "unknown recipe key '%.*s'", (int)(at + n), s->path);
			}
			kind = k->kind;
			snprintf(parent, sizeof parent, "%s", k->path);
			if (open && kind != RT_KEY_LIST)
				return err(msg, len, "'%s' is not a list", k->path);
			if (kind == RT_KEY_LIST && !open && k->elem == RT_KEY_STRING)
				kind = RT_KEY_STRING; /* a list of names: "a,b,c" */
			else if (kind == RT_KEY_LIST && !open)
				return err(msg, len, "'%s' is a list: set a key of one element, e.g. "
				           "%s[1].%s=0.1", k->path, k->path, list_example(k));
			if (open) { /* the element's keys */
				snprintf(parent, sizeof parent, "%s[]", k->path);
				kind = RT_KEY_TABLE;
			}
		}
		seg = dot ? dot + 1 : NULL;
	}
	s->key = k;
	return parse_value(s, kind, msg, len);
}

/* data.train.<input>=PATH: the file of an input the trainer already reads
 * (data.test, data.val: a split it was built with). */
static int set_file(rt_recipe *r, const rt_recipe_set_arg *s, char *msg, size_t len)
{
	int test = strcmp(s->key->path, "data.test") == 0, val = !strcmp(s->key->path, "data.val");
	data_file *f = test ? r->data.test : val ? r->data.val : r->data.train;
	int n = test ? r->data.ntest : val ? r->data.nval : r->data.ntrain;
	for (int i = 0; i < n; i++)
		if (strcmp(f[i].input, s->map_key) == 0) {
			if (!*s->text)
				return err(msg, len, "%s needs a file path", s->path);
			f[i].path = s->text;
			return 0;
		}
	return err(msg, len, "'%s' is not an input this trainer reads from %s", s->map_key,
	           s->key->path);
}

/* optimizer.sam.groups[i].rho: each group's rho is a step input of its own. */
static int set_group_rho(rt_recipe *r, const rt_recipe_set_arg *s, char *msg, size_t len)
{
	if (s->index > r->opt.ngroups)
		return err(msg, len, "this trainer has %d SAM group(s), not %d", r->opt.ngroups,
		           s->index);
	rt_key k = *s->key; /* its range, named with the group's index */
	k.path = s->path;
	if (rt_recipe_key_check(&k, s->num[0], msg, len))
		return -1;
	sam_group *g = &r->opt.groups[s->index - 1];
	g->rho = s->num[0];
	g->rho_given = 1;
	return 0;
}

/* optimizer.groups[i].lr_scale and .weight_decay: step inputs of their own;
 * whether a group's weight decay is 0 is compiled in, as the optimizer's. */
static int set_opt_group(rt_recipe *r, const rt_recipe_set_arg *s, const char *rebuild, char *msg,
                         size_t len)
{
	if (s->index > r->opt.nparam_groups)
		return err(msg, len, "this trainer has %d optimizer group(s), not %d",
		           r->opt.nparam_groups, s->index);
	rt_key k = *s->key; /* its range, named with the group's index */
	k.path = s->path;
	if (rt_recipe_key_check(&k, s->num[0], msg, len))
		return -1;
	opt_group *g = &r->opt.param_groups[s->index - 1];
	if (strcmp(s->key->path, "optimizer.groups[].lr_scale") == 0) {
		g->lr_scale = s->num[0];
		return 0;
	}
	double was = g->wd_given ? g->weight_decay : r->opt.weight_decay;
	if ((was != 0) != (s->num[0] != 0))
		return err(msg, len, "%s: this trainer was built with %g, and whether it is 0 is "
		           "compiled into its steps: %s", s->path, was, rebuild);
	g->weight_decay = s->num[0];
	g->wd_given = 1;
	return 0;
}

int rt_recipe_set_apply(rt_recipe *r, const rt_recipe_set_arg *s, char *msg, size_t len)
{
	const rt_key *k = s->key;
	char rebuild[400];
	snprintf(rebuild, sizeof rebuild, "rebuild it with `samc build MODEL --set %s=%s`", s->path,
	         s->text);
	if (k->kind == RT_KEY_MAP && s->map_key && k->elem == RT_KEY_STRING)
		return set_file(r, s, msg, len);
	if (!rt_recipe_key_for_optimizer(k, r->opt.kind, NULL, 0))
		return err(msg, len, "%s does not apply to this trainer's optimizer (%s)", s->path,
		           rt_opt_name(r->opt.kind));
	if ((k->flags & RT_KEY_SAM) && !r->opt.sam)
		return err(msg, len, "%s: this trainer was built without SAM: %s", s->path, rebuild);
	if ((k->flags & RT_KEY_LOOKSAM) && !r->opt.looksam)
		return err(msg, len, "%s: this trainer was built without LookSAM: %s", s->path, rebuild);
	if ((k->flags & RT_KEY_EMA) && !r->ema)
		return err(msg, len, "%s: this trainer was built without an EMA of the weights: %s",
		           s->path, rebuild);
	if (strcmp(k->path, "optimizer.sam.groups[].rho") == 0)
		return set_group_rho(r, s, msg, len);
	if (strncmp(k->path, "optimizer.sam.gsam.", 19) == 0 && !r->opt.gsam)
		return err(msg, len, "%s: this trainer was built without GSAM (optimizer.sam.gsam): "
		           "rebuild it with optimizer.sam.gsam = {alpha = ...} in the model file", s->path);
	if (strncmp(k->path, "optimizer.groups[].", 19) == 0 && k->kind == RT_KEY_NUMBER)
		return set_opt_group(r, s, rebuild, msg, len);
	if (!(k->flags & RT_KEY_RUN) || k->offset < 0)
		return err(msg, len, "%s is compiled into this trainer's steps: %s", s->path, rebuild);
	char *at = (char *)r + k->offset;
	switch (k->kind) {
	case RT_KEY_NUMBER:
		if (rt_recipe_key_check(k, s->num[0], msg, len))
			return -1;
		if ((k->flags & RT_KEY_NONZERO) && (*(double *)at != 0) != (s->num[0] != 0))
			return err(msg, len, "%s: this trainer was built with %g, and whether it is 0 is "
			           "compiled into its steps: %s", s->path, *(double *)at, rebuild);
		*(double *)at = s->num[0];
		return 0;
	case RT_KEY_PAIR:
		for (int i = 0; i < 2; i++)
			if (rt_recipe_key_check(k, s->num[i], msg, len))
				return -1;
		((double *)at)[0] = s->num[0];
		((double *)at)[1] = s->num[1];
		return 0;
	case RT_KEY_CHANNELS: {
		data_channels *d = (data_channels *)at;
		for (int i = 0; i < s->nnum; i++)
			if (rt_recipe_key_check(k, s->num[i], msg, len))
				return -1;
		memset(d, 0, sizeof *d);
		for (int i = 0; i < s->nnum; i++)
			d->v[i] = s->num[i];
		d->n = s->nnum;
		return 0;
	}
	case RT_KEY_INT:
	case RT_KEY_U64:
		if (rt_recipe_key_check_int(k, s->num[0], msg, len))
			return -1;
		if (k->kind == RT_KEY_INT)
			*(int *)at = (int)s->num[0];
		else
			*(uint64_t *)at = (uint64_t)s->num[0];
		return 0;
	case RT_KEY_BOOL:
		*(int *)at = (int)s->num[0];
		return 0;
	case RT_KEY_ENUM: {
		int c = rt_recipe_key_choice(k, s->text);
		if (c < 0) {
			char list[128];
			rt_recipe_key_choices(k, list, sizeof list);
			/* "unknown schedule 'x'": the table's name for its .name key */
			size_t n = strlen(s->path);
			if (n > 5 && strcmp(s->path + n - 5, ".name") == 0)
				n -= 5;
			return err(msg, len, "unknown %.*s '%s' (known: %s)", (int)n, s->path, s->text, list);
		}
		*(int *)at = c;
		return 0;
	}
	default:
		return err(msg, len, "%s cannot be set in a trainer", s->path);
	}
}

int rt_recipe_check(const rt_recipe *r, char *msg, size_t len)
{
	if (r->sched.kind == SCHED_STEP && !(r->sched.step_size >= 1))
		return err(msg, len, "schedule.step_size must be given and >= 1 for name = \"step\"");
	if (r->data.val_split > 0 && r->data.nval > 0)
		return err(msg, len, "data.val_split: this trainer was built with data.val files, and a "
		           "validation set is either those or a fraction of the training rows, not "
		           "both");
	if (rt_sam_rho_check(r, msg, len))
		return -1;
	return 0;
}

int rt_recipe_set_applies(const rt_recipe *r, const rt_recipe_set_arg *s, char *msg, size_t len)
{
	if ((s->key->flags & RT_KEY_STEP) && r->sched.kind != SCHED_STEP)
		return err(msg, len, "%s does not apply to this schedule (name = \"step\" only)",
		           s->path);
	if ((s->key->flags & RT_KEY_COSINE) && r->sched.kind != SCHED_COSINE)
		return err(msg, len, "%s does not apply to this schedule (name = \"cosine\" only)",
		           s->path);
	const char *rk = "optimizer.sam.rho_schedule.";
	if (strncmp(s->key->path, rk, strlen(rk)) == 0 &&
	    !rt_sam_rho_key_applies(r->opt.rho_sched.kind, s->key->path + strlen(rk))) {
		const rt_key *nk = rt_recipe_key("optimizer.sam.rho_schedule.name");
		const char *c = nk->choices;
		for (int i = 0; i < r->opt.rho_sched.kind && strchr(c, '|'); i++)
			c = strchr(c, '|') + 1;
		return err(msg, len, "%s does not apply to this trainer's rho schedule (name = \"%.*s\")",
		           s->path, (int)strcspn(c, "|"), c);
	}
	return 0;
}
