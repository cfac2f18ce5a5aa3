package modelmanager

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/sirupsen/logrus"

	"github.com/ovmsgo/ovms/core/apierr"
)

// listVersions returns the numbered version directories under base:
// version number -> directory. Entries that are not positive integers are
// skipped with a warning, as OVMS does.
func listVersions(base string, log *logrus.Entry) (map[int64]string, error) {
	st, err := os.Stat(base)
	if err != nil || !st.IsDir() {
		log.WithField("base_path", base).Error("directory does not exist")
		return nil, apierr.Newf(apierr.PathInvalid, "%s", base)
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		return nil, apierr.Wrap(apierr.PathInvalid, err, "%s", base)
	}
	out := map[int64]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n, err := strconv.ParseInt(e.Name(), 10, 64)
		switch {
		case err != nil:
			log.WithField("entry", e.Name()).Warn("expected version directory name to be in number format")
		case n <= 0:
			log.WithField("entry", e.Name()).Warn("expected version directory name to be a number greater than 0")
		default:
			out[n] = filepath.Join(base, e.Name())
		}
	}
	return out, nil
}

func versionNumbers(m map[int64]string) []int64 {
	out := make([]int64, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
