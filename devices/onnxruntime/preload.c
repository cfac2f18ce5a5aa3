// preload.c: a device plugin process starts loading ONNX Runtime before its
// Go runtime and packages are initialized. See preload.go.
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ortgo_preload_thread loads the library and keeps the handle: the binding's
// own dlopen of the same file (Init) then finds it loaded.
static void* ortgo_preload_thread(void* arg) {
  dlopen((const char*)arg, RTLD_NOW | RTLD_LOCAL);
  free(arg);
  return NULL;
}

// ortgo_preload_path writes the library the binding's FindLibrary would take
// first ($ORT_LIB, else beside the executable, else ../lib next to it) into
// out; 0 when none of them exists (the binding then searches further itself).
static int ortgo_preload_path(char* out, size_t n) {
  const char* lib = getenv("ORT_LIB");
  if (lib && *lib) {
    if (strlen(lib) >= n || access(lib, R_OK) != 0) return 0;
    strcpy(out, lib);
    return 1;
  }
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) return 0;
  exe[len] = 0;
  char* slash = strrchr(exe, '/');
  if (!slash) return 0;
  *slash = 0;
  static const char* const rel[] = {"/libonnxruntime.so.1", "/../lib/libonnxruntime.so.1"};
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    if (strlen(exe) + strlen(rel[i]) >= n) continue;
    strcpy(out, exe);
    strcat(out, rel[i]);
    if (access(out, R_OK) == 0) return 1;
  }
  return 0;
}

// ortgo_preload runs when the dynamic loader starts the process, before the
// Go runtime. Only in a process started as an ovms device plugin (the
// plugin handshake's cookie is set): there it sets ORT_DISABLE_TELEMETRY as
// Init would (see EnvDisableTelemetry) and loads the library on a thread of
// its own, with every signal blocked, overlapping the Go runtime's start.
__attribute__((constructor)) static void ortgo_preload(void) {
  if (!getenv("OVMS_DEVICE_PLUGIN")) return;
  const char* tel = getenv("ORT_DISABLE_TELEMETRY");
  if (!tel || !*tel) setenv("ORT_DISABLE_TELEMETRY", "1", 1);
  char path[PATH_MAX];
  if (!ortgo_preload_path(path, sizeof path)) return;
  char* arg = strdup(path);
  if (!arg) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  if (pthread_create(&t, &attr, ortgo_preload_thread, arg) != 0) free(arg);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}
