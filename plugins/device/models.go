package device

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Models keeps what a device holds for each loaded model version (its
// compiled form, its metadata...). It is safe for concurrent use; the zero
// value is empty. Its Unload method is Device.Unload, so a device that
// embeds a Models needs no Unload of its own.
type Models[M any] struct {
	m sync.Map // ModelKey -> M
}

// Store keeps m for key, replacing what was kept (a Load of a loaded key
// replaces it).
func (ms *Models[M]) Store(key ModelKey, m M) { ms.m.Store(key, m) }

// Get returns what is kept for key, or a NOT_FOUND error naming the model
// version when it is not loaded.
func (ms *Models[M]) Get(key ModelKey) (M, error) {
	if v, ok := ms.m.Load(key); ok {
		return v.(M), nil
	}
	var zero M
	return zero, status.Errorf(codes.NotFound, "model %s version %d is not loaded", key.Name, key.Version)
}

// Unload forgets key (Device.Unload: an unknown key is not an error).
func (ms *Models[M]) Unload(_ context.Context, key ModelKey) error {
	ms.m.Delete(key)
	return nil
}
