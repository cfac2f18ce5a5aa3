// ortshim.c: C side of the binding. See ortshim.h and ortabi.h.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ortshim.h"

const ortabi_voidfn* ortabi_api;           // set once by ortgo_load
static const OrtApiBase* g_base;           // set once by ortgo_load
static OrtMemoryInfo* g_cpu_mem;           // CPU memory info for caller-owned tensors
static OrtAllocator* g_alloc;              // ORT's default CPU allocator (not released)
static uint32_t g_version;                 // OrtApi version in use, set once by ortgo_load

int ortgo_load(const char* path, uint32_t want, uint32_t* got, const char** err) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    *err = dlerror();
    return 1;
  }
  ortabi_OrtGetApiBase_fn get_base = (ortabi_OrtGetApiBase_fn)dlsym(h, "OrtGetApiBase");
  if (!get_base) {
    *err = dlerror();
    dlclose(h);
    return 1;
  }
  const OrtApiBase* base = get_base();
  // The newest version offered, up to want: an older library still gets the
  // newer functions it has (see ORTABI_FN_SINCE). ONNX Runtime 1.N offers
  // OrtApi N, so start there (each refused GetApi logs an error), then step
  // down to the minimum.
  uint32_t v = want, major = 0, minor = 0;
  if (sscanf(base->GetVersionString(), "%u.%u", &major, &minor) == 2 && major == 1 && minor < want &&
      minor >= ORTABI_MIN_API_VERSION)
    v = minor;
  const OrtApi* api = base->GetApi(v);
  while (!api && v > ORTABI_MIN_API_VERSION) api = base->GetApi(--v);
  if (!api) {
    *err = "the library offers neither the requested OrtApi version nor the minimum this binding needs";
    dlclose(h);
    return 1;
  }
  g_base = base;
  g_version = v;
  ortabi_api = (const ortabi_voidfn*)api;
  *got = v;
  return 0;
}

const char* ortgo_version_string(void) { return g_base ? g_base->GetVersionString() : ""; }

OrtStatus* ortgo_init_globals(void) {
  OrtStatus* st = ORT_CALL(GetAllocatorWithDefaultOptions, &g_alloc);
  if (st) return st;
  return ORT_CALL(CreateCpuMemoryInfo, OrtArenaAllocator, OrtMemTypeDefault, &g_cpu_mem);
}

int ortgo_status_code(const OrtStatus* st) { return (int)ORT_CALL(GetErrorCode, st); }
const char* ortgo_status_message(const OrtStatus* st) { return ORT_CALL(GetErrorMessage, st); }
void ortgo_release_status(OrtStatus* st) { ORT_CALL(ReleaseStatus, st); }

static int g_log_fd = -1;  // write end of the log pipe; set before the env is created

void ortgo_set_log_fd(int fd) { g_log_fd = fd; }

// ortgo_logger never calls into Go (so that the hot-path C functions can be
// marked nocallback): it writes one record per message,
// "severity\x1fcategory\x1flocation\x1fmessage\x1e", to a non-blocking pipe
// that a goroutine drains. One write of at most PIPE_BUF bytes is atomic;
// when the pipe is full the message is dropped.
static void ortgo_logger(void* param, OrtLoggingLevel severity, const char* category, const char* logid,
                         const char* code_location, const char* message) {
  (void)param;
  (void)logid;
  if (g_log_fd < 0) return;
  char buf[4096];
  int n = snprintf(buf, sizeof buf - 1, "%d\x1f%s\x1f%s\x1f%s", (int)severity, category ? category : "",
                   code_location ? code_location : "", message ? message : "");
  if (n < 0) return;
  if ((size_t)n > sizeof buf - 2) n = (int)(sizeof buf - 2);
  buf[n++] = '\x1e';
  ssize_t w = write(g_log_fd, buf, (size_t)n);
  (void)w;
}

OrtStatus* ortgo_create_env(OrtLoggingLevel level, const char* logid, OrtEnv** out) {
  return ORT_CALL(CreateEnvWithCustomLogger, ortgo_logger, NULL, level, logid, out);
}

// ortgo_create_env_global_pools creates the environment with global intra-op
// and inter-op thread pools (sessions opt in with DisablePerSessionThreads).
// The threading options are copied by ONNX Runtime and released here.
OrtStatus* ortgo_create_env_global_pools(OrtLoggingLevel level, const char* logid, int intra, int inter, int spin,
                                         OrtEnv** out) {
  OrtThreadingOptions* tp = NULL;
  OrtStatus* st = ORT_CALL(CreateThreadingOptions, &tp);
  if (st) return st;
  if (!(st = ORT_CALL(SetGlobalIntraOpNumThreads, tp, intra)) && !(st = ORT_CALL(SetGlobalInterOpNumThreads, tp, inter)) &&
      !(st = ORT_CALL(SetGlobalSpinControl, tp, spin)))
    st = ORT_CALL(CreateEnvWithCustomLoggerAndGlobalThreadPools, ortgo_logger, NULL, level, logid, tp, out);
  ORT_CALL(ReleaseThreadingOptions, tp);
  return st;
}

OrtStatus* ortgo_disable_per_session_threads(OrtSessionOptions* o) { return ORT_CALL(DisablePerSessionThreads, o); }

// ortgo_register_cpu_arena registers one CPU arena allocator (ONNX Runtime's
// default arena settings) with the environment, for the sessions with
// session.use_env_allocators=1.
OrtStatus* ortgo_register_cpu_arena(OrtEnv* env) {
  OrtMemoryInfo* mi = NULL;
  OrtStatus* st = ORT_CALL(CreateCpuMemoryInfo, OrtArenaAllocator, OrtMemTypeDefault, &mi);
  if (st) return st;
  st = ORT_CALL(CreateAndRegisterAllocator, env, mi, NULL);
  ORT_CALL(ReleaseMemoryInfo, mi);
  return st;
}

OrtStatus* ortgo_create_prepacked(OrtPrepackedWeightsContainer** out) {
  return ORT_CALL(CreatePrepackedWeightsContainer, out);
}
void ortgo_release_prepacked(OrtPrepackedWeightsContainer* c) { ORT_CALL(ReleasePrepackedWeightsContainer, c); }

OrtStatus* ortgo_create_session_options(OrtSessionOptions** out) { return ORT_CALL(CreateSessionOptions, out); }
void ortgo_release_session_options(OrtSessionOptions* o) { ORT_CALL(ReleaseSessionOptions, o); }
OrtStatus* ortgo_set_intra_op_threads(OrtSessionOptions* o, int n) { return ORT_CALL(SetIntraOpNumThreads, o, n); }
OrtStatus* ortgo_set_inter_op_threads(OrtSessionOptions* o, int n) { return ORT_CALL(SetInterOpNumThreads, o, n); }
OrtStatus* ortgo_set_execution_mode(OrtSessionOptions* o, int mode) {
  return ORT_CALL(SetSessionExecutionMode, o, (ExecutionMode)mode);
}
OrtStatus* ortgo_set_graph_optimization(OrtSessionOptions* o, int level) {
  return ORT_CALL(SetSessionGraphOptimizationLevel, o, (GraphOptimizationLevel)level);
}
OrtStatus* ortgo_add_config_entry(OrtSessionOptions* o, const char* key, const char* value) {
  return ORT_CALL(AddSessionConfigEntry, o, key, value);
}
OrtStatus* ortgo_register_custom_ops(OrtSessionOptions* o, const char* path) {
  return ORT_CALL(RegisterCustomOpsLibrary_V2, o, path);
}
// ortgo_add_external_files hands ONNX Runtime files held in memory that
// initializers with external data name as their location; it copies the
// data while the session is created.
OrtStatus* ortgo_add_external_files(OrtSessionOptions* o, const char* const* names, char* const* data,
                                    const size_t* lens, size_t n) {
  if (g_version < ORTABI_SINCE_AddExternalInitializersFromFilesInMemory)
    return ORT_CALL(CreateStatus, ORT_NOT_IMPLEMENTED,
                    "this ONNX Runtime cannot take external initializer files from memory (OrtApi 18, ONNX Runtime 1.18, or later)");
  return ORT_CALL(AddExternalInitializersFromFilesInMemory, o, names, data, lens, n);
}
// ortgo_add_initializer makes the session use v, which the caller keeps
// alive longer than the session, for the model's initializer name.
OrtStatus* ortgo_add_initializer(OrtSessionOptions* o, const char* name, const OrtValue* v) {
  return ORT_CALL(AddInitializer, o, name, v);
}
OrtStatus* ortgo_append_cuda(OrtSessionOptions* o) {
  OrtCUDAProviderOptionsV2* cuda = NULL;
  OrtStatus* st = ORT_CALL(CreateCUDAProviderOptions, &cuda);
  if (st != NULL) return st;
  st = ORT_CALL(SessionOptionsAppendExecutionProvider_CUDA_V2, o, cuda);
  ORT_CALL(ReleaseCUDAProviderOptions, cuda);
  return st;
}

int ortgo_has_ep_api(void) {
  return g_version >= ORTABI_SINCE_RegisterExecutionProviderLibrary && g_version >= ORTABI_SINCE_GetEpDevices &&
         g_version >= ORTABI_SINCE_SessionOptionsAppendExecutionProvider_V2 &&
         g_version >= ORTABI_SINCE_HardwareDevice_Type && g_version >= ORTABI_SINCE_EpDevice_EpName &&
         g_version >= ORTABI_SINCE_EpDevice_Device;
}

static OrtStatus* no_ep_api(void) {
  return ORT_CALL(CreateStatus, ORT_NOT_IMPLEMENTED,
                  "this ONNX Runtime has no plugin execution providers (OrtApi 22, ONNX Runtime 1.22, or later)");
}

OrtStatus* ortgo_register_ep_library(OrtEnv* env, const char* name, const char* path) {
  if (!ortgo_has_ep_api()) return no_ep_api();
  return ORT_CALL(RegisterExecutionProviderLibrary, env, name, path);
}

OrtStatus* ortgo_append_ep(OrtSessionOptions* o, OrtEnv* env, const char* ep_name, int hw_type, size_t* of_ep,
                           int* appended) {
  const OrtEpDevice* const* devs = NULL;
  size_t n = 0;
  *of_ep = 0;
  *appended = 0;
  if (!ortgo_has_ep_api()) return no_ep_api();
  OrtStatus* st = ORT_CALL(GetEpDevices, env, &devs, &n);
  if (st) return st;
  for (size_t i = 0; i < n; i++) {
    const char* name = ORT_CALL(EpDevice_EpName, devs[i]);
    if (!name || strcmp(name, ep_name) != 0) continue;
    (*of_ep)++;
    if ((int)ORT_CALL(HardwareDevice_Type, ORT_CALL(EpDevice_Device, devs[i])) != hw_type || *appended) continue;
    st = ORT_CALL(SessionOptionsAppendExecutionProvider_V2, o, env, &devs[i], 1, NULL, NULL, 0);
    if (st) return st;
    *appended = 1;
  }
  return NULL;
}

OrtStatus* ortgo_create_session(const OrtEnv* env, const void* model, size_t len, const OrtSessionOptions* o,
                                OrtSession** out) {
  return ORT_CALL(CreateSessionFromArray, env, model, len, o, out);
}
OrtStatus* ortgo_create_session_prepacked(const OrtEnv* env, const void* model, size_t len, const OrtSessionOptions* o,
                                         OrtPrepackedWeightsContainer* c, OrtSession** out) {
  return ORT_CALL(CreateSessionFromArrayWithPrepackedWeightsContainer, env, model, len, o, c, out);
}
void ortgo_release_session(OrtSession* s) { ORT_CALL(ReleaseSession, s); }

OrtStatus* ortgo_io_count(const OrtSession* s, int output, size_t* out) {
  return output ? ORT_CALL(SessionGetOutputCount, s, out) : ORT_CALL(SessionGetInputCount, s, out);
}

static OrtStatus* tensor_shape(const OrtTensorTypeAndShapeInfo* ti, int* elem, int64_t* dims, size_t cap,
                               size_t* ndims) {
  ONNXTensorElementDataType t;
  OrtStatus* st = ORT_CALL(GetTensorElementType, ti, &t);
  if (st) return st;
  *elem = (int)t;
  if ((st = ORT_CALL(GetDimensionsCount, ti, ndims))) return st;
  if (*ndims > cap) return NULL;  // the caller retries with room for *ndims
  return ORT_CALL(GetDimensions, ti, dims, *ndims);
}

// tensor_symbols copies the ndims symbolic dimension names (strdup'ed; NULL
// where a dimension has none) into syms.
static OrtStatus* tensor_symbols(const OrtTensorTypeAndShapeInfo* ti, char** syms, size_t ndims) {
  if (ndims == 0) return NULL;
  const char** p = calloc(ndims, sizeof(char*));
  if (!p) return ORT_CALL(CreateStatus, ORT_FAIL, "out of memory");
  OrtStatus* st = ORT_CALL(GetSymbolicDimensions, ti, p, ndims);
  for (size_t i = 0; !st && i < ndims; i++) {
    if (p[i] && p[i][0] && !(syms[i] = strdup(p[i]))) st = ORT_CALL(CreateStatus, ORT_FAIL, "out of memory");
  }
  free(p);
  return st;
}

OrtStatus* ortgo_io_info(const OrtSession* s, int output, size_t index, char** name, int* onnx_type, int* elem,
                         int64_t* dims, char** syms, size_t cap, size_t* ndims) {
  char* n = NULL;
  OrtStatus* st = output ? ORT_CALL(SessionGetOutputName, s, index, g_alloc, &n)
                         : ORT_CALL(SessionGetInputName, s, index, g_alloc, &n);
  if (st) return st;
  *name = strdup(n);
  if ((st = ORT_CALL(AllocatorFree, g_alloc, n))) return st;
  if (!*name) return ORT_CALL(CreateStatus, ORT_FAIL, "out of memory");
  OrtTypeInfo* ti = NULL;
  const OrtTensorTypeAndShapeInfo* tsi = NULL;
  ONNXType ot;
  st = output ? ORT_CALL(SessionGetOutputTypeInfo, s, index, &ti) : ORT_CALL(SessionGetInputTypeInfo, s, index, &ti);
  if (st) return st;
  if ((st = ORT_CALL(GetOnnxTypeFromTypeInfo, ti, &ot))) goto out;
  *onnx_type = (int)ot;
  *ndims = 0;
  if (ot != ONNX_TYPE_TENSOR) goto out;
  if ((st = ORT_CALL(CastTypeInfoToTensorInfo, ti, &tsi))) goto out;
  if (tsi && !(st = tensor_shape(tsi, elem, dims, cap, ndims)) && *ndims <= cap) st = tensor_symbols(tsi, syms, *ndims);
out:
  ORT_CALL(ReleaseTypeInfo, ti);
  return st;
}

static char g_empty[8];  // backing for zero-byte tensors given no data pointer

OrtStatus* ortgo_create_tensor(void* data, size_t len, const int64_t* shape, size_t nd, int elem, OrtValue** out) {
  return ORT_CALL(CreateTensorWithDataAsOrtValue, g_cpu_mem, data ? data : g_empty, len, shape, nd,
                  (ONNXTensorElementDataType)elem, out);
}

OrtStatus* ortgo_create_string_tensor(const int64_t* shape, size_t nd, const char* const* s, size_t n,
                                      OrtValue** out) {
  OrtStatus* st = ORT_CALL(CreateTensorAsOrtValue, g_alloc, shape, nd, ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING, out);
  if (st || n == 0) return st;
  if ((st = ORT_CALL(FillStringTensor, *out, s, n))) {
    ORT_CALL(ReleaseValue, *out);
    *out = NULL;
  }
  return st;
}

OrtStatus* ortgo_tensor_info(OrtValue* v, int* elem, int64_t* dims, size_t cap, size_t* ndims, void** data) {
  OrtTensorTypeAndShapeInfo* ti = NULL;
  OrtStatus* st = ORT_CALL(GetTensorTypeAndShape, v, &ti);
  if (st) return st;
  st = tensor_shape(ti, elem, dims, cap, ndims);
  ORT_CALL(ReleaseTensorTypeAndShapeInfo, ti);
  *data = NULL;
  if (st || *elem == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) return st;
  return ORT_CALL(GetTensorMutableData, v, data);
}

OrtStatus* ortgo_string_length(const OrtValue* v, size_t* len) { return ORT_CALL(GetStringTensorDataLength, v, len); }
OrtStatus* ortgo_string_content(const OrtValue* v, void* buf, size_t len, size_t* offsets, size_t n) {
  return ORT_CALL(GetStringTensorContent, v, buf, len, offsets, n);
}
void ortgo_release_value(OrtValue* v) { ORT_CALL(ReleaseValue, v); }

#define ORTGO_STACK_NAMES 32

OrtStatus* ortgo_run(OrtSession* s, const OrtRunOptions* ro, char* const* in_names, const int32_t* in_idx,
                     OrtValue* const* in, size_t nin, char* const* out_names, const int32_t* out_idx,
                     OrtValue** out, size_t nout) {
  const char* in_buf[ORTGO_STACK_NAMES];
  const char* out_buf[ORTGO_STACK_NAMES];
  const char** inn = nin <= ORTGO_STACK_NAMES ? in_buf : malloc(nin * sizeof(char*));
  const char** outn = nout <= ORTGO_STACK_NAMES ? out_buf : malloc(nout * sizeof(char*));
  OrtStatus* st;
  if (!inn || !outn) {
    st = ORT_CALL(CreateStatus, ORT_FAIL, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < nin; i++) inn[i] = in_names[in_idx[i]];
  for (size_t i = 0; i < nout; i++) outn[i] = out_names[out_idx[i]];
  st = ORT_CALL(Run, s, ro, inn, (const OrtValue* const*)in, nin, outn, nout, out);
out:
  if (inn != in_buf) free((void*)inn);
  if (outn != out_buf) free((void*)outn);
  return st;
}

OrtStatus* ortgo_create_run_options(OrtRunOptions** out) { return ORT_CALL(CreateRunOptions, out); }
void ortgo_release_run_options(OrtRunOptions* ro) { ORT_CALL(ReleaseRunOptions, ro); }
OrtStatus* ortgo_run_options_terminate(OrtRunOptions* ro) { return ORT_CALL(RunOptionsSetTerminate, ro); }
