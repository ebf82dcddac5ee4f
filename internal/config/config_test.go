package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/nexthop"
)

func TestParseEmpty(t *testing.T) {
	for _, doc := range []string{"", "\n", "# only a comment\n", "---\n"} {
		cfg, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("Parse(%q): %v", doc, err)
		}

		if cfg.Kernel.Protocol != 201 {
			t.Errorf("kernel.protocol = %d, want 201", cfg.Kernel.Protocol)
		}

		if cfg.Kernel.NexthopIDs != IDRange(nexthop.DefaultRange) {
			t.Errorf("kernel.nexthop-ids = %s, want %v", cfg.Kernel.NexthopIDs, nexthop.DefaultRange)
		}

		if cfg.Kernel.ProtocolNamesDir != "/etc/iproute2/rt_protos.d" {
			t.Errorf("kernel.protocol-names-dir = %q", cfg.Kernel.ProtocolNamesDir)
		}

		if cfg.API.Socket != "/run/fibd/fibd.sock" || cfg.API.SocketMode != 0o660 {
			t.Errorf("api socket = %q mode %s", cfg.API.Socket, cfg.API.SocketMode)
		}

		if time.Duration(cfg.API.GracePeriod) != 30*time.Second || cfg.API.MaxBatch != 10000 {
			t.Errorf("api grace-period = %s max-batch = %d", cfg.API.GracePeriod, cfg.API.MaxBatch)
		}

		if time.Duration(cfg.FIB.HoldTimeout) != 5*time.Minute || cfg.FIB.Hold != nil || cfg.FIB.FlushOnExit {
			t.Errorf("fib = %+v", cfg.FIB)
		}

		if cfg.Metrics.Address != "127.0.0.1:9342" || cfg.Metrics.Pprof {
			t.Errorf("metrics = %+v", cfg.Metrics)
		}

		if cfg.GoBGP.Mode != ModeOff || cfg.BGPEnabled() {
			t.Errorf("gobgp.mode = %q, want off", cfg.GoBGP.Mode)
		}
	}
}

const fullConfig = `
log:
  level: debug
  format: json
kernel:
  protocol: 99
  nexthop-ids: 1000-1999
  read-buffer: 8388608
  write-buffer: 1048576
  ack-per-message: true
  protocol-names-dir: ""
  audit-interval: 10m
fib:
  batch-size: 4096
  hold: [bgp, ops]
  hold-timeout: 90s
  restore-wait: 2s
  flush-on-exit: true
  takeover-conflicts: true
api:
  socket: /run/fibd/api.sock
  socket-mode: "0600"
  tcp:
    address: "[::1]:50051"
    cert: /etc/fibd/cert.pem
    key: /etc/fibd/key.pem
    client-ca: /etc/fibd/ca.pem
  grace-period: 1m
  max-batch: 500
  default-distance: 15
  sources:
    ops: {distance: 5}
    lab: {distance: 250}
metrics:
  address: 127.0.0.1:9100
  pprof: true
gobgp:
  api-address: 127.0.0.1:50052
  ebgp-distance: 21
  ibgp-distance: 201
  table: 100
  metric: 30
  convergence-timeout: 45s
  defer-after-restart: false
bgp:
  global:
    config:
      as: 64512
      router-id: 192.0.2.1
`

func TestParseFull(t *testing.T) {
	cfg, err := Parse([]byte(fullConfig))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	checks := []struct {
		name      string
		got, want any
	}{
		{"log.level", cfg.Log.Level, "debug"},
		{"log.format", cfg.Log.Format, "json"},
		{"kernel.protocol", cfg.Kernel.Protocol, 99},
		{"kernel.nexthop-ids", cfg.Kernel.NexthopIDs, IDRange{First: 1000, Last: 1999}},
		{"kernel.read-buffer", cfg.Kernel.ReadBuffer, 8388608},
		{"kernel.write-buffer", cfg.Kernel.WriteBuffer, 1048576},
		{"kernel.ack-per-message", cfg.Kernel.AckPerMessage, true},
		{"kernel.protocol-names-dir", cfg.Kernel.ProtocolNamesDir, ""},
		{"kernel.audit-interval", cfg.Kernel.AuditInterval, Duration(10 * time.Minute)},
		{"fib.batch-size", cfg.FIB.BatchSize, 4096},
		{"fib.hold", strings.Join(cfg.FIB.Hold, ","), "bgp,ops"},
		{"fib.hold-timeout", cfg.FIB.HoldTimeout, Duration(90 * time.Second)},
		{"fib.restore-wait", cfg.FIB.RestoreWait, Duration(2 * time.Second)},
		{"fib.flush-on-exit", cfg.FIB.FlushOnExit, true},
		{"fib.takeover-conflicts", cfg.FIB.TakeoverConflicts, true},
		{"api.socket", cfg.API.Socket, "/run/fibd/api.sock"},
		{"api.socket-mode", cfg.API.SocketMode, FileMode(0o600)},
		{"api.tcp.address", cfg.API.TCP.Address, "[::1]:50051"},
		{"api.tcp.client-ca", cfg.API.TCP.ClientCA, "/etc/fibd/ca.pem"},
		{"api.grace-period", cfg.API.GracePeriod, Duration(time.Minute)},
		{"api.max-batch", cfg.API.MaxBatch, 500},
		{"api.default-distance", cfg.API.DefaultDistance, 15},
		{"api.sources.ops.distance", cfg.API.Sources["ops"].Distance, 5},
		{"api.sources.lab.distance", cfg.API.Sources["lab"].Distance, 250},
		{"metrics.address", cfg.Metrics.Address, "127.0.0.1:9100"},
		{"metrics.pprof", cfg.Metrics.Pprof, true},
		{"gobgp.mode", cfg.GoBGP.Mode, ModeEmbedded},
		{"gobgp.api-address", cfg.GoBGP.APIAddress, "127.0.0.1:50052"},
		{"gobgp.ebgp-distance", cfg.GoBGP.EBGPDistance, 21},
		{"gobgp.ibgp-distance", cfg.GoBGP.IBGPDistance, 201},
		{"gobgp.table", cfg.GoBGP.Table, uint32(100)},
		{"gobgp.metric", cfg.GoBGP.Metric, uint32(30)},
		{"gobgp.convergence-timeout", cfg.GoBGP.ConvergenceTimeout, Duration(45 * time.Second)},
		{"gobgp.defer-after-restart", cfg.GoBGP.DeferAfterRestart, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	if cfg.BGP == nil || len(cfg.BGP.Content) != 2 || cfg.BGP.Content[0].Value != "global" {
		t.Errorf("bgp node not kept as written: %+v", cfg.BGP)
	}
}

func TestHoldDefault(t *testing.T) {
	cfg, err := Parse([]byte("bgp: {global: {config: {as: 64512}}}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	if !slices.Equal(cfg.FIB.Hold, []string{"bgp"}) {
		t.Errorf("fib.hold = %q with BGP on, want [bgp]", cfg.FIB.Hold)
	}

	cfg, err = Parse([]byte("fib: {hold: []}\nbgp: {global: {config: {as: 64512}}}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	if cfg.FIB.Hold == nil || len(cfg.FIB.Hold) != 0 {
		t.Errorf("fib.hold = %q with an explicit empty list, want []", cfg.FIB.Hold)
	}
}

func TestRemoteMode(t *testing.T) {
	cfg, err := Parse([]byte("gobgp: {mode: remote, remote-address: 127.0.0.1:50051}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	if !cfg.BGPEnabled() || !slices.Equal(cfg.FIB.Hold, []string{"bgp"}) {
		t.Errorf("remote mode: enabled %v hold %q", cfg.BGPEnabled(), cfg.FIB.Hold)
	}
}

// TestParseErrors feeds one bad value per case and expects an error that
// names the key path and contains the given text.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc, path, text string
	}{
		// Structure.
		{"not mapping", "- a\n", "the top level", "expected a mapping"},
		{"two documents", "log: {}\n---\nlog: {}\n", "", "found a second document"},
		{"bad yaml", "log: [\n", "", "parse yaml"},
		{"duplicate key", "log: {level: info, level: debug}\n", "log.level", "duplicate key"},
		{"section scalar", "log: 5\n", "log", "expected a mapping"},

		// Unknown keys at every level.
		{"unknown top", "logging: {}\n", "logging", "the top level allows log, kernel, fib, api, metrics, gobgp, bgp"},
		{"unknown log", "log: {levle: info}\n", "log.levle", "log allows level, format"},
		{"unknown kernel", "kernel: {proto: 9}\n", "kernel.proto", "kernel allows protocol"},
		{"unknown fib", "fib: {flush: true}\n", "fib.flush", "fib allows batch-size"},
		{"unknown api", "api: {sock: /x}\n", "api.sock", "api allows socket"},
		{"unknown tcp", "api: {tcp: {addr: x}}\n", "api.tcp.addr", "api.tcp allows address"},
		{"unknown source", "api: {sources: {ops: {distnace: 5}}}\n", "api.sources.ops.distnace", "allows distance"},
		{"unknown metrics", "metrics: {adress: x}\n", "metrics.adress", "metrics allows address, pprof"},
		{"unknown gobgp", "gobgp: {mdoe: off}\n", "gobgp.mdoe", "gobgp allows mode"},

		// log.
		{"log level", "log: {level: verbose}\n", "log.level", `"verbose" is not allowed: use debug, info, warn, error`},
		{"log format", "log: {format: xml}\n", "log.format", `"xml" is not allowed: use text, json`},
		{"log level list", "log: {level: [info]}\n", "log.level", "expected a value, found a list"},

		// kernel.
		{"protocol high", "kernel: {protocol: 300}\n", "kernel.protocol", "300 is out of range: use 1-255 and not 2, 3, 4 (kernel, boot, static)"},
		{"protocol zero", "kernel: {protocol: 0}\n", "kernel.protocol", "0 is out of range"},
		{"protocol kernel", "kernel: {protocol: 2}\n", "kernel.protocol", "2 is reserved for kernel"},
		{"protocol static", "kernel: {protocol: 4}\n", "kernel.protocol", "4 is reserved for static"},
		{"protocol zebra", "kernel: {protocol: 11}\n", "kernel.protocol", "11 is reserved for zebra"},
		{"protocol bird", "kernel: {protocol: 12}\n", "kernel.protocol", "12 is reserved for bird"},
		{"protocol babel", "kernel: {protocol: 42}\n", "kernel.protocol", "42 is reserved for babel"},
		{"protocol frr", "kernel: {protocol: 186}\n", "kernel.protocol", "186 is used by FRR"},
		{"protocol frr last", "kernel: {protocol: 198}\n", "kernel.protocol", "198 is used by FRR"},
		{"protocol string", "kernel: {protocol: fibd}\n", "kernel.protocol", `"fibd" is not an integer`},
		{"ids reversed", `kernel: {nexthop-ids: "5-1"}` + "\n", "kernel.nexthop-ids", `"5-1" is not a range: first must be <= last`},
		{"ids zero", "kernel: {nexthop-ids: 0-10}\n", "kernel.nexthop-ids", "starts at 0"},
		{"ids single", "kernel: {nexthop-ids: 100}\n", "kernel.nexthop-ids", "100 is not a range: write FIRST-LAST"},
		{"ids overflow", "kernel: {nexthop-ids: 1-4294967296}\n", "kernel.nexthop-ids", "integers from 1 to 4294967295"},
		{"read buffer", "kernel: {read-buffer: -1}\n", "kernel.read-buffer", "-1 is out of range"},
		{"write buffer", "kernel: {write-buffer: 4294967296}\n", "kernel.write-buffer", "is out of range"},
		{"writer nice", "kernel: {writer-nice: 5}\n", "kernel.writer-nice", "5 is out of range: use -20 (the highest priority) to 0"},
		{"names dir relative", "kernel: {protocol-names-dir: etc}\n", "kernel.protocol-names-dir", `"etc" is not an absolute path`},
		{"audit interval short", "kernel: {audit-interval: 100ms}\n", "kernel.audit-interval", "100ms is too short"},
		{"audit interval negative", "kernel: {audit-interval: -1m}\n", "kernel.audit-interval", "is negative"},
		{"ack string", "kernel: {ack-per-message: yes}\n", "kernel.ack-per-message", `"yes" is not a boolean: use true or false`},

		// fib.
		{"batch size", "fib: {batch-size: -5}\n", "fib.batch-size", "-5 is out of range: use 0-1048576"},
		{"hold scalar", "fib: {hold: bgp}\n", "fib.hold", "expected a list"},
		{"hold empty name", `fib: {hold: [""]}` + "\n", "fib.hold[0]", "not a valid source name"},
		{"hold twice", "fib: {hold: [ops, ops]}\n", "fib.hold[1]", `"ops" is listed twice`},
		{"hold bgp off", "fib: {hold: [bgp]}\n", "fib.hold[0]", "gobgp.mode is off"},
		{"hold timeout unit", "fib: {hold-timeout: 30}\n", "fib.hold-timeout", "30 is not a duration: use a number with a unit"},
		{"hold timeout zero", "fib: {hold-timeout: 0s}\n", "fib.hold-timeout", "use a positive duration"},
		{"hold timeout negative", "fib: {hold-timeout: -1m}\n", "fib.hold-timeout", "is negative"},
		{"flush string", "fib: {flush-on-exit: \"true\"}\n", "fib.flush-on-exit", "is not a boolean"},
		{"takeover int", "fib: {takeover-conflicts: 1}\n", "fib.takeover-conflicts", "is not a boolean"},

		// api.
		{"socket relative", "api: {socket: fibd.sock}\n", "api.socket", `"fibd.sock" is not an absolute path`},
		{"socket null", "api: {socket: }\n", "api.socket", `write "" for an empty string`},
		{"no listener", `api: {socket: ""}` + "\n", "api.socket", "without a listener"},
		{"mode decimal", "api: {socket-mode: 660}\n", "api.socket-mode", "660 is not an octal file mode"},
		{"mode digits", `api: {socket-mode: "0999"}` + "\n", "api.socket-mode", "is not an octal file mode"},
		{"mode setuid", `api: {socket-mode: "04755"}` + "\n", "api.socket-mode", "has bits beyond permissions"},
		{"grace period", "api: {grace-period: soon}\n", "api.grace-period", `"soon" is not a duration`},
		{"max batch zero", "api: {max-batch: 0}\n", "api.max-batch", "0 is out of range: use 1-1000000"},
		{"default distance", "api: {default-distance: 256}\n", "api.default-distance", "256 is out of range: use 1-255"},
		{"sources list", "api: {sources: [ops]}\n", "api.sources", "expected a mapping of names"},
		{"source distance", "api: {sources: {ops: {distance: 0}}}\n", "api.sources.ops.distance", "0 is out of range: use 1-255"},
		{"source missing distance", "api: {sources: {ops: {}}}\n", "api.sources.ops.distance", "0 is out of range"},
		{"source bad name", "api: {sources: {\"o p\": {distance: 5}}}\n", "api.sources.o p", "not a valid source name"},
		{"source bgp", "api: {sources: {bgp: {distance: 5}}}\n", "api.sources.bgp", "is the BGP source"},
		{"source duplicate", "api: {sources: {ops: {distance: 5}, ops: {distance: 6}}}\n", "api.sources.ops", "duplicate key"},
		{"tcp address", "api: {tcp: {address: localhost}}\n", "api.tcp.address", `"localhost" is not host:port`},
		{"tcp port", "api: {tcp: {address: \"127.0.0.1:0\"}}\n", "api.tcp.address", "has an invalid port"},
		{"tcp no tls", "api: {tcp: {address: \"127.0.0.1:50051\"}}\n", "api.tcp.address", "has no TLS"},
		{"tcp insecure remote", "api: {tcp: {address: \"192.0.2.1:50051\", allow-insecure-loopback: true}}\n", "api.tcp.allow-insecure-loopback", "only on a loopback IP address"},
		{"tcp insecure localhost", "api: {tcp: {address: \"localhost:50051\", allow-insecure-loopback: true}}\n", "api.tcp.allow-insecure-loopback", "only on a loopback IP address"},
		{"tcp cert alone", "api: {tcp: {address: \"192.0.2.1:50051\", cert: /c.pem}}\n", "api.tcp.cert", "cert and key must be set together"},
		{"tcp ca alone", "api: {tcp: {address: \"127.0.0.1:50051\", client-ca: /ca.pem, allow-insecure-loopback: true}}\n", "api.tcp.client-ca", "needs a server certificate"},
		{"tcp cert no address", "api: {tcp: {cert: /c.pem}}\n", "api.tcp.cert", "api.tcp.address is empty"},

		// metrics.
		{"metrics address", "metrics: {address: 9342}\n", "metrics.address", `"9342" is not host:port`},
		{"metrics port", "metrics: {address: \"127.0.0.1:70000\"}\n", "metrics.address", "has an invalid port"},
		{"pprof public", "metrics: {address: \"0.0.0.0:9342\", pprof: true}\n", "metrics.pprof", "only on a loopback address"},
		{"pprof all", "metrics: {address: \":9342\", pprof: true}\n", "metrics.pprof", "only on a loopback address"},
		{"pprof off", "metrics: {address: \"\", pprof: true}\n", "metrics.pprof", "needs metrics.address"},

		// gobgp.
		{"mode unknown", "gobgp: {mode: external}\n", "gobgp.mode", `"external" is not allowed: use embedded, remote, off`},
		{"embedded no bgp", "gobgp: {mode: embedded}\n", "gobgp.mode", "needs a bgp section"},
		{"remote no address", "gobgp: {mode: remote}\n", "gobgp.remote-address", "not allowed in remote mode"},
		{"remote bad address", "gobgp: {mode: remote, remote-address: gobgpd}\n", "gobgp.remote-address", "is not host:port"},
		{"remote with bgp", "gobgp: {mode: remote, remote-address: \"127.0.0.1:50051\"}\nbgp: {global: {}}\n", "bgp", "remote gobgpd reads its own configuration"},
		{"remote api address", "gobgp: {mode: remote, remote-address: \"127.0.0.1:50051\", api-address: \"127.0.0.1:50052\"}\n", "gobgp.api-address", "only an embedded GoBGP"},
		{"remote address off", "gobgp: {remote-address: \"127.0.0.1:50051\"}\n", "gobgp.remote-address", `gobgp.mode is "off"`},
		{"api address", "gobgp: {api-address: x}\nbgp: {global: {}}\n", "gobgp.api-address", "is not host:port"},
		{"ebgp distance", "gobgp: {ebgp-distance: 0}\n", "gobgp.ebgp-distance", "0 is out of range: use 1-255"},
		{"ibgp distance", "gobgp: {ibgp-distance: 300}\n", "gobgp.ibgp-distance", "300 is out of range"},
		{"table local", "gobgp: {table: 255}\n", "gobgp.table", "255 is reserved by the kernel"},
		{"table zero", "gobgp: {table: 0}\n", "gobgp.table", "0 is reserved"},
		{"table negative", "gobgp: {table: -1}\n", "gobgp.table", "-1 is not an integer from 0 to 4294967295"},
		{"metric float", "gobgp: {metric: 1.5}\n", "gobgp.metric", "1.5 is not an integer"},
		{"convergence", "gobgp: {convergence-timeout: 2}\n", "gobgp.convergence-timeout", "is not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error at %s", tt.doc, tt.path)
			}

			msg := err.Error()
			if tt.path != "" && !strings.Contains(msg, tt.path+": ") {
				t.Errorf("error %q does not name key %s", msg, tt.path)
			}

			if !strings.Contains(msg, tt.text) {
				t.Errorf("error %q does not contain %q", msg, tt.text)
			}
		})
	}
}

func TestErrorLine(t *testing.T) {
	doc := "log:\n  level: info\nkernel:\n  protocol: 300\n"
	_, err := Parse([]byte(doc))

	var cfgErr *Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("error %v is not a *config.Error", err)
	}

	if cfgErr.Line != 4 || cfgErr.Path != "kernel.protocol" {
		t.Errorf("error at line %d path %s, want line 4 path kernel.protocol", cfgErr.Line, cfgErr.Path)
	}

	if !strings.HasPrefix(err.Error(), "line 4: kernel.protocol: 300") {
		t.Errorf("error = %q, want it to start with the line and key", err)
	}
}

func TestErrorsJoined(t *testing.T) {
	_, err := Parse([]byte("log: {level: loud, format: xml}\n"))
	if err == nil {
		t.Fatal("Parse succeeded, want two errors")
	}

	for _, want := range []string{"log.level", "log.format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %s", err, want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fibd.yaml")
	if err := os.WriteFile(path, []byte("kernel: {protocol: 300}\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), "config "+path+": line 1: kernel.protocol") {
		t.Errorf("Load error = %v, want it to name the file, line and key", err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want os.ErrNotExist", err)
	}
}

func TestAnchors(t *testing.T) {
	doc := "api:\n  sources:\n    a: &d {distance: 7}\n    b: *d\n"
	cfg, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	if cfg.API.Sources["b"].Distance != 7 {
		t.Errorf("alias not followed: %+v", cfg.API.Sources)
	}
}

func TestChanges(t *testing.T) {
	old, err := Parse([]byte(fullConfig))
	if err != nil {
		t.Fatal(err)
	}

	edited := strings.NewReplacer(
		"level: debug", "level: warn",
		"ops: {distance: 5}", "ops: {distance: 6}",
		"lab: {distance: 250}", "new: {distance: 9}",
		"as: 64512", "as: 64513",
		"grace-period: 1m", "grace-period: 2m",
	).Replace(fullConfig)

	new, err := Parse([]byte(edited))
	if err != nil {
		t.Fatal(err)
	}

	got := Changes(old, new)
	want := []string{
		"api.grace-period",
		"api.sources.lab.distance",
		"api.sources.new.distance",
		"api.sources.ops.distance",
		"bgp",
		"log.level",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Changes = %q, want %q", got, want)
	}

	if c := Changes(old, old); len(c) != 0 {
		t.Errorf("Changes of a config with itself = %q, want none", c)
	}
}

func TestExamples(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}

	if len(paths) < 2 {
		t.Fatalf("found %d example configs, want at least 2", len(paths))
	}

	for _, path := range paths {
		if _, err := Load(path); err != nil {
			t.Errorf("example %s: %v", path, err)
		}
	}
}

func TestHoldWarnings(t *testing.T) {
	cfg, err := Parse([]byte("fib: {hold: [bgp, ops, nosuchsource]}\napi: {sources: {ops: {distance: 5}}}\nbgp: {global: {config: {as: 64512}}}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	got := cfg.Warnings()
	want := `fib.hold[2]: source "nosuchsource" is neither "bgp" nor listed in api.sources; check the spelling, because a source that never connects makes every restart keep leftover routes for fib.hold-timeout (5m0s)`
	if len(got) != 1 || got[0] != want {
		t.Errorf("warnings = %q, want [%q]", got, want)
	}

	cfg, err = Parse([]byte("bgp: {global: {config: {as: 64512}}}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}

	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings of the default hold = %q, want none", w)
	}
}
