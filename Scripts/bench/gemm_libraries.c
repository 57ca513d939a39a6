// GEMM libraries side by side on Lantern's shapes: OpenBLAS (whatever kernel OPENBLAS_CORETYPE or
// its own detection gives), BLIS, oneDNN's dnnl_sgemm, and oneDNN bf16 matmul (fp32 accumulation).
// Every shape is nn.Linear's: out[m,n] = inp[m,k] · W[n,k]ᵀ, row-major. Prints one JSON line per
// (library, shape) with the best-of-N GFLOP/s. OpenBLAS and BLIS are dlopen'ed RTLD_LOCAL, since both
// export cblas_sgemm. Built and run by Scripts/bench/run-all (gcc -O2 ... -ldnnl -ldl; needs libblis-dev,
// libdnnl-dev); the first argument is the thread count (set OMP_NUM_THREADS/BLIS_NUM_THREADS to match).
#include <dlfcn.h>
#include <dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                               int, float, float *, int);
enum { RowMajor = 101, NoTrans = 111, Trans = 112 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *filled(size_t n, unsigned seed) {
  float *p = aligned_alloc(64, ((n * 4 + 63) / 64) * 64);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    p[i] = ((seed >> 9) * (1.0f / 8388608.0f)) - 0.5f;
  }
  return p;
}

typedef struct { int m, n, k; const char *name; } Shape;

static int repeats_for(const Shape *s) {
  double flops = 2.0 * s->m * s->n * s->k;
  int r = (int)(4e10 / flops);
  return r < 3 ? 3 : (r > 200 ? 200 : r);
}

static void report(const char *lib, const Shape *s, double best, int threads, const char *extra) {
  printf("{\"library\": \"%s\", \"shape\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"threads\": %d, "
         "\"gflops\": %.1f%s}\n",
         lib, s->name, s->m, s->n, s->k, threads, 2.0 * s->m * s->n * s->k / best / 1e9, extra);
  fflush(stdout);
}

static void bench_cblas(const char *lib, cblas_sgemm_fn f, const Shape *s, int threads) {
  float *a = filled((size_t)s->m * s->k, 1), *b = filled((size_t)s->n * s->k, 2);
  float *c = filled((size_t)s->m * s->n, 3);
  f(RowMajor, NoTrans, Trans, s->m, s->n, s->k, 1, a, s->k, b, s->k, 0, c, s->n);
  double best = 1e30;
  for (int r = 0, n = repeats_for(s); r < n; r++) {
    double t = now();
    f(RowMajor, NoTrans, Trans, s->m, s->n, s->k, 1, a, s->k, b, s->k, 0, c, s->n);
    t = now() - t;
    if (t < best) best = t;
  }
  report(lib, s, best, threads, "");
  free(a); free(b); free(c);
}

static void bench_dnnl_sgemm(const Shape *s, int threads) {
  float *a = filled((size_t)s->m * s->k, 1), *b = filled((size_t)s->n * s->k, 2);
  float *c = filled((size_t)s->m * s->n, 3);
  dnnl_sgemm('N', 'T', s->m, s->n, s->k, 1, a, s->k, b, s->k, 0, c, s->n);
  double best = 1e30;
  for (int r = 0, n = repeats_for(s); r < n; r++) {
    double t = now();
    dnnl_sgemm('N', 'T', s->m, s->n, s->k, 1, a, s->k, b, s->k, 0, c, s->n);
    t = now() - t;
    if (t < best) best = t;
  }
  report("onednn-sgemm", s, best, threads, "");
  free(a); free(b); free(c);
}

#define CHECK(x) do { dnnl_status_t st_ = (x); if (st_ != dnnl_success) { \
  fprintf(stderr, "%s failed: %d\n", #x, (int)st_); return; } } while (0)

// bf16 matmul: src [m,k] bf16 (converted from fp32 inside the timed region, as a forward pass
// would have to), weights [k,n] bf16 stored as W[n,k] (strides), dst fp32.
static void bench_dnnl_bf16(const Shape *s, int threads, dnnl_engine_t eng, dnnl_stream_t strm) {
  dnnl_memory_desc_t src32_md, src_md, wei_md, dst_md;
  dnnl_dims_t sd = {s->m, s->k}, wd = {s->k, s->n}, dd = {s->m, s->n};
  dnnl_dims_t wstr = {1, s->k};
  CHECK(dnnl_memory_desc_init_by_tag(&src32_md, 2, sd, dnnl_f32, dnnl_ab));
  CHECK(dnnl_memory_desc_init_by_tag(&src_md, 2, sd, dnnl_bf16, dnnl_ab));
  CHECK(dnnl_memory_desc_init_by_strides(&wei_md, 2, wd, dnnl_bf16, wstr));
  CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dnnl_f32, dnnl_ab));
  dnnl_matmul_desc_t md;
  CHECK(dnnl_matmul_desc_init(&md, &src_md, &wei_md, NULL, &dst_md));
  dnnl_primitive_desc_t pd;
  CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL));
  const char *impl = NULL;
  dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  dnnl_primitive_t mm;
  CHECK(dnnl_primitive_create(&mm, pd));
  // fp32 → bf16 reorder of the activations (timed), weights converted once (untimed).
  dnnl_primitive_desc_t rpd;
  CHECK(dnnl_reorder_primitive_desc_create(&rpd, &src32_md, eng, &src_md, eng, NULL));
  dnnl_primitive_t reorder;
  CHECK(dnnl_primitive_create(&reorder, rpd));
  float *a32 = filled((size_t)s->m * s->k, 1), *w32 = filled((size_t)s->n * s->k, 2);
  float *c = filled((size_t)s->m * s->n, 3);
  uint16_t *a16 = aligned_alloc(64, ((size_t)s->m * s->k * 2 + 63) / 64 * 64);
  uint16_t *w16 = aligned_alloc(64, ((size_t)s->n * s->k * 2 + 63) / 64 * 64);
  for (size_t i = 0; i < (size_t)s->n * s->k; i++) {
    uint32_t u; memcpy(&u, &w32[i], 4); u += 0x7FFF + ((u >> 16) & 1); w16[i] = (uint16_t)(u >> 16);
  }
  dnnl_memory_t msrc32, msrc, mwei, mdst;
  CHECK(dnnl_memory_create(&msrc32, &src32_md, eng, a32));
  CHECK(dnnl_memory_create(&msrc, &src_md, eng, a16));
  CHECK(dnnl_memory_create(&mwei, &wei_md, eng, w16));
  CHECK(dnnl_memory_create(&mdst, &dst_md, eng, c));
  dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, msrc32}, {DNNL_ARG_TO, msrc}};
  dnnl_exec_arg_t margs[3] = {{DNNL_ARG_SRC, msrc}, {DNNL_ARG_WEIGHTS, mwei}, {DNNL_ARG_DST, mdst}};
  double best = 1e30, best_mm = 1e30;
  for (int r = -1, n = repeats_for(s); r < n; r++) {
    double t0 = now();
    CHECK(dnnl_primitive_execute(reorder, strm, 2, rargs));
    CHECK(dnnl_stream_wait(strm));
    double t1 = now();
    CHECK(dnnl_primitive_execute(mm, strm, 3, margs));
    CHECK(dnnl_stream_wait(strm));
    double t2 = now();
    if (r >= 0 && t2 - t0 < best) best = t2 - t0;
    if (r >= 0 && t2 - t1 < best_mm) best_mm = t2 - t1;
  }
  char extra[256];
  snprintf(extra, sizeof extra, ", \"gflops_matmul_only\": %.1f, \"impl\": \"%s\"",
           2.0 * s->m * s->n * s->k / best_mm / 1e9, impl ? impl : "?");
  report("onednn-bf16", s, best, threads, extra);
  free(a32); free(w32); free(c); free(a16); free(w16);
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  Shape shapes[] = {
      {1024, 576, 576, "attn q/o 1024x576x576"},   {1024, 192, 576, "attn k/v 1024x192x576"},
      {1024, 1536, 576, "mlp gate/up 1024x1536x576"}, {1024, 576, 1536, "mlp down 1024x576x1536"},
      {4096, 9216, 576, "sae encoder 4096x9216x576"},
  };
  int nshapes = sizeof shapes / sizeof shapes[0];
  const char *libs[][2] = {{"openblas", "libopenblas.so.0"}, {"blis", "libblis.so.4"}};
  for (int l = 0; l < 2; l++) {
    void *h = dlopen(libs[l][1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "%s: %s\n", libs[l][1], dlerror()); continue; }
    cblas_sgemm_fn f = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
    if (l == 0) {
      void (*set)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
      char *(*core)(void) = (char *(*)(void))dlsym(h, "openblas_get_corename");
      if (set) set(threads);
      fprintf(stderr, "openblas core: %s\n", core ? core() : "?");
    } else {
      void (*set)(long) = (void (*)(long))dlsym(h, "bli_thread_set_num_threads");
      if (set) set(threads);
    }
    for (int i = 0; i < nshapes; i++) bench_cblas(libs[l][0], f, &shapes[i], threads);
  }
  for (int i = 0; i < nshapes; i++) bench_dnnl_sgemm(&shapes[i], threads);
  dnnl_engine_t eng; dnnl_stream_t strm;
  if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) return 1;
  if (dnnl_stream_create(&strm, eng, dnnl_stream_default_flags) != dnnl_success) return 1;
  for (int i = 0; i < nshapes; i++) bench_dnnl_bf16(&shapes[i], threads, eng, strm);
  return 0;
}
