package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPollSeesChangesInSettledFolders: a local model folder that has gone
// 3 s without a change keeps its last listing until its times move
// (core/storage); the file-system poll alone (no reload call) still picks
// up a version folder added, one removed, and a whole model folder swapped
// by renames.
func TestPollSeesChangesInSettledFolders(t *testing.T) {
	dir := t.TempDir()
	repoWithVersions(t, dir, "dummy", "grow", 1)
	repoWithVersions(t, dir, "dummy", "all", 1, 2)
	repoWithVersions(t, dir, "dummy", "swap", 1)
	cfg := filepath.Join(dir, "config.json")
	writeConfig(t, cfg, `{"model_config_list": [
		{"config": {"name": "grow", "base_path": "grow"}},
		{"config": {"name": "all", "base_path": "all", "model_version_policy": {"all": {}}}},
		{"config": {"name": "swap", "base_path": "swap"}}
	]}`)
	s := startArgs(t, "--config_path", cfg, "--file_system_poll_wait_seconds", "1")
	want := map[string]string{"grow": "1:AVAILABLE", "all": "1:AVAILABLE 2:AVAILABLE", "swap": "1:AVAILABLE"}
	if got := versionStates(t, s); len(got) != 3 || got["grow"] != want["grow"] || got["all"] != want["all"] || got["swap"] != want["swap"] {
		t.Fatalf("states %v, want %v", got, want)
	}
	// Settled: more than 3 s without a change, with polls in between that
	// keep their listings.
	time.Sleep(4500 * time.Millisecond)
	addVersion(t, filepath.Join(dir, "grow"), "dummy", 2)
	if err := os.RemoveAll(filepath.Join(dir, "all", "2")); err != nil {
		t.Fatal(err)
	}
	repoWithVersions(t, dir, "dummy", "swap.new", 5)
	if err := os.Rename(filepath.Join(dir, "swap"), filepath.Join(dir, "swap.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "swap.new"), filepath.Join(dir, "swap")); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"grow": "1:END 2:AVAILABLE", "all": "1:AVAILABLE 2:END", "swap": "1:END 5:AVAILABLE"}
	eventually(t, "the polls' view of the changed folders", func() (bool, string) {
		got := versionStates(t, s)
		return got["grow"] == want["grow"] && got["all"] == want["all"] && got["swap"] == want["swap"], fmt.Sprint(got)
	})
	if err := dummyInfer(t, s, "grow", "2"); err != nil {
		t.Errorf("grow version 2: %v", err)
	}
	s.alive()
}
