//go:build unix

package state

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestNewLockInfo(t *testing.T) {
	before := time.Now()
	i := NewLockInfo("apply")
	if i.ID == "" || i.Operation != "apply" || i.PID != os.Getpid() || !strings.Contains(i.Who, "@") {
		t.Errorf("NewLockInfo() = %+v", i)
	}
	if i.Created.Before(before.Add(-time.Second)) || i.Created.After(time.Now().Add(time.Second)) {
		t.Errorf("NewLockInfo().Created = %v, want about now", i.Created)
	}
	if i.Created.Location() != time.UTC {
		t.Errorf("NewLockInfo().Created is in %v, want UTC", i.Created.Location())
	}
	if other := NewLockInfo("apply"); other.ID == i.ID {
		t.Errorf("NewLockInfo() gave the ID %q twice", i.ID)
	}
}

func TestLockSameProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotplan.state")
	f := NewFile(path)
	info := NewLockInfo("apply")
	unlock, err := f.Lock(info)
	if err != nil {
		t.Fatalf("Lock(): %v", err)
	}
	info.Path = path

	// Another File on the same path, and the same File again, must both be
	// refused: the lock is per open of the lock file, not per process.
	for name, other := range map[string]*File{"other File": NewFile(path), "same File": f} {
		t.Run(name, func(t *testing.T) {
			u, err := other.Lock(NewLockInfo("plan"))
			if err == nil {
				_ = u()
				t.Fatal("second Lock() = nil, want an error")
			}
			if !errors.Is(err, ErrLocked) {
				t.Errorf("second Lock() error %v is not ErrLocked", err)
			}
			var le *LockError
			if !errors.As(err, &le) {
				t.Fatalf("second Lock() error %v is no *LockError", err)
			}
			if d := cmp.Diff(info, le.Info); d != "" {
				t.Errorf("LockError.Info mismatch (-holder +reported):\n%s", d)
			}
		})
	}

	if err := unlock(); err != nil {
		t.Fatalf("unlock(): %v", err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock(): %v", err)
	}
	if b := readFile(t, path+".lock"); len(b) != 0 {
		t.Errorf("lock file after unlock holds %q, want nothing", b)
	}
	unlock2, err := NewFile(path).Lock(NewLockInfo("plan"))
	if err != nil {
		t.Fatalf("Lock() after unlock: %v", err)
	}
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
}

func TestLockFileContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotplan.state")
	info := LockInfo{ID: "id-1", Operation: "destroy", Who: "alice@laptop", PID: 4242, Version: "v1.2.3",
		Created: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Path: "elsewhere.state"}
	unlock, err := NewFile(path).Lock(info)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	got, err := decodeLockInfo(readFile(t, path+".lock"))
	if err != nil {
		t.Fatalf("lock file: %v", err)
	}
	if d := cmp.Diff(info, got); d != "" {
		t.Errorf("lock file mismatch (-want +got):\n%s", d)
	}
	if mode := fileMode(t, path+".lock"); mode != 0o600 {
		t.Errorf("lock file has mode %v, want 0600", mode)
	}
}

func TestLockUnknownHolder(t *testing.T) {
	for name, content := range map[string]string{"empty": "", "garbage": "{not json", "null": "null"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "iotplan.state")
			writeFile(t, path+".lock", []byte(content))
			fd, err := unix.Open(path+".lock", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			_, err = NewFile(path).Lock(NewLockInfo("apply"))
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("Lock() = %v, want ErrLocked", err)
			}
			var le *LockError
			if !errors.As(err, &le) {
				t.Fatalf("Lock() error %v is no *LockError", err)
			}
			if d := cmp.Diff(LockInfo{Path: path}, le.Info); d != "" {
				t.Errorf("LockError.Info mismatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestLockError(t *testing.T) {
	_, err := NewFile(filepath.Join(t.TempDir(), "missing", "iotplan.state")).Lock(NewLockInfo("apply"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lock() in a missing folder = %v, want an error that Is fs.ErrNotExist", err)
	}
	if errors.Is(err, ErrLocked) {
		t.Errorf("Lock() in a missing folder = %v, which Is ErrLocked", err)
	}
}

func TestLockErrorMessage(t *testing.T) {
	since := time.Date(2026, 11, 25, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := map[string]struct {
		info LockInfo
		want string
	}{
		"full": {
			info: LockInfo{ID: "9b2c", Operation: "apply", Who: "alice@laptop", PID: 4242, Created: since, Path: "iotplan.state"},
			want: `state file iotplan.state is locked by "iotplan apply" (pid 4242, alice@laptop, since 2026-11-25T12:00:00Z, lock ID 9b2c)`,
		},
		"partial": {
			info: LockInfo{Who: "bob@ci", Path: "prod/iotplan.state"},
			want: `state file prod/iotplan.state is locked by "iotplan" (bob@ci)`,
		},
		"unknown": {
			info: LockInfo{Path: "iotplan.state"},
			want: `state file iotplan.state is locked by an unknown holder`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := &LockError{Info: tt.info, Err: ErrLocked}
			if d := cmp.Diff(tt.want, err.Error()); d != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", d)
			}
		})
	}
}

const lockHelperEnv = "IOTPLAN_STATE_LOCK_HELPER"

// TestLockHelperProcess is not a test of its own: it is the other process of
// TestLockOtherProcess. It takes the lock named by the environment, says so
// on standard output, and holds it until its standard input closes or it is
// killed, then exits without unlocking.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv(lockHelperEnv)
	if path == "" {
		return
	}
	if _, err := NewFile(path).Lock(NewLockInfo("apply")); err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

func TestLockOtherProcess(t *testing.T) {
	tests := map[string]func(*exec.Cmd, io.Closer) error{
		"holder killed": func(cmd *exec.Cmd, _ io.Closer) error { return cmd.Process.Kill() },
		"holder exits":  func(_ *exec.Cmd, stdin io.Closer) error { return stdin.Close() },
	}
	for name, stop := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "iotplan.state")
			cmd, stdin := startLockHolder(t, path)

			_, err := NewFile(path).Lock(NewLockInfo("plan"))
			var le *LockError
			if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
				t.Fatalf("Lock() while another process holds it = %v, want a *LockError", err)
			}
			if le.Info.PID != cmd.Process.Pid || le.Info.Operation != "apply" || le.Info.ID == "" || le.Info.Path != path {
				t.Errorf("LockError.Info = %+v, want the holder's (pid %d, apply)", le.Info, cmd.Process.Pid)
			}

			if err := stop(cmd, stdin); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			unlock, err := NewFile(path).Lock(NewLockInfo("plan"))
			if err != nil {
				t.Fatalf("Lock() after the holder ended: %v", err)
			}
			if err := unlock(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// startLockHolder runs TestLockHelperProcess in a new process of this test
// binary and returns once it holds the lock of the state file at path.
func startLockHolder(t *testing.T, path string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("lock holder said %q (%v), want \"locked\"", line, err)
	}
	return cmd, stdin
}
