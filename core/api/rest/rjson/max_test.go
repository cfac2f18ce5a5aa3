package rjson

import (
	"strings"
	"testing"
)

// The Max readers stop at their limit with the cursor on the next number;
// reading on from there gives the same values, and the document's check
// still covers the run they cut.
func TestAppendMaxStopsAtTheLimit(t *testing.T) {
	nums := strings.Repeat("1.5, -2, 300, ", 40) + "7"
	doc := []byte(`{"x": [` + nums + `], "y": 1}`)
	idx, err := ValidateIndex(doc, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, 1, 7, 120, 121, 500} {
		c := NewIndexedCursor(doc, idx)
		c.EnterObject()
		c.NextMember()
		c.EnterArray()
		c.NextElement()
		var all []float64
		stops := 0
		for {
			var n int
			var done bool
			all, n, done = AppendFloatsMax(c, all, limit, Number.Float64)
			if n > limit {
				t.Fatalf("limit %d: read %d", limit, n)
			}
			if done {
				break
			}
			if c.Kind() != KindNumber {
				t.Fatalf("limit %d: stopped on %v", limit, c.Kind())
			}
			stops++
			if limit == 0 {
				limit = 3 // go on in small steps
			}
		}
		if len(all) != 121 || all[0] != 1.5 || all[1] != -2 || all[120] != 7 {
			t.Fatalf("limit %d: %d values %v...", limit, len(all), all[:3])
		}
		if _, ok := c.NextMember(); !ok || c.Number().Int64() != 1 {
			t.Fatalf("limit %d: cursor out of step after the array", limit)
		}
		if err := idx.Check(); err != nil {
			t.Fatalf("limit %d: %v", limit, err)
		}
	}

	ints := []byte(`[` + strings.Repeat("12, ", 30) + "5]")
	idx, err = ValidateIndex(ints, 10)
	if err != nil {
		t.Fatal(err)
	}
	c := NewIndexedCursor(ints, idx)
	c.EnterArray()
	c.NextElement()
	got, n, done, ok := AppendIntsMax(c, []int32(nil), 10, false, func(n Number) (int32, bool) { return int32(n.Int64()), true })
	if n != 10 || done || !ok || c.Kind() != KindNumber || len(got) != 10 {
		t.Fatalf("ints: n=%d done=%v ok=%v kind=%v", n, done, ok, c.Kind())
	}
	got, n, done, ok = AppendNumbersMax(c, got, 100, func(n Number) (int32, bool) { return int32(n.Int64()), true })
	if n != 21 || !done || !ok || got[30] != 5 {
		t.Fatalf("numbers: n=%d done=%v ok=%v", n, done, ok)
	}

	// A bad number after the cut is still found by the check.
	bad := []byte(`[` + strings.Repeat("1, ", 40) + "01]")
	idx, err = ValidateIndex(bad, 10)
	if err != nil {
		t.Fatal(err)
	}
	c = NewIndexedCursor(bad, idx)
	c.EnterArray()
	c.NextElement()
	AppendFloatsMax(c, []float32(nil), 5, func(n Number) float32 { return float32(n.Float64()) })
	if idx.Check() == nil {
		t.Fatal("a bad number past the cut went unchecked")
	}
}
