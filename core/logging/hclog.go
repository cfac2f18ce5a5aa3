package logging

import (
	"fmt"
	"io"
	"log"

	"github.com/hashicorp/go-hclog"
	"github.com/sirupsen/logrus"
)

// HCLog adapts a logrus entry to hclog.Logger, the interface go-plugin logs
// through (including the lines it parses from plugin stderr).
type HCLog struct {
	entry *logrus.Entry
	name  string
	args  []interface{}
}

var _ hclog.Logger = (*HCLog)(nil)

// NewHCLog wraps entry.
func NewHCLog(entry *logrus.Entry) *HCLog { return &HCLog{entry: entry} }

func (h *HCLog) fields(args []interface{}) logrus.Fields {
	f := logrus.Fields{}
	all := append(append([]interface{}{}, h.args...), args...)
	for i := 0; i < len(all); i += 2 {
		key := fmt.Sprint(all[i])
		if i+1 < len(all) {
			f[key] = all[i+1]
		} else {
			f["EXTRA_VALUE_AT_END"] = all[i]
		}
	}
	if h.name != "" {
		f["plugin_logger"] = h.name
	}
	delete(f, "timestamp") // go-plugin adds the plugin's own; ours is kept
	return f
}

// Log emits msg at level with key/value args.
func (h *HCLog) Log(level hclog.Level, msg string, args ...interface{}) {
	e := h.entry.WithFields(h.fields(args))
	switch level {
	case hclog.Trace:
		e.Trace(msg)
	case hclog.Debug, hclog.NoLevel:
		e.Debug(msg)
	case hclog.Info:
		e.Info(msg)
	case hclog.Warn:
		e.Warn(msg)
	default:
		e.Error(msg)
	}
}

// Trace logs at trace level.
func (h *HCLog) Trace(msg string, args ...interface{}) { h.Log(hclog.Trace, msg, args...) }

// Debug logs at debug level.
func (h *HCLog) Debug(msg string, args ...interface{}) { h.Log(hclog.Debug, msg, args...) }

// Info logs at info level.
func (h *HCLog) Info(msg string, args ...interface{}) { h.Log(hclog.Info, msg, args...) }

// Warn logs at warn level.
func (h *HCLog) Warn(msg string, args ...interface{}) { h.Log(hclog.Warn, msg, args...) }

// Error logs at error level.
func (h *HCLog) Error(msg string, args ...interface{}) { h.Log(hclog.Error, msg, args...) }

// IsTrace reports whether trace logs are emitted.
func (h *HCLog) IsTrace() bool { return h.entry.Logger.IsLevelEnabled(logrus.TraceLevel) }

// IsDebug reports whether debug logs are emitted.
func (h *HCLog) IsDebug() bool { return h.entry.Logger.IsLevelEnabled(logrus.DebugLevel) }

// IsInfo reports whether info logs are emitted.
func (h *HCLog) IsInfo() bool { return h.entry.Logger.IsLevelEnabled(logrus.InfoLevel) }

// IsWarn reports whether warnings are emitted.
func (h *HCLog) IsWarn() bool { return h.entry.Logger.IsLevelEnabled(logrus.WarnLevel) }

// IsError reports whether errors are emitted.
func (h *HCLog) IsError() bool { return h.entry.Logger.IsLevelEnabled(logrus.ErrorLevel) }

// ImpliedArgs returns the args added by With.
func (h *HCLog) ImpliedArgs() []interface{} { return h.args }

// With returns a logger with more key/value args.
func (h *HCLog) With(args ...interface{}) hclog.Logger {
	return &HCLog{entry: h.entry, name: h.name, args: append(append([]interface{}{}, h.args...), args...)}
}

// Name is the logger's name.
func (h *HCLog) Name() string { return h.name }

// Named appends a name segment.
func (h *HCLog) Named(name string) hclog.Logger {
	n := name
	if h.name != "" {
		n = h.name + "." + name
	}
	return &HCLog{entry: h.entry, name: n, args: h.args}
}

// ResetNamed replaces the name.
func (h *HCLog) ResetNamed(name string) hclog.Logger {
	return &HCLog{entry: h.entry, name: name, args: h.args}
}

// SetLevel is ignored: the level is the core's --log_level.
func (h *HCLog) SetLevel(hclog.Level) {}

// GetLevel maps the logrus level to hclog.
func (h *HCLog) GetLevel() hclog.Level {
	switch h.entry.Logger.GetLevel() {
	case logrus.TraceLevel:
		return hclog.Trace
	case logrus.DebugLevel:
		return hclog.Debug
	case logrus.InfoLevel:
		return hclog.Info
	case logrus.WarnLevel:
		return hclog.Warn
	}
	return hclog.Error
}

// StandardLogger returns a standard library logger writing at info level.
func (h *HCLog) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(opts), "", 0)
}

// StandardWriter returns a writer logging each write at info level.
func (h *HCLog) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return h.entry.WriterLevel(logrus.InfoLevel)
}
