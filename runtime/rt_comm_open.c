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

int rt_comm_open(rt_comm **out, rt_err *err)
{
	*out = rt_comm_self();
	if (!under_launcher())
		return 0;
#ifdef SAMC_HAVE_MPI
	return rt_comm_mpi_open(out, err);
#else
	return rt_errf(err, "comm: this process was started by an MPI launcher, but samc was "
	                    "built without MPI (install libopenmpi-dev and rebuild)");
#endif
}
