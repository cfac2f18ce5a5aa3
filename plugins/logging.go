package plugins

import (
	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/plugins/pluginlog"
)

// TimestampLayout is the layout go-plugin expects in "@timestamp".
const TimestampLayout = pluginlog.TimestampLayout

// EnvLogLevel carries the host's log level to the plugin process.
const EnvLogLevel = pluginlog.EnvLogLevel

// JSONFormatter writes logrus entries as one JSON object per line with the
// keys go-plugin parses (@message, @level, @timestamp), so the host keeps
// levels and fields of plugin logs.
type JSONFormatter = pluginlog.JSONFormatter

// NewLogger returns the plugin-side logger: JSON on stderr at the level the
// host passed in EnvLogLevel (info when unset).
func NewLogger(plugin string) *logrus.Entry { return pluginlog.NewLogger(plugin) }
