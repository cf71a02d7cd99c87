// The public Model around a network built here.

#include <gtest/gtest.h>

#include <omp.h>

#include <vector>

#include "keras/model_file.hpp"
#include "models/cnn_denoiser.hpp"
#include "test_support.hpp"
#include "tomodenoise/model.hpp"

using namespace tomodenoise;
using namespace tomodenoise::testing;

namespace {

TEST(Model, ApplyRunsWithItsThreadsAndLeavesTheCallersCount) {
    const int before = omp_get_max_threads();
    ScratchDir dir;
    const std::string path = dir.file("cnn.h5");
    Network network = build_cnn_denoiser();
    save_network(path, network);
    ApplyOptions options;
    options.threads = before + 1;
    Model model = Model::load(path, options);
    options.parallel_images = 2;
    Model side_by_side = Model::load(path, options);
    EXPECT_EQ(omp_get_max_threads(), before);

    const std::int64_t n = 3, h = 20, w = 17;
    const auto x = random_values(static_cast<std::size_t>(n * h * w), 3);
    std::vector<float> one(x.size()), two(x.size());
    model.apply(x.data(), n, h, w, one.data());
    EXPECT_EQ(omp_get_max_threads(), before);
    side_by_side.apply(x.data(), n, h, w, two.data());
    EXPECT_EQ(omp_get_max_threads(), before);
    EXPECT_TRUE(within_fraction_of_range(two, one, 1e-5));
}

}  // namespace
