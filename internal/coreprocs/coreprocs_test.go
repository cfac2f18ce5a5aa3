package coreprocs

import (
	"runtime"
	"testing"
)

// keepProcs restores the test process's GOMAXPROCS after the test.
func keepProcs(t *testing.T) {
	t.Helper()
	procs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs) })
}

func TestLimit(t *testing.T) {
	cases := []struct {
		name, gomaxprocs, env string
		want                  int
		bad                   bool
	}{
		{name: "unset: Go's default", want: 5},
		{name: "set for the core", env: "3", want: 3},
		{name: "0: Go's default", env: "0", want: 5},
		{name: "not a number: Go's default", env: "two", want: 5, bad: true},
		{name: "negative: Go's default", env: "-1", want: 5, bad: true},
		{name: "GOMAXPROCS set: left alone", gomaxprocs: "8", env: "3", want: 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keepProcs(t)
			runtime.GOMAXPROCS(5) // what Go took before Limit
			t.Setenv("GOMAXPROCS", c.gomaxprocs)
			t.Setenv(EnvCoreProcs, c.env)
			got, err := Limit()
			if got != c.want || runtime.GOMAXPROCS(0) != c.want {
				t.Errorf("Limit() = %d, GOMAXPROCS %d; want %d", got, runtime.GOMAXPROCS(0), c.want)
			}
			if (err != nil) != c.bad {
				t.Errorf("Limit() error = %v, want an error: %v", err, c.bad)
			}
		})
	}
}
