// Model keeps its implementation private: the public header has no accessor and no constructor
// from it; the library, its tests and benchmarks reach it through lib/api/model_impl.hpp.

#include <gtest/gtest.h>

#include <memory>
#include <type_traits>
#include <utility>

#include "api/model_impl.hpp"
#include "models/cnn_denoiser.hpp"
#include "tomodenoise/model.hpp"

using namespace tomodenoise;

namespace {

template <typename T, typename = void>
struct has_impl_accessor : std::false_type {};
template <typename T>
struct has_impl_accessor<T, std::void_t<decltype(std::declval<T&>().impl())>> : std::true_type {};

static_assert(!has_impl_accessor<Model>::value, "Model::impl() is back in the public header");
static_assert(!std::is_constructible_v<Model, std::unique_ptr<ModelAccess::Impl>>,
              "Model's constructor from its implementation is public");

TEST(ModelAccess, ReachesTheNetworkOfAModel) {
    Network network = build_cnn_denoiser();
    const std::int64_t parameters = network.parameter_count();
    Model model = make_model(std::move(network));
    EXPECT_GT(parameters, 0);
    EXPECT_EQ(model_impl(model).network.parameter_count(), parameters);
    EXPECT_EQ(model.parameter_count(), parameters);
}

}  // namespace
