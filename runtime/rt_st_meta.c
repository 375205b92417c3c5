/*
 * rt_st_meta.c - the string map of a safetensors "__metadata__" entry
 * (see rt_safetensors.h). Small maps: linear search keeps insertion order,
 * which the writer preserves in the file.
 */
#include "rt_safetensors.h"

#include <stdlib.h>
#include <string.h>

/* Setting an existing key replaces its value. Out of memory leaves the map
 * unchanged (the signature has no error channel; rt_st_write then simply
 * lacks the entry). */
void rt_meta_set(rt_meta *m, const char *key, const char *val)
{
	char *v = strdup(val);
	if (!v)
		return;
	for (int i = 0; i < m->n; i++) {
		if (strcmp(m->key[i], key) == 0) {
			free(m->val[i]);
			m->val[i] = v;
			return;
		}
	}
	if (m->n == m->cap) {
		int cap = m->cap ? 2 * m->cap : 8;
		char **k = realloc(m->key, (size_t)cap * sizeof *k);
		if (k)
			m->key = k;
		char **vv = k ? realloc(m->val, (size_t)cap * sizeof *vv) : NULL;
		if (!vv) {
			free(v);
			return;
		}
		m->val = vv;
		m->cap = cap;
	}
	char *k = strdup(key);
	if (!k) {
		free(v);
		return;
	}
	m->key[m->n] = k;
	m->val[m->n++] = v;
}

const char *rt_meta_get(const rt_meta *m, const char *key)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->key[i], key) == 0)
			return m->val[i];
	return NULL;
}

void rt_meta_free(rt_meta *m)
{
	for (int i = 0; i < m->n; i++) {
		free(m->key[i]);
		free(m->val[i]);
	}
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof *m);
}
