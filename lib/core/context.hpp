#pragma once
// What every forward and backward call runs in: the oneDNN stream, the primitive cache, the
// thread count, and library-wide options.

#include <oneapi/dnnl/dnnl.hpp>

#include <memory>
#include <string>

#include "core/primitive_cache.hpp"
#include "core/tensor.hpp"

namespace tomodenoise {

/// How 3x3 stride-1 convolutions are computed.
enum class ConvolutionAlgorithm {
    /// Winograd for layers wide enough to gain: the library's own AVX-512 kernel where it fits
    /// (every pass, training included), otherwise oneDNN's where it implements one; direct
    /// elsewhere
    automatic,
    direct,  ///< always direct convolution
};

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
};

}  // namespace tomodenoise
