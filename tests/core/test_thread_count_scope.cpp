#include <gtest/gtest.h>

#include <omp.h>

#include <stdexcept>

#include "core/context.hpp"
#include "core/thread_count_scope.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;

namespace {

TEST(ThreadCountScope, SetsTheCountForItsLifetimeAndRestoresIt) {
    const int before = omp_get_max_threads();
    {
        const ThreadCountScope scope(before + 2);
        EXPECT_EQ(omp_get_max_threads(), before + 2);
        {
            const ThreadCountScope inner(before + 1);
            EXPECT_EQ(omp_get_max_threads(), before + 1);
        }
        EXPECT_EQ(omp_get_max_threads(), before + 2);
    }
    EXPECT_EQ(omp_get_max_threads(), before);
}

TEST(ThreadCountScope, AnExceptionInsideLeavesTheCountUnchanged) {
    const int before = omp_get_max_threads();
    try {
        const ThreadCountScope scope(before + 3);
        ASSERT_EQ(omp_get_max_threads(), before + 3);
        throw std::runtime_error("work failed");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(omp_get_max_threads(), before);
}

TEST(ThreadCountScope, ZeroLeavesTheCountAndNegativeIsRejected) {
    const int before = omp_get_max_threads();
    {
        const ThreadCountScope scope(0);
        EXPECT_EQ(omp_get_max_threads(), before);
    }
    EXPECT_EQ(omp_get_max_threads(), before);
    EXPECT_THROW(ThreadCountScope(-1), InvalidArgument);
    EXPECT_EQ(omp_get_max_threads(), before);
}

TEST(Context, ConstructingOneChangesNoThreadCount) {
    const int before = omp_get_max_threads();
    const Context ctx(before + 4);
    EXPECT_EQ(ctx.threads(), before + 4);
    EXPECT_EQ(omp_get_max_threads(), before);
    EXPECT_THROW(Context(-1), InvalidArgument);
}

}  // namespace
