#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "core/context.hpp"
#include "core/primitive_cache.hpp"
#include "tomodenoise/error.hpp"

using namespace tomodenoise;

namespace {

dnnl::eltwise_forward::primitive_desc relu_pd(std::int64_t channels) {
    const dnnl::memory::desc md({1, channels, 4, 4}, dnnl::memory::data_type::f32,
                                dnnl::memory::format_tag::nchw);
    return dnnl::eltwise_forward::primitive_desc(
        {dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_relu, md, 0.f, 0.f},
        cpu_engine());
}

TEST(PrimitiveCache, ConcurrentRequestsCreateEachPrimitiveOnce) {
    PrimitiveCache cache;
    std::atomic<int> created{0};
    constexpr int threads = 8, keys = 4, rounds = 50;
    std::vector<std::thread> pool;
    std::vector<std::vector<std::pair<int, const void*>>> seen(threads);
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (int r = 0; r < rounds; ++r) {
                const int k = (t + r) % keys;
                const auto& entry =
                    cache.get<dnnl::eltwise_forward>(CacheKey("relu") << k, "relu", [&] {
                        ++created;
                        return relu_pd(k + 1);
                    });
                seen[t].emplace_back(k, &entry);
            }
        });
    }
    for (auto& th : pool) th.join();
    EXPECT_EQ(created.load(), keys);
    EXPECT_EQ(cache.misses(), std::uint64_t(keys));
    EXPECT_EQ(cache.hits(), std::uint64_t(threads * rounds - keys));
    EXPECT_EQ(cache.size(), std::size_t(keys));
    // Every request for a key got that key's one entry.
    std::vector<const void*> first(keys, nullptr);
    for (const auto& per_thread : seen)
        for (const auto& [k, entry] : per_thread) {
            if (!first[k]) first[k] = entry;
            EXPECT_EQ(entry, first[k]) << "key " << k;
        }
}

TEST(PrimitiveCache, BackendFailureNamesTheContext) {
    PrimitiveCache cache;
    try {
        cache.get<dnnl::eltwise_forward>(CacheKey("bad"), "layer 'x' on [1, 2, 3, 4]", [] {
            const dnnl::memory::desc md({1, 2, 3, 4}, dnnl::memory::data_type::f32,
                                        dnnl::memory::format_tag::nchw);
            // eltwise_backward-only algorithm in a forward primitive: oneDNN refuses it.
            return dnnl::eltwise_forward::primitive_desc(
                {dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
                 md, -1.f, 0.f},
                cpu_engine());
        });
        FAIL() << "oneDNN accepted an invalid eltwise";
    } catch (const BackendError& e) {
        EXPECT_NE(std::string(e.what()).find("layer 'x' on [1, 2, 3, 4]"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
