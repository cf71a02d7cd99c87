#include "sim/shapes.hpp"

#include <algorithm>
#include <cmath>

#include "sim/texture.hpp"

namespace tomodenoise::sim {
namespace {

constexpr double k_pi = 3.14159265358979323846;

double uniform(std::mt19937_64& rng, double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
}

/// value + gradient . (p - origin), with p and origin in pixels and the gradient per image width.
struct Fill {
    double value, gradient_x, gradient_y, origin_x, origin_y;
    double at(double x, double y, double size) const {
        return value + (gradient_x * (x - origin_x) + gradient_y * (y - origin_y)) / size;
    }
};

struct Shape {
    ShapeClass kind;
    std::uint8_t label;   // stored in the labels: the kind, or a material
    double cx, cy;        // centre (disk, rectangle) or first end point (line), pixels
    double a, b;          // radius; half sides; second end point
    double angle, width;  // rectangle rotation; line half-width
    Fill fill;
    std::vector<Wave> texture;

    double value_at(double x, double y, double size) const {
        return fill.at(x, y, size) + texture_at(texture, x - cx, y - cy);
    }

    bool contains(double x, double y) const {
        switch (kind) {
            case ShapeClass::disk:
                return (x - cx) * (x - cx) + (y - cy) * (y - cy) <= a * a;
            case ShapeClass::rectangle: {
                const double u = (x - cx) * std::cos(angle) + (y - cy) * std::sin(angle);
                const double v = -(x - cx) * std::sin(angle) + (y - cy) * std::cos(angle);
                return std::abs(u) <= a && std::abs(v) <= b;
            }
            case ShapeClass::line: {
                // Distance from (x, y) to the segment (cx, cy)-(a, b).
                const double dx = a - cx, dy = b - cy;
                const double t = std::clamp(
                    ((x - cx) * dx + (y - cy) * dy) / std::max(dx * dx + dy * dy, 1e-12), 0.0, 1.0);
                const double ex = x - (cx + t * dx), ey = y - (cy + t * dy);
                return ex * ex + ey * ey <= width * width;
            }
            case ShapeClass::background:
                break;
        }
        return false;
    }
};

// `last_kind`: line draws all three kinds, rectangle only disks and rectangles.
Shape random_shape(int size, ShapeClass last_kind, std::mt19937_64& rng) {
    const double s = size;
    Shape shape{};
    shape.kind = ShapeClass(std::uniform_int_distribution<int>(1, last_kind)(rng));
    shape.label = shape.kind;
    shape.cx = uniform(rng, 0, s);
    shape.cy = uniform(rng, 0, s);
    switch (shape.kind) {
        case ShapeClass::disk:
            shape.a = uniform(rng, s / 20, s / 6);
            break;
        case ShapeClass::rectangle:
            shape.a = uniform(rng, s / 20, s / 5);
            shape.b = uniform(rng, s / 20, s / 5);
            shape.angle = uniform(rng, 0, k_pi);
            break;
        default:
            shape.a = uniform(rng, 0, s);
            shape.b = uniform(rng, 0, s);
            shape.width = uniform(rng, 1.0, std::max(1.5, s / 64));
            break;
    }
    const bool graded = std::uniform_int_distribution<int>(0, 2)(rng) == 0;
    shape.fill = {uniform(rng, 0.2, 1.0), graded ? uniform(rng, -0.5, 0.5) : 0.0,
                  graded ? uniform(rng, -0.5, 0.5) : 0.0, shape.cx, shape.cy};
    return shape;
}

// Draws `shapes` (the last drawn on top) on `background`.
ShapesScene draw_scene(int size, const Fill& background, const std::vector<Shape>& shapes) {
    const double s = size;
    ShapesScene scene{std::vector<float>(std::size_t(size) * size),
                      std::vector<std::uint8_t>(std::size_t(size) * size, ShapeClass::background)};
    for (int row = 0; row < size; ++row)
        for (int col = 0; col < size; ++col) {
            const double x = col + 0.5, y = row + 0.5;
            double value = background.at(x, y, s);
            std::uint8_t label = ShapeClass::background;
            for (const Shape& shape : shapes)
                if (shape.contains(x, y)) {
                    value = shape.value_at(x, y, s);
                    label = shape.label;
                }
            scene.image[std::size_t(row) * size + col] = float(std::clamp(value, 0.0, 1.0));
            scene.labels[std::size_t(row) * size + col] = label;
        }
    return scene;
}

}  // namespace

ShapesScene draw_shapes(int size, double texture, std::mt19937_64& rng) {
    const double s = size;
    const Fill background{uniform(rng, 0.0, 0.3), uniform(rng, -0.2, 0.2), uniform(rng, -0.2, 0.2),
                          s / 2, s / 2};
    std::vector<Shape> shapes(std::uniform_int_distribution<int>(3, 8)(rng));
    for (Shape& shape : shapes) shape = random_shape(size, ShapeClass::line, rng);
    for (Shape& shape : shapes)
        shape.texture = random_texture(texture * shape.fill.value, 1.0, rng);
    return draw_scene(size, background, shapes);
}

MaterialsScene draw_materials(int size, double texture, std::mt19937_64& rng) {
    const double s = size;
    const Fill background{uniform(rng, 0.0, 0.1), uniform(rng, -0.1, 0.1), uniform(rng, -0.1, 0.1),
                          s / 2, s / 2};
    std::vector<Shape> shapes(std::uniform_int_distribution<int>(3, 8)(rng));
    for (Shape& shape : shapes) {
        shape = random_shape(size, ShapeClass::rectangle, rng);
        shape.label = std::uint8_t(std::uniform_int_distribution<int>(1, material_count)(rng));
        // A material's value, varied a little from shape to shape, and uniform inside it.
        const double value = material_value(shape.label) + uniform(rng, -0.04, 0.04);
        shape.fill = {value, 0.0, 0.0, shape.cx, shape.cy};
    }
    for (Shape& shape : shapes)
        shape.texture = random_texture(texture * shape.fill.value, 1.0, rng);
    return draw_scene(size, background, shapes);
}

}  // namespace tomodenoise::sim
