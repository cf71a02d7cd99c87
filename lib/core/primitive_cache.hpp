#pragma once
// The one place where oneDNN primitive descriptors and primitives are created. Entries are
// keyed by operation, shapes, layouts and attributes; running a built network again on the
// same shapes finds every primitive here and creates none.

#include <oneapi/dnnl/dnnl.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>

#include "core/engine.hpp"
#include "core/tensor.hpp"

namespace tomodenoise {

/// A primitive descriptor with the primitive made from it.
template <typename Primitive>
struct CachedPrimitive {
    typename Primitive::primitive_desc pd;
    Primitive primitive;
};

/// Builds a cache key from the parts that determine a primitive.
class CacheKey {
public:
    explicit CacheKey(const char* op) { key_ << op; }
    CacheKey& operator<<(const dnnl::memory::desc& md) {
        key_ << '|' << desc_key(md);
        return *this;
    }
    CacheKey& operator<<(const dnnl::memory::dims& dims) {
        key_ << '|';
        for (auto d : dims) key_ << d << ',';
        return *this;
    }
    template <typename T>
    CacheKey& operator<<(const T& value) {
        key_ << '|' << value;
        return *this;
    }
    std::string str() const { return key_.str(); }

private:
    std::ostringstream key_;
};

class PrimitiveCache {
public:
    /// The cached primitive for `key`, made with `make_pd` (which returns a
    /// Primitive::primitive_desc) on the first request. Thread-safe. A dnnl::error from
    /// `make_pd` becomes a BackendError naming `what` (the layer and its dims).
    template <typename Primitive, typename MakePd>
    const CachedPrimitive<Primitive>& get(const CacheKey& key, const std::string& what,
                                          MakePd&& make_pd) {
        std::string k = key.str();
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = entries_.find(k);
        if (it != entries_.end()) {
            ++hits_;
            return *static_cast<const CachedPrimitive<Primitive>*>(it->second.get());
        }
        ++misses_;
        std::shared_ptr<CachedPrimitive<Primitive>> entry;
        try {
            auto pd = make_pd();
            entry = std::make_shared<CachedPrimitive<Primitive>>(
                CachedPrimitive<Primitive>{pd, Primitive(pd)});
        } catch (const dnnl::error&) {
            rethrow_backend_error(what);
        }
        auto& stored = entries_[std::move(k)];
        stored = entry;
        return *entry;
    }

    std::uint64_t hits() const { return hits_; }
    std::uint64_t misses() const { return misses_; }
    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return entries_.size();
    }

private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<const void>> entries_;
    std::atomic<std::uint64_t> hits_{0}, misses_{0};
};

}  // namespace tomodenoise
