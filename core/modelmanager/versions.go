package modelmanager

import "sort"

// versionNumbers are the keys of a version listing, ascending.
func versionNumbers(m map[int64]string) []int64 {
	out := make([]int64, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
