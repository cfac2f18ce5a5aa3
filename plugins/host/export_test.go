package host

import "time"

// SetKickRTT sets the longest moving round trip for which Infer kicks the
// receiving goroutine at the send (maxKickRTT in production).
func SetKickRTT(c *Client, d time.Duration) { c.dp.kickRTT = d }

// ChannelKicks reports how many times Infer kicked the receiving goroutine.
func ChannelKicks(c *Client) uint64 { return c.dp.ep.Kicks() }
