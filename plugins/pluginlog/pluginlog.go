// Package pluginlog is the logging of plugin processes (device plugins and
// custom loaders): logrus entries as JSON lines with the keys go-plugin
// parses, so the host keeps their levels and fields. It imports nothing of
// the SDK, so every kind of plugin can use it; package plugins re-exports it.
package pluginlog

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/sirupsen/logrus"
)

// TimestampLayout is the layout go-plugin expects in "@timestamp".
const TimestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// EnvLogLevel carries the host's log level to the plugin process.
const EnvLogLevel = "OVMS_PLUGIN_LOG_LEVEL"

// JSONFormatter writes logrus entries as one JSON object per line with the
// keys go-plugin parses (@message, @level, @timestamp), so the host keeps
// levels and fields of plugin logs.
type JSONFormatter struct{}

// Format implements logrus.Formatter.
func (JSONFormatter) Format(e *logrus.Entry) ([]byte, error) {
	m := make(map[string]any, len(e.Data)+3)
	for k, v := range e.Data {
		switch x := v.(type) {
		case error:
			v = x.Error()
		case fmt.Stringer: // durations and the like read better as text
			v = x.String()
		}
		m[k] = v
	}
	m["@message"] = e.Message
	m["@level"] = hclogLevel(e.Level)
	m["@timestamp"] = e.Time.Format(TimestampLayout)
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding log entry: %w", err)
	}
	return append(b, '\n'), nil
}

// hclogLevel names logrus levels the way hclog.LevelFromString reads them.
func hclogLevel(l logrus.Level) string {
	switch l {
	case logrus.TraceLevel:
		return "trace"
	case logrus.DebugLevel:
		return "debug"
	case logrus.InfoLevel:
		return "info"
	case logrus.WarnLevel:
		return "warn"
	default:
		return "error"
	}
}

// NewLogger returns the plugin-side logger: JSON on stderr at the level the
// host passed in EnvLogLevel (info when unset).
func NewLogger(plugin string) *logrus.Entry {
	l := logrus.New()
	l.SetOutput(os.Stderr)
	l.SetFormatter(JSONFormatter{})
	l.SetLevel(logrus.InfoLevel)
	if v := os.Getenv(EnvLogLevel); v != "" {
		if lvl, err := logrus.ParseLevel(strings.ToLower(v)); err == nil {
			l.SetLevel(lvl)
		}
	}
	return l.WithField("plugin", plugin)
}
