/*
 * fuzz_replay.c - main() for a fuzz target built without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file of the directories (or files)
 * given, so that the default test suite replays each seed corpus and a
 * crash fixed once stays fixed. A crash or failed check aborts.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
		return -1;
	}
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
		n += got;
		if (n == cap) {
			uint8_t *b = realloc(buf, cap *= 2);
			if (!b)
				free(buf);
			buf = b;
		}
	}
	fclose(f);
	if (!buf) {
		fprintf(stderr, "fuzz_replay: out of memory reading %s\n", path);
		return -1;
	}
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays path, or every regular file directly in it (in name order). */
static int replay(const char *path, int *count)
{
	struct stat sb;
	if (stat(path, &sb)) {
		fprintf(stderr, "fuzz_replay: cannot stat %s\n", path);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		++*count;
		return replay_file(path);
	}
	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "fuzz_replay: cannot open directory %s\n", path);
		return -1;
	}
	char **names = NULL;
	int n = 0, rc = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char **nn = realloc(names, (size_t)(n + 1) * sizeof *names);
		if (!nn || !(nn[n] = malloc(strlen(path) + strlen(e->d_name) + 2))) {
			names = nn ? nn : names;
			rc = -1;
			break;
		}
		names = nn;
		sprintf(names[n++], "%s/%s", path, e->d_name);
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof *names, cmp_names);
	for (int i = 0; i < n; i++) {
		if (rc == 0 && !stat(names[i], &sb) && S_ISREG(sb.st_mode)) {
			++*count;
			rc = replay_file(names[i]);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	int count = 0;
	for (int i = 1; i < argc; i++)
		if (replay(argv[i], &count))
			return 1;
	printf("%s: %d inputs replayed\n", argv[0], count);
	return count > 0 ? 0 : 1;
}
