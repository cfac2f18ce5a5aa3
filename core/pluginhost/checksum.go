package pluginhost

// ExpectedChecksum is the sha256 a plugin binary (device or loader) must
// have: from its folder's manifest (plugins.json), nil when the folder has
// none. A folder with a manifest that does not list the binary refuses it.
func ExpectedChecksum(path string) ([]byte, error) { return expectedChecksum(path) }
