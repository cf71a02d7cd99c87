#pragma once
/// @file
/// The exceptions libtomodenoise throws. Every error derives from tomodenoise::Error, and its
/// message names what is at fault (file, dataset, layer, option, dims) so a user can act on it.

#include <stdexcept>
#include <string>

namespace tomodenoise {

/// Base of every exception the library throws.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// Shapes that do not fit: a layer's inputs, a tensor's dims, an image against a model.
class ShapeError : public Error {
public:
    explicit ShapeError(const std::string& what) : Error(what) {}
};

/// A file or dataset that cannot be opened, read or written.
class IoError : public Error {
public:
    explicit IoError(const std::string& what) : Error(what) {}
};

/// Contents that are not what they must be: a corrupt model, an unsupported layer or pixel type.
class FormatError : public Error {
public:
    explicit FormatError(const std::string& what) : Error(what) {}
};

/// An invalid argument or option value.
class InvalidArgument : public Error {
public:
    explicit InvalidArgument(const std::string& what) : Error(what) {}
};

/// A computation produced NaN or infinite values: a training run whose loss or weights
/// diverged. The message names the epoch, step, and loss or layer and weight.
class NumericalError : public Error {
public:
    explicit NumericalError(const std::string& what) : Error(what) {}
};

/// oneDNN refused or failed an operation; the message names the layer and its dims.
class BackendError : public Error {
public:
    explicit BackendError(const std::string& what) : Error(what) {}
};

}  // namespace tomodenoise
