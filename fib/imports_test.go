package fib_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsPure checks that fib and nexthop stay free of kernel, BGP and
// RPC code, so that they build and test anywhere.
func TestImportsPure(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: the go command is needed to list imports: %v", err)
	}

	out, err := exec.Command(gobin, "list", "-deps", "github.com/fibd/fibd/fib", "github.com/fibd/fibd/nexthop").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}

	forbidden := []string{
		"github.com/mdlayher/netlink",
		"golang.org/x/sys/unix",
		"github.com/osrg/gobgp",
		"google.golang.org/grpc",
	}

	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("fib or nexthop depends on %s", dep)
			}
		}
	}
}
