//go:build !linux

package storage

import (
	"io/fs"
	"os"
)

// statID is not available here: every listing reads the folder.
func statID(fs.FileInfo) (dirID, bool) { return dirID{}, false }

// reusableFS: listings are not reused here.
func reusableFS(*os.File) bool { return false }
