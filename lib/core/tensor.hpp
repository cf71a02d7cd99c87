#pragma once
// The framework's tensor: logical NCHW dims, 64-byte aligned storage (owned or viewed), and the
// oneDNN memory descriptor saying how the data is laid out (plain nchw or blocked) and in which
// type: f32, or bf16 for the activations of a network computing in bfloat16.

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace tomodenoise {

/// Logical dims of an activation tensor. Dense activations are (N, C, 1, 1).
struct Dims {
    std::int64_t n = 0, c = 0, h = 0, w = 0;
    std::int64_t count() const { return n * c * h * w; }
    dnnl::memory::dims to_dnnl() const { return {n, c, h, w}; }
    std::string to_string() const;  ///< "[N, C, H, W]"
    bool operator==(const Dims& o) const { return n == o.n && c == o.c && h == o.h && w == o.w; }
    bool operator!=(const Dims& o) const { return !(*this == o); }
};

/// Plain row-major NCHW f32 descriptor for `dims`.
dnnl::memory::desc plain_desc(const Dims& dims);
/// nChw16c descriptor for `dims`: the blocked layout in which AVX-512 kernels pass
/// activations between layers.
dnnl::memory::desc blocked_desc(const Dims& dims,
                                dnnl::memory::data_type type = dnnl::memory::data_type::f32);
/// Descriptor of `dims` whose layout the primitive chooses (format_tag::any).
dnnl::memory::desc any_desc(const dnnl::memory::dims& dims,
                            dnnl::memory::data_type type = dnnl::memory::data_type::f32);
/// The descriptor's layout in words ("nchw", "nChw16c", ...) for messages and benchmarks.
std::string layout_name(const dnnl::memory::desc& md);
/// Serialized descriptor, for primitive-cache keys.
std::string desc_key(const dnnl::memory::desc& md);

class Tensor {
public:
    Tensor() = default;
    /// Owning, plain NCHW, zero-filled.
    explicit Tensor(const Dims& dims);
    /// Owning, laid out as `md` (4D), zero-filled.
    explicit Tensor(const dnnl::memory::desc& md);
    /// Non-owning plain NCHW view of `data`; the caller keeps `data` alive.
    static Tensor view(float* data, const Dims& dims);
    /// Non-owning view of `data` laid out as `md`.
    static Tensor view(float* data, const dnnl::memory::desc& md);

    const Dims& dims() const { return dims_; }
    const dnnl::memory::desc& desc() const { return md_; }
    bool empty() const { return dims_.count() == 0; }
    bool is_plain() const;
    /// Storage size in floats (blocked layouts may pad channels; a bf16 tensor's storage is
    /// counted in floats too, rounded up).
    std::size_t storage_size() const { return floats_for(md_); }
    /// The storage; holds float values only when type() is f32.
    float* data() { return data_.get(); }
    const float* data() const { return data_.get(); }
    dnnl::memory::data_type type() const { return md_.data_type(); }

    /// Re-lays this tensor out as `md`, keeping the storage when it is large enough; values
    /// are unspecified afterwards. Views cannot grow.
    void reshape(const dnnl::memory::desc& md);
    /// reshape(plain_desc(dims)).
    void reshape(const Dims& dims) { reshape(plain_desc(dims)); }

    /// oneDNN memory object over this tensor's storage (created once, reused).
    const dnnl::memory& memory() const;

    /// Plain-layout element access; only for tensors with is_plain().
    float& at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
        return data_.get()[((n * dims_.c + c) * dims_.h + h) * dims_.w + w];
    }
    float at(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
        return data_.get()[((n * dims_.c + c) * dims_.h + h) * dims_.w + w];
    }

    /// Sets every stored value (padding included) to zero.
    void zero();

private:
    static std::size_t floats_for(const dnnl::memory::desc& md) {
        return (md.get_size() + sizeof(float) - 1) / sizeof(float);
    }

    Dims dims_;
    dnnl::memory::desc md_;
    std::shared_ptr<float> data_;
    std::size_t capacity_ = 0;  // floats; 0 for views
    bool owning_ = false;
    mutable dnnl::memory memory_;
};

/// How many tensor buffers this process has allocated: lets tests check that steady-state
/// inference allocates nothing.
std::uint64_t tensor_allocation_count();

/// Dims of a 4D oneDNN descriptor.
Dims dims_of(const dnnl::memory::desc& md);

}  // namespace tomodenoise
