// Element-wise kernels that fuse the HiFi-GAN generator's chains of MindSpore CPU ops into one pass each
// (MindSpore `ops.Custom`, func_type "aot": compiled by fused.py with g++ at first use). Each computes the
// same float32 operations in the same order as the ops it replaces, so results are bitwise equal:
//   LeakyRelu(x, slope)                 max(x, x * slope)             (ops.leaky_relu: Mul + Maximum)
//   BiasLeakyRelu(x, bias, slope)       leaky_relu(x + bias[c])       (BiasAdd, Mul, Maximum)
//   BiasResidual(x, d, bias)            x + (d + bias[c])             (BiasAdd, Add)
//   MeanLeakyRelu(slope, r0, r1, ...)   leaky_relu((r0 + r1 + ...) * (1 / n))   (Adds, Mul, Mul, Maximum)
// Tensors are contiguous float32 [B, C, T]; bias is [C]; slope is a one-element tensor. Rows (B x C) are
// split over a few threads: the kernels are memory-bound and a 10 s decode's tensors are ~20 MB.
// Each kernel's output shape and type are those of an input, given by C++ `<name>InferShape` and
// `<name>InferType` functions: ops.Custom's Python infer functions fail in a graph with a dynamic axis
// (MindSpore 2.10).
#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kMinParallel = 1 << 16;  // elements: below this a thread costs more than it saves
constexpr unsigned kMaxThreads = 4;

int64_t Numel(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

// f(first_row, end_row) over [0, rows), in up to kMaxThreads threads.
template <typename F>
void ParallelRows(int64_t rows, int64_t row_length, F f) {
  unsigned threads = std::min<unsigned>(kMaxThreads, std::max(1u, std::thread::hardware_concurrency()));
  if (rows * row_length < kMinParallel || rows < 2 || threads < 2) {
    f(0, rows);
    return;
  }
  threads = static_cast<unsigned>(std::min<int64_t>(threads, rows));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) {
    pool.emplace_back([&, i] { f(rows * i / threads, rows * (i + 1) / threads); });
  }
  f(0, rows / threads);
  for (auto &t : pool) t.join();
}

inline float Leaky(float v, float slope) { return std::max(v, v * slope); }

std::vector<int64_t> ShapeOf(int input, const int *ndims, int64_t **shapes) {
  return std::vector<int64_t>(shapes[input], shapes[input] + ndims[input]);
}

}  // namespace

class AotExtra;            // MindSpore's; only passed through
enum TypeId : int {};      // MindSpore's type ids; every output has its first input's (float32)

extern "C" TypeId LeakyReluInferType(std::vector<TypeId> types, AotExtra *) { return types[0]; }
extern "C" TypeId BiasLeakyReluInferType(std::vector<TypeId> types, AotExtra *) { return types[0]; }
extern "C" TypeId BiasResidualInferType(std::vector<TypeId> types, AotExtra *) { return types[0]; }
extern "C" TypeId MeanLeakyReluInferType(std::vector<TypeId> types, AotExtra *) { return types[0]; }

extern "C" std::vector<int64_t> LeakyReluInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return ShapeOf(0, ndims, shapes);
}
extern "C" std::vector<int64_t> BiasLeakyReluInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return ShapeOf(0, ndims, shapes);
}
extern "C" std::vector<int64_t> BiasResidualInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return ShapeOf(0, ndims, shapes);
}
extern "C" std::vector<int64_t> MeanLeakyReluInferShape(int *ndims, int64_t **shapes, AotExtra *) {
  return ShapeOf(1, ndims, shapes);  // input 0 is the slope
}

extern "C" int LeakyRelu(int nparam, void **params, int *ndims, int64_t **shapes, const char **, void *, void *) {
  if (nparam != 3) return 1;
  const float *x = static_cast<const float *>(params[0]);
  const float slope = *static_cast<const float *>(params[1]);
  float *y = static_cast<float *>(params[2]);
  const int64_t t = shapes[0][ndims[0] - 1], rows = Numel(ndims[0], shapes[0]) / std::max<int64_t>(t, 1);
  ParallelRows(rows, t, [&](int64_t a, int64_t b) {
    for (int64_t i = a * t; i < b * t; ++i) y[i] = Leaky(x[i], slope);
  });
  return 0;
}

extern "C" int BiasLeakyRelu(int nparam, void **params, int *ndims, int64_t **shapes, const char **, void *,
                             void *) {
  if (nparam != 4 || ndims[0] != 3) return 1;
  const float *x = static_cast<const float *>(params[0]);
  const float *bias = static_cast<const float *>(params[1]);
  const float slope = *static_cast<const float *>(params[2]);
  float *y = static_cast<float *>(params[3]);
  const int64_t c = shapes[0][1], t = shapes[0][2];
  ParallelRows(shapes[0][0] * c, t, [&](int64_t a, int64_t b) {
    for (int64_t r = a; r < b; ++r) {
      const float bv = bias[r % c];
      const float *xr = x + r * t;
      float *yr = y + r * t;
      for (int64_t i = 0; i < t; ++i) yr[i] = Leaky(xr[i] + bv, slope);
    }
  });
  return 0;
}

extern "C" int BiasResidual(int nparam, void **params, int *ndims, int64_t **shapes, const char **, void *,
                            void *) {
  if (nparam != 4 || ndims[0] != 3) return 1;
  const float *x = static_cast<const float *>(params[0]);
  const float *d = static_cast<const float *>(params[1]);
  const float *bias = static_cast<const float *>(params[2]);
  float *y = static_cast<float *>(params[3]);
  const int64_t c = shapes[0][1], t = shapes[0][2];
  ParallelRows(shapes[0][0] * c, t, [&](int64_t a, int64_t b) {
    for (int64_t r = a; r < b; ++r) {
      const float bv = bias[r % c];
      const float *xr = x + r * t, *dr = d + r * t;
      float *yr = y + r * t;
      for (int64_t i = 0; i < t; ++i) yr[i] = xr[i] + (dr[i] + bv);
    }
  });
  return 0;
}

extern "C" int MeanLeakyRelu(int nparam, void **params, int *ndims, int64_t **shapes, const char **, void *,
                             void *) {
  const int n = nparam - 2;  // slope, n addends, the output
  if (n < 1) return 1;
  const float slope = *static_cast<const float *>(params[0]);
  const float scale = static_cast<float>(1.0 / n);
  float *y = static_cast<float *>(params[nparam - 1]);
  const int64_t t = shapes[1][ndims[1] - 1], rows = Numel(ndims[1], shapes[1]) / std::max<int64_t>(t, 1);
  constexpr int64_t kBlock = 2048;  // the sum is built in y block by block, each pass a vector loop
  ParallelRows(rows, t, [&](int64_t a, int64_t b) {
    for (int64_t start = a * t; start < b * t; start += kBlock) {
      const int64_t end = std::min(start + kBlock, b * t);
      const float *r0 = static_cast<const float *>(params[1]);
      for (int64_t i = start; i < end; ++i) y[i] = r0[i];
      for (int k = 1; k < n; ++k) {
        const float *rk = static_cast<const float *>(params[1 + k]);
        for (int64_t i = start; i < end; ++i) y[i] += rk[i];
      }
      for (int64_t i = start; i < end; ++i) y[i] = Leaky(y[i] * scale, slope);
    }
  });
  return 0;
}
