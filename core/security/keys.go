package security

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/ovmsgo/ovms/core/apierr"
)

// Class is what an endpoint does, which decides the API keys it takes.
type Class uint8

const (
	// Open endpoints take no key: the health checks that probes call.
	Open Class = iota
	// Inference endpoints: inference and model/server metadata and status.
	Inference
	// Control endpoints change the server: config reload, repository
	// load/unload, shared-memory registration.
	Control
)

// String names the class for logs.
func (c Class) String() string {
	switch c {
	case Open:
		return "open"
	case Inference:
		return "inference"
	case Control:
		return "control"
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// keySet is the SHA-256 digests of the keys of one file. Digests are
// compared rather than keys so that every comparison takes the same time
// whatever the length of the key presented.
type keySet struct{ digests [][sha256.Size]byte }

// match reports whether the digest is one of the set's, in time that
// depends only on the number of keys.
func (k *keySet) match(d *[sha256.Size]byte) bool {
	found := 0
	for i := range k.digests {
		found |= subtle.ConstantTimeCompare(d[:], k.digests[i][:])
	}
	return found == 1
}

// keyFile is an API key file kept up to date.
type keyFile struct {
	cur   atomic.Pointer[keySet]
	files *fileSet
}

func loadKeyFile(name, path string) (*keyFile, error) {
	k := &keyFile{}
	k.files = &fileSet{name: name, paths: []string{path}, apply: k.apply}
	if err := k.files.load(); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *keyFile) apply(contents [][]byte) error {
	set, err := parseKeys(contents[0])
	if err != nil {
		return err
	}
	k.cur.Store(set)
	return nil
}

// parseKeys reads one key per line; blank lines and lines starting with
// '#' are skipped, spaces around a key are trimmed. A key is printable
// ASCII without spaces (what an HTTP header and gRPC metadata carry). A
// file without keys is refused: it is more likely a file caught half
// written than a wish to lock every client out.
func parseKeys(b []byte) (*keySet, error) {
	set := &keySet{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		for _, c := range []byte(line) {
			if c <= ' ' || c >= 0x7f {
				return nil, fmt.Errorf("line %d: a key is printable ASCII without spaces", n)
			}
		}
		set.digests = append(set.digests, sha256.Sum256([]byte(line)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading keys: %w", err)
	}
	if len(set.digests) == 0 {
		return nil, errors.New("no API key in the file (one key per line; # starts a comment)")
	}
	return set, nil
}

// Authorizer checks the API keys of requests. A nil *Authorizer (no key
// file given) lets every request through, and is what the servers test
// for so that requests cost nothing when keys are off.
//
// With only --api_key_file, its keys open every endpoint but the open
// ones. With --control_api_key_file, control endpoints take only its keys,
// and those keys open inference endpoints too; with it alone, inference
// endpoints are open.
type Authorizer struct {
	inference, control *keyFile // nil: not given
}

// Authorize checks the Authorization value (an HTTP header or gRPC
// metadata entry, "" when absent) of a request to an endpoint of class c.
// A missing, malformed or unknown key gives apierr.Unauthenticated (the
// same answer for each, so that it tells nothing about which keys exist);
// a control endpoint called with an inference key gives
// apierr.PermissionDenied.
func (a *Authorizer) Authorize(c Class, authorization string) error {
	if a == nil || c == Open {
		return nil
	}
	var inf, ctl *keySet
	if a.inference != nil {
		inf = a.inference.cur.Load()
	}
	if a.control != nil {
		ctl = a.control.cur.Load()
	}
	if c == Inference && inf == nil {
		return nil // only control keys are configured
	}
	key, ok := bearer(authorization)
	if !ok {
		return apierr.New(apierr.Unauthenticated)
	}
	d := digest(key)
	// Both sets are always compared, so the time does not tell which one
	// (if any) holds the key.
	inInf := inf != nil && inf.match(&d)
	inCtl := ctl != nil && ctl.match(&d)
	switch {
	case c == Inference && (inInf || inCtl):
		return nil
	case c == Control && ctl == nil && inInf:
		return nil // one key file guards everything
	case c == Control && inCtl:
		return nil
	case c == Control && inInf:
		return apierr.New(apierr.PermissionDenied)
	}
	return apierr.New(apierr.Unauthenticated)
}

// digest is the SHA-256 of key, hashed from a stack copy for keys of
// usual length so that a check allocates nothing.
func digest(key string) [sha256.Size]byte {
	var buf [256]byte
	if len(key) <= len(buf) {
		n := copy(buf[:], key)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(key))
}

// bearer takes the token out of "Bearer <token>" (the scheme is
// case-insensitive, RFC 9110 11.1).
func bearer(v string) (string, bool) {
	const scheme = "Bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	t := strings.TrimSpace(v[len(scheme):])
	return t, t != ""
}
