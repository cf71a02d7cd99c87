#include <utility>
#include <vector>

#include "io/hdf5.hpp"
#include "io/temporary_file.hpp"
#include "tomodenoise/io.hpp"
#include "tomodenoise/simulate.hpp"

namespace tomodenoise {

void write_simulated_dataset(const std::string& file, const SimulatedDataset& data) {
    const SimulatedSplit& train = data.train;
    const SimulatedSplit& test = data.test;
    if (data.kind == SimulationKind::shapes || data.kind == SimulationKind::ct) {
        write_tomogan_dataset(file, {train.noisy, train.clean, test.noisy, test.clean});
        return;
    }
    std::vector<std::pair<const char*, const Stack*>> datasets;
    if (data.kind == SimulationKind::projections)
        datasets = {{"exchange/data", &train.projections},
                    {"exchange/data_white", &train.white},
                    {"exchange/data_dark", &train.dark},
                    {"simulation/clean", &train.clean}};
    else if (data.kind == SimulationKind::n2n)
        datasets = {{"train_a", &train.noisy},     {"train_b", &train.noisy_b},
                    {"train_clean", &train.clean}, {"test_a", &test.noisy},
                    {"test_b", &test.noisy_b},     {"test_clean", &test.clean}};
    else if (data.kind == SimulationKind::n2s)
        datasets = {{"train_ns", &train.noisy}, {"test_ns", &test.noisy}, {"test_gt", &test.clean}};
    else
        datasets = {{"train_ns", &train.noisy},
                    {"train_labels", &train.labels},
                    {"test_ns", &test.noisy},
                    {"test_labels", &test.labels}};
    // All datasets go into a temporary file that becomes `file` only once complete.
    TemporaryFile temporary(file);
    for (const auto& [name, stack] : datasets)
        write_hdf5_stack({temporary.path(), std::string("/") + name}, *stack);
    if (data.kind == SimulationKind::projections) {
        const std::vector<float> theta(train.angles_degrees.begin(), train.angles_degrees.end());
        hdf5::write_float_dataset(hdf5::File::open_read_write(temporary.path()), "/exchange/theta",
                                  {std::int64_t(theta.size())}, theta.data());
    }
    temporary.commit();
}

}  // namespace tomodenoise
