//go:build unix

package interop

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// lockPort443 takes, for the rest of the test, a lock that every run of the
// suite on this machine takes around its use of port 443, so that two runs
// at once (two worktrees, two go test commands) take turns instead of one
// failing on a taken port. It waits for the lock until ctx is done. The
// operating system releases the lock when its holder ends.
func lockPort443(t *testing.T, ctx context.Context) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "iotplan-interop-443.lock")
	// Read-only, so that any user can lock a file another user made.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("lock port 443 for the suite: %v", err)
	}
	fd := int(f.Fd())
	err = flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		t.Logf("another run of the interop suite serves on port 443; waiting for it to end (%s)", path)
		locked := make(chan error, 1)
		go func() { locked <- flock(fd, unix.LOCK_EX) }()
		select {
		case err = <-locked:
		case <-ctx.Done():
			// The waiting flock ends with the process, which closes f.
			t.Fatalf("another run of the interop suite held port 443 until this one timed out (%s)", path)
		}
	}
	if err != nil {
		f.Close()
		t.Fatalf("lock %s: %v", path, err)
	}
	t.Cleanup(func() {
		_ = flock(fd, unix.LOCK_UN)
		f.Close()
	})
}

func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			return err
		}
	}
}

// inProcessGroup runs cmd in a process group of its own, which its
// cancellation kills whole: node --test runs each test file in a process
// of its own.
func inProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
