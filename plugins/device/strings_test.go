package device

import (
	"errors"
	"testing"
)

func TestStringsRoundTrip(t *testing.T) {
	elems := [][]byte{[]byte("a"), {}, []byte("żółw"), nil}
	buf := make([]byte, StringsSize(elems))
	if n := PutStrings(buf, elems); n != len(buf) || n != 4*4+1+7 {
		t.Fatalf("wrote %d of %d bytes", n, len(buf))
	}
	back, err := SplitStrings(buf)
	if err != nil || len(back) != 4 || string(back[2]) != "żółw" || len(back[1]) != 0 {
		t.Fatalf("%q %v", back, err)
	}
	for _, bad := range [][]byte{{1, 0}, {9, 0, 0, 0, 'x'}} {
		if _, err := SplitStrings(bad); !errors.Is(err, ErrStringLayout) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
