#pragma once
// OpenMP's thread count is a setting of the calling thread that outlives the call that sets it:
// work that runs with a chosen count sets it for its own duration and puts the previous one
// back, so that nothing else in the process sees it.

namespace tomodenoise {

/// Sets the calling thread's OpenMP thread count (what oneDNN's primitives and the library's
/// parallel loops use) to `threads` for the lifetime of the scope and restores the previous
/// count when the scope ends, by return or by exception. `threads` 0 leaves the count as it is;
/// a negative count is InvalidArgument.
class ThreadCountScope {
public:
    explicit ThreadCountScope(int threads);
    ~ThreadCountScope();
    ThreadCountScope(const ThreadCountScope&) = delete;
    ThreadCountScope& operator=(const ThreadCountScope&) = delete;

private:
    int previous_ = 0;  // 0: the count was left as it was, nothing to restore
};

}  // namespace tomodenoise
