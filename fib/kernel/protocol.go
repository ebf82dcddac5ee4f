package kernel

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// WriteProtocolName writes dir/fibd.conf with the line "PROTO NAME", so that
// iproute2 shows routes and nexthops of protocol proto as "proto NAME".
// The daemon passes /etc/iproute2/rt_protos.d. The file is replaced
// atomically.
func WriteProtocolName(dir string, proto uint8, name string) error {
	path := filepath.Join(dir, "fibd.conf")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write protocol name %s: %w", path, err)
	}

	tmp, err := os.CreateTemp(dir, ".fibd.conf.*")
	if err != nil {
		return fmt.Errorf("write protocol name %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())

	line := strconv.Itoa(int(proto)) + " " + name + "\n"
	if _, err := tmp.WriteString(line); err != nil {
		tmp.Close()

		return fmt.Errorf("write protocol name %s: %w", path, err)
	}

	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()

		return fmt.Errorf("write protocol name %s: %w", path, err)
	}

	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write protocol name %s: %w", path, err)
	}

	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write protocol name %s: %w", path, err)
	}

	return nil
}
