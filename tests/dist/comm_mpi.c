/*
 * comm_mpi.c - the MPI communicator's collectives (runtime/rt_comm_mpi.h),
 * run under mpirun with 1, 2 or 3 ranks (tests/dist/tests.cmake).
 *
 *   comm_mpi collectives   allreduce bits against the rank-order sum of
 *                          every rank's data computed here, bcast,
 *                          allgather, rt_comm_agree, the counters, an
 *                          allreduce of CPU device memory; exit 0
 *   comm_mpi timeout       the last rank sleeps past SAMC_DIST_TIMEOUT: the
 *                          others' allreduce fails naming it; they print
 *                          "comm_mpi: rank R: expected: MESSAGE", exit 1
 *   comm_mpi kill          the last rank SIGKILLs itself in an allreduce:
 *                          the others print "samc: rank R: MESSAGE", exit 1
 *   comm_mpi signal        every rank has the stop flag set (a Ctrl-C to
 *                          mpirun) and they answer: the allreduce completes
 *                          with the right bits; exit 0
 * The failure modes are judged by tests/dist/fail.sh from what the ranks
 * print and their exit statuses.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rt_comm.h"
#include "rt_comm_mpi.h"
#include "rt_dev_cpu.h"

static int failures;

#define CHECK(cond, ...)                                                                            \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "comm_mpi: FAIL %s:%d: ", __FILE__, __LINE__);             \
			fprintf(stderr, __VA_ARGS__);                                               \
			fputc('\n', stderr);                                                        \
			failures++;                                                                 \
		}                                                                                   \
	} while (0)

/* Rank r's element i: magnitudes from 1e-4 to 1e4 and both signs, so
 * that the order of a sum of three changes its bits. */
static double datum(int r, size_t i)
{
	uint64_t h = (uint64_t)(r + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)i * 0xBF58476D1CE4E5B9ull;
	h ^= h >> 31;
	h *= 0x94D049BB133111EBull;
	h ^= h >> 29;
	double u = (double)(h >> 11) / 9007199254740992.0 * 2 - 1;
	static const double scale[] = {1e-4, 1e-2, 1, 1e2, 1e4, 3.3, 0.7};
	return u * scale[(h >> 3) % 7];
}

static void fill(void *buf, size_t n, rt_comm_dtype dt, int r)
{
	for (size_t i = 0; i < n; i++)
		if (dt == RT_COMM_F64)
			((double *)buf)[i] = datum(r, i);
		else
			((float *)buf)[i] = (float)datum(r, i);
}

/* ((x0 + x1) + x2) + ... element by element, in the buffer's type; or in
 * reverse rank order (to show that the order matters for the data). */
static void expect_sum(void *out, size_t n, rt_comm_dtype dt, int P, int reverse)
{
	for (size_t i = 0; i < n; i++) {
		if (dt == RT_COMM_F64) {
			double a = datum(reverse ? P - 1 : 0, i);
			for (int s = 1; s < P; s++)
				a = a + datum(reverse ? P - 1 - s : s, i);
			((double *)out)[i] = a;
		} else {
			float a = (float)datum(reverse ? P - 1 : 0, i);
			for (int s = 1; s < P; s++)
				a = a + (float)datum(reverse ? P - 1 - s : s, i);
			((float *)out)[i] = a;
		}
	}
}

static uint64_t fnv(const void *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
	return h;
}

static void test_allreduce(rt_comm *c, size_t n, rt_comm_dtype dt, size_t chunk)
{
	size_t es = dt == RT_COMM_F64 ? 8 : 4;
	void *buf = malloc(n * es + 1), *want = malloc(n * es + 1), *rev = malloc(n * es + 1);
	rt_err err = {{0}};
	fill(buf, n, dt, c->rank);
	expect_sum(want, n, dt, c->size, 0);
	rt_comm_mpi_set_chunk(c, chunk);
	uint64_t b0 = c->bytes;
	int rc = c->allreduce(c, buf, n, dt, &err);
	rt_comm_mpi_set_chunk(c, 0);
	const char *tn = dt == RT_COMM_F64 ? "f64" : "f32";
	CHECK(rc == 0, "allreduce of %zu %s (chunk %zu): %s", n, tn, chunk, err.msg);
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += memcmp((char *)buf + i * es, (char *)want + i * es, es) != 0;
	CHECK(bad == 0, "allreduce of %zu %s (chunk %zu): %zu elements differ from the rank-order sum",
	      n, tn, chunk, bad);
	/* what this rank sent: the other ranks' slices, then its slice to each */
	if (chunk == 0 && c->size > 1) {
		size_t P = (size_t)c->size, r = (size_t)c->rank, mine = n * (r + 1) / P - n * r / P;
		uint64_t sent = (uint64_t)((n - mine) + (P - 1) * mine) * es;
		CHECK(c->bytes - b0 == sent, "allreduce of %zu %s: bytes counted %llu, sent %llu", n, tn,
		      (unsigned long long)(c->bytes - b0), (unsigned long long)sent);
	}
	/* the same bits on every rank (implied by the check above; checked
	 * through the communicator too) */
	uint64_t h = fnv(buf, n * es), *all = calloc((size_t)c->size, 8);
	rc = c->allgather(c, &h, 8, all, &err);
	CHECK(rc == 0, "allgather: %s", err.msg);
	for (int s = 0; rc == 0 && s < c->size; s++)
		CHECK(all[s] == h, "allreduce of %zu %s: rank %d's result differs from rank %d's", n, tn, s,
		      c->rank);
	/* with three ranks the data's sums depend on the order: the check
	 * above would see a sum in another order */
	if (c->size >= 3 && n >= 1000) {
		expect_sum(rev, n, dt, c->size, 1);
		CHECK(memcmp(rev, want, n * es) != 0, "the test data's sums do not depend on the order");
	}
	free(all), free(buf), free(want), free(rev);
}

static void test_bcast(rt_comm *c, size_t bytes, size_t chunk)
{
	unsigned char *buf = malloc(bytes + 1);
	rt_err err = {{0}};
	for (int root = 0; root < c->size; root++) {
		for (size_t i = 0; i < bytes; i++)
			buf[i] = (unsigned char)(c->rank == root ? i * 7 + (size_t)root : 0xEE);
		rt_comm_mpi_set_chunk(c, chunk);
		int rc = c->bcast(c, buf, bytes, root, &err);
		rt_comm_mpi_set_chunk(c, 0);
		CHECK(rc == 0, "bcast of %zu bytes from %d: %s", bytes, root, err.msg);
		size_t bad = 0;
		for (size_t i = 0; i < bytes; i++)
			bad += buf[i] != (unsigned char)(i * 7 + (size_t)root);
		CHECK(bad == 0, "bcast of %zu bytes from %d (chunk %zu): %zu bytes differ", bytes, root,
		      chunk, bad);
	}
	CHECK(c->bcast(c, buf, bytes, c->size, &err) == -1 && strstr(err.msg, "there is no rank"),
	      "bcast from a rank that does not exist: '%s'", err.msg);
	free(buf);
}

static void test_allgather(rt_comm *c, size_t bytes, size_t chunk)
{
	unsigned char *mine = malloc(bytes + 1), *all = malloc(bytes * (size_t)c->size + 1);
	rt_err err = {{0}};
	for (size_t i = 0; i < bytes; i++)
		mine[i] = (unsigned char)(i * 13 + (size_t)c->rank * 101);
	memset(all, 0xEE, bytes * (size_t)c->size);
	rt_comm_mpi_set_chunk(c, chunk);
	int rc = c->allgather(c, mine, bytes, all, &err);
	rt_comm_mpi_set_chunk(c, 0);
	CHECK(rc == 0, "allgather of %zu bytes: %s", bytes, err.msg);
	size_t bad = 0;
	for (int s = 0; s < c->size; s++)
		for (size_t i = 0; i < bytes; i++)
			bad += all[(size_t)s * bytes + i] != (unsigned char)(i * 13 + (size_t)s * 101);
	CHECK(bad == 0, "allgather of %zu bytes (chunk %zu): %zu bytes differ", bytes, chunk, bad);
	free(mine), free(all);
}

static void test_agree(rt_comm *c)
{
	rt_err err = {{0}};
	CHECK(rt_comm_agree(c, "program", 42, &err) == 0, "agree on equal values: %s", err.msg);
	/* the last rank holds another value */
	uint64_t v = c->size > 1 && c->rank == c->size - 1 ? 0xBAD : 42;
	int rc = rt_comm_agree(c, "program", v, &err);
	if (c->size == 1) {
		CHECK(rc == 0, "agree with one rank: %s", err.msg);
		return;
	}
	char want[128];
	snprintf(want, sizeof want, "rank %d disagrees with rank 0 on the program", c->size - 1);
	CHECK(rc == -1 && strstr(err.msg, want) && strstr(err.msg, "0000000000000bad"),
	      "agree on different values: '%s'", err.msg);
}

/* rt_comm_allreduce_dev over the CPU device's memory (its host view) */
static void test_allreduce_dev(rt_comm *c)
{
	rt_err err = {{0}};
	rt_device *d = rt_dev_cpu_new(1, &err);
	CHECK(d != NULL, "CPU device: %s", err.msg);
	if (!d)
		return;
	const size_t n = 777;
	double *buf = NULL, *want = malloc(n * 8);
	CHECK(d->alloc(d, n * 8, (void **)&buf, &err) == 0, "alloc: %s", err.msg);
	if (buf) {
		fill(buf, n, RT_COMM_F64, c->rank);
		expect_sum(want, n, RT_COMM_F64, c->size, 0);
		CHECK(rt_comm_allreduce_dev(c, d, buf, n, RT_COMM_F64, NULL, &err) == 0,
		      "allreduce_dev: %s", err.msg);
		CHECK(memcmp(buf, want, n * 8) == 0, "allreduce_dev: not the rank-order sum");
		d->free(d, buf);
	}
	free(want);
	d->release(d);
}

static int collectives(rt_comm *c)
{
	const char *ws = getenv("OMPI_COMM_WORLD_SIZE");
	CHECK(strcmp(c->name, "mpi") == 0, "rt_comm_open under mpirun gave '%s'", c->name);
	CHECK(ws && atoi(ws) == c->size, "size %d, mpirun's %s", c->size, ws ? ws : "(none)");
	const size_t P = (size_t)c->size;
	const size_t sizes[] = {0, 1, 2, 7, P + 1, 3 * P + 2, 1001, (size_t)1 << 20};
	for (int d = 0; d < 2; d++)
		for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
			rt_comm_dtype dt = d ? RT_COMM_F64 : RT_COMM_F32;
			test_allreduce(c, sizes[k], dt, 0);
			/* a message of a few elements: many rounds, slices of
			 * one element, empty ones */
			if (sizes[k] < 5000)
				test_allreduce(c, sizes[k], dt, d ? 24 : 12);
		}
	/* pieces that do not divide the buffer */
	test_allreduce(c, 300007, RT_COMM_F32, 40000);
	test_allreduce(c, 300007, RT_COMM_F64, 40000);
	CHECK(c->size == 1 || (c->seconds > 0 && c->bytes > 0), "counters: %g s, %llu bytes",
	      c->seconds, (unsigned long long)c->bytes);
	test_bcast(c, 0, 0);
	test_bcast(c, 1, 0);
	test_bcast(c, 3000017, 0);
	test_bcast(c, 3000017, 65537);
	test_allgather(c, 0, 0);
	test_allgather(c, 5, 0);
	test_allgather(c, 1000003, 0);
	test_allgather(c, 1000003, 4099);
	test_agree(c);
	test_allreduce_dev(c);
	return failures;
}

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

/* The failure modes: the last rank sleeps (timeout) or dies (kill) in the
 * second allreduce; the others report what the communicator says. */
static int failing(rt_comm *c, int kill_it)
{
	rt_err err = {{0}};
	double x[1000];
	fill(x, 1000, RT_COMM_F64, c->rank);
	if (c->allreduce(c, x, 1000, RT_COMM_F64, &err)) {
		fprintf(stderr, "comm_mpi: rank %d: the first allreduce failed: %s\n", c->rank, err.msg);
		return 2;
	}
	if (c->rank == c->size - 1) {
		if (kill_it) {
			usleep(300000); /* the others are waiting in the allreduce */
			raise(SIGKILL);
		}
		/* mpirun ends this rank when the others have failed (SIGTERM
		 * cuts the sleep short) */
		sleep(10);
		return 3;
	}
	if (c->allreduce(c, x, 1000, RT_COMM_F64, &err) == 0) {
		fprintf(stderr, "comm_mpi: rank %d: FAIL: the allreduce succeeded\n", c->rank);
		return 2;
	}
	/* what a run prints before it ends */
	fprintf(stderr, kill_it ? "samc: rank %d: %s\n" : "comm_mpi: rank %d: expected: %s\n", c->rank,
	        err.msg);
	return 1;
}

/* All ranks got SIGTERM and still answer, a little apart: the collectives
 * complete (the run can finish its step). */
static int signalled(rt_comm *c)
{
	raise(SIGTERM);
	CHECK(stop_signal == SIGTERM, "the handler did not run");
	usleep(50000 * (useconds_t)c->rank); /* well within the 0.3 s of grace */
	test_allreduce(c, 1001, RT_COMM_F64, 0);
	test_bcast(c, 1000, 0);
	return failures != 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	if (strcmp(mode, "collectives") && strcmp(mode, "timeout") && strcmp(mode, "kill") &&
	    strcmp(mode, "signal")) {
		fprintf(stderr, "usage: mpirun -np N comm_mpi collectives|timeout|kill|signal\n");
		return 2;
	}
	/* as the training loop does: the handler's flag goes to the communicator */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rt_comm *c;
	rt_err err = {{0}};
	if (rt_comm_open(&c, &err)) {
		fprintf(stderr, "comm_mpi: %s\n", err.msg);
		return 1;
	}
	rt_comm_set_stop(c, &stop_signal);
	int rc = !strcmp(mode, "collectives") ? collectives(c) != 0
	         : !strcmp(mode, "signal")    ? signalled(c)
	                                      : failing(c, !strcmp(mode, "kill"));
	if (!strcmp(mode, "collectives") || !strcmp(mode, "signal"))
		fprintf(stderr, "comm_mpi: rank %d of %d: %s (%.3f s, %llu bytes in collectives)\n", c->rank,
		        c->size, rc ? "FAILED" : "ok", c->seconds, (unsigned long long)c->bytes);
	/* a failed communicator does not finalize (rt_comm_mpi.h) */
	c->release(c);
	return rc;
}
