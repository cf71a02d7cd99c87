// Thread counts beyond max_threads() are refused where they enter the library (Context,
// Model::load), before the OpenMP runtime is asked for them: libgomp crashes when it cannot
// create the threads instead of reporting it.

#include <gtest/gtest.h>
#include <omp.h>

#include <string>
#include <thread>

#include "core/context.hpp"
#include "test_support.hpp"
#include "tomodenoise/error.hpp"
#include "tomodenoise/model.hpp"
#include "tomodenoise/threads.hpp"

namespace tomodenoise {
namespace {

using testing::expect_error_naming;

TEST(ThreadLimits, MaximumIsFourTimesTheHardwareThreads) {
    const int hardware = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    EXPECT_EQ(max_threads(), 4 * hardware);
}

TEST(ThreadLimits, ContextRefusesCountsBeyondTheMaximum) {
    const int before = omp_get_max_threads();
    expect_error_naming<InvalidArgument>(
        [] { Context context(max_threads() + 1); },
        {std::to_string(max_threads() + 1), std::to_string(max_threads())});
    expect_error_naming<InvalidArgument>([] { Context context(100000); }, {"100000"});
    EXPECT_THROW(Context context(-1), InvalidArgument);
    EXPECT_EQ(omp_get_max_threads(), before);  // a refused count changed nothing
    EXPECT_NO_THROW(Context context(max_threads()));
    omp_set_num_threads(before);
}

TEST(ThreadLimits, ModelLoadChecksItsOptionsBeforeTheFile) {
    testing::ScratchDir dir;
    const std::string absent = dir.file("absent.h5");
    ApplyOptions options;
    options.threads = max_threads() + 1;
    expect_error_naming<InvalidArgument>([&] { Model::load(absent, options); },
                                         {"threads", std::to_string(max_threads())});
    options.threads = 2;
    options.parallel_images = 3;  // one copy of the network per thread at most
    expect_error_naming<InvalidArgument>([&] { Model::load(absent, options); },
                                         {"parallel_images", "3"});
    options.parallel_images = 0;
    expect_error_naming<InvalidArgument>([&] { Model::load(absent, options); },
                                         {"parallel_images"});
    options.parallel_images = 2;  // valid: the missing file is the error now
    EXPECT_THROW(Model::load(absent, options), IoError);
}

}  // namespace
}  // namespace tomodenoise
