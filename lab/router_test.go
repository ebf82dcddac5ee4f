package lab

import (
	"path/filepath"
	"testing"

	"github.com/fibd/fibd/internal/config"
)

// TestRouterConfigKernel parses fibd's configuration as fibd does and
// checks its kernel section for each fibd router.
func TestRouterConfigKernel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rt_protos.d")
	tests := []struct {
		router   string
		namesDir string
		wantDir  string
		wantDry  bool
	}{
		{RouterFibd, "", config.Default().Kernel.ProtocolNamesDir, false},
		{RouterFibd, dir, dir, false},
		{RouterFibdDry, "", config.Default().Kernel.ProtocolNamesDir, true},
		{RouterFibdDry, dir, dir, true},
	}

	for _, tt := range tests {
		l := &Lab{opts: Options{Router: tt.router, Peers: 2, ProtocolNamesDir: tt.namesDir}}
		text := l.routerConfig(filepath.Join(t.TempDir(), "fibd.sock"))

		cfg, err := config.Parse([]byte(text))
		if err != nil {
			t.Fatalf("router %s, names dir %q: parse config: %v\n%s", tt.router, tt.namesDir, err, text)
		}

		if cfg.Kernel.ProtocolNamesDir != tt.wantDir {
			t.Errorf("router %s, names dir %q: kernel.protocol-names-dir = %q, want %q", tt.router, tt.namesDir, cfg.Kernel.ProtocolNamesDir, tt.wantDir)
		}

		if cfg.Kernel.DryRun != tt.wantDry {
			t.Errorf("router %s, names dir %q: kernel.dry-run = %t, want %t", tt.router, tt.namesDir, cfg.Kernel.DryRun, tt.wantDry)
		}
	}
}
