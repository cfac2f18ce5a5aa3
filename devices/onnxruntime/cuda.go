package onnxruntime

/*
#include <stdlib.h>
#include "ortshim.h"
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"
)

// CUDAProviderLibrary is ONNX Runtime's CUDA provider, looked for in
// ProviderDir (scripts/fetch-cuda-provider.sh puts it there).
const CUDAProviderLibrary = "libonnxruntime_providers_cuda.so"

// cudaEPName is the name the CUDA provider gives its OrtEpDevices.
const cudaEPName = "CUDAExecutionProvider"

// cudaEP is the process-wide registration of the CUDA provider library as a
// plugin execution provider, done once.
var cudaEP struct {
	once sync.Once
	err  error // why registration failed; nil once registered
}

// appendCUDA appends ONNX Runtime's CUDA execution provider to o. Where the
// OrtApi has plugin execution providers and the provider library is in
// ProviderDir, the library is registered once (which works with any
// ORT build, CPU-only ones too) and the provider is appended for its first
// GPU. Otherwise, or where registration fails, the provider is appended the
// classic way (SessionOptionsAppendExecutionProvider_CUDA_V2, which needs an
// ORT built with the CUDA provider bridge, as onnxruntime-node's is).
func appendCUDA(o *C.OrtSessionOptions) error {
	lib := filepath.Join(ProviderDir(), CUDAProviderLibrary)
	if C.ortgo_has_ep_api() == 0 {
		return statusErr(C.ortgo_append_cuda(o))
	}
	if _, err := os.Stat(lib); err != nil {
		return statusErr(C.ortgo_append_cuda(o))
	}
	env, _, err := getEnv()
	if err != nil {
		return err
	}
	cudaEP.once.Do(func() {
		name, path := C.CString("CUDA"), C.CString(lib)
		defer C.free(unsafe.Pointer(name))
		defer C.free(unsafe.Pointer(path))
		cudaEP.err = statusErr(C.ortgo_register_ep_library(env, name, path))
	})
	if cudaEP.err != nil {
		classic := statusErr(C.ortgo_append_cuda(o))
		if classic == nil {
			return nil
		}
		return fmt.Errorf("registering %s as a plugin execution provider: %w (and SessionOptionsAppendExecutionProvider_CUDA_V2: %v)", lib, cudaEP.err, classic)
	}
	ep := C.CString(cudaEPName)
	defer C.free(unsafe.Pointer(ep))
	var ofEP C.size_t
	var appended C.int
	if err := statusErr(C.ortgo_append_ep(o, env, ep, C.OrtHardwareDeviceType_GPU, &ofEP, &appended)); err != nil {
		return err
	}
	if appended == 0 {
		return fmt.Errorf("%s (from %s) found no GPU (it offers %d devices): check the NVIDIA driver and that the CUDA libraries it links (cudart, cuBLAS, cuRAND, cuDNN) are on the library path",
			cudaEPName, lib, int(ofEP))
	}
	return nil
}
