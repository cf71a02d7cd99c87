// DistributedSession (include/tomodenoise/distributed.hpp): MPI's lifetime in a tool.

#include "tomodenoise/distributed.hpp"

#ifdef TOMODENOISE_WITH_MPI
#include <mpi.h>
#endif

#include <cstdlib>
#include <string>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

#ifdef TOMODENOISE_WITH_MPI
// Launchers set one of these in every process they start (Open MPI, MPICH/Hydra and Intel MPI,
// PMIx, Slurm). A process without them is run on its own and starts no MPI runtime.
bool started_by_mpi_launcher() {
    for (const char* variable : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_NTASKS"})
        if (std::getenv(variable)) return true;
    return false;
}
#endif

}  // namespace

DistributedSession::DistributedSession() {
#ifdef TOMODENOISE_WITH_MPI
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        if (!started_by_mpi_launcher()) return;
        int provided = 0;
        if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
            throw BackendError("MPI_Init_thread failed");
        finalize_ = true;
        if (provided < MPI_THREAD_SERIALIZED) {
            MPI_Finalize();
            throw BackendError("MPI provides thread level " + std::to_string(provided) +
                               ", below MPI_THREAD_SERIALIZED (" +
                               std::to_string(MPI_THREAD_SERIALIZED) +
                               "), which slab inference needs: its pipeline thread sends slices");
        }
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
#endif
}

DistributedSession::~DistributedSession() {
#ifdef TOMODENOISE_WITH_MPI
    if (finalize_) MPI_Finalize();
#endif
}

void DistributedSession::abort(int exit_status) const {
#ifdef TOMODENOISE_WITH_MPI
    if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, exit_status);
#endif
    std::exit(exit_status);
}

bool DistributedSession::available() {
#ifdef TOMODENOISE_WITH_MPI
    return true;
#else
    return false;
#endif
}

}  // namespace tomodenoise
