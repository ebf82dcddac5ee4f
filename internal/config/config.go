// Package config reads fibd's YAML configuration file.
//
// Decoding is strict: an unknown key, a duplicate key, a value of the wrong
// type or a value out of range is an error that names the key path (for
// example kernel.protocol), the line, the value and what is allowed. Keys
// that are absent keep their defaults (see Default).
//
// The bgp section is not decoded here: it holds GoBGP's own configuration
// schema (what gobgpd.yaml contains) and is handed to package gobgp as a
// *yaml.Node.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fibd/fibd/fib/kernel"
	"github.com/fibd/fibd/nexthop"
)

// Config is fibd's configuration. Load returns it with defaults applied and
// validated.
type Config struct {
	Log     Log     `yaml:"log"`
	Kernel  Kernel  `yaml:"kernel"`
	FIB     FIB     `yaml:"fib"`
	API     API     `yaml:"api"`
	Metrics Metrics `yaml:"metrics"`
	GoBGP   GoBGP   `yaml:"gobgp"`

	// BGP is GoBGP's configuration (global, neighbors, peer-groups, ...),
	// undecoded. It is nil when the file has no bgp section.
	BGP *yaml.Node `yaml:"bgp"`

	// lines maps key paths to their lines in the file, for errors.
	lines map[string]int
}

// Log configures the daemon's log output.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`

	// Format is text or json. Default text.
	Format string `yaml:"format"`
}

// Kernel configures the netlink side.
type Kernel struct {
	// Protocol is the route and nexthop protocol number (rtm_protocol,
	// NHA_PROTOCOL) that marks fibd's kernel objects, 1 to 255. Default
	// 201.
	Protocol int `yaml:"protocol"`

	// NexthopIDs is the range of nexthop object ids fibd allocates from,
	// written "FIRST-LAST". Default nexthop.DefaultRange.
	NexthopIDs IDRange `yaml:"nexthop-ids"`

	// ReadBuffer and WriteBuffer are netlink socket buffer sizes in bytes.
	// ReadBuffer also sizes the monitor's notification socket. Zero keeps
	// the defaults of packages kernel and monitor (32 MiB).
	ReadBuffer  int `yaml:"read-buffer"`
	WriteBuffer int `yaml:"write-buffer"`

	// AckPerMessage requests an acknowledgement for every netlink request
	// instead of one per batch. It is slower and exists to measure the
	// difference.
	AckPerMessage bool `yaml:"ack-per-message"`

	// WriterNice is the nice value, -20 to 0, of the thread that writes
	// routes and nexthops while it writes them; 0 leaves the thread at the
	// process's own value. Default -10 (kernel.DefaultWriterNice).
	WriterNice int `yaml:"writer-nice"`

	// DryRun runs fibd without writing to the kernel: every route and
	// nexthop operation counts as applied, nothing installed is adopted or
	// repaired, and only next-hop lookups read the kernel. It measures
	// fibd without its kernel work and tries a configuration on a live
	// router without touching its FIB.
	DryRun bool `yaml:"dry-run"`

	// ProtocolNamesDir is the iproute2 directory where fibd writes
	// fibd.conf, which names its protocol number so that `ip route` prints
	// "proto fibd"; "" writes nothing. Default /etc/iproute2/rt_protos.d.
	ProtocolNamesDir string `yaml:"protocol-names-dir"`

	// AuditInterval is how often the monitor dumps the kernel, compares it
	// with the FIB's expected state in full (as `fibd verify` does) and
	// resyncs when they differ. It catches drift that no notification
	// reported, such as changes made through fibd's own sockets. Zero, the
	// default, turns the audit off; otherwise it is at least 1s.
	AuditInterval Duration `yaml:"audit-interval"`
}

// FIB configures route selection and programming.
type FIB struct {
	// BatchSize is the largest number of operations per dataplane call;
	// zero keeps the fib package's default.
	BatchSize int `yaml:"batch-size"`

	// Hold lists the sources that must declare convergence before routes
	// adopted from a previous run and no longer wanted are deleted. BGP
	// declares it when its initial table is in; an API session when it
	// sends its end of table. Absent means ["bgp"] when BGP is on. With an
	// empty list, the first source that declares convergence ends the
	// wait.
	Hold []string `yaml:"hold"`

	// HoldTimeout bounds the wait for the Hold sources, counted from the
	// adoption at start. Default 5m.
	HoldTimeout Duration `yaml:"hold-timeout"`

	// RestoreWait is how long a group that a returning next hop would
	// rejoin waits for its routes to request that hop again, so that the
	// hop rejoins with one group replace instead of a write per route.
	// Default 5s.
	RestoreWait Duration `yaml:"restore-wait"`

	// FlushOnExit deletes fibd's routes and nexthop objects when the
	// daemon stops. By default they are kept, so that a restart does not
	// interrupt forwarding.
	FlushOnExit bool `yaml:"flush-on-exit"`

	// TakeoverConflicts lets fibd replace a route of another protocol
	// that holds the table, prefix and metric of a route fibd programs.
	// By default fibd leaves such a route alone, reports the key as a
	// conflict and tries again with a growing delay. With takeover, a
	// daemon that puts its route back and fibd replace each other's route
	// for as long as both want the key.
	TakeoverConflicts bool `yaml:"takeover-conflicts"`
}

// API configures the gRPC API.
type API struct {
	// Socket is the path of the unix socket; "" disables it. Default
	// /run/fibd/fibd.sock.
	Socket string `yaml:"socket"`

	// SocketMode is the socket's file mode, written in octal. Default 0660.
	SocketMode FileMode `yaml:"socket-mode"`

	// TCP configures an optional TCP listener.
	TCP TCP `yaml:"tcp"`

	// GracePeriod is how long the routes of a client that disconnected
	// are kept before they are withdrawn. Default 30s.
	GracePeriod Duration `yaml:"grace-period"`

	// MaxBatch is the largest number of routes in one request. Default
	// 10000.
	MaxBatch int `yaml:"max-batch"`

	// DefaultDistance is the administrative distance of a client's routes
	// when Sources has no entry for its name. Default 10.
	DefaultDistance int `yaml:"default-distance"`

	// Sources sets per-client settings by source name.
	Sources map[string]Source `yaml:"sources"`
}

// TCP configures the API's TCP listener.
type TCP struct {
	// Address is host:port; "" disables the listener.
	Address string `yaml:"address"`

	// Cert and Key are PEM files of the server certificate and key.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`

	// ClientCA is a PEM file of the CAs that sign client certificates;
	// when set, clients must present one.
	ClientCA string `yaml:"client-ca"`

	// AllowInsecureLoopback permits a listener without TLS on a loopback
	// address.
	AllowInsecureLoopback bool `yaml:"allow-insecure-loopback"`
}

// Source holds the settings of one API source.
type Source struct {
	// Distance is the administrative distance of the source's routes,
	// 1 to 255.
	Distance int `yaml:"distance"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Address is host:port of the HTTP server; "" disables it. Default
	// 127.0.0.1:9342.
	Address string `yaml:"address"`

	// Pprof serves net/http/pprof under /debug/pprof/. It is allowed only
	// when Address is a loopback address.
	Pprof bool `yaml:"pprof"`
}

// GoBGP configures the BGP source.
type GoBGP struct {
	// Mode is embedded (run GoBGP in the daemon with the bgp section),
	// remote (follow a gobgpd at RemoteAddress) or off. Default embedded
	// when the file has a bgp section, off otherwise.
	Mode string `yaml:"mode"`

	// RemoteAddress is host:port of gobgpd's gRPC API in remote mode.
	RemoteAddress string `yaml:"remote-address"`

	// APIAddress exposes the embedded GoBGP's gRPC API at host:port, so
	// that the gobgp command works; "" does not expose it.
	APIAddress string `yaml:"api-address"`

	// EBGPDistance and IBGPDistance are the administrative distances of
	// eBGP and iBGP routes. Defaults 20 and 200.
	EBGPDistance int `yaml:"ebgp-distance"`
	IBGPDistance int `yaml:"ibgp-distance"`

	// Table and Metric are where BGP routes are installed. Defaults 254
	// (main) and 20.
	Table  uint32 `yaml:"table"`
	Metric uint32 `yaml:"metric"`

	// ConvergenceTimeout bounds the wait for the initial BGP table before
	// the source declares convergence anyway. Default 2m.
	ConvergenceTimeout Duration `yaml:"convergence-timeout"`

	// DeferAfterRestart keeps BGP's routes from the FIB until BGP has
	// converged when fibd starts over routes of its previous run, then
	// offers the whole table at once. Default true.
	DeferAfterRestart bool `yaml:"defer-after-restart"`
}

// Modes of the BGP source.
const (
	ModeEmbedded = "embedded"
	ModeRemote   = "remote"
	ModeOff      = "off"
)

// BGPSource is the source name of BGP routes, the default Hold list.
const BGPSource = "bgp"

// Default returns the configuration of an empty file.
func Default() *Config {
	return &Config{
		Log: Log{Level: "info", Format: "text"},
		Kernel: Kernel{
			Protocol:         201,
			WriterNice:       kernel.DefaultWriterNice,
			NexthopIDs:       IDRange(nexthop.DefaultRange),
			ProtocolNamesDir: "/etc/iproute2/rt_protos.d",
		},
		FIB: FIB{HoldTimeout: Duration(5 * time.Minute), RestoreWait: Duration(nexthop.DefaultRestoreWait)},
		API: API{
			Socket:          "/run/fibd/fibd.sock",
			SocketMode:      0o660,
			GracePeriod:     Duration(30 * time.Second),
			MaxBatch:        10000,
			DefaultDistance: 10,
		},
		Metrics: Metrics{Address: "127.0.0.1:9342"},
		GoBGP: GoBGP{
			EBGPDistance:       20,
			IBGPDistance:       200,
			Table:              254,
			Metric:             20,
			ConvergenceTimeout: Duration(2 * time.Minute),
			DeferAfterRestart:  true,
		},
	}
}

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}

	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}

	return cfg, nil
}

// Parse decodes and validates a configuration document.
func Parse(data []byte) (*Config, error) {
	root, err := parseDocument(data)
	if err != nil {
		return nil, err
	}

	cfg := Default()
	if root != nil {
		if err := decodeNode(root, "", cfg); err != nil {
			return nil, err
		}
	}

	cfg.applyDerivedDefaults()

	if err := cfg.Validate(); err != nil {
		return nil, err
	}

	return cfg, nil
}

// parseDocument returns the root mapping of the only YAML document in data,
// or nil for an empty document.
func parseDocument(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))

	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}

		return nil, fmt.Errorf("parse yaml: %w", err)
	}

	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("parse yaml: line %d: invalid config: found a second document, a config file contains one", extra.Line)
	}

	if len(doc.Content) == 0 {
		return nil, nil
	}

	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}

	return root, nil
}

// applyDerivedDefaults fills the defaults that depend on other keys.
func (c *Config) applyDerivedDefaults() {
	if c.GoBGP.Mode == "" {
		c.GoBGP.Mode = ModeOff
		if c.BGP != nil {
			c.GoBGP.Mode = ModeEmbedded
		}
	}

	if c.FIB.Hold == nil && c.BGPEnabled() {
		c.FIB.Hold = []string{BGPSource}
	}
}

// BGPEnabled reports whether the BGP source runs.
func (c *Config) BGPEnabled() bool {
	return c.GoBGP.Mode == ModeEmbedded || c.GoBGP.Mode == ModeRemote
}
