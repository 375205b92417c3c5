/*
 * cg_aot_link.c - `samc build` end to end (see cg_aot.h): finds the C
 * compiler and the runtime, writes the object file and the generated C next
 * to the output, and links them with libsamcrt.a into the trainer.
 */
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cg_aot.h"

extern char **environ;

/* Where this samc was built: its runtime library and headers (CMake). */
#ifndef SAMC_RT_LIB
#define SAMC_RT_LIB ""
#endif
#ifndef SAMC_RT_LINK_FLAG
#define SAMC_RT_LINK_FLAG ""
#endif
#ifndef SAMC_RT_LINK_DNNL
#define SAMC_RT_LINK_DNNL ""
#endif
#ifndef SAMC_RT_LINK_MPI
#define SAMC_RT_LINK_MPI ""
#endif
#ifndef SAMC_RT_INCLUDE_DIR
#define SAMC_RT_INCLUDE_DIR ""
#endif

#define CG_AOT_PATH 4096

void cg_aot_options_default(cg_aot_options *o)
{
	memset(o, 0, sizeof *o);
	o->opt_level = 3;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int cg_aot_runtime(char *lib, size_t liblen, char *inc, size_t inclen, char *err, size_t errlen)
{
	const char *dir = getenv("SAMC_RUNTIME_DIR");
	char hdr[CG_AOT_PATH];
	if (dir && *dir) {
		snprintf(lib, liblen, "%s/libsamcrt.a", dir);
		snprintf(inc, inclen, "%s/include", dir);
		snprintf(hdr, sizeof hdr, "%s/rt_aot.h", inc);
		if (!is_file(hdr))
			snprintf(inc, inclen, "%s", dir);
	} else {
		snprintf(lib, liblen, "%s", SAMC_RT_LIB);
		snprintf(inc, inclen, "%s", SAMC_RT_INCLUDE_DIR);
	}
	const char *from = dir && *dir ? "SAMC_RUNTIME_DIR" : "the build of samc";
	if (!*lib || !is_file(lib)) {
		snprintf(err, errlen, "samc build: the runtime library '%s' (from %s) does not exist; "
		         "build libsamcrt or set SAMC_RUNTIME_DIR to a directory holding libsamcrt.a "
		         "and the runtime headers", lib, from);
		return -1;
	}
	snprintf(hdr, sizeof hdr, "%s/rt_aot.h", inc);
	if (!is_file(hdr)) {
		snprintf(err, errlen, "samc build: the runtime header '%s' (from %s) does not exist; "
		         "set SAMC_RUNTIME_DIR to a directory holding libsamcrt.a and the runtime headers",
		         hdr, from);
		return -1;
	}
	return 0;
}

/* The compiler as given, or found on PATH: 0, or -1 with a message. */
static int find_cc(const char *cc, char *err, size_t errlen)
{
	if (strchr(cc, '/')) {
		if (access(cc, X_OK) == 0)
			return 0;
		snprintf(err, errlen, "samc build: the C compiler '%s' is not an executable file "
		         "(set CC to a C compiler such as cc, gcc or clang)", cc);
		return -1;
	}
	const char *path = getenv("PATH");
	char dir[CG_AOT_PATH];
	for (const char *p = path ? path : ""; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(dir, sizeof dir, "%.*s/%s", (int)n, n ? p : ".", cc);
		if (access(dir, X_OK) == 0)
			return 0;
		p += n + (p[n] == ':');
	}
	snprintf(err, errlen, "samc build: no C compiler: '%s' is not on PATH; install one "
	         "(e.g. gcc) or set CC to its path", cc);
	return -1;
}

static int run_cc(char *const *argv, int verbose, char *err, size_t errlen)
{
	if (verbose) {
		for (int i = 0; argv[i]; i++)
			fprintf(stderr, "%s%s", i ? " " : "", argv[i]);
		fputc('\n', stderr);
	}
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (rc) {
		snprintf(err, errlen, "samc build: cannot run the C compiler '%s': %s", argv[0], strerror(rc));
		return -1;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, errlen, "samc build: waiting for '%s': %s", argv[0], strerror(errno));
			return -1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "samc build: the C compiler '%s' failed (%s %d) linking the trainer; "
		         "its messages are above (run with --verbose for its command line)", argv[0],
		         WIFEXITED(status) ? "exit status" : "signal",
		         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	return 0;
}

static int link_trainer(const char *cc, const char *out, const char *obj, const char *csrc,
                        const char *lib, const char *inc, int verbose, char *err, size_t errlen)
{
	char incflag[CG_AOT_PATH + 2];
	snprintf(incflag, sizeof incflag, "-I%s", inc);
	/* MPI's link arguments, '|'-separated (codegen/CMakeLists.txt) */
	char mpi[sizeof SAMC_RT_LINK_MPI + 1];
	snprintf(mpi, sizeof mpi, "%s", SAMC_RT_LINK_MPI);
	const char *argv[48];
	int n = 0;
	const char *head[] = {cc, "-std=c11", "-O1", incflag, "-o", out, csrc};
	for (size_t i = 0; i < sizeof head / sizeof *head; i++)
		argv[n++] = head[i];
	if (obj) /* a CUDA trainer has none: its kernels are PTX in the generated C */
		argv[n++] = obj;
	argv[n++] = lib;
	for (char *p = mpi, *tok; (tok = strsep(&p, "|"));)
		if (*tok && n < 32)
			argv[n++] = tok;
	const char *tail[] = {"-lopenblas", "-lcjson", "-lz", "-lm", "-lpthread", "-ldl",
	                      SAMC_RT_LINK_FLAG, SAMC_RT_LINK_DNNL};
	for (size_t i = 0; i < sizeof tail / sizeof *tail; i++)
		if (*tail[i]) /* a runtime built without sanitizers has no flag */
			argv[n++] = tail[i];
	argv[n] = NULL;
	return run_cc((char *const *)argv, verbose, err, errlen);
}

int cg_aot_build(const cg_aot_unit *u, const char *out, const cg_aot_options *o,
                 cg_aot_stats *st, char *err, size_t errlen)
{
	double t0 = now_s();
	cg_aot_stats dummy;
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof *st);
	const char *cc = o->cc ? o->cc : getenv("CC");
	if (!cc || !*cc)
		cc = "cc";
	char lib[CG_AOT_PATH], inc[CG_AOT_PATH], obj[CG_AOT_PATH + 16], csrc[CG_AOT_PATH + 16];
	if (find_cc(cc, err, errlen) || cg_aot_runtime(lib, sizeof lib, inc, sizeof inc, err, errlen))
		return -1;
	snprintf(obj, sizeof obj, "%s.samc.o", out);
	snprintf(csrc, sizeof csrc, "%s.samc.c", out);
	/* the generated C first: an unwritable place fails before any work */
	FILE *f = fopen(csrc, "w");
	if (!f) {
		snprintf(err, errlen, "samc build: cannot write next to the output '%s' (%s: %s)", out,
		         csrc, strerror(errno));
		return -1;
	}
	int rc = cg_aot_write_table(f, u, err, errlen);
	if (fclose(f) && rc == 0) {
		snprintf(err, errlen, "samc build: cannot write %s: %s", csrc, strerror(errno));
		rc = -1;
	}
	double t1 = now_s();
	if (rc == 0 && !u->cuda)
		rc = cg_aot_emit_object(u, obj, &st->nkernels, err, errlen);
	for (int s = 0; s < CG_AOT_NSTEPS && u->cuda; s++)
		st->nkernels += u->step[s] && u->step[s]->cuda ? u->step[s]->cuda->nk : 0;
	double t2 = now_s();
	st->codegen_s = t2 - t0;
	struct stat sb;
	if (rc == 0 && stat(obj, &sb) == 0)
		st->object_bytes = (int64_t)sb.st_size;
	if (rc == 0)
		rc = link_trainer(cc, out, u->cuda ? NULL : obj, csrc, lib, inc, o->verbose, err, errlen);
	st->cc_s = now_s() - t2;
	(void)t1;
	if (!o->keep) {
		remove(obj);
		remove(csrc);
	}
	st->total_s = now_s() - t0;
	return rc;
}
