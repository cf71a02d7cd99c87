#include "layers/concatenation.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>

#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

std::vector<Dims> dims_of_all(const std::vector<const Tensor*>& tensors) {
    std::vector<Dims> dims;
    for (const Tensor* t : tensors) dims.push_back(t->dims());
    return dims;
}

// The layout all of `mds` share (in their one type) when it has a oneDNN tag: an output in the
// inputs' layout spares the next layer a reorder, where oneDNN's own choice (channels outermost)
// would not.
std::optional<dnnl::memory::format_tag> common_tag(const std::vector<dnnl::memory::desc>& mds) {
    using tag = dnnl::memory::format_tag;
    static const std::pair<const char*, tag> tags[] = {{"nchw", tag::nchw},
                                                       {"nhwc", tag::nhwc},
                                                       {"nChw8c", tag::nChw8c},
                                                       {"nChw16c", tag::nChw16c}};
    const std::string name = layout_name(mds[0]);
    for (const auto& md : mds)
        if (layout_name(md) != name || md.data_type() != mds[0].data_type()) return std::nullopt;
    for (const auto& [tag_name, t] : tags)
        if (name == tag_name) return t;
    return std::nullopt;
}

}  // namespace

Dims ConcatenationLayer::build(const std::vector<Dims>& inputs) {
    if (inputs.size() < 2)
        throw ShapeError(what() + " needs at least 2 inputs, got " + std::to_string(inputs.size()) +
                         ": " + dims_list(inputs));
    Dims out = inputs[0];
    out.c = 0;
    for (const auto& d : inputs) {
        if (d.n != out.n || d.h != out.h || d.w != out.w)
            throw ShapeError(what() +
                             ": inputs differ in batch, height or width: " + dims_list(inputs));
        out.c += d.c;
    }
    return out;
}

void ConcatenationLayer::forward(Context& ctx, const std::vector<const Tensor*>& src, Tensor& dst,
                                 Mode /*mode*/) {
    const auto dims = dims_of_all(src);
    const Dims out = build(dims);
    if (whole_blocks(src)) {
        dst.reshape(blocked_desc(out));
        copy_channel_ranges(src, out, dst.data(), nullptr);
        return;
    }
    std::vector<dnnl::memory::desc> mds;
    CacheKey key("concat");
    for (const Tensor* t : src) {
        mds.push_back(t->desc());
        key << t->desc();
    }
    auto& cat =
        ctx.cache().get<dnnl::concat>(key, what() + " forward on inputs " + dims_list(dims), [&] {
            if (const auto t = common_tag(mds)) {
                try {
                    return dnnl::concat::primitive_desc(
                        dnnl::memory::desc(out.to_dnnl(), mds[0].data_type(), *t), 1, mds,
                        cpu_engine());
                } catch (const dnnl::error&) {
                    // A blocked output that a channel range cannot start inside: let oneDNN pick.
                }
            }
            try {
                return dnnl::concat::primitive_desc(1, mds, cpu_engine());
            } catch (const dnnl::error&) {
                // Some mixes of layouts have no implementation; plain inputs always do.
                for (auto& md : mds) md = plain_desc(dims_of(md));
                return dnnl::concat::primitive_desc(1, mds, cpu_engine());
            }
        });
    inputs_reordered_.resize(src.size());
    std::unordered_map<int, dnnl::memory> args;
    for (std::size_t k = 0; k < src.size(); ++k) {
        const Tensor& s = ctx.as_layout(*src[k], cat.pd.src_desc(int(k)), inputs_reordered_[k]);
        args[DNNL_ARG_MULTIPLE_SRC + int(k)] = s.memory();
    }
    dst.reshape(cat.pd.dst_desc());
    args[DNNL_ARG_DST] = dst.memory();
    cat.primitive.execute(ctx.stream(), args);
}

bool ConcatenationLayer::whole_blocks(const std::vector<const Tensor*>& src) {
    constexpr std::int64_t block = 16;
    for (const Tensor* s : src)
        if (s->dims().c % block != 0 || s->desc() != blocked_desc(s->dims())) return false;
    return true;
}

void ConcatenationLayer::copy_channel_ranges(const std::vector<const Tensor*>& parts,
                                             const Dims& all, float* into_whole,
                                             const float* out_of_whole,
                                             const std::vector<Tensor*>& diff_parts) {
    const std::int64_t plane = all.h * all.w;
    std::vector<std::int64_t> offsets;
    std::int64_t offset = 0;
    for (const Tensor* s : parts) {
        offsets.push_back(offset);
        offset += s->dims().c;
    }
    const std::int64_t count = std::int64_t(parts.size());
    // Each (image, part) pair is one contiguous run of the whole's channel blocks.
#pragma omp parallel for collapse(2) schedule(static)
    for (std::int64_t i = 0; i < all.n; ++i)
        for (std::int64_t k = 0; k < count; ++k) {
            const auto part = std::size_t(k);
            const std::int64_t channels = parts[part]->dims().c;
            const std::int64_t at = (i * all.c + offsets[part]) * plane;
            const std::size_t bytes = std::size_t(channels * plane) * sizeof(float);
            if (into_whole)
                std::memcpy(into_whole + at, parts[part]->data() + i * channels * plane, bytes);
            else if (part < diff_parts.size() && diff_parts[part])
                std::memcpy(diff_parts[part]->data() + i * channels * plane, out_of_whole + at,
                            bytes);
        }
}

void ConcatenationLayer::backward(Context& ctx, const std::vector<const Tensor*>& src,
                                  const Tensor& /*dst*/, const Tensor& diff_dst,
                                  const std::vector<Tensor*>& diff_src) {
    if (whole_blocks(src) && diff_dst.desc() == blocked_desc(diff_dst.dims())) {
        for (std::size_t k = 0; k < src.size() && k < diff_src.size(); ++k)
            if (diff_src[k]) diff_src[k]->reshape(src[k]->desc());
        copy_channel_ranges(src, diff_dst.dims(), nullptr, diff_dst.data(), diff_src);
        return;
    }
    const std::string where = what() + " backward on inputs " + dims_list(dims_of_all(src));
    // Input k's gradient is the channel range of diff_dst starting at the channels of the
    // inputs before it. A blocked layout can address such a range only where the blocking
    // lines up with it; the plain layout always can.
    auto view_desc = [&](const Tensor& t, std::size_t k, std::int64_t offset) {
        return t.desc().submemory_desc(src[k]->dims().to_dnnl(), {0, offset, 0, 0},
                                       /*allow_empty=*/true);
    };
    const Tensor* whole = &diff_dst;
    std::int64_t offset = 0;
    for (std::size_t k = 0; k < src.size() && whole == &diff_dst; ++k) {
        if (view_desc(diff_dst, k, offset).is_zero()) {
            ctx.to_plain(diff_dst, diff_dst_plain_);
            whole = &diff_dst_plain_;
        }
        offset += src[k]->dims().c;
    }
    // The reorders only read through these views.
    void* base = const_cast<float*>(whole->data());
    diff_views_.resize(src.size());
    offset = 0;
    for (std::size_t k = 0; k < src.size(); ++k) {
        const auto md = view_desc(*whole, k, offset);
        offset += src[k]->dims().c;
        if (k >= diff_src.size() || !diff_src[k]) continue;
        auto& view = diff_views_[k];
        if (!view || view.get_desc() != md)
            view = dnnl::memory(md, cpu_engine(), base);
        else if (view.get_data_handle() != base)
            view.set_data_handle(base);
        diff_src[k]->reshape(src[k]->desc());
        ctx.reorder(view, diff_src[k]->memory(), where);
    }
}

}  // namespace tomodenoise
