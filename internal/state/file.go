package state

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// File is the local state backend: one state file on disk (iotplan.state),
// its backup beside it (<path>.backup), which holds the state as it was
// before the first save of this File value (the state before this run, as
// Terraform keeps it), and its lock file (<path>.lock). Its methods may be called from several
// goroutines.
type File struct {
	path string

	mu sync.Mutex
	// What the file held after the last Load or Save; known is false
	// before either. Save compares against it to skip saving an unchanged
	// state and to keep the serial growing.
	known     bool
	lineage   string
	serial    uint64
	resources []byte // encodeResources of the state
	// backedUp is true once this File value has written the backup.
	backedUp bool

	// testHook, when set, is called at each step of a save, so tests can
	// check what a crash at that moment would leave on disk.
	testHook func(step string)
}

// NewFile returns the backend of the state file at path. It touches nothing
// on disk.
func NewFile(path string) *File {
	return &File{path: path}
}

// Path returns the path of the state file.
func (f *File) Path() string { return f.path }

// Load reads the state file. A file that does not exist, or is empty, gives a
// new empty state (serial 0) and no error.
func (f *File) Load() (*State, error) {
	data, err := os.ReadFile(f.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	s, err := Read(bytes.NewReader(data))
	switch {
	case errors.Is(err, ErrNoState):
		s = New()
	case err != nil:
		return nil, fmt.Errorf("read state file %s: %w", f.path, err)
	}
	res, err := encodeResources(s)
	if err != nil {
		return nil, fmt.Errorf("read state file %s: %w", f.path, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.remember(s, res)
	return s, nil
}

// Save writes s to the state file, unless its lineage and resources are
// those the file already holds (as last loaded or saved), in which case it
// writes nothing. A save gives the file the next serial, at least one more
// than both s's and the file's; either way s.Serial is left at the serial of
// the file.
//
// The new state goes to a temporary file in the same folder, which is synced
// and then renamed over the state file, after the previous state file has
// been copied to the backup file. The rename is the commit: if the process
// dies at any moment, the state file holds either the previous state or the
// new one, complete.
func (f *File) Save(s *State) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	res, err := encodeResources(s)
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	sameLineage := f.known && s.Lineage == f.lineage
	if sameLineage && bytes.Equal(res, f.resources) {
		s.Serial = f.serial
		return nil
	}
	serial := s.Serial
	if sameLineage {
		serial = max(serial, f.serial)
	}
	serial++
	next := *s
	next.Serial = serial
	data, err := encode(&next)
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	if err := f.write(data); err != nil {
		return err
	}
	s.Serial = serial
	f.remember(&next, res)
	return nil
}

func (f *File) remember(s *State, resources []byte) {
	f.known = true
	f.lineage = s.Lineage
	f.serial = s.Serial
	f.resources = resources
}

func (f *File) write(data []byte) error {
	dir, base := filepath.Split(f.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := writeTemp(dir, base, data)
	if err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = os.Remove(tmp)
		}
	}()
	f.hook("temp written")

	prev, err := os.ReadFile(f.path)
	switch {
	case f.backedUp:
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("back up state file: %w", err)
	default:
		backupTmp, err := writeTemp(dir, base+".backup", prev)
		if err != nil {
			return fmt.Errorf("back up state file: %w", err)
		}
		if err := os.Rename(backupTmp, f.path+".backup"); err != nil {
			_ = os.Remove(backupTmp)
			return fmt.Errorf("back up state file: %w", err)
		}
		f.backedUp = true
		f.hook("backup written")
	}

	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	committed = true
	f.hook("renamed")
	// The renames are durable only once the folder's entries are.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write state file: %w", err)
	}
	return nil
}

func (f *File) hook(step string) {
	if f.testHook != nil {
		f.testHook(step)
	}
}

// writeTemp writes data to a new file of mode 0600 in dir, synced and closed,
// and returns its name. The name starts with a dot and base, so that a file
// left by a crash is recognisable.
func writeTemp(dir, base string, data []byte) (name string, err error) {
	t, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = t.Close()
			_ = os.Remove(t.Name())
		}
	}()
	// CreateTemp already uses 0600, less the umask; make it exactly that.
	if err := t.Chmod(0o600); err != nil {
		return "", err
	}
	if _, err := t.Write(data); err != nil {
		return "", err
	}
	if err := t.Sync(); err != nil {
		return "", err
	}
	if err := t.Close(); err != nil {
		return "", err
	}
	return t.Name(), nil
}
