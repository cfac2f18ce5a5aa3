package integration

import (
	"sync"
	"sync/atomic"
	"testing"
)

// inferLoop is closed loops of dummy requests (dummyInfer) to one model of
// a server, on goroutines of their own, until stop: the traffic that tests
// of reloads and loads run beside.
type inferLoop struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value // string: the first failure's error
	done       chan struct{}
	wg         sync.WaitGroup
	once       sync.Once
}

// startInferLoop starts clients closed loops of requests to model; they
// end at stop, or when the test ends (a test that fails before stop).
func startInferLoop(t *testing.T, s *server, model string, clients int) *inferLoop {
	l := &inferLoop{done: make(chan struct{})}
	t.Cleanup(l.stop)
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.done:
					return
				default:
				}
				if err := dummyInfer(t, s, model, ""); err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
				} else {
					l.ok.Add(1)
				}
			}
		}()
	}
	return l
}

// stop ends the loops and waits for their requests in flight; later calls
// do nothing.
func (l *inferLoop) stop() {
	l.once.Do(func() {
		close(l.done)
		l.wg.Wait()
	})
}
