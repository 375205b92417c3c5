/*
 * rt_comm_open.c - which communicator a run gets (rt_comm.h): MPI's world
 * under an MPI launcher, else one rank.
 */
#include "rt_comm.h"

#include <stdlib.h>

#ifdef SAMC_HAVE_MPI
#include "rt_comm_mpi.h"
#endif

/* A launcher that started this process says so in the environment:
 * Open MPI (OMPI_COMM_WORLD_SIZE), PMIx (PMIX_RANK), MPICH's Hydra and
 * Slurm's PMI (PMI_SIZE). */
static int under_launcher(void)
{
	static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"};
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
		if (getenv(vars[i]))
			return 1;
	return 0;
}

#ifdef SAMC_HAVE_MPI
/* The number of processes the launcher says it started, 0 if it does not
 * say. */
static int launcher_size(void)
{
	static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
	for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
		const char *v = getenv(vars[i]);
		if (v && atoi(v) > 0)
			return atoi(v);
	}
	return 0;
}
#endif

int rt_comm_open(rt_comm **out, rt_err *err)
{
	*out = rt_comm_self();
	if (!under_launcher())
		return 0;
#ifdef SAMC_HAVE_MPI
	rt_comm *c;
	if (rt_comm_mpi_open(&c, err))
		return -1;
	/* another MPI's launcher (MPICH's mpiexec for an Open MPI samc) starts
	 * N processes that each see a world of one: N separate runs, unless
	 * refused here */
	int n = launcher_size();
	if (n > 0 && n != c->size) {
		int size = c->size;
		c->release(c);
		return rt_errf(err, "comm: the launcher started %d processes, but MPI sees %d: it is not "
		                    "the launcher of the MPI samc was built with (use that MPI's mpirun)",
		               n, size);
	}
	*out = c;
	return 0;
#else
	return rt_errf(err, "comm: this process was started by an MPI launcher, but samc was "
	                    "built without MPI (install libopenmpi-dev and rebuild)");
#endif
}
