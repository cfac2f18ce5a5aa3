// ortshim.h: the C functions the Go code calls. Each one calls ONNX Runtime
// through ORT_CALL (ortabi.h); the few composite ones save cgo round trips on
// paths that run per request (tensor info, Run).
#ifndef ORTSHIM_H
#define ORTSHIM_H

#include "ortabi.h"

// Loading (once, serialized by the Go side).
int ortgo_load(const char* path, uint32_t want, uint32_t* got, const char** err);
const char* ortgo_version_string(void);
OrtStatus* ortgo_init_globals(void);

// Status.
int ortgo_status_code(const OrtStatus* st);
const char* ortgo_status_message(const OrtStatus* st);
void ortgo_release_status(OrtStatus* st);

// Environment and session options. ONNX Runtime's log messages go to fd.
void ortgo_set_log_fd(int fd);
OrtStatus* ortgo_create_env(OrtLoggingLevel level, const char* logid, OrtEnv** out);
OrtStatus* ortgo_create_env_global_pools(OrtLoggingLevel level, const char* logid, int intra, int inter, int spin,
                                         OrtEnv** out);
OrtStatus* ortgo_create_session_options(OrtSessionOptions** out);
void ortgo_release_session_options(OrtSessionOptions* o);
OrtStatus* ortgo_set_intra_op_threads(OrtSessionOptions* o, int n);
OrtStatus* ortgo_set_inter_op_threads(OrtSessionOptions* o, int n);
OrtStatus* ortgo_disable_per_session_threads(OrtSessionOptions* o);
OrtStatus* ortgo_register_cpu_arena(OrtEnv* env);
OrtStatus* ortgo_create_prepacked(OrtPrepackedWeightsContainer** out);
void ortgo_release_prepacked(OrtPrepackedWeightsContainer* c);
OrtStatus* ortgo_set_execution_mode(OrtSessionOptions* o, int mode);
OrtStatus* ortgo_set_graph_optimization(OrtSessionOptions* o, int level);
OrtStatus* ortgo_add_config_entry(OrtSessionOptions* o, const char* key, const char* value);
OrtStatus* ortgo_add_initializer(OrtSessionOptions* o, const char* name, const OrtValue* v);
OrtStatus* ortgo_register_custom_ops(OrtSessionOptions* o, const char* path);
OrtStatus* ortgo_add_external_files(OrtSessionOptions* o, const char* const* names, char* const* data,
                                    const size_t* lens, size_t n);
OrtStatus* ortgo_append_cuda(OrtSessionOptions* o);

// Plugin execution providers (OrtApi 22+). ortgo_has_ep_api says whether the
// OrtApi in use has every function they need (ORTABI_FN_SINCE); the other two
// fail with ORT_NOT_IMPLEMENTED where it does not. ortgo_append_ep appends ep_name
// for its first device of hardware type hw_type; *of_ep counts the EP's
// devices of any type and *appended says whether one was appended.
int ortgo_has_ep_api(void);
OrtStatus* ortgo_register_ep_library(OrtEnv* env, const char* name, const char* path);
OrtStatus* ortgo_append_ep(OrtSessionOptions* o, OrtEnv* env, const char* ep_name, int hw_type, size_t* of_ep,
                           int* appended);

// Sessions. output selects outputs (1) or inputs (0). *name is malloc'ed.
OrtStatus* ortgo_create_session(const OrtEnv* env, const void* model, size_t len,
                                const OrtSessionOptions* o, OrtSession** out);
OrtStatus* ortgo_create_session_prepacked(const OrtEnv* env, const void* model, size_t len,
                                         const OrtSessionOptions* o, OrtPrepackedWeightsContainer* c, OrtSession** out);
void ortgo_release_session(OrtSession* s);
OrtStatus* ortgo_io_count(const OrtSession* s, int output, size_t* out);
// syms (cap entries, NULL on entry) receives each dimension's symbolic name,
// strdup'ed, or stays NULL where a dimension has none.
OrtStatus* ortgo_io_info(const OrtSession* s, int output, size_t index, char** name, int* onnx_type,
                         int* elem, int64_t* dims, char** syms, size_t cap, size_t* ndims);

// Values. Dimensions beyond cap are not written; *ndims is the true rank.
OrtStatus* ortgo_create_tensor(void* data, size_t len, const int64_t* shape, size_t nd, int elem,
                               OrtValue** out);
OrtStatus* ortgo_create_string_tensor(const int64_t* shape, size_t nd, const char* const* s, size_t n,
                                      OrtValue** out);
OrtStatus* ortgo_tensor_info(OrtValue* v, int* elem, int64_t* dims, size_t cap, size_t* ndims,
                             void** data);
OrtStatus* ortgo_string_length(const OrtValue* v, size_t* len);
OrtStatus* ortgo_string_content(const OrtValue* v, void* buf, size_t len, size_t* offsets, size_t n);
void ortgo_release_value(OrtValue* v);

// Run. Names are picked from the session's name tables by index.
OrtStatus* ortgo_run(OrtSession* s, const OrtRunOptions* ro,
                     char* const* in_names, const int32_t* in_idx, OrtValue* const* in, size_t nin,
                     char* const* out_names, const int32_t* out_idx, OrtValue** out, size_t nout);
OrtStatus* ortgo_create_run_options(OrtRunOptions** out);
void ortgo_release_run_options(OrtRunOptions* ro);
OrtStatus* ortgo_run_options_terminate(OrtRunOptions* ro);

#endif  // ORTSHIM_H
