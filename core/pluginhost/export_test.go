package pluginhost

import "time"

// SetArenaGrace shortens how long a dead plugin's arena stays mapped, for
// tests; the returned func restores it.
func SetArenaGrace(d time.Duration) func() {
	old := arenaGrace
	arenaGrace = d
	return func() { arenaGrace = old }
}
