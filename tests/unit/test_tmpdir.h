/*
 * test_tmpdir.h - a fresh directory under the build tree per CMocka test:
 * setup_dir makes it (state = its path), teardown_dir empties and removes
 * it. The including test defines TMPDIR_PREFIX ("test_idx", ...).
 */
#ifndef SAMC_TEST_TMPDIR_H
#define SAMC_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int setup_dir(void **state)
{
	char *dir = malloc(4096);
	if (!dir)
		return -1;
	snprintf(dir, 4096, "%s/%s.XXXXXX", SAMC_BINARY_DIR, TMPDIR_PREFIX);
	if (!mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int teardown_dir(void **state)
{
	char *dir = *state, path[4200];
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
	rmdir(dir);
	free(dir);
	return 0;
}

#endif
