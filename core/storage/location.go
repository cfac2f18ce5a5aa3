package storage

import (
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ovmsgo/ovms/core/apierr"
)

// location is a remote base path taken apart.
type location struct {
	// base is the base path as configured, without trailing slashes; it
	// names the repository in errors, logs and the cache folder's hash.
	base string
	// scheme is the URL scheme (s3, gs, az, azure, azfs, file).
	scheme string
	// root is the bucket, container or share ("/" for file://).
	root string
	// prefix is the key prefix of the base folder: "" (the root itself) or
	// "a/b/" (always ending in "/").
	prefix string
	// endpoint is the S3 endpoint written into the URL
	// (s3://host:port/bucket/prefix, as OVMS accepts), "" if none.
	endpoint string
}

// rootKind names the top level of loc's store in messages.
func (l location) rootKind() string {
	switch l.scheme {
	case schemeAz, schemeAzure:
		return "container"
	case schemeAzfs:
		return "share"
	case schemeFile:
		return "folder"
	}
	return "bucket"
}

// s3HostPort matches the host:port first segment of s3://host:port/bucket/...
var s3HostPort = regexp.MustCompile(`^[0-9A-Za-z.-]+:[0-9]+$`)

// parseLocation splits a remote base path. Paths are split as plain strings,
// not as URLs ('?' and '#' are part of the key, as in OVMS); empty segments
// are dropped and ".." segments are refused, as OVMS does.
func parseLocation(basePath string) (location, error) {
	sch := scheme(basePath)
	rest := strings.TrimPrefix(basePath, sch+"://")
	base := sch + "://" + strings.TrimRight(rest, "/")
	loc := location{base: base, scheme: sch}
	if sch == schemeFile {
		return parseFileLocation(loc, rest)
	}
	var segs []string
	for _, s := range strings.Split(rest, "/") {
		switch s {
		case "", ".":
			continue
		case "..":
			return loc, apierr.Newf(apierr.PathInvalid, "%s: path escape with .. is forbidden", base)
		}
		segs = append(segs, s)
	}
	if sch == schemeS3 && len(segs) > 0 && s3HostPort.MatchString(segs[0]) {
		loc.endpoint = segs[0]
		segs = segs[1:]
	}
	if len(segs) == 0 {
		return loc, apierr.Newf(apierr.PathInvalid, "%s: no %s name in the path", base, loc.rootKind())
	}
	loc.root = segs[0]
	if len(segs) > 1 {
		loc.prefix = strings.Join(segs[1:], "/") + "/"
	}
	return loc, nil
}

// parseFileLocation reads file:///abs/path (or file://./rel/path): the
// store is the file system root and the prefix the absolute path, so that
// the remote code path sees a prefix like a cloud base path.
func parseFileLocation(loc location, rest string) (location, error) {
	p := rest
	switch {
	case strings.HasPrefix(p, "./"), p == ".":
		// file://./rel: relative to the working directory.
	case strings.HasPrefix(p, "localhost/"):
		p = strings.TrimPrefix(p, "localhost")
	case strings.HasPrefix(p, "/"):
	default:
		return loc, apierr.Newf(apierr.PathInvalid, "%s: file URLs must be file:///absolute/path or file://./relative/path", loc.base)
	}
	abs, err := filepath.Abs(filepath.FromSlash(p))
	if err != nil {
		return loc, apierr.Newf(apierr.PathInvalid, "%s: %v", loc.base, err)
	}
	loc.root = "/"
	loc.prefix = strings.TrimPrefix(filepath.ToSlash(abs), "/")
	if loc.prefix != "" {
		loc.prefix += "/"
	}
	return loc, nil
}
