package cli

import (
	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/internal/timerslack"
)

// logTimerSlack logs the timer slack the process runs with (set before the
// Go runtime started, see internal/timerslack), or why it was not set.
func logTimerSlack(log *logrus.Entry) {
	if d, err := timerslack.Slack(); err != nil {
		log.WithError(err).Warn("timer slack not set")
	} else {
		log.WithField("timer_slack", d.String()).Debug("timer slack")
	}
}
