#include "layers/flatten.hpp"

#include "core/engine.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

Dims flattened(const Dims& in) {
    return Dims{in.n, in.c * in.h * in.w, 1, 1};
}

// The storage of a plain (N, H*W*C, 1, 1) tensor seen as (N, C, H, W) in nhwc order.
dnnl::memory channels_last_view(const Dims& unflattened, float* data) {
    const dnnl::memory::desc md(unflattened.to_dnnl(), dnnl::memory::data_type::f32,
                                dnnl::memory::format_tag::nhwc);
    return dnnl::memory(md, cpu_engine(), data);
}

}  // namespace

Dims FlattenLayer::build(const std::vector<Dims>& inputs) {
    expect_inputs(inputs, 1);
    const Dims& in = inputs[0];
    if (in.count() < 1) throw ShapeError(what() + ": empty input " + in.to_string());
    return flattened(in);
}

void FlattenLayer::forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                           Mode /*mode*/) {
    const Tensor& x = *src.at(0);
    dst.reshape(flattened(x.dims()));
    ctx.reorder(x.memory(), channels_last_view(x.dims(), dst.data()),
                what() + " forward on input " + x.dims().to_string());
}

void FlattenLayer::backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& dst,
                            const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) {
    if (diff_src.empty() || !diff_src[0]) return;
    const Tensor& x = *src.at(0);
    // The channels-last view needs diff_dst's storage plain, like dst's. oneDNN memory
    // handles are non-const; the reorder only reads this one.
    const Tensor& dd = ctx.as_layout(diff_dst, dst.desc(), diff_dst_plain_);
    diff_src[0]->reshape(x.desc());
    ctx.reorder(channels_last_view(x.dims(), const_cast<float*>(dd.data())), diff_src[0]->memory(),
                what() + " backward on input " + x.dims().to_string());
}

}  // namespace tomodenoise
