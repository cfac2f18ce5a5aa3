package version

import (
	"regexp"
	"testing"
)

func TestCompose(t *testing.T) {
	for _, c := range []struct {
		describe, rev string
		modified      bool
		want          string
	}{
		{"v0.1.0", "", false, "v0.1.0"},
		{"v0.1.0-3-gabc1234", "", false, "v0.1.0-3-gabc1234"},
		{"v0.1.0-3-gabc1234-dirty", "", false, "v0.1.0-3-gabc1234-dirty"},
		{"abc1234", "", false, "v0.2.0+abc1234"},
		{"abc1234-dirty", "", false, "v0.2.0+abc1234-dirty"},
		{"", "0123456789abcdef0123456789abcdef01234567", false, "v0.2.0+0123456"},
		{"", "0123456789abcdef0123456789abcdef01234567", true, "v0.2.0+0123456-dirty"},
		{"", "", false, "v0.2.0"},
	} {
		if got := Compose("v0.2.0", c.describe, c.rev, c.modified); got != c.want {
			t.Errorf("Compose(%q, %q, %v) = %q, want %q", c.describe, c.rev, c.modified, got, c.want)
		}
	}
}

// TestString: this build's version starts with the release, whatever git
// knows (a test binary has no VCS stamp).
func TestString(t *testing.T) {
	if !regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+`).MatchString(Release) {
		t.Fatalf("Release %q is not vMAJOR.MINOR.PATCH", Release)
	}
	if got := String(); got[:len(Release)] != Release && !tagged.MatchString(got) {
		t.Errorf("String() = %q", got)
	}
}
