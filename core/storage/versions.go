package storage

import "strconv"

// versionSet collects version folders by number.
type versionSet struct {
	out  map[int64]string
	name map[int64]string
}

func newVersionSet() *versionSet {
	return &versionSet{out: map[int64]string{}, name: map[int64]string{}}
}

// add records folder name at location loc, or reports it to skipped (which
// may be nil) when name is not a whole number > 0. When two folders parse to
// the same number ("1" and "01"), the one spelled canonically wins.
func (s *versionSet) add(name, loc string, skipped func(name, reason string)) {
	n, err := strconv.ParseInt(name, 10, 64)
	switch {
	case err != nil:
		if skipped != nil {
			skipped(name, reasonNotNumber)
		}
		return
	case n <= 0:
		if skipped != nil {
			skipped(name, reasonNotPositive)
		}
		return
	}
	if prev, ok := s.name[n]; ok {
		canon := strconv.FormatInt(n, 10)
		if prev == canon || (name != canon && prev < name) {
			return
		}
	}
	s.out[n] = loc
	s.name[n] = name
}
