#include "infer/stack_pipeline.hpp"

#include <tbb/parallel_for.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "core/reflect_padding.hpp"
#include "core/thread_count_scope.hpp"
#include "infer/volume_statistics.hpp"
#include "tomodenoise/error.hpp"
#include "train/noise2self.hpp"

namespace tomodenoise {

namespace {

struct Batch {
    std::int64_t first = 0, count = 0;
    std::vector<float> input;   // count x channels x padded h x padded w
    std::vector<float> middle;  // J-invariant: count x h x w, the middle channels unhidden
    std::vector<float> output;  // count x h x w
};

// The slices a batch's inputs read: i - half .. i + half for each of its slices, reflected.
std::set<std::int64_t> slices_needed(std::int64_t first, std::int64_t count, std::int64_t half,
                                     std::int64_t n) {
    std::set<std::int64_t> needed;
    for (std::int64_t i = first - half; i < first + count + half; ++i)
        if (first < n) needed.insert(reflect_index(i, n));
    return needed;
}

// Normalized slices kept between batches for the depth halo.
class SliceCache {
public:
    SliceCache(SliceSource& source, const StackPipeline& p) : source_(source), p_(p) {}

    const float* get(std::int64_t slice) {
        auto& kept = slices_[slice];
        if (kept.empty()) {
            const StackShape shape = source_.shape();
            kept.resize(std::size_t(shape.h * shape.w));
            source_.read(slice, 1, kept.data());
            clean_slice(kept.data(), shape, slice, p_.cleaning, source_.name());
            p_.map.apply(kept.data(), kept.size());
        }
        return kept.data();
    }
    void keep_only(const std::set<std::int64_t>& needed) {
        for (auto it = slices_.begin(); it != slices_.end();)
            it = needed.count(it->first) ? std::next(it) : slices_.erase(it);
    }

private:
    SliceSource& source_;
    const StackPipeline& p_;
    std::map<std::int64_t, std::vector<float>> slices_;
};

// Network copies handed to the windows that run at the same time.
class NetworkPool {
public:
    explicit NetworkPool(std::size_t copies) {
        for (std::size_t i = copies; i-- > 0;) free_.push_back(i);
    }
    std::size_t take() {
        const std::lock_guard<std::mutex> lock(mutex_);
        // The arena runs at most as many windows at once as there are copies.
        if (free_.empty()) throw BackendError("stack pipeline: more windows than network copies");
        const std::size_t i = free_.back();
        free_.pop_back();
        return i;
    }
    void give_back(std::size_t i) {
        const std::lock_guard<std::mutex> lock(mutex_);
        free_.push_back(i);
    }

private:
    std::mutex mutex_;
    std::vector<std::size_t> free_;
};

}  // namespace

void run_stack_pipeline(SliceSource& source, SliceSink& sink, const StackPipeline& p) {
    const StackShape shape = source.shape();
    const TilePlan& plan = p.plan;
    const std::int64_t half = p.channels / 2, plane = shape.h * shape.w;
    const std::int64_t padded_plane = plan.padded_height * plan.padded_width;
    const std::int64_t window_area = plan.window_height * plan.window_width;
    const std::size_t copies = p.networks.size();
    const std::int64_t windows_per_batch = p.batch * std::int64_t(plan.tiles.size());

    SliceCache cache(source, p);
    NetworkPool pool(copies);
    std::vector<std::vector<float>> windows(copies), window_outputs(copies);
    for (std::size_t i = 0; i < copies; ++i) {
        windows[i].resize(std::size_t(p.channels * window_area));
        window_outputs[i].resize(std::size_t(window_area));
    }
    const Dims window_dims{1, p.channels, plan.window_height, plan.window_width};
    // J-invariant: of the window's output, only the pixels of phase (row, col) (global
    // coordinates) inside the tile's centre.
    const auto stitch_phase = [&](const TilePlan::Tile& tile, const float* window_output,
                                  int phase_row, int phase_col, float* image) {
        const int width = p.mask_width;
        for (std::int64_t y = tile.top; y < tile.bottom; ++y) {
            if (y % width != phase_row) continue;
            std::int64_t x = tile.left + ((phase_col - tile.left % width) + width) % width;
            for (; x < tile.right; x += width)
                image[y * plan.width + x] =
                    window_output[(y - tile.y) * plan.window_width + (x - tile.x)];
        }
    };
    const auto run_window = [&](Batch& b, std::int64_t k, int phase_row, int phase_col) {
        const std::int64_t slice = k / std::int64_t(plan.tiles.size());
        const TilePlan::Tile& tile = plan.tiles[std::size_t(k) % plan.tiles.size()];
        const std::size_t net = pool.take();
        try {
            const ThreadCountScope threads(p.threads_per_network);
            extract_window(plan, tile, b.input.data() + slice * p.channels * padded_plane,
                           p.channels, windows[net].data());
            p.networks[net](windows[net].data(), window_dims, window_outputs[net].data());
            if (p.mask_width == 0)
                stitch_window(plan, tile, window_outputs[net].data(), 1,
                              b.output.data() + slice * plane);
            else
                stitch_phase(tile, window_outputs[net].data(), phase_row, phase_col,
                             b.output.data() + slice * plane);
        } catch (...) {
            pool.give_back(net);
            throw;
        }
        pool.give_back(net);
    };

    // Enough batches in flight that every copy has windows to run, one being read and one
    // being written; no more, so that memory stays bounded.
    const std::int64_t batches_for_copies =
        (std::int64_t(copies) + windows_per_batch - 1) / windows_per_batch;
    const std::size_t live = std::size_t(batches_for_copies + 2);
    const std::int64_t end = p.end < 0 ? shape.n : p.end;
    if (p.begin < 0 || p.begin > end || end > shape.n)
        throw InvalidArgument("stack pipeline: slices [" + std::to_string(p.begin) + ", " +
                              std::to_string(end) + ") are not within the " +
                              std::to_string(shape.n) + " of '" + source.name() + "'");
    const auto skipped = [&](std::int64_t slice) { return p.skip && p.skip(slice); };
    std::int64_t next = p.begin, done = 0;
    for (std::int64_t slice = p.begin; slice < end; ++slice) done += skipped(slice);

    tbb::task_arena arena(int(std::max<std::size_t>(copies, 2)));
    arena.execute([&] {
        tbb::parallel_pipeline(
            live,
            tbb::make_filter<void, std::shared_ptr<Batch>>(
                tbb::filter_mode::serial_in_order,
                [&](tbb::flow_control& fc) -> std::shared_ptr<Batch> {
                    while (next < end && skipped(next)) ++next;
                    if (next >= end) {
                        fc.stop();
                        return nullptr;
                    }
                    auto b = std::make_shared<Batch>();
                    b->first = next;
                    while (next < end && next - b->first < p.batch && !skipped(next)) ++next;
                    b->count = next - b->first;
                    b->input.resize(std::size_t(b->count * p.channels * padded_plane));
                    b->output.resize(std::size_t(b->count * plane));
                    for (std::int64_t s = 0; s < b->count; ++s)
                        for (std::int64_t c = 0; c < p.channels; ++c)
                            pad_image(plan,
                                      cache.get(reflect_index(b->first + s - half + c, shape.n)), 1,
                                      b->input.data() + (s * p.channels + c) * padded_plane);
                    if (p.mask_width > 0) {
                        b->middle.resize(std::size_t(b->count * plane));
                        for (std::int64_t s = 0; s < b->count; ++s)
                            std::copy_n(cache.get(b->first + s), plane,
                                        b->middle.data() + s * plane);
                    }
                    cache.keep_only(slices_needed(next, p.batch, half, shape.n));
                    return b;
                }) &
                tbb::make_filter<std::shared_ptr<Batch>, std::shared_ptr<Batch>>(
                    copies > 1 ? tbb::filter_mode::parallel : tbb::filter_mode::serial_in_order,
                    [&](std::shared_ptr<Batch> b) {
                        const std::int64_t count = b->count * std::int64_t(plan.tiles.size());
                        const auto run_windows = [&](int phase_row, int phase_col) {
                            const auto one = [&](std::int64_t k) {
                                run_window(*b, k, phase_row, phase_col);
                            };
                            if (copies > 1)
                                tbb::parallel_for(std::int64_t(0), count, one);
                            else
                                for (std::int64_t k = 0; k < count; ++k) one(k);
                        };
                        if (p.mask_width == 0) run_windows(0, 0);
                        std::vector<float> hidden(p.mask_width > 0 ? std::size_t(plane) : 0);
                        for (int row = 0; row < p.mask_width; ++row)
                            for (int col = 0; col < p.mask_width; ++col) {
                                for (std::int64_t s = 0; s < b->count; ++s) {
                                    hide_grid(b->middle.data() + s * plane, shape.h, shape.w, 0, 0,
                                              row, col, p.mask_width, p.mask_mode, hidden.data(),
                                              nullptr);
                                    pad_image(
                                        plan, hidden.data(), 1,
                                        b->input.data() + (s * p.channels + half) * padded_plane);
                                }
                                run_windows(row, col);
                            }
                        b->input = {};
                        b->middle = {};
                        return b;
                    }) &
                tbb::make_filter<std::shared_ptr<Batch>, void>(
                    tbb::filter_mode::serial_in_order, [&](std::shared_ptr<Batch> b) {
                        if (p.finish) p.finish(b->output.data(), b->first, b->count);
                        sink.write(b->first, b->count, b->output.data());
                        done += b->count;
                        if (p.on_progress) p.on_progress(done, end - p.begin);
                    }));
    });
}

}  // namespace tomodenoise
