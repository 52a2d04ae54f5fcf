package state

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/iotplan/iotplan/internal/hub"
)

func TestFileLoadMissing(t *testing.T) {
	dir := t.TempDir()
	f := NewFile(filepath.Join(dir, "iotplan.state"))
	s, err := f.Load()
	if err != nil {
		t.Fatalf("Load() of a missing file: %v", err)
	}
	if s.Serial != 0 || s.Lineage == "" || len(s.Resources) != 0 {
		t.Errorf("Load() of a missing file = %+v, want a new empty state", s)
	}
	// An unchanged empty state is not worth a file.
	if err := f.Save(s); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string(nil), dirNames(t, dir)); d != "" {
		t.Errorf("Save() of an unchanged new state wrote files (-want +got):\n%s", d)
	}
}

func TestFileLoadEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotplan.state")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewFile(path).Load()
	if err != nil {
		t.Fatalf("Load() of an empty file: %v", err)
	}
	if s.Serial != 0 || s.Lineage == "" || len(s.Resources) != 0 {
		t.Errorf("Load() of an empty file = %+v, want a new empty state", s)
	}
}

func TestFileLoadError(t *testing.T) {
	dir := t.TempDir()
	tests := map[string]struct {
		setup func(path string)
		want  error
	}{
		"malformed": {
			setup: func(path string) { writeFile(t, path, []byte(`{"format_version":1,`)) },
			want:  ErrUnusableState,
		},
		"newer": {
			setup: func(path string) { writeFile(t, path, []byte(`{"format_version":7}`)) },
			want:  ErrNewerFormat,
		},
		"a folder": {
			setup: func(path string) {
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			tt.setup(path)
			s, err := NewFile(path).Load()
			if err == nil {
				t.Fatalf("Load() = %+v, want an error", s)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Load() error = %v, want one that Is %v", err, tt.want)
			}
		})
	}
}

func TestFileSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotplan.state")
	f := NewFile(path)
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	s.Resources["device.a"] = fullResource("device.a")
	s.Resources["device.b"] = &Resource{Addr: "device.b", Type: "device", Status: hub.StatusEnabled}
	if err := f.Save(s); err != nil {
		t.Fatalf("Save(): %v", err)
	}
	if s.Serial != 1 {
		t.Errorf("Save() left Serial %d, want 1", s.Serial)
	}
	got, err := NewFile(path).Load()
	if err != nil {
		t.Fatalf("Load(): %v", err)
	}
	if d := cmp.Diff(s, got); d != "" {
		t.Errorf("Load() after Save() mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff(mustWrite(t, s), readFile(t, path)); d != "" {
		t.Errorf("state file is not Write's output (-want +got):\n%s", d)
	}
}

func TestFileSerial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotplan.state")
	f := NewFile(path)
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	add := func(s *State, addrs ...string) *State {
		for _, a := range addrs {
			s.Resources[a] = &Resource{Addr: a, Type: "device"}
		}
		return s
	}
	stale := s.DeepCopy() // like a Sync snapshot, whose serial Save never sees

	steps := []struct {
		name       string
		state      func() *State
		wantSerial uint64 // of the file and of the state after Save
		wantWrite  bool
	}{
		{"first change", func() *State { return add(s, "device.a") }, 1, true},
		{"unchanged", func() *State { return s }, 1, false},
		{"unchanged copy", func() *State { return s.DeepCopy() }, 1, false},
		{"changed", func() *State { return add(s, "device.b") }, 2, true},
		{"stale serial", func() *State { return add(stale.DeepCopy(), "device.a", "device.c") }, 3, true},
		{"stale serial unchanged", func() *State { return add(stale.DeepCopy(), "device.a", "device.c") }, 3, false},
		{"serial ahead", func() *State { return &State{Lineage: s.Lineage, Serial: 10, Resources: map[string]*Resource{}} }, 11, true},
		{"other lineage", func() *State { return &State{Lineage: "other", Serial: 4, Resources: map[string]*Resource{}} }, 5, true},
	}
	for _, st := range steps {
		saved := st.state()
		before := fileState(t, path)
		if err := f.Save(saved); err != nil {
			t.Fatalf("%s: Save(): %v", st.name, err)
		}
		after := fileState(t, path)
		if saved.Serial != st.wantSerial {
			t.Errorf("%s: Save() left Serial %d, want %d", st.name, saved.Serial, st.wantSerial)
		}
		if after.Serial != st.wantSerial {
			t.Errorf("%s: file serial %d, want %d", st.name, after.Serial, st.wantSerial)
		}
		if wrote := before == nil || !cmp.Equal(before, after); wrote != st.wantWrite {
			t.Errorf("%s: Save() wrote: %v, want %v", st.name, wrote, st.wantWrite)
		}
		if d := cmp.Diff(saved, after); d != "" {
			t.Errorf("%s: file mismatch (-saved +file):\n%s", st.name, d)
		}
	}
}

// TestFileSaveSerialWithoutLoad saves over a file that this File never
// loaded: the serial comes from the state alone.
func TestFileSaveSerialWithoutLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotplan.state")
	s := stateWith("device.a")
	s.Serial = 41
	if err := NewFile(path).Save(s); err != nil {
		t.Fatal(err)
	}
	if got := fileState(t, path).Serial; got != 42 {
		t.Errorf("file serial %d, want 42", got)
	}
}

func TestFileBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "iotplan.state")
	f := NewFile(path)
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	// One run saves three times: the backup holds the file as it was
	// before the run's first save that had a file to back up.
	var versions [][]byte
	for i, addr := range []string{"device.a", "device.b", "device.c"} {
		s.Resources[addr] = &Resource{Addr: addr, Type: "device", PrimaryKey: "secret"}
		if err := f.Save(s); err != nil {
			t.Fatalf("Save() %d: %v", i+1, err)
		}
		versions = append(versions, readFile(t, path))
		if i == 0 {
			if _, err := os.Stat(path + ".backup"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("first Save() made a backup (stat: %v); there was nothing to back up", err)
			}
			continue
		}
		if d := cmp.Diff(string(versions[0]), string(readFile(t, path+".backup"))); d != "" {
			t.Errorf("Save() %d: backup is not the state from before the run (-want +got):\n%s", i+1, d)
		}
	}
	// The next run backs up the state the previous run left.
	next := NewFile(path)
	s2, err := next.Load()
	if err != nil {
		t.Fatal(err)
	}
	delete(s2.Resources, "device.a")
	if err := next.Save(s2); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(versions[2]), string(readFile(t, path+".backup"))); d != "" {
		t.Errorf("next run: backup is not the previous run's state (-want +got):\n%s", d)
	}
	for _, p := range []string{path, path + ".backup"} {
		if mode := fileMode(t, p); mode != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), mode)
		}
	}
	if d := cmp.Diff([]string{"iotplan.state", "iotplan.state.backup"}, dirNames(t, dir)); d != "" {
		t.Errorf("files left in the folder (-want +got):\n%s", d)
	}
}

// TestFileSaveModeOverwrite saves over a state file that others could read:
// the new file is 0600 regardless.
func TestFileSaveModeOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "iotplan.state")
	s := stateWith("device.a")
	writeFile(t, path, mustWrite(t, s))
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	f := NewFile(path)
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	s.Resources["device.b"] = &Resource{Addr: "device.b"}
	if err := f.Save(s); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + ".backup"} {
		if mode := fileMode(t, p); mode != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), mode)
		}
	}
}

// TestFileSaveCrash stops at each step of a save, as a crash would, and
// checks what the disk holds then: always a complete state file, the previous
// one until the rename and the new one after it.
func TestFileSaveCrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "iotplan.state")
	f := NewFile(path)
	s, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	s.Resources["device.a"] = &Resource{Addr: "device.a"}
	if err := f.Save(s); err != nil {
		t.Fatal(err)
	}
	previous := s.DeepCopy()
	s.Resources["device.b"] = &Resource{Addr: "device.b"}
	next := s.DeepCopy()
	next.Serial++

	var steps []string
	f.testHook = func(step string) {
		steps = append(steps, step)
		want := previous
		if step == "renamed" {
			want = next
		}
		if d := cmp.Diff(want, fileState(t, path)); d != "" {
			t.Errorf("at %q the state file is not the expected version (-want +got):\n%s", step, d)
		}
		if step == "temp written" {
			temps := slices.DeleteFunc(dirNames(t, dir), func(n string) bool { return n == "iotplan.state" })
			if len(temps) != 1 {
				t.Fatalf("at %q: files %q, want one temporary file", step, temps)
			}
			if mode := fileMode(t, filepath.Join(dir, temps[0])); mode != 0o600 {
				t.Errorf("temporary file has mode %v, want 0600", mode)
			}
			if d := cmp.Diff(next, mustRead(t, readFile(t, filepath.Join(dir, temps[0])))); d != "" {
				t.Errorf("temporary file mismatch (-want +got):\n%s", d)
			}
		}
		if step == "backup written" {
			if d := cmp.Diff(previous, mustRead(t, readFile(t, path+".backup"))); d != "" {
				t.Errorf("backup mismatch (-want +got):\n%s", d)
			}
		}
	}
	if err := f.Save(s); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"temp written", "backup written", "renamed"}, steps); d != "" {
		t.Errorf("steps mismatch (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"iotplan.state", "iotplan.state.backup"}, dirNames(t, dir)); d != "" {
		t.Errorf("files left in the folder (-want +got):\n%s", d)
	}
}

func TestFileSaveError(t *testing.T) {
	tests := map[string]struct {
		path  func(dir string) string
		state *State
		want  error
	}{
		"missing folder": {
			path:  func(dir string) string { return filepath.Join(dir, "missing", "iotplan.state") },
			state: stateWith("device.a"),
			want:  fs.ErrNotExist,
		},
		"target is a folder": {
			path: func(dir string) string {
				p := filepath.Join(dir, "iotplan.state")
				if err := os.Mkdir(p, 0o700); err != nil {
					t.Fatal(err)
				}
				return p
			},
			state: stateWith("device.a"),
		},
		"unencodable state": {
			path:  func(dir string) string { return filepath.Join(dir, "iotplan.state") },
			state: &State{Resources: map[string]*Resource{}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.path(dir)
			before := dirNames(t, dir)
			serial := tt.state.Serial
			err := NewFile(path).Save(tt.state)
			if err == nil {
				t.Fatal("Save() = nil, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Save() error = %v, want one that Is %v", err, tt.want)
			}
			if tt.state.Serial != serial {
				t.Errorf("failed Save() changed Serial from %d to %d", serial, tt.state.Serial)
			}
			if d := cmp.Diff(before, dirNames(t, dir)); d != "" {
				t.Errorf("failed Save() left files (-before +after):\n%s", d)
			}
		})
	}
}

// fileState reads the state file at path, or returns nil if there is none.
func fileState(t *testing.T, path string) *State {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return mustRead(t, b)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func fileMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
