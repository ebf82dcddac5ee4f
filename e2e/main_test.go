package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// fibdBinary is the path of the fibd binary that TestMain builds for every
// test of the package.
var fibdBinary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run builds fibd into a temporary directory, runs the tests and removes
// the directory.
func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "fibd-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "create directory for the fibd binary: %v\n", err)

		return 1
	}
	defer os.RemoveAll(dir)

	fibdBinary = filepath.Join(dir, "fibd")
	build := exec.Command("go", "build", "-o", fibdBinary, "github.com/fibd/fibd/cmd/fibd")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build fibd: %v\n%s", err, out)

		return 1
	}

	return m.Run()
}
