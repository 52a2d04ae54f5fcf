package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime/debug"
	"strings"
	"time"
)

// ErrLocked is what an error Is when a state is locked by someone else.
var ErrLocked = errors.New("state is locked")

// LockInfo says who holds a state lock, so that whoever is refused it can be
// told. It is written into the lock file while the lock is held.
type LockInfo struct {
	ID        string    // random, unique to one taking of the lock
	Operation string    // the command holding it: "apply", "plan", "destroy", ...
	Who       string    // user@host
	PID       int       // of the holding process
	Version   string    // of the holding iotplan
	Created   time.Time // when the lock was taken
	Path      string    // of the state file
}

// NewLockInfo returns the LockInfo of this process running operation, with a
// new ID, the current time, and the iotplan version of the build if known.
// Lock fills in Path.
func NewLockInfo(operation string) LockInfo {
	return LockInfo{
		ID:        newUUID(),
		Operation: operation,
		Who:       who(),
		PID:       os.Getpid(),
		Version:   version(),
		Created:   time.Now().UTC(),
	}
}

func who() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	} else if v := os.Getenv("USER"); v != "" {
		name = v
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return ""
}

// LockError is the refusal of a lock that someone else holds. Info is what
// the holder wrote in the lock file, with Path as this process names the
// state file; when that could not be read, only Path is set. It Is ErrLocked.
type LockError struct {
	Info LockInfo
	Err  error
}

func (e *LockError) Error() string {
	i := e.Info
	if i.ID == "" && i.PID == 0 && i.Who == "" && i.Operation == "" {
		return fmt.Sprintf("state file %s is locked by an unknown holder", i.Path)
	}
	var about []string
	if i.PID != 0 {
		about = append(about, fmt.Sprintf("pid %d", i.PID))
	}
	if i.Who != "" {
		about = append(about, i.Who)
	}
	if !i.Created.IsZero() {
		about = append(about, "since "+i.Created.UTC().Format(time.RFC3339))
	}
	if i.ID != "" {
		about = append(about, "lock ID "+i.ID)
	}
	return fmt.Sprintf("state file %s is locked by %q (%s)",
		i.Path, strings.TrimSpace("iotplan "+i.Operation), strings.Join(about, ", "))
}

func (e *LockError) Unwrap() error { return e.Err }

// Is reports whether target is ErrLocked.
func (e *LockError) Is(target error) bool { return target == ErrLocked }

// lockInfoV1 is a LockInfo as the lock file holds it.
type lockInfoV1 struct {
	ID        string    `json:"id"`
	Operation string    `json:"operation"`
	Who       string    `json:"who"`
	PID       int       `json:"pid"`
	Version   string    `json:"version"`
	Created   time.Time `json:"created"`
	Path      string    `json:"path"`
}

func encodeLockInfo(i LockInfo) ([]byte, error) {
	b, err := json.Marshal(lockInfoV1(i))
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func decodeLockInfo(b []byte) (LockInfo, error) {
	var v lockInfoV1
	if err := json.Unmarshal(b, &v); err != nil {
		return LockInfo{}, err
	}
	return LockInfo(v), nil
}
