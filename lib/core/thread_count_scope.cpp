#include "core/thread_count_scope.hpp"

#include <omp.h>

#include <string>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

ThreadCountScope::ThreadCountScope(int threads) {
    if (threads < 0)
        throw InvalidArgument("thread count must be >= 0, got " + std::to_string(threads));
    if (threads == 0) return;
    previous_ = omp_get_max_threads();
    omp_set_num_threads(threads);
}

ThreadCountScope::~ThreadCountScope() {
    if (previous_ > 0) omp_set_num_threads(previous_);
}

}  // namespace tomodenoise
