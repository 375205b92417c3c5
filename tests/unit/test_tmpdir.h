/*
 * test_tmpdir.h - fresh directories under the build tree for tests:
 * tmpdir_make makes one, tmpdir_remove removes it with all it holds. A test
 * that defines TMPDIR_PREFIX ("test_idx", ...) before including this also
 * gets setup_dir / teardown_dir, one directory per CMocka test (state =
 * its path).
 */
#ifndef SAMC_TEST_TMPDIR_H
#define SAMC_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dir (n bytes) receives "<build>/<prefix>.XXXXXX", made; 0 or -1 */
static inline int tmpdir_make(char *dir, size_t n, const char *prefix)
{
	snprintf(dir, n, "%s/%s.XXXXXX", SAMC_BINARY_DIR, prefix);
	return mkdtemp(dir) ? 0 : -1;
}

static inline void tmpdir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4400];
	struct stat st;
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
			continue; /* cannot be one of ours */
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			tmpdir_remove(path);
		else
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

#ifdef TMPDIR_PREFIX
static int setup_dir(void **state)
{
	char *dir = malloc(4096);
	if (!dir || tmpdir_make(dir, 4096, TMPDIR_PREFIX)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_dir(void **state)
{
	tmpdir_remove(*state);
	free(*state);
	return 0;
}
#endif

#endif
