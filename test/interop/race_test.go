//go:build race

package interop

func init() { buildFlags = append(buildFlags, "-race") }
