package host

import "time"

// SetKickRTT sets the longest moving round trip for which Infer kicks the
// receiving goroutine at the send (maxKickRTT in production).
func SetKickRTT(c *Client, d time.Duration) { c.dp.kickRTT = d }

// ChannelKicks reports how many times Infer kicked the receiving goroutine.
func ChannelKicks(c *Client) uint64 { return c.dp.ep.Kicks() }

// SetMaxPolledRun sets the longest average run the plugin's receiver polls
// through (maxPolledRun) and returns a func that restores it.
func SetMaxPolledRun(d time.Duration) func() {
	old := maxPolledRun.Swap(int64(d))
	return func() { maxPolledRun.Store(old) }
}

// RunSpin is the plugin receiver's polling window while requests run, for
// a moving average of answer times avg.
func RunSpin(avg time.Duration) time.Duration {
	s := &server{}
	s.runAvg.Store(int64(avg))
	return s.runSpin()
}

// RunYield is the plugin receiver's yield interval for a moving average of
// answer times avg and a configured interval yield.
func RunYield(avg, yield time.Duration) time.Duration {
	s := &server{}
	s.runAvg.Store(int64(avg))
	return s.runYield(yield)
}
