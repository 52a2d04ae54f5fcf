//go:build !unix

package interop

import (
	"context"
	"os/exec"
	"testing"
)

// lockPort443 does nothing where flock(2) is missing: runs of the suite
// at once fail on the taken port instead of taking turns.
func lockPort443(*testing.T, context.Context) {}

// inProcessGroup leaves cmd as it is where process groups are missing.
func inProcessGroup(*exec.Cmd) {}
