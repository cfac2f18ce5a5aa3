//go:build !linux

package lowprio

// lower is not available here: background work runs at the normal
// priority.
func lower(int) error { return nil }

func threadNice() (int, bool) { return 0, false }

func isMainThread() bool { return false }
