// oneDNN bf16 matmul through dlopen (see include/COneDNN.h). Built against oneDNN 2.x's C API when its
// header is present (Debian libdnnl-dev); without the header every entry point reports "unavailable".
#include "COneDNN.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<oneapi/dnnl/dnnl.h>)
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>

#define FN(name) static __typeof__(name) *p_##name
FN(dnnl_engine_create);
FN(dnnl_stream_create);
FN(dnnl_stream_wait);
FN(dnnl_memory_desc_init_by_tag);
FN(dnnl_memory_desc_init_by_strides);
FN(dnnl_matmul_desc_init);
FN(dnnl_primitive_desc_create);
FN(dnnl_primitive_desc_query);
FN(dnnl_primitive_create);
FN(dnnl_primitive_execute);
FN(dnnl_memory_create);
FN(dnnl_memory_set_data_handle);

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int opened;
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
  dnnl_primitive_t primitive;
  dnnl_memory_t src, wei, dst;
  const char *impl;
} Matmul;

static void say(char *error, size_t n, const char *what, int status) {
  if (error && n) snprintf(error, n, "%s (oneDNN status %d)", what, status);
}

int lantern_onednn_open(int threads, char *error, size_t error_length) {
  pthread_mutex_lock(&open_lock);
  if (opened) { pthread_mutex_unlock(&open_lock); return 0; }
  // libgomp reads these when it loads, which dlopen of libdnnl triggers: passive waiting keeps
  // OpenMP's threads from spinning against Lantern's own pool between GEMMs.
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  char count[16];
  snprintf(count, sizeof count, "%d", threads);
  setenv("OMP_NUM_THREADS", count, 0);
  void *h = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    if (error && error_length) snprintf(error, error_length, "cannot load libdnnl.so.2: %s", dlerror());
    pthread_mutex_unlock(&open_lock);
    return -1;
  }
#define LOAD(name)                                                                          \
  if (!(p_##name = (__typeof__(name) *)dlsym(h, #name))) {                                  \
    if (error && error_length) snprintf(error, error_length, "libdnnl.so.2 lacks %s", #name); \
    pthread_mutex_unlock(&open_lock);                                                       \
    return -1;                                                                              \
  }
  LOAD(dnnl_engine_create) LOAD(dnnl_stream_create) LOAD(dnnl_stream_wait)
  LOAD(dnnl_memory_desc_init_by_tag) LOAD(dnnl_memory_desc_init_by_strides) LOAD(dnnl_matmul_desc_init)
  LOAD(dnnl_primitive_desc_create) LOAD(dnnl_primitive_desc_query) LOAD(dnnl_primitive_create)
  LOAD(dnnl_primitive_execute) LOAD(dnnl_memory_create) LOAD(dnnl_memory_set_data_handle)
  int st = p_dnnl_engine_create(&engine, dnnl_cpu, 0);
  if (st != dnnl_success) { say(error, error_length, "dnnl_engine_create failed", st); pthread_mutex_unlock(&open_lock); return -1; }
  st = p_dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
  if (st != dnnl_success) { say(error, error_length, "dnnl_stream_create failed", st); pthread_mutex_unlock(&open_lock); return -1; }
  opened = 1;
  pthread_mutex_unlock(&open_lock);
  return 0;
}

void *lantern_onednn_matmul_create(int64_t m, int64_t n, int64_t k, char *error, size_t error_length) {
  if (!opened) { say(error, error_length, "oneDNN is not open", 0); return NULL; }
  dnnl_memory_desc_t src_md, wei_md, dst_md;
  dnnl_dims_t sd = {m, k}, wd = {k, n}, dd = {m, n}, ws = {1, k};
  int st;
  if ((st = p_dnnl_memory_desc_init_by_tag(&src_md, 2, sd, dnnl_bf16, dnnl_ab)) != dnnl_success ||
      (st = p_dnnl_memory_desc_init_by_strides(&wei_md, 2, wd, dnnl_bf16, ws)) != dnnl_success ||
      (st = p_dnnl_memory_desc_init_by_tag(&dst_md, 2, dd, dnnl_f32, dnnl_ab)) != dnnl_success) {
    say(error, error_length, "memory descriptor", st);
    return NULL;
  }
  dnnl_matmul_desc_t desc;
  if ((st = p_dnnl_matmul_desc_init(&desc, &src_md, &wei_md, NULL, &dst_md)) != dnnl_success) {
    say(error, error_length, "dnnl_matmul_desc_init failed", st);
    return NULL;
  }
  dnnl_primitive_desc_t pd;
  if ((st = p_dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL)) != dnnl_success) {
    say(error, error_length, "no bf16 matmul implementation for this CPU", st);
    return NULL;
  }
  Matmul *mm = calloc(1, sizeof *mm);
  const char *impl = NULL;
  p_dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
  mm->impl = impl ? strdup(impl) : "unknown";
  if ((st = p_dnnl_primitive_create(&mm->primitive, pd)) != dnnl_success ||
      (st = p_dnnl_memory_create(&mm->src, &src_md, engine, DNNL_MEMORY_NONE)) != dnnl_success ||
      (st = p_dnnl_memory_create(&mm->wei, &wei_md, engine, DNNL_MEMORY_NONE)) != dnnl_success ||
      (st = p_dnnl_memory_create(&mm->dst, &dst_md, engine, DNNL_MEMORY_NONE)) != dnnl_success) {
    say(error, error_length, "primitive or memory creation failed", st);
    free(mm);
    return NULL;
  }
  return mm;
}

const char *lantern_onednn_matmul_implementation(void *matmul) { return ((Matmul *)matmul)->impl; }

int lantern_onednn_matmul_run(void *matmul, const uint16_t *inp, const uint16_t *weight, float *out) {
  Matmul *mm = matmul;
  if (p_dnnl_memory_set_data_handle(mm->src, (void *)inp) != dnnl_success ||
      p_dnnl_memory_set_data_handle(mm->wei, (void *)weight) != dnnl_success ||
      p_dnnl_memory_set_data_handle(mm->dst, out) != dnnl_success)
    return -1;
  dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, mm->src}, {DNNL_ARG_WEIGHTS, mm->wei}, {DNNL_ARG_DST, mm->dst}};
  if (p_dnnl_primitive_execute(mm->primitive, stream, 3, args) != dnnl_success) return -1;
  return p_dnnl_stream_wait(stream) == dnnl_success ? 0 : -1;
}

#else

int lantern_onednn_open(int threads, char *error, size_t error_length) {
  (void)threads;
  if (error && error_length)
    snprintf(error, error_length, "built without oneDNN's header (install libdnnl-dev and rebuild)");
  return -1;
}
void *lantern_onednn_matmul_create(int64_t m, int64_t n, int64_t k, char *error, size_t error_length) {
  (void)m; (void)n; (void)k;
  lantern_onednn_open(0, error, error_length);
  return NULL;
}
const char *lantern_onednn_matmul_implementation(void *matmul) { (void)matmul; return "unavailable"; }
int lantern_onednn_matmul_run(void *matmul, const uint16_t *inp, const uint16_t *weight, float *out) {
  (void)matmul; (void)inp; (void)weight; (void)out;
  return -1;
}
#endif
