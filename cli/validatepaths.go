package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/config"
	"github.com/ovmsgo/ovms/core/storage"
)

// remoteCheckTimeout bounds the listing of one remote base path.
const remoteCheckTimeout = 30 * time.Second

// checkModel lists m's base path as serving does (core/storage) and
// reports why the model would not load: a base path that does not exist or
// cannot be listed, no version folder, or a version policy that selects
// none of the versions found. Remote base paths are listed only when
// remote is set (they need the network and credentials); nothing is
// downloaded.
func checkModel(ctx context.Context, m config.Model, remote bool) modelCheck {
	var r modelCheck
	if storage.IsRemote(m.BasePath) && !remote {
		r.note = fmt.Sprintf("base_path %s is not checked (pass --check_storage to list it with this environment's credentials)", m.BasePath)
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, remoteCheckTimeout)
	defer cancel()
	cache, err := os.MkdirTemp("", "ovms-validate-")
	if err != nil {
		r.err = err.Error()
		return r
	}
	defer os.RemoveAll(cache)
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	repo, err := storage.Open(ctx, m.BasePath, cache, logrus.NewEntry(quiet))
	if err != nil {
		r.err = fmt.Sprintf("base_path %s: %v", m.BasePath, err)
		return r
	}
	defer repo.Close()
	found, err := repo.Versions(ctx, func(name, reason string) {
		r.warnings = append(r.warnings, fmt.Sprintf("%s/%s is skipped: %s", strings.TrimRight(m.BasePath, "/"), name, reason))
	})
	if err != nil {
		r.err = fmt.Sprintf("base_path %s: %v", m.BasePath, err)
		return r
	}
	if len(found) == 0 {
		r.err = fmt.Sprintf("no version folder in %s (a version is a folder named by a number above 0)", m.BasePath)
		return r
	}
	numbers := make([]int64, 0, len(found))
	for n := range found {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	if len(m.VersionPolicy.Select(numbers)) == 0 {
		r.err = fmt.Sprintf("the version policy selects none of the versions found (%s)", joinInts(numbers))
	}
	return r
}

// joinInts is "1, 2, 3".
func joinInts(ns []int64) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
