package onnxruntime

/*
#include "ortshim.h"
*/
import "C"

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// LogLevel is the severity of an ONNX Runtime log message.
type LogLevel int

// ONNX Runtime's log severities. The environment is created at Warning, so
// handlers see Warning, Error and Fatal messages.
const (
	LogVerbose LogLevel = iota
	LogInfo
	LogWarning
	LogError
	LogFatal
)

// String returns the level's name in upper case, e.g. "WARNING".
func (l LogLevel) String() string {
	switch l {
	case LogVerbose:
		return "VERBOSE"
	case LogInfo:
		return "INFO"
	case LogWarning:
		return "WARNING"
	case LogError:
		return "ERROR"
	case LogFatal:
		return "FATAL"
	}
	return fmt.Sprintf("LEVEL(%d)", int(l))
}

// LogHandler receives ONNX Runtime's log messages. category is ORT's log
// category and location the source location it reports (both may be empty).
// Messages are delivered in order by one goroutine, shortly after ONNX
// Runtime logs them (a message logged just before the process exits may be
// lost, and messages are dropped if the handler falls far behind).
type LogHandler func(level LogLevel, category, location, message string)

var (
	logHandler atomic.Pointer[LogHandler]
	logWriter  *os.File // write end of the log pipe, kept open for the process
)

// SetLogHandler routes ONNX Runtime's log messages to h; nil restores the
// default, which writes one line per message to standard error. Nothing is
// ever written to standard output (a go-plugin child's stdout carries its
// handshake).
func SetLogHandler(h LogHandler) {
	if h == nil {
		logHandler.Store(nil)
		return
	}
	logHandler.Store(&h)
}

func defaultLog(level LogLevel, category, location, message string) {
	fmt.Fprintf(os.Stderr, "onnxruntime: %s: %s (%s)\n", level, message, location)
}

// startLogPipe gives the C logger a non-blocking pipe and starts the
// goroutine that hands its records to the log handler. The C logger never
// calls into Go, so that Run can be a nocallback cgo call. Called once,
// before the environment is created.
func startLogPipe() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("log pipe: %w", err)
	}
	fd := int(w.Fd())
	if err := unix.SetNonblock(fd, true); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("log pipe: %w", err)
	}
	logWriter = w
	C.ortgo_set_log_fd(C.int(fd))
	go readLogPipe(r)
	return nil
}

func readLogPipe(r *os.File) {
	br := bufio.NewReader(r)
	for {
		rec, err := br.ReadString('\x1e')
		if err != nil {
			return
		}
		f := strings.SplitN(strings.TrimSuffix(rec, "\x1e"), "\x1f", 4)
		if len(f) != 4 {
			continue
		}
		level, _ := strconv.Atoi(f[0])
		h := defaultLog
		if p := logHandler.Load(); p != nil {
			h = *p
		}
		h(LogLevel(level), f[1], f[2], f[3])
	}
}
