#include "infer/stack_job.hpp"

#ifdef TOMODENOISE_WITH_MPI
#include <mpi.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

void run_in_one_process(const StackJob& job) {
    SliceSink& sink = job.open_output();
    if (job.on_start) job.on_start();
    if (job.statistics) job.pipeline->map = job.statistics();
    run_stack_pipeline(*job.source, sink, *job.pipeline);
    job.commit();
}

#ifdef TOMODENOISE_WITH_MPI

// Messages to rank 0: a slab header (first slice, slice count) followed by that many slices of
// h x w floats; one final message per rank, done or failed (with the error's text). From rank
// 0: stop, to ranks still working once the job has failed.
enum Tag : int { tag_header = 1, tag_slice, tag_done, tag_failed, tag_stop };

// The job's end on a rank that was asked to stop because another one failed.
class Stopped : public Error {
public:
    Stopped() : Error("stopped because another rank failed") {}
};

void check_mpi(int status, const char* call) {
    if (status != MPI_SUCCESS)
        throw BackendError(std::string("MPI: ") + call + " failed with error " +
                           std::to_string(status));
}

bool is_stopped(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const Stopped&) {
        return true;
    } catch (...) {
        return false;
    }
}

std::string message_of(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an unknown exception";
    }
}

// Sends `text` from `root` to every rank (collective).
std::string broadcast_text(std::string text, int root) {
    long long length = static_cast<long long>(text.size());
    check_mpi(MPI_Bcast(&length, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD), "MPI_Bcast");
    text.resize(std::size_t(length));
    check_mpi(MPI_Bcast(text.data(), int(length), MPI_CHAR, root, MPI_COMM_WORLD), "MPI_Bcast");
    return text;
}

// Collective: when some rank's `failure` is set, every rank throws, the failing ranks their
// own exception and the others the first failing rank's message.
void agree(const std::exception_ptr& failure, int rank, int size) {
    int mine = failure ? rank : size, first = size;
    check_mpi(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
    if (first == size) return;
    const std::string text = broadcast_text(rank == first ? message_of(failure) : "", first);
    if (failure) std::rethrow_exception(failure);
    throw Error("rank " + std::to_string(first) + ": " + text);
}

// Rank r's slices: [begin, end), n split as evenly as possible.
std::pair<std::int64_t, std::int64_t> slab(std::int64_t n, int rank, int size) {
    const auto begin = [&](std::int64_t r) { return r * (n / size) + std::min(r, n % size); };
    return {begin(rank), begin(rank + 1)};
}

// A rank other than 0: its slices go to rank 0 one at a time.
class SendToRankZero : public SliceSink {
public:
    explicit SendToRankZero(const StackShape& shape) : plane_(shape.h * shape.w) {}
    void write(std::int64_t first, std::int64_t count, const float* values) override {
        int stop = 0;
        check_mpi(MPI_Iprobe(0, tag_stop, MPI_COMM_WORLD, &stop, MPI_STATUS_IGNORE), "MPI_Iprobe");
        if (stop) {
            check_mpi(
                MPI_Recv(nullptr, 0, MPI_BYTE, 0, tag_stop, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                "MPI_Recv");
            throw Stopped();
        }
        long long header[2] = {first, count};
        check_mpi(MPI_Send(header, 2, MPI_LONG_LONG, 0, tag_header, MPI_COMM_WORLD), "MPI_Send");
        for (std::int64_t s = 0; s < count; ++s)
            check_mpi(
                MPI_Send(values + s * plane_, int(plane_), MPI_FLOAT, 0, tag_slice, MPI_COMM_WORLD),
                "MPI_Send");
    }

private:
    std::int64_t plane_;
};

// Rank 0's output, written from its pipeline's thread and its receiving thread in turn.
class SharedOutput {
public:
    // `done`: slices a resumed output already holds.
    SharedOutput(SliceSink& sink, const StackPipeline& whole, std::int64_t total, std::int64_t done)
        : sink_(sink), whole_(whole), total_(total), written_(done) {}
    void write(std::int64_t first, std::int64_t count, float* values) {
        const std::lock_guard<std::mutex> lock(mutex_);
        if (whole_.finish) whole_.finish(values, first, count);
        sink_.write(first, count, values);
        written_ += count;
        if (whole_.on_progress) whole_.on_progress(written_, total_);
    }

private:
    std::mutex mutex_;
    SliceSink& sink_;
    const StackPipeline& whole_;
    std::int64_t total_, written_;
};

// Rank 0's own slab, written to the shared output until the job is stopping.
class LocalSlabSink : public SliceSink {
public:
    LocalSlabSink(SharedOutput& output, const std::atomic<bool>& stopping, std::int64_t plane)
        : output_(output), stopping_(stopping), plane_(plane) {}
    void write(std::int64_t first, std::int64_t count, const float* values) override {
        if (stopping_) throw Stopped();
        // finish works in place, and the pipeline's buffer is const here.
        copy_.assign(values, values + count * plane_);
        output_.write(first, count, copy_.data());
    }

private:
    SharedOutput& output_;
    const std::atomic<bool>& stopping_;
    std::int64_t plane_;
    std::vector<float> copy_;
};

// Rank 0: computes its slab on another thread while this one receives the others' slices and
// writes them; returns the first failure, after every rank has sent its final message.
std::exception_ptr run_rank_zero(const StackJob& job, SliceSink& sink, int size,
                                 std::int64_t resumed) {
    const StackShape shape = job.source->shape();
    const std::int64_t plane = shape.h * shape.w;
    SharedOutput output(sink, *job.pipeline, shape.n, resumed);
    std::atomic<bool> stopping{false}, local_done{false};
    std::exception_ptr failure;  // the first; set on this thread only
    std::exception_ptr local_failure;

    StackPipeline local = *job.pipeline;
    local.finish = nullptr;
    local.on_progress = nullptr;
    std::tie(local.begin, local.end) = slab(shape.n, 0, size);
    LocalSlabSink local_sink(output, stopping, plane);
    std::thread worker([&] {
        try {
            run_stack_pipeline(*job.source, local_sink, local);
        } catch (...) {
            local_failure = std::current_exception();
        }
        local_done = true;
    });

    std::vector<bool> open(std::size_t(size), true);
    int remotes_open = size - 1;
    std::vector<float> slice(static_cast<std::size_t>(plane));
    const auto fail = [&](std::exception_ptr e) {
        if (failure) return;
        failure = e;
        stopping = true;
        for (int r = 1; r < size; ++r)
            if (open[std::size_t(r)])
                check_mpi(MPI_Send(nullptr, 0, MPI_BYTE, r, tag_stop, MPI_COMM_WORLD), "MPI_Send");
    };
    bool local_seen = false;
    while (remotes_open > 0 || !local_seen) {
        if (!local_seen && local_done) {
            worker.join();
            local_seen = true;
            if (local_failure && !is_stopped(local_failure)) fail(local_failure);
            continue;
        }
        int pending = 0;
        MPI_Status status;
        check_mpi(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &pending, &status),
                  "MPI_Iprobe");
        if (!pending) {
            // Slices arrive at most every few milliseconds; polling keeps this thread from
            // taking a core from the pipeline.
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        const int from = status.MPI_SOURCE;
        if (status.MPI_TAG == tag_header) {
            long long header[2];
            check_mpi(MPI_Recv(header, 2, MPI_LONG_LONG, from, tag_header, MPI_COMM_WORLD,
                               MPI_STATUS_IGNORE),
                      "MPI_Recv");
            for (long long s = 0; s < header[1]; ++s) {
                check_mpi(MPI_Recv(slice.data(), int(plane), MPI_FLOAT, from, tag_slice,
                                   MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                          "MPI_Recv");
                if (failure) continue;
                try {
                    output.write(header[0] + s, 1, slice.data());
                } catch (...) {
                    fail(std::current_exception());
                }
            }
        } else if (status.MPI_TAG == tag_done || status.MPI_TAG == tag_failed) {
            int length = 0;
            check_mpi(MPI_Get_count(&status, MPI_CHAR, &length), "MPI_Get_count");
            std::string text(std::size_t(length), '\0');
            check_mpi(MPI_Recv(text.data(), length, MPI_CHAR, from, status.MPI_TAG, MPI_COMM_WORLD,
                               MPI_STATUS_IGNORE),
                      "MPI_Recv");
            open[std::size_t(from)] = false;
            --remotes_open;
            if (status.MPI_TAG == tag_failed && !text.empty())
                fail(std::make_exception_ptr(Error("rank " + std::to_string(from) + ": " + text)));
        } else {  // no rank sends other tags; received so that the loop goes on
            int bytes = 0;
            check_mpi(MPI_Get_count(&status, MPI_BYTE, &bytes), "MPI_Get_count");
            std::vector<char> ignored(static_cast<std::size_t>(bytes));
            check_mpi(MPI_Recv(ignored.data(), bytes, MPI_BYTE, from, status.MPI_TAG,
                               MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                      "MPI_Recv");
            fail(std::make_exception_ptr(BackendError(
                "MPI: rank 0 got an unexpected message (tag " + std::to_string(status.MPI_TAG) +
                ") from rank " + std::to_string(from))));
        }
    }
    return failure;
}

// A rank other than 0: computes its slab into messages to rank 0, then one final message;
// returns its failure (a Stopped one when rank 0 asked it to stop).
std::exception_ptr run_other_rank(const StackJob& job, int rank, int size) {
    const StackShape shape = job.source->shape();
    StackPipeline local = *job.pipeline;
    local.finish = nullptr;
    local.on_progress = nullptr;
    std::tie(local.begin, local.end) = slab(shape.n, rank, size);
    SendToRankZero sink(shape);
    std::exception_ptr failure;
    std::string text;
    try {
        run_stack_pipeline(*job.source, sink, local);
    } catch (const Stopped&) {
        failure = std::current_exception();  // rank 0 knows why: no text
    } catch (...) {
        failure = std::current_exception();
        text = message_of(failure);
    }
    check_mpi(MPI_Send(text.data(), int(text.size()), MPI_CHAR, 0, failure ? tag_failed : tag_done,
                       MPI_COMM_WORLD),
              "MPI_Send");
    return failure;
}

void run_on_ranks(const StackJob& job, int rank, int size) {
    const StackShape shape = job.source->shape();
    if (shape.h * shape.w > INT_MAX || shape.n > INT_MAX)
        throw ShapeError("'" + job.source->name() + "' has dims " + shape.to_string() +
                         ": a slice, or the slice count, beyond the 2^31 - 1 values an MPI "
                         "message carries");
    int threading = 0;
    check_mpi(MPI_Query_thread(&threading), "MPI_Query_thread");
    if (threading < MPI_THREAD_SERIALIZED)
        throw BackendError(
            "MPI was initialized below MPI_THREAD_SERIALIZED, which slab "
            "inference needs: each rank's pipeline thread sends its slices");
    // Rank 0 opens the output and computes the volume's statistics; a failure there stops all.
    SliceSink* sink = nullptr;
    std::exception_ptr failure;
    if (rank == 0) {
        try {
            sink = &job.open_output();
            if (job.on_start) job.on_start();
            if (job.statistics) job.pipeline->map = job.statistics();
        } catch (...) {
            failure = std::current_exception();
        }
    }
    agree(failure, rank, size);
    Normalization& map = job.pipeline->map;
    double values[4] = {map.clip_low, map.clip_high, map.offset, map.scale};
    check_mpi(MPI_Bcast(values, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
    map = Normalization{values[0], values[1], values[2], values[3]};

    // The slices a resumed output holds, known where it is open, are skipped on every rank.
    std::vector<char> written(std::size_t(shape.n), 0);
    if (rank == 0 && job.pipeline->skip)
        for (std::int64_t slice = 0; slice < shape.n; ++slice)
            written[std::size_t(slice)] = job.pipeline->skip(slice) ? 1 : 0;
    check_mpi(MPI_Bcast(written.data(), int(shape.n), MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
    const auto resumed = std::int64_t(std::count(written.begin(), written.end(), 1));
    job.pipeline->skip = [written = std::move(written)](std::int64_t slice) {
        return written[std::size_t(slice)] != 0;
    };

    failure =
        rank == 0 ? run_rank_zero(job, *sink, size, resumed) : run_other_rank(job, rank, size);
    if (rank == 0 && !failure) {
        try {
            job.commit();
        } catch (...) {
            failure = std::current_exception();
        }
    }
    // Every rank returns once rank 0 is done, with rank 0's verdict.
    const std::string verdict = broadcast_text(failure ? message_of(failure) : "", 0);
    if (rank != 0) {
        int stop = 0;  // a stop sent while this rank's final message was on its way
        check_mpi(MPI_Iprobe(0, tag_stop, MPI_COMM_WORLD, &stop, MPI_STATUS_IGNORE), "MPI_Iprobe");
        if (stop)
            check_mpi(
                MPI_Recv(nullptr, 0, MPI_BYTE, 0, tag_stop, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                "MPI_Recv");
    }
    if (verdict.empty()) return;
    // A rank's own failure keeps its type; the others fail with rank 0's verdict.
    if (failure && !is_stopped(failure)) std::rethrow_exception(failure);
    throw Error(verdict);
}

#endif

}  // namespace

void run_stack_job(const StackJob& job, bool distributed) {
#ifdef TOMODENOISE_WITH_MPI
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (distributed && initialized && !finalized) {
        int rank = 0, size = 1;
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (size > 1) return run_on_ranks(job, rank, size);
    }
#else
    (void)distributed;
#endif
    run_in_one_process(job);
}

}  // namespace tomodenoise
