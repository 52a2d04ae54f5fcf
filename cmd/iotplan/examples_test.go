package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotplan/iotplan/internal/config"
)

// TestExamples loads every folder of examples/ and checks that its files are
// formatted, so that the examples never rot.
func TestExamples(t *testing.T) {
	dirs, err := filepath.Glob("../../examples/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no examples found")
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			l := config.NewLoader(os.DirFS(dir))
			cfg, diags := l.Load(nil)
			if diags.HasErrors() {
				t.Fatalf("load: %s", diags.Error())
			}
			if len(cfg.Devices) == 0 {
				t.Errorf("the example declares no devices")
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				out, err := formatHCL(f, src)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(src, out) {
					t.Errorf("%s is not formatted: run iotplan fmt in %s", strings.TrimPrefix(f, "../../"), strings.TrimPrefix(dir, "../../"))
				}
			}
		})
	}
}
