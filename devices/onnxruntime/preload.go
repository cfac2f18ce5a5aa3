package onnxruntime

// A device plugin process loads ONNX Runtime from the first moment: the C
// constructor in preload.c, which the dynamic loader runs before the Go
// runtime starts, sees the plugin handshake's cookie (OVMS_DEVICE_PLUGIN, set
// by the core for the plugins it starts), sets ORT_DISABLE_TELEMETRY the way
// Init does, and dlopens the library that FindLibrary would find first
// ($ORT_LIB, beside the executable, ../lib) on a thread of its own. The
// library's loading and relocation (10-20 ms) then overlaps the Go runtime's
// and the packages' initialization (about 20 ms in a plugin), and Init's
// dlopen of the same file finds it loaded. Any other process (ovms itself,
// tests, benchmarks) loads the library only when Init is called.

// EnvPreloadCookie is the variable whose presence makes the C constructor
// preload the library: the device plugin handshake's magic cookie key
// (plugins/host.Handshake).
const EnvPreloadCookie = "OVMS_DEVICE_PLUGIN"
