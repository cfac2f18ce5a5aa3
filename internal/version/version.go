// Package version is the ovms release version: what `ovms --version`, the
// server metadata (GET /v2, gRPC ServerMetadata) and the device plugins'
// Info report, as OVMS reports its release.
package version

import (
	"regexp"
	"runtime/debug"
)

// Release is the release of this source tree. Bump it when releasing, and
// tag that commit with the same name.
const Release = "v0.1.0"

// Describe is `git describe --tags --always --dirty` of the build, set by
// make with -ldflags -X; empty in other builds.
var Describe = ""

// String is the version of this build: see Compose.
func String() string {
	rev, modified := "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	return Compose(Release, Describe, rev, modified)
}

// tagged matches a git describe result that starts at a release tag.
var tagged = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+`)

// Compose builds the version string, never depending on tags being
// present (CI clones often have none):
//   - describe names a tag (v0.1.0, v0.1.0-3-gabc1234[-dirty]): describe;
//   - describe is a bare hash (a clone without tags): release+hash[-dirty];
//   - no describe (go build, go test): release+revision[-dirty] from the
//     VCS information Go stamps into binaries built in a git checkout;
//   - none of these: release.
func Compose(release, describe, revision string, modified bool) string {
	switch {
	case tagged.MatchString(describe):
		return describe
	case describe != "":
		return release + "+" + describe
	case revision != "":
		if len(revision) > 7 {
			revision = revision[:7]
		}
		if modified {
			revision += "-dirty"
		}
		return release + "+" + revision
	}
	return release
}
