#pragma once
// What every forward and backward call runs in: the oneDNN stream, the primitive cache, the
// thread count, and library-wide options.

#include <oneapi/dnnl/dnnl.hpp>

#include <memory>
#include <string>

#include "core/primitive_cache.hpp"
#include "core/tensor.hpp"
#include "tomodenoise/precision.hpp"

namespace tomodenoise {

/// How 3x3 stride-1 convolutions are computed.
enum class ConvolutionAlgorithm {
    /// Winograd for layers wide enough to gain: the library's own AVX-512 kernel where it fits
    /// (every pass, training included), otherwise oneDNN's where it implements one; direct
    /// elsewhere
    automatic,
    direct,  ///< always direct convolution
};

/// The fewest input and output channels a convolution computes bf16 with (Context::compute_type).
constexpr std::int64_t bf16_min_channels = 16;

class Context {
public:
    /// Work run with this context uses `threads` OpenMP threads (0: the calling thread's
    /// count, by default all cores). Constructing a context changes nothing outside it: the
    /// code that runs the work sets the count for its duration (ThreadCountScope).
    explicit Context(int threads = 0);

    dnnl::stream& stream() { return stream_; }
    PrimitiveCache& cache() { return *cache_; }
    int threads() const { return threads_; }

    ConvolutionAlgorithm convolution_algorithm() const { return algorithm_; }
    void set_convolution_algorithm(ConvolutionAlgorithm a) { algorithm_ = a; }

    /// What the layers compute in (default f32). Precision::bf16 on a CPU without AVX-512
    /// (Bf16Support::none), where oneDNN 2.x has no bf16 kernels, leaves it f32.
    Precision precision() const { return precision_; }
    void set_precision(Precision precision);
    /// The type a convolution of `in_channels` -> `out_channels` takes its source and weights
    /// in and writes its output in: bf16 in Precision::bf16 when both counts are at least
    /// bf16_min_channels, f32 otherwise. bf16 kernels work on 16-channel blocks (AVX-512's
    /// nChw16c, AMX tiles): narrower layers gain nothing from them and would only lose
    /// precision, and they are a network's input and output layers, which so keep the input's
    /// and output's full precision (a denoiser's output is its input plus a correction that
    /// bf16 would round; the published models' largest error fell from 1.5% to within 1% of
    /// the output range).
    dnnl::memory::data_type compute_type(std::int64_t in_channels, std::int64_t out_channels) const;

    /// Copies `src` into `dst` laid out as `dst`'s descriptor (cached reorder).
    void reorder(const Tensor& src, Tensor& dst);
    /// The same for raw memory objects (weights); `what` names them in errors.
    void reorder(const dnnl::memory& src, const dnnl::memory& dst, const std::string& what);
    /// `src` itself when it is laid out as `md`, otherwise `scratch` reshaped to `md` and
    /// filled from `src`.
    const Tensor& as_layout(const Tensor& src, const dnnl::memory::desc& md, Tensor& scratch);
    /// A plain NCHW copy of `src` into `dst`.
    void to_plain(const Tensor& src, Tensor& dst);

private:
    dnnl::stream stream_;
    std::shared_ptr<PrimitiveCache> cache_;
    int threads_ = 0;
    ConvolutionAlgorithm algorithm_ = ConvolutionAlgorithm::automatic;
    Precision precision_ = Precision::f32;
};

}  // namespace tomodenoise
