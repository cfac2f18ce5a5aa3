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
}

// startInferLoop starts clients closed loops of requests to model.
func startInferLoop(t *testing.T, s *server, model string, clients int) *inferLoop {
	l := &inferLoop{done: make(chan struct{})}
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

// stop ends the loops and waits for their requests in flight.
func (l *inferLoop) stop() {
	close(l.done)
	l.wg.Wait()
}
