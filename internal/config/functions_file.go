package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// makeFileFunc returns file(path): the contents of a UTF-8 text file of the
// working folder.
func makeFileFunc(fsys fs.FS) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a UTF-8 text file of the working folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			name, err := relativePath(p)
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, err)
			}
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, fileError(p, err))
			}
			if !utf8.Valid(b) {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the contents of %q are not valid UTF-8 text", p)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

// makeFileExistsFunc returns fileexists(path): whether a regular file exists
// at path in the working folder.
func makeFileExistsFunc(fsys fs.FS) function.Function {
	return function.New(&function.Spec{
		Description: "Tells whether a file exists in the working folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			name, err := relativePath(p)
			if err != nil {
				return cty.UnknownVal(cty.Bool), function.NewArgError(0, err)
			}
			fi, err := fs.Stat(fsys, name)
			if errors.Is(err, fs.ErrNotExist) {
				return cty.False, nil
			}
			if err != nil {
				return cty.UnknownVal(cty.Bool), function.NewArgError(0, fileError(p, err))
			}
			if !fi.Mode().IsRegular() {
				return cty.UnknownVal(cty.Bool), function.NewArgErrorf(0, "%q is not a regular file", p)
			}
			return cty.True, nil
		},
	})
}

// relativePath turns a path written in the configuration into a name for
// fs.FS. Paths are relative to the working folder and may not leave it.
func relativePath(p string) (string, error) {
	if p == "" {
		return "", errors.New("the path is empty")
	}
	if path.IsAbs(p) || filepath.IsAbs(p) || filepath.VolumeName(p) != "" {
		return "", fmt.Errorf("%q is an absolute path; give a path relative to the working folder", p)
	}
	name := path.Clean(filepath.ToSlash(p))
	if !fs.ValidPath(name) {
		return "", fmt.Errorf("%q is outside the working folder", p)
	}
	return name, nil
}

func fileError(p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no file exists at %q", p)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot read %q: %v", p, err)
}

// makeFileBase64Func returns filebase64(path): the contents of a file of the
// working folder, base64-encoded, for files that are not text.
func makeFileBase64Func(fsys fs.FS) function.Function {
	return function.New(&function.Spec{
		Description: "Reads a file of the working folder and returns its contents as base64.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			name, err := relativePath(p)
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, err)
			}
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, fileError(p, err))
			}
			return cty.StringVal(base64.StdEncoding.EncodeToString(b)), nil
		},
	})
}

// makeFileSetFunc returns fileset(path, pattern): the names of the regular
// files under path that match pattern, relative to path, sorted. The
// pattern is path.Match's, where ** also matches any number of folders.
func makeFileSetFunc(fsys fs.FS) function.Function {
	return function.New(&function.Spec{
		Description: "Lists the files under a folder of the working folder whose relative names match a pattern.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "pattern", Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Set(cty.String)),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p, pattern := args[0].AsString(), args[1].AsString()
			dir, err := relativePath(p)
			if err != nil {
				return cty.UnknownVal(cty.Set(cty.String)), function.NewArgError(0, err)
			}
			if _, err := path.Match(strings.ReplaceAll(pattern, "**", "*"), ""); err != nil {
				return cty.UnknownVal(cty.Set(cty.String)), function.NewArgErrorf(1, "invalid pattern %q: %s", pattern, err)
			}
			var names []cty.Value
			err = fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.Type().IsRegular() {
					return nil
				}
				rel := strings.TrimPrefix(name, dir+"/")
				if dir == "." {
					rel = name
				}
				if globMatch(strings.Split(pattern, "/"), strings.Split(rel, "/")) {
					names = append(names, cty.StringVal(rel))
				}
				return nil
			})
			if err != nil {
				return cty.UnknownVal(cty.Set(cty.String)), function.NewArgError(0, fileError(p, err))
			}
			if len(names) == 0 {
				return cty.SetValEmpty(cty.String), nil
			}
			return cty.SetVal(names), nil
		},
	})
}

// globMatch matches path segments against pattern segments, where a "**"
// segment matches any number of segments.
func globMatch(pattern, name []string) bool {
	if len(pattern) == 0 {
		return len(name) == 0
	}
	if pattern[0] == "**" {
		for i := 0; i <= len(name); i++ {
			if globMatch(pattern[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	ok, _ := path.Match(pattern[0], name[0])
	return ok && globMatch(pattern[1:], name[1:])
}

var basenameFunc = function.New(&function.Spec{
	Description: "Returns the last element of a path.",
	Params:      []function.Parameter{{Name: "path", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(filepath.Base(args[0].AsString())), nil
	},
})

var dirnameFunc = function.New(&function.Spec{
	Description: "Returns a path without its last element.",
	Params:      []function.Parameter{{Name: "path", Type: cty.String}},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return cty.StringVal(filepath.Dir(args[0].AsString())), nil
	},
})

// makeTemplateFileFunc returns templatefile(path, vars): a template file of
// the working folder rendered with vars, an object whose attributes are
// the template's variables. Templates may call every function but
// templatefile itself.
func makeTemplateFileFunc(fsys fs.FS, funcs func() map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Description: "Renders a template file of the working folder with the given variables.",
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			name, err := relativePath(p)
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, err)
			}
			src, err := fs.ReadFile(fsys, name)
			if err != nil {
				return cty.UnknownVal(cty.String), function.NewArgError(0, fileError(p, err))
			}
			vars := args[1]
			if ty := vars.Type(); !vars.IsNull() && !ty.IsObjectType() && !ty.IsMapType() {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(1, "the variables must be an object, such as { name = \"x\" }, not %s", ty.FriendlyName())
			}
			expr, diags := hclsyntax.ParseTemplate(src, name, hcl.InitialPos)
			if diags.HasErrors() {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the template %q is not valid: %s", p, diags.Error())
			}
			ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: map[string]function.Function{}}
			for k, f := range funcs() {
				if k != "templatefile" {
					ctx.Functions[k] = f
				}
			}
			if !vars.IsNull() {
				for it := vars.ElementIterator(); it.Next(); {
					k, v := it.Element()
					ctx.Variables[k.AsString()] = v
				}
			}
			v, diags := expr.Value(ctx)
			if diags.HasErrors() {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(1, "rendering %q: %s", p, diags.Error())
			}
			return v, nil
		},
	})
}
