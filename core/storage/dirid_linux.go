package storage

import (
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// statID is the dirID of a folder's FileInfo (from os.Stat).
func statID(fi fs.FileInfo) (dirID, bool) {
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return dirID{}, false
	}
	return dirID{dev: s.Dev, ino: s.Ino, ctime: s.Ctim.Nano(), mtime: s.Mtim.Nano()}, true
}

// zfsMagic is ZFS's statfs type (x/sys/unix does not name it).
const zfsMagic = 0x2fc12fc1

// reusableFS reports whether the open folder f lies on a file system whose folder times
// this process sees change as soon as the folder does: the local ones.
// Network and FUSE file systems (NFS, CIFS, Ceph, 9p, virtiofs, ...) serve
// attributes from a cache that can lag a change on another machine by
// seconds to a minute, where opening the folder to list it revalidates:
// their folders are read on every listing.
func reusableFS(f *os.File) bool {
	var s unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &s); err != nil {
		return false
	}
	switch uint32(s.Type) {
	case unix.EXT4_SUPER_MAGIC, unix.XFS_SUPER_MAGIC, unix.BTRFS_SUPER_MAGIC, unix.TMPFS_MAGIC, unix.RAMFS_MAGIC,
		unix.OVERLAYFS_SUPER_MAGIC, unix.F2FS_SUPER_MAGIC, zfsMagic:
		return true
	}
	return false
}
