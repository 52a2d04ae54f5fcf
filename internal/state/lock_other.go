//go:build !unix

package state

import "errors"

// Lock is not available on this system: it has no flock(2).
func (f *File) Lock(info LockInfo) (unlock func() error, err error) {
	return nil, errors.New("lock state file: not supported on this operating system")
}

// syncDir does nothing: folders cannot be synced on this system.
func syncDir(dir string) error { return nil }
