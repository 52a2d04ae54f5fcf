package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"
)

type fmtOptions struct {
	check, diff, recursive, list bool
}

func newFmtCmd(s *streams) *cobra.Command {
	var o fmtOptions
	cmd := &cobra.Command{
		Use:   "fmt [PATH...]",
		Short: "Rewrite configuration files in the canonical format",
		Long: `Rewrite *.hcl and *.iotvars files in the canonical format and style.
With no PATH, formats the files of the working folder. "-" formats standard
input to standard output.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFmt(s, o, args)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.check, "check", false, "change nothing; exit 3 if a file is not formatted")
	f.BoolVar(&o.diff, "diff", false, "show what formatting changes")
	f.BoolVar(&o.recursive, "recursive", false, "also format files in subfolders")
	f.BoolVar(&o.list, "list", true, "list the files whose formatting changes")
	return cmd
}

func runFmt(s *streams, o fmtOptions, paths []string) error {
	if len(paths) == 1 && paths[0] == "-" {
		src, err := readAll(s)
		if err != nil {
			return err
		}
		out, err := formatHCL("<stdin>", src)
		if err != nil {
			return err
		}
		_, err = s.Out.Write(out)
		return err
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("fmt: %w", err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (!o.recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(path, ".hcl") || strings.HasSuffix(path, ".iotvars") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fmt: %w", err)
		}
	}
	unformatted := 0
	var failed bool
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("fmt: %w", err)
		}
		out, err := formatHCL(path, src)
		if err != nil {
			fmt.Fprintln(s.Err, err)
			failed = true
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		unformatted++
		if o.list {
			fmt.Fprintln(s.Out, path)
		}
		if o.diff {
			writeLineDiff(s, path, string(src), string(out))
		}
		if !o.check {
			info, err := os.Stat(path)
			if err != nil {
				return fmt.Errorf("fmt: %w", err)
			}
			if err := os.WriteFile(path, out, info.Mode().Perm()); err != nil {
				return fmt.Errorf("fmt: %w", err)
			}
		}
	}
	switch {
	case failed:
		return exitCode(1)
	case o.check && unformatted > 0:
		return exitCode(3)
	}
	return nil
}

// formatHCL checks that src parses, then formats it with hclwrite, so that
// a file with a syntax error is reported rather than mangled.
func formatHCL(name string, src []byte) ([]byte, error) {
	_, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("Error: %s cannot be formatted: %s", name, diags.Error())
	}
	return hclwrite.Format(src), nil
}

// writeLineDiff prints a unified-style diff of two texts, line by line.
func writeLineDiff(s *streams, name, a, b string) {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	fmt.Fprintf(s.Out, "--- old/%s\n+++ new/%s\n", name, name)
	// Longest common subsequence over lines: files are small.
	n, m := len(al), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(s.Out, "+%s\n", bl[j])
			j++
		default:
			fmt.Fprintf(s.Out, "-%s\n", al[i])
			i++
		}
	}
}

func readAll(s *streams) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(s.In); err != nil {
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	return buf.Bytes(), nil
}
