// Built against the installed package only: exercises the public API end to end.
#include <tomodenoise/tomodenoise.hpp>

#include <iostream>

int main() {
    const std::string v = tomodenoise::version();
    if (v.empty()) {
        std::cerr << "consumer: empty version string\n";
        return 1;
    }
    try {
        throw tomodenoise::ShapeError("consumer: shape check");
    } catch (const tomodenoise::Error& e) {
        std::cout << "tomodenoise " << v << " (oneDNN " << tomodenoise::backend_version()
                  << "): " << e.what() << "\n";
    }
    return 0;
}
