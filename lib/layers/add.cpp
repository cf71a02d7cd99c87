#include "layers/add.hpp"

#include "tomodenoise/error.hpp"

namespace tomodenoise {

Dims AddLayer::build(const std::vector<Dims>& inputs) {
    if (inputs.size() < 2)
        throw ShapeError(what() + " needs at least 2 inputs, got " + std::to_string(inputs.size()) +
                         ": " + dims_list(inputs));
    for (const auto& d : inputs)
        if (d != inputs[0])
            throw ShapeError(what() + ": inputs must have identical dims, got " +
                             dims_list(inputs));
    return inputs[0];
}

void AddLayer::forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                       Mode /*mode*/) {
    std::vector<Dims> dims;
    std::vector<dnnl::memory::desc> mds;
    CacheKey key("sum");
    for (const Tensor* t : src) {
        dims.push_back(t->dims());
        mds.push_back(t->desc());
        key << t->desc();
    }
    build(dims);
    auto& sum =
        ctx.cache().get<dnnl::sum>(key, what() + " forward on inputs " + dims_list(dims), [&] {
            const std::vector<float> scales(mds.size(), 1.f);
            try {
                return dnnl::sum::primitive_desc(scales, mds, cpu_engine());
            } catch (const dnnl::error&) {
                // Some mixes of layouts have no implementation; plain inputs always do.
                for (auto& md : mds) md = plain_desc(dims_of(md));
                return dnnl::sum::primitive_desc(scales, mds, cpu_engine());
            }
        });
    inputs_reordered_.resize(src.size());
    std::unordered_map<int, dnnl::memory> args;
    for (std::size_t k = 0; k < src.size(); ++k) {
        const Tensor& s = ctx.as_layout(*src[k], sum.pd.src_desc(int(k)), inputs_reordered_[k]);
        args[DNNL_ARG_MULTIPLE_SRC + int(k)] = s.memory();
    }
    dst.reshape(sum.pd.dst_desc());
    args[DNNL_ARG_DST] = dst.memory();
    sum.primitive.execute(ctx.stream(), args);
}

void AddLayer::backward(Context& ctx, const std::vector<const Tensor*>& src, const Tensor& /*dst*/,
                        const Tensor& diff_dst, const std::vector<Tensor*>& diff_src) {
    for (std::size_t k = 0; k < diff_src.size() && k < src.size(); ++k) {
        if (!diff_src[k]) continue;
        diff_src[k]->reshape(src[k]->desc());
        ctx.reorder(diff_dst, *diff_src[k]);
    }
}

}  // namespace tomodenoise
