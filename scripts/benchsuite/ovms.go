package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// exitUsage is the exit code of ovms (as OVMS) for a rejected command line.
const exitUsage = 64

// readyTimeout bounds a model load (resnet50 takes a few seconds).
const readyTimeout = 90 * time.Second

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Len is how many bytes were written so far, without copying them.
func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// From returns what was written after the first n bytes.
func (l *lockedBuffer) From(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b.Bytes()[min(n, l.b.Len()):])
}

// ovmsProc is one running bin/ovms serving one model on loopback.
type ovmsProc struct {
	cmd      *exec.Cmd
	out      *lockedBuffer
	done     chan struct{}
	grpcAddr string
	restURL  string
	// startup is the time from starting the process to the first 200 of
	// /v2/health/ready.
	startup time.Duration
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	ps, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// freePorts asks for n distinct free loopback ports, holding the listeners
// together so that the kernel cannot hand out one port twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// startOVMS starts bin/ovms serving model from the repository with extra
// flags and waits until it is ready. A command line ovms rejects gives an
// error saying so, with ovms's message.
func startOVMS(binDir, modelsDir, model string, extra ...string) (*ovmsProc, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	gp, rp := ports[0], ports[1]
	args := []string{"--model_name", model, "--model_path", filepath.Join(modelsDir, model)}
	return launchOVMS(binDir, model, gp, rp, args, extra)
}

// startOVMSConfig starts bin/ovms serving the models of the config file
// cfg (with extra flags) on free loopback ports and waits until it is
// ready.
func startOVMSConfig(binDir, cfg string, extra ...string) (*ovmsProc, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	return launchOVMS(binDir, cfg, ports[0], ports[1], []string{"--config_path", cfg}, extra)
}

// serveConfig stops the suite's ovms and starts one serving the config.json
// that write puts into a fresh temporary folder, with extra flags; stop
// ends that ovms and removes the folder.
func (s *suite) serveConfig(prefix string, write func(dir string) (string, error), extra ...string) (srv *ovmsProc, stop func(), err error) {
	s.servers.close()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := write(dir)
	if err == nil {
		srv, err = startOVMSConfig(s.opt.binDir, cfg, extra...)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return srv, func() { _ = srv.stop(); os.RemoveAll(dir) }, nil
}

// writeConfig writes a config.json serving models (each a model's
// "config" object) into dir and returns its path.
func writeConfig(dir string, models ...map[string]any) (string, error) {
	list := make([]any, len(models))
	for i, m := range models {
		list[i] = map[string]any{"config": m}
	}
	b, err := json.Marshal(map[string]any{"model_config_list": list})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "config.json")
	return path, os.WriteFile(path, b, 0o644)
}

// launchOVMS starts bin/ovms with what (the served models' flags) and
// extra flags on the gRPC port gp and REST port rp and waits until it is
// ready; model names what it serves in messages.
func launchOVMS(binDir, model string, gp, rp int, what, extra []string) (*ovmsProc, error) {
	p, start, err := spawnOVMS(binDir, gp, rp, "ERROR", append(what, extra...))
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: time.Second}
	deadline := start.Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			msg := strings.TrimSpace(p.out.String())
			if p.cmd.ProcessState.ExitCode() == exitUsage && len(extra) > 0 {
				return nil, fmt.Errorf("ovms rejected %s: not supported yet? (exit %d: %s)", strings.Join(extra, " "), exitUsage, msg)
			}
			return nil, fmt.Errorf("ovms exited during startup (%v): %s", p.cmd.ProcessState, msg)
		default:
		}
		resp, err := client.Get(p.restURL + "/v2/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.startup = time.Since(start)
				return p, nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	_ = p.stop()
	return nil, fmt.Errorf("ovms serving %s not ready after %v: %s", model, readyTimeout, p.out.String())
}

// spawnOVMS starts bin/ovms with args plus the gRPC port gp, the REST port
// rp on loopback and the log level, without waiting for it; start is when
// the process started.
func spawnOVMS(binDir string, gp, rp int, logLevel string, args []string) (p *ovmsProc, start time.Time, err error) {
	args = append(slices.Clone(args), "--port", strconv.Itoa(gp), "--rest_port", strconv.Itoa(rp),
		"--grpc_bind_address", "127.0.0.1", "--rest_bind_address", "127.0.0.1", "--log_level", logLevel)
	p = &ovmsProc{out: &lockedBuffer{}, done: make(chan struct{}),
		grpcAddr: fmt.Sprintf("127.0.0.1:%d", gp), restURL: fmt.Sprintf("http://127.0.0.1:%d", rp)}
	p.cmd = exec.Command(filepath.Join(binDir, "ovms"), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, start, fmt.Errorf("start ovms: %w", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, start, nil
}

// stop ends ovms with SIGTERM (SIGKILL after 20 s) and waits for it.
func (p *ovmsProc) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("ovms did not stop within 20s of SIGTERM")
	}
}

// servers keeps at most one ovms running: asking for another model or
// flag set stops the current one. Start failures are remembered, so a
// rejected flag is tried once.
type servers struct {
	binDir, modelsDir string
	key               string
	cur               *ovmsProc
	failed            map[string]error
}

// get returns a running ovms for model with extra flags.
func (s *servers) get(model string, extra ...string) (*ovmsProc, error) {
	key := model + " " + strings.Join(extra, " ")
	if s.cur != nil && s.key == key {
		return s.cur, nil
	}
	if err, ok := s.failed[key]; ok {
		return nil, err
	}
	s.close()
	p, err := startOVMS(s.binDir, s.modelsDir, model, extra...)
	if err != nil {
		if s.failed == nil {
			s.failed = map[string]error{}
		}
		s.failed[key] = err
		return nil, err
	}
	s.cur, s.key = p, key
	return p, nil
}

// close stops the running ovms, if any.
func (s *servers) close() {
	if s.cur != nil {
		_ = s.cur.stop()
		s.cur, s.key = nil, ""
	}
}
