package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// IsTerminal reports whether f is a character device (a terminal), where a
// redrawn progress line makes sense.
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress redraws one status line with a spinner on a terminal; with no
// writer every method is a no-op.
type progress struct {
	w      io.Writer
	mu     sync.Mutex
	status string
	done   chan struct{}
	wg     sync.WaitGroup
}

var spinner = []string{"|", "/", "-", "\\"}

// progressTick is how often the line is redrawn.
const progressTick = 150 * time.Millisecond

func startProgress(w io.Writer) *progress {
	p := &progress{w: w, done: make(chan struct{})}
	if w == nil {
		return p
	}
	p.wg.Go(func() {
		t := time.NewTicker(progressTick)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-p.done:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				p.mu.Lock()
				s := p.status
				p.mu.Unlock()
				if s != "" {
					fmt.Fprintf(p.w, "\r\033[K%s %s", spinner[i%len(spinner)], s)
				}
			}
		}
	})
	return p
}

// set replaces the status line.
func (p *progress) set(s string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	p.status = s
	p.mu.Unlock()
}

// stop clears the line and ends the redrawing.
func (p *progress) stop() {
	if p.w == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
}
