#pragma once
/// @file
/// Running across the processes of an `mpirun` (MPI slab inference), without MPI types: a
/// tool holds one DistributedSession for its lifetime and sets
/// DenoiseStackOptions::distributed. In a library built without MPI (TOMODENOISE_MPI off), or
/// in a process not started by an MPI launcher, the session is a single rank.

namespace tomodenoise {

/// MPI for the lifetime of the object. When the process was started by an MPI launcher
/// (mpirun, mpiexec, srun: it sets the rank in the environment) and MPI is not initialized
/// yet, initializes it with MPI_THREAD_SERIALIZED (the pipeline's writer thread sends slices)
/// and finalizes it on destruction; when MPI is already initialized (by the caller, who then
/// finalizes it), uses it as it is. Other processes are one rank of one, without MPI, so that
/// a tool run on its own starts no MPI runtime. One session per process; not copyable.
/// Throws BackendError when MPI cannot be initialized or offers less than serialized threads.
class DistributedSession {
public:
    DistributedSession();
    ~DistributedSession();
    DistributedSession(const DistributedSession&) = delete;
    DistributedSession& operator=(const DistributedSession&) = delete;

    int rank() const { return rank_; }  ///< 0 .. size() - 1 in MPI_COMM_WORLD
    int size() const { return size_; }  ///< the processes of the job
    /// More than one rank: DenoiseStackOptions::distributed splits the work among them.
    bool is_distributed() const { return size_ > 1; }
    /// The library was built with MPI.
    static bool available();
    /// Ends every process of the job now with `exit_status` (MPI_Abort; a single rank: exit):
    /// after a failure that the other ranks may not share (an input one rank cannot read
    /// before the ranks meet), they would otherwise wait for this one for ever.
    [[noreturn]] void abort(int exit_status) const;

private:
    int rank_ = 0, size_ = 1;
    bool finalize_ = false;
};

}  // namespace tomodenoise
