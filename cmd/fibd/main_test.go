package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDispatchUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no command", nil, exitUsage, "fibd: missing command"},
		{"unknown command", []string{"rnu"}, exitUsage, `fibd: unknown command "rnu"`},
		{"version argument", []string{"version", "x"}, exitUsage, `version takes no arguments, got "x"`},
		{"run without config", []string{"run"}, exitUsage, "fibd run: missing --config FILE"},
		{"run extra argument", []string{"run", "--config", "/x", "now"}, exitUsage, `fibd run: unexpected argument "now"`},
		{"run unknown flag", []string{"run", "--conf", "/x"}, exitUsage, "flag provided but not defined: -conf"},
		{"run missing file", []string{"run", "--config", "/nonexistent/fibd.yaml"}, exitError, "fibd: read config: open /nonexistent/fibd.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer

			code := dispatch(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d", code, tt.code)
			}

			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.stderr)
			}

			if tt.code == exitUsage && !strings.Contains(stderr.String(), "usage: fibd") {
				t.Errorf("stderr lacks the usage text:\n%s", stderr.String())
			}
		})
	}
}

func TestDispatchHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		var stdout, stderr bytes.Buffer
		if code := dispatch(args, &stdout, &stderr); code != exitOK {
			t.Errorf("%q: exit code %d", args, code)
		}

		if !strings.HasPrefix(stdout.String(), "usage: fibd COMMAND") {
			t.Errorf("%q: stdout = %q", args, stdout.String())
		}
	}

	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"run", "-h"}, &stdout, &stderr); code != exitOK {
		t.Errorf("run -h: exit code %d", code)
	}

	if !strings.Contains(stderr.String(), "usage: fibd run --config FILE") || !strings.Contains(stderr.String(), "-check") {
		t.Errorf("run -h printed %q", stderr.String())
	}
}

func TestDispatchVersion(t *testing.T) {
	version = "v9.9.9-test"
	t.Cleanup(func() { version = "" })

	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"version"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}

	if stdout.String() != "fibd v9.9.9-test\n" {
		t.Errorf("version printed %q", stdout.String())
	}
}

func TestRunCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, good, "log: {level: debug}\n")
	writeFile(t, bad, "kernel: {protocol: 2}\n")

	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"run", "--check", "--config", good}, &stdout, &stderr); code != exitOK {
		t.Errorf("check of a valid file: exit code %d: %s", code, stderr.String())
	}

	if !strings.Contains(stdout.String(), "is valid") {
		t.Errorf("check printed %q", stdout.String())
	}

	stderr.Reset()
	if code := dispatch([]string{"run", "--check", "--config", bad}, &stdout, &stderr); code != exitError {
		t.Errorf("check of an invalid file: exit code %d", code)
	}

	if !strings.Contains(stderr.String(), "kernel.protocol: 2 is reserved for kernel") {
		t.Errorf("check of an invalid file printed %q", stderr.String())
	}

	// A probable typo is valid, with a warning.
	typo := filepath.Join(dir, "typo.yaml")
	writeFile(t, typo, "fib: {hold: [nosuchsource]}\n")
	stdout.Reset()
	stderr.Reset()
	if code := dispatch([]string{"run", "--check", "--config", typo}, &stdout, &stderr); code != exitOK {
		t.Errorf("check of a file with a warning: exit code %d: %s", code, stderr.String())
	}

	if !strings.Contains(stderr.String(), `fibd: warning: fib.hold[0]: source "nosuchsource" is neither "bgp" nor listed in api.sources`) {
		t.Errorf("check of a file with a hold typo printed %q", stderr.String())
	}
}

func TestGroupChanges(t *testing.T) {
	groups, restart := groupChanges([]string{
		"api.default-distance",
		"api.grace-period",
		"api.socket",
		"api.sources.ops.distance",
		"bgp",
		"fib.hold-timeout",
		"kernel.protocol",
		"log.format",
		"log.level",
	})

	wantGroups := []string{"api.grace-period", "api.sources", "fib.hold-timeout", "log.level"}
	if !slices.Equal(groups, wantGroups) {
		t.Errorf("groups = %q, want %q", groups, wantGroups)
	}

	wantRestart := []string{"api.socket", "bgp", "kernel.protocol", "log.format"}
	if !slices.Equal(restart, wantRestart) {
		t.Errorf("restart = %q, want %q", restart, wantRestart)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()

	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestExampleConfigs(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}

	if len(paths) < 2 {
		t.Fatalf("found %d example configs, want at least 2", len(paths))
	}

	for _, path := range paths {
		if _, err := loadConfig(path); err != nil {
			t.Errorf("example %s: %v", path, err)
		}
	}
}

func TestCheckBGPSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fibd.yaml")
	writeFile(t, path, "bgp:\n  global:\n    config:\n      as: many\n")

	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"run", "--check", "--config", path}, &stdout, &stderr); code != exitError {
		t.Errorf("check of an invalid bgp section: exit code %d, want %d", code, exitError)
	}

	if !strings.Contains(stderr.String(), "config "+path+": config bgp: ") {
		t.Errorf("check printed %q, want the file and the bgp section named", stderr.String())
	}
}
