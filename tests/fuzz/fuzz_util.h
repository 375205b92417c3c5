/*
 * fuzz_util.h - what every fuzz target shares: the libFuzzer entry point's
 * prototype, a check that aborts (so that a broken invariant is a crash the
 * fuzzer saves, in the replay too), a scratch file for readers that take a
 * path, and the checks every reader's result must pass.
 *
 * A target is one LLVMFuzzerTestOneInput; it is built twice: with clang and
 * libFuzzer (scripts/fuzz.sh), and with the project's compiler against
 * fuzz_replay.c, which runs it once over every file of a corpus (CTest).
 */
#ifndef SAMC_FUZZ_UTIL_H
#define SAMC_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_err.h"
#include "rt_tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                  \
	do {                                                                                 \
		if (!(cond)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);      \
			abort();                                                                     \
		}                                                                                \
	} while (0)

/* A scratch file of this process, "<TMPDIR>/samc-fuzz-<tag>-<pid><suffix>",
 * rewritten with each input. The suffix matters to readers that look at
 * the name (".gz"). The path is built once per process: libFuzzer calls
 * the target millions of times in one process. */
static inline const char *fuzz_scratch(const char *tag, const char *suffix, char *path,
                                       size_t len)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, len, "%s/samc-fuzz-%s-%ld%s", dir && *dir ? dir : "/tmp", tag,
	         (long)getpid(), suffix);
	return path;
}

static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
	FUZZ_CHECK(fclose(f) == 0);
}

/* Reads every byte (ASan checks that they are all allocated). */
static inline void fuzz_touch(const void *p, size_t n)
{
	volatile unsigned char sink = 0;
	for (size_t i = 0; i < n; i++)
		sink ^= ((const unsigned char *)p)[i];
	(void)sink;
}

/* A reader's result: on success a well-formed tensor whose data is all
 * readable (ASan checks the bytes); on failure an empty tensor and a
 * message. */
static inline void fuzz_check_tensor(int rc, rt_tensor *t, const rt_err *err)
{
	if (rc != 0) {
		FUZZ_CHECK(err->msg[0] != '\0');
		FUZZ_CHECK(t->data == NULL);
		return;
	}
	FUZZ_CHECK(t->rank >= 0 && t->rank <= RT_MAX_DIMS);
	for (int i = 0; i < t->rank; i++)
		FUZZ_CHECK(t->dim[i] >= 0);
	size_t bytes = rt_tensor_bytes(t);
	FUZZ_CHECK(bytes == 0 || t->data != NULL);
	fuzz_touch(t->data, bytes);
	rt_tensor_free(t);
}

#endif
