#include "core/context.hpp"

#include <omp.h>

#include <algorithm>
#include <thread>

#include "tomodenoise/error.hpp"
#include "tomodenoise/threads.hpp"

namespace tomodenoise {

int max_threads() {
    constexpr int threads_per_hardware_thread = 4;
    return threads_per_hardware_thread *
           std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

Context::Context(int threads)
    : stream_(cpu_engine()), cache_(std::make_shared<PrimitiveCache>()), threads_(threads) {
    if (threads < 0 || threads > max_threads())
        throw InvalidArgument("thread count must be between 0 (the default) and " +
                              std::to_string(max_threads()) + " (4 x the hardware threads), got " +
                              std::to_string(threads));
    if (threads == 0 && omp_get_max_threads() > max_threads())
        throw InvalidArgument("OMP_NUM_THREADS asks for " + std::to_string(omp_get_max_threads()) +
                              " threads, more than the maximum " + std::to_string(max_threads()) +
                              " (4 x the hardware threads)");
}

void Context::set_precision(Precision precision) {
    precision_ = cpu_bf16_support() == Bf16Support::none ? Precision::f32 : precision;
}

dnnl::memory::data_type Context::compute_type(std::int64_t in_channels,
                                              std::int64_t out_channels) const {
    const bool wide = in_channels >= bf16_min_channels && out_channels >= bf16_min_channels;
    return precision_ == Precision::bf16 && wide ? dnnl::memory::data_type::bf16
                                                 : dnnl::memory::data_type::f32;
}

void Context::reorder(const Tensor& src, Tensor& dst) {
    if (src.dims() != dst.dims())
        throw ShapeError("reorder between different dims " + src.dims().to_string() + " and " +
                         dst.dims().to_string());
    reorder(src.memory(), dst.memory(), src.dims().to_string());
}

void Context::reorder(const dnnl::memory& src, const dnnl::memory& dst, const std::string& what) {
    const auto src_md = src.get_desc(), dst_md = dst.get_desc();
    auto& r = cache_->get<dnnl::reorder>(
        CacheKey("reorder") << src_md << dst_md,
        "reorder " + layout_name(src_md) + " -> " + layout_name(dst_md) + " of " + what,
        [&] { return dnnl::reorder::primitive_desc(cpu_engine(), src_md, cpu_engine(), dst_md); });
    r.primitive.execute(stream_, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
}

const Tensor& Context::as_layout(const Tensor& src, const dnnl::memory::desc& md, Tensor& scratch) {
    if (src.desc() == md) return src;
    scratch.reshape(md);
    reorder(src, scratch);
    return scratch;
}

void Context::to_plain(const Tensor& src, Tensor& dst) {
    dst.reshape(src.dims());
    if (src.desc() == dst.desc()) {
        std::copy(src.data(), src.data() + src.storage_size(), dst.data());
        return;
    }
    reorder(src, dst);
}

}  // namespace tomodenoise
