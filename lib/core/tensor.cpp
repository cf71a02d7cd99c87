#include "core/tensor.hpp"

#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

#include "core/engine.hpp"
#include "tomodenoise/error.hpp"

namespace tomodenoise {

namespace {

constexpr std::size_t tensor_alignment = 64;
std::atomic<std::uint64_t> allocations{0};

// Buffers this large come straight from the system, zero-filled, in huge pages where it has
// them: an activation of a whole large slice is hundreds of MiB, and filling it 4 KiB page by
// page (a fault each, then a second zeroing by memset) took most of a cold TomoGAN run over a
// 1024x1024 slice on a virtual machine (perf: 83% of 7.9 s).
constexpr std::size_t huge_page_bytes = std::size_t(2) << 20;

std::shared_ptr<float> allocate_mapped(std::size_t bytes) {
    // Over-allocated by a huge page, then trimmed, so that the buffer starts on one.
    const std::size_t mapped = bytes + huge_page_bytes;
    void* region =
        mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) throw std::bad_alloc();
    const auto start = reinterpret_cast<std::uintptr_t>(region);
    const std::uintptr_t aligned = (start + huge_page_bytes - 1) & ~(huge_page_bytes - 1);
    const std::size_t head = aligned - start, tail = mapped - head - bytes;
    if (head) munmap(region, head);
    if (tail) munmap(reinterpret_cast<void*>(aligned + bytes), tail);
    void* p = reinterpret_cast<void*>(aligned);
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE);  // a hint: where huge pages are off, nothing changes
#endif
    return std::shared_ptr<float>(static_cast<float*>(p),
                                  [bytes](float* q) { munmap(static_cast<void*>(q), bytes); });
}

std::shared_ptr<float> allocate_floats(std::size_t count) {
    const std::size_t bytes =
        ((count * sizeof(float) + tensor_alignment - 1) / tensor_alignment) * tensor_alignment;
    ++allocations;
    if (bytes >= huge_page_bytes) return allocate_mapped(bytes);
    void* p = std::aligned_alloc(tensor_alignment, bytes == 0 ? tensor_alignment : bytes);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return std::shared_ptr<float>(static_cast<float*>(p), [](float* q) { std::free(q); });
}

}  // namespace

std::uint64_t tensor_allocation_count() {
    return allocations;
}

std::string Dims::to_string() const {
    std::ostringstream s;
    s << "[" << n << ", " << c << ", " << h << ", " << w << "]";
    return s.str();
}

dnnl::memory::desc plain_desc(const Dims& dims) {
    return dnnl::memory::desc(dims.to_dnnl(), dnnl::memory::data_type::f32,
                              dnnl::memory::format_tag::nchw);
}

dnnl::memory::desc blocked_desc(const Dims& dims, dnnl::memory::data_type type) {
    return dnnl::memory::desc(dims.to_dnnl(), type, dnnl::memory::format_tag::nChw16c);
}

dnnl::memory::desc any_desc(const dnnl::memory::dims& dims, dnnl::memory::data_type type) {
    return dnnl::memory::desc(dims, type, dnnl::memory::format_tag::any);
}

Dims dims_of(const dnnl::memory::desc& md) {
    const auto d = md.dims();
    if (d.size() != 4)
        throw ShapeError("expected a 4D tensor, got rank " + std::to_string(d.size()));
    return Dims{d[0], d[1], d[2], d[3]};
}

std::string layout_name(const dnnl::memory::desc& md) {
    const auto& blk = md.data.format_desc.blocking;
    if (md.data.format_kind != dnnl_blocked) return "any";
    // Order the dims by decreasing stride, as oneDNN's format tags read.
    const int ndims = md.data.ndims;
    std::string outer;
    std::vector<int> order(ndims);
    for (int i = 0; i < ndims; ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](int a, int b) { return blk.strides[a] > blk.strides[b]; });
    static const char letters[] = "nchw";
    for (int i : order) {
        bool blocked = false;
        for (int b = 0; b < blk.inner_nblks; ++b) blocked |= blk.inner_idxs[b] == i;
        const char l = i < 4 ? letters[i] : '?';
        outer += blocked ? static_cast<char>(l - 'a' + 'A') : l;
    }
    for (int b = 0; b < blk.inner_nblks; ++b)
        outer += std::to_string(blk.inner_blks[b]) + letters[blk.inner_idxs[b]];
    return outer;
}

std::string desc_key(const dnnl::memory::desc& md) {
    return std::string(reinterpret_cast<const char*>(&md.data), sizeof(md.data));
}

Tensor::Tensor(const Dims& dims) : Tensor(plain_desc(dims)) {}

Tensor::Tensor(const dnnl::memory::desc& md) : dims_(dims_of(md)), md_(md), owning_(true) {
    capacity_ = storage_size();
    data_ = allocate_floats(capacity_);
}

Tensor Tensor::view(float* data, const Dims& dims) {
    return view(data, plain_desc(dims));
}

Tensor Tensor::view(float* data, const dnnl::memory::desc& md) {
    Tensor t;
    t.dims_ = dims_of(md);
    t.md_ = md;
    t.data_ = std::shared_ptr<float>(data, [](float*) {});
    return t;
}

bool Tensor::is_plain() const {
    return md_ == plain_desc(dims_);
}

void Tensor::reshape(const dnnl::memory::desc& md) {
    if (md == md_ && data_) return;
    const std::size_t need = floats_for(md);
    if (!owning_ && data_) {
        if (need > storage_size())
            throw ShapeError("cannot grow a tensor view from " + dims_.to_string() + " to " +
                             dims_of(md).to_string());
    } else if (need > capacity_ || !data_) {
        data_ = allocate_floats(need);
        capacity_ = need;
        owning_ = true;
    }
    dims_ = dims_of(md);
    md_ = md;
    memory_ = dnnl::memory();
}

const dnnl::memory& Tensor::memory() const {
    if (!memory_ || memory_.get_data_handle() != data_.get())
        memory_ = dnnl::memory(md_, cpu_engine(), data_.get());
    return memory_;
}

void Tensor::zero() {
    if (data_) std::memset(data_.get(), 0, md_.get_size());
}

}  // namespace tomodenoise
