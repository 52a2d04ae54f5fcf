//go:build unix

package state

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Lock takes the lock of the state file for this process, or fails at once
// with a *LockError naming the holder if someone else has it, in this
// process or another.
//
// The lock is an exclusive flock(2) on <path>.lock, held through a file
// descriptor of its own until unlock is called or the process ends: the
// operating system releases it when the holder dies, so a lock file left
// behind never blocks anyone. Each Lock opens the file anew, so two Locks in
// one process conflict as two processes do. While the lock is held, the lock
// file holds info, which Lock completes with the state file's path.
//
// unlock empties the lock file and releases the lock; calling it again does
// nothing.
func (f *File) Lock(info LockInfo) (unlock func() error, err error) {
	if info.Path == "" {
		info.Path = f.path
	}
	data, err := encodeLockInfo(info)
	if err != nil {
		return nil, fmt.Errorf("lock state file: %w", err)
	}
	lockPath := f.path + ".lock"
	// A raw descriptor, not an *os.File, whose finalizer would close it and
	// so release the lock if the caller dropped unlock.
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open(lockPath, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return nil, fmt.Errorf("lock state file: open %s: %w", lockPath, err)
	}
	if _, err := ignoringEINTR(func() (int, error) { return 0, unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) }); err != nil {
		_ = unix.Close(fd)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, f.lockError(lockPath)
		}
		return nil, fmt.Errorf("lock state file: flock %s: %w", lockPath, err)
	}
	if err := writeLockInfo(fd, data); err != nil {
		_ = unix.Flock(fd, unix.LOCK_UN)
		_ = unix.Close(fd)
		return nil, fmt.Errorf("lock state file: write %s: %w", lockPath, err)
	}
	var once sync.Once
	unlock = func() error {
		var err error
		once.Do(func() {
			err = errors.Join(unix.Ftruncate(fd, 0), unix.Flock(fd, unix.LOCK_UN), unix.Close(fd))
			if err != nil {
				err = fmt.Errorf("unlock state file: %s: %w", lockPath, err)
			}
		})
		return err
	}
	return unlock, nil
}

// writeLockInfo replaces the content of the lock file by data. It writes
// before it truncates, so a reader sees the old content or the new one, and
// never an empty file in between.
func writeLockInfo(fd int, data []byte) error {
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(fd, data[off:], int64(off))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		off += n
	}
	if err := unix.Ftruncate(fd, int64(len(data))); err != nil {
		return err
	}
	return unix.Fsync(fd)
}

// lockError describes the holder of the lock at lockPath, as far as its lock
// file tells.
func (f *File) lockError(lockPath string) error {
	e := &LockError{Info: LockInfo{Path: f.path}, Err: ErrLocked}
	lf, err := os.Open(lockPath)
	if err != nil {
		return e
	}
	defer lf.Close()
	b, err := io.ReadAll(io.LimitReader(lf, 64<<10))
	if err != nil {
		return e
	}
	info, err := decodeLockInfo(b)
	if err != nil {
		return e
	}
	info.Path = f.path
	e.Info = info
	return e
}

func ignoringEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// syncDir makes the entries of dir durable, such as a file renamed into it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
