// Package logging sets up the core's logrus logger from the OVMS flags
// (--log_level, --log_path), hands out one named logger per component, and
// adapts go-plugin's hclog output to logrus so plugin logs keep their levels
// and fields.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
)

// Levels are the --log_level values OVMS accepts, in its order.
var Levels = []string{"TRACE", "DEBUG", "INFO", "WARNING", "ERROR"}

// root is the process logger; components derive from it.
var root = newRoot()

func newRoot() *logrus.Logger {
	l := logrus.New()
	l.SetOutput(os.Stdout)
	l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "2006-01-02 15:04:05.000", DisableLevelTruncation: true})
	l.SetLevel(logrus.InfoLevel)
	return l
}

// ParseLevel maps an OVMS level name (case-insensitive) to logrus.
func ParseLevel(s string) (logrus.Level, error) {
	switch strings.ToUpper(s) {
	case "TRACE":
		return logrus.TraceLevel, nil
	case "DEBUG":
		return logrus.DebugLevel, nil
	case "INFO":
		return logrus.InfoLevel, nil
	case "WARNING", "WARN":
		return logrus.WarnLevel, nil
	case "ERROR":
		return logrus.ErrorLevel, nil
	}
	return logrus.InfoLevel, fmt.Errorf("unknown log level %q", s)
}

// Setup applies --log_level and --log_path. With a path, logs go to that
// file (appended) instead of stdout. The returned closer closes the file.
func Setup(level, path string) (io.Closer, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	root.SetLevel(lvl)
	if path == "" {
		return io.NopCloser(nil), nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening log file %s: %w", path, err)
	}
	root.SetOutput(f)
	return f, nil
}

// Root is the process logger.
func Root() *logrus.Logger { return root }

// Component returns the logger of one component, e.g. "model_manager".
func Component(name string) *logrus.Entry { return root.WithField("component", name) }

// LevelName is the current level as an OVMS level name.
func LevelName() string {
	switch root.GetLevel() {
	case logrus.TraceLevel:
		return "TRACE"
	case logrus.DebugLevel:
		return "DEBUG"
	case logrus.WarnLevel:
		return "WARNING"
	case logrus.ErrorLevel, logrus.FatalLevel, logrus.PanicLevel:
		return "ERROR"
	}
	return "INFO"
}
