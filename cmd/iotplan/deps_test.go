package main

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// allowedDeps is the dependency policy between iotplan's packages: each
// internal package may import only the internal packages listed for it.
var allowedDeps = map[string][]string{
	"internal/hub":         {},
	"internal/hub/hubtest": {"internal/hub"},
	"internal/hub/query":   {"internal/hub"},
	"internal/config":      {"internal/hub", "internal/hub/query"},
	"internal/state":       {"internal/hub"},
	"internal/plan":        {"internal/config", "internal/state", "internal/hub", "internal/hub/query"},
	"internal/plan/render": {"internal/plan", "internal/config", "internal/state", "internal/hub"},
	"internal/apply":       {"internal/plan", "internal/state", "internal/hub"},
	"internal/localhub":    {"internal/hub", "internal/hub/query"},
	// The servers of `hub serve`, over the store.
	"internal/localhub/server":  {"internal/hub", "internal/hub/query", "internal/localhub"},
	"internal/localhub/gateway": {"internal/hub", "internal/hub/query", "internal/localhub"},
	"internal/device":           {"internal/hub"},
}

const module = "github.com/iotplan/iotplan/"

func TestDependencyDirection(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(filepath.Join(root, "internal"), func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() == "testdata" {
			if d != nil && d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return err
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		allowed, known := allowedDeps[rel]
		if !known {
			t.Errorf("package %s is not in the dependency policy (cmd/iotplan/deps_test.go)", rel)
			return nil
		}
		// The policy binds the code; tests may build their inputs with any
		// package and run against the real local hub.
		for _, imp := range pkg.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if dep == rel || contains(allowed, dep) {
				continue
			}
			t.Errorf("%s imports %s, which the dependency policy does not allow", rel, dep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
