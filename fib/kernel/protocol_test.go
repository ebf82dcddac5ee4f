package kernel

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteProtocolName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rt_protos.d")
	for range 2 {
		if err := WriteProtocolName(dir, 201, "fibd"); err != nil {
			t.Fatalf("write protocol name: %v", err)
		}
	}

	got, err := os.ReadFile(filepath.Join(dir, "fibd.conf"))
	if err != nil {
		t.Fatalf("read fibd.conf: %v", err)
	}

	if string(got) != "201 fibd\n" {
		t.Errorf("fibd.conf = %q, want %q", got, "201 fibd\n")
	}

	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%s holds %d files, want only fibd.conf", dir, len(entries))
	}
}
