package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Protocol numbers that fibd must not use, because the kernel or another
// routing daemon marks its routes with them (include/uapi/linux/rtnetlink.h
// and FRR's lib/route_types.txt).
var reservedProtocols = map[int]string{
	2:  "kernel",
	3:  "boot",
	4:  "static",
	11: "zebra",
	12: "bird",
	17: "mrouted",
	42: "babel",
}

const protocolHelp = "use 1-255 and not 2, 3, 4 (kernel, boot, static) nor the values of other routing daemons: 11 (zebra), 12 (bird), 17 (mrouted), 42 (babel), 186-198 (FRR)"

// Validate checks every key and returns all problems found, each an *Error
// that names the key path, the value and what is allowed.
func (c *Config) Validate() error {
	v := &validator{lines: c.lines}

	c.validateLog(v)
	c.validateKernel(v)
	c.validateFIB(v)
	c.validateAPI(v)
	c.validateMetrics(v)
	c.validateGoBGP(v)

	return errors.Join(v.errs...)
}

type validator struct {
	lines map[string]int
	errs  []error
}

// fail records an error at path with the line of the key, or of the
// nearest parent key that the file sets.
func (v *validator) fail(path, format string, args ...any) {
	line := 0
	for p := path; p != ""; {
		if l, ok := v.lines[p]; ok {
			line = l
			break
		}

		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}

	v.errs = append(v.errs, &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) oneOf(path, value string, allowed ...string) {
	if !slices.Contains(allowed, value) {
		v.fail(path, "%q is not allowed: use %s", value, strings.Join(allowed, ", "))
	}
}

func (v *validator) intRange(path string, value, min, max int) {
	if value < min || value > max {
		v.fail(path, "%d is out of range: use %d-%d", value, min, max)
	}
}

func (v *validator) positive(path string, value Duration) {
	if value <= 0 {
		v.fail(path, "%s is not allowed: use a positive duration, such as 30s or 5m", value)
	}
}

func (c *Config) validateLog(v *validator) {
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "text", "json")
}

func (c *Config) validateKernel(v *validator) {
	k := c.Kernel

	switch name, reserved := reservedProtocols[k.Protocol]; {
	case k.Protocol < 1 || k.Protocol > 255:
		v.fail("kernel.protocol", "%d is out of range: %s", k.Protocol, protocolHelp)
	case reserved:
		v.fail("kernel.protocol", "%d is reserved for %s: %s", k.Protocol, name, protocolHelp)
	case k.Protocol >= 186 && k.Protocol <= 198:
		v.fail("kernel.protocol", "%d is used by FRR: %s", k.Protocol, protocolHelp)
	}

	if k.ProtocolNamesDir != "" && !filepath.IsAbs(k.ProtocolNamesDir) {
		v.fail("kernel.protocol-names-dir", "%q is not an absolute path", k.ProtocolNamesDir)
	}

	if k.AuditInterval != 0 && k.AuditInterval < Duration(time.Second) {
		v.fail("kernel.audit-interval", "%s is too short: each audit dumps the whole kernel, use 0 (off) or at least 1s, such as 10m", k.AuditInterval)
	}

	const maxBuffer = 1 << 30
	v.intRange("kernel.read-buffer", k.ReadBuffer, 0, maxBuffer)
	v.intRange("kernel.write-buffer", k.WriteBuffer, 0, maxBuffer)
	if k.WriterNice < -20 || k.WriterNice > 0 {
		v.fail("kernel.writer-nice", "%d is out of range: use -20 (the highest priority) to 0 (the process's own)", k.WriterNice)
	}
}

func (c *Config) validateFIB(v *validator) {
	v.intRange("fib.batch-size", c.FIB.BatchSize, 0, 1<<20)
	v.positive("fib.hold-timeout", c.FIB.HoldTimeout)
	v.positive("fib.restore-wait", c.FIB.RestoreWait)

	for i, name := range c.FIB.Hold {
		path := fmt.Sprintf("fib.hold[%d]", i)
		if err := checkSourceName(name); err != nil {
			v.fail(path, "%q %v", name, err)
		}

		if slices.Index(c.FIB.Hold, name) < i {
			v.fail(path, "%q is listed twice", name)
		}

		if name == BGPSource && !c.BGPEnabled() {
			v.fail(path, "%q is not a running source: gobgp.mode is off, so the hold would always time out; remove it or enable BGP", name)
		}
	}
}

func (c *Config) validateAPI(v *validator) {
	a := c.API

	if a.Socket != "" && !filepath.IsAbs(a.Socket) {
		v.fail("api.socket", "%q is not an absolute path", a.Socket)
	}

	if a.Socket == "" && a.TCP.Address == "" {
		v.fail("api.socket", `"" leaves the API without a listener: set api.socket or api.tcp.address`)
	}

	c.validateTCP(v)

	if a.GracePeriod < 0 {
		v.fail("api.grace-period", "%s is negative: use 0 or more", a.GracePeriod)
	}

	v.intRange("api.max-batch", a.MaxBatch, 1, 1_000_000)
	v.intRange("api.default-distance", a.DefaultDistance, 1, 255)

	for _, name := range slices.Sorted(maps.Keys(a.Sources)) {
		path := "api.sources." + name
		if err := checkSourceName(name); err != nil {
			v.fail(path, "%q %v", name, err)
		}

		if name == BGPSource {
			v.fail(path, "%q is the BGP source: set its distances with gobgp.ebgp-distance and gobgp.ibgp-distance", name)
		}

		v.intRange(path+".distance", a.Sources[name].Distance, 1, 255)
	}
}

func (c *Config) validateTCP(v *validator) {
	t := c.API.TCP

	if t.Address == "" {
		files := []struct{ path, value string }{
			{"api.tcp.cert", t.Cert},
			{"api.tcp.key", t.Key},
			{"api.tcp.client-ca", t.ClientCA},
		}
		for _, f := range files {
			if f.value != "" {
				v.fail(f.path, "%q is set but api.tcp.address is empty: set the address or remove it", f.value)
			}
		}

		return
	}

	loopback, err := checkAddress(t.Address)
	if err != nil {
		v.fail("api.tcp.address", "%q %v", t.Address, err)

		return
	}

	switch {
	case (t.Cert == "") != (t.Key == ""):
		v.fail("api.tcp.cert", "cert and key must be set together")
	case t.ClientCA != "" && t.Cert == "":
		v.fail("api.tcp.client-ca", "%q needs a server certificate: set api.tcp.cert and api.tcp.key", t.ClientCA)
	case t.Cert == "" && !t.AllowInsecureLoopback:
		v.fail("api.tcp.address", "%q has no TLS: set api.tcp.cert and api.tcp.key, or for a loopback address api.tcp.allow-insecure-loopback: true", t.Address)
	case t.Cert == "" && (!loopback || !isIPAddress(t.Address)):
		v.fail("api.tcp.allow-insecure-loopback", "true is allowed only on a loopback IP address, and api.tcp.address is %q: use 127.0.0.1 or ::1, or set api.tcp.cert and api.tcp.key", t.Address)
	}
}

func (c *Config) validateMetrics(v *validator) {
	m := c.Metrics
	if m.Address == "" {
		if m.Pprof {
			v.fail("metrics.pprof", "true needs metrics.address, which is empty")
		}

		return
	}

	loopback, err := checkAddress(m.Address)
	if err != nil {
		v.fail("metrics.address", "%q %v", m.Address, err)

		return
	}

	if m.Pprof && !loopback {
		v.fail("metrics.pprof", "true is allowed only on a loopback address, and metrics.address is %q: profiles expose memory contents, use 127.0.0.1 or ::1", m.Address)
	}
}

func (c *Config) validateGoBGP(v *validator) {
	g := c.GoBGP
	v.oneOf("gobgp.mode", g.Mode, ModeEmbedded, ModeRemote, ModeOff)

	switch g.Mode {
	case ModeEmbedded:
		if c.BGP == nil {
			v.fail("gobgp.mode", "%q needs a bgp section with GoBGP's configuration (global, neighbors)", g.Mode)
		}
	case ModeRemote:
		if g.RemoteAddress == "" {
			v.fail("gobgp.remote-address", `"" is not allowed in remote mode: set host:port of gobgpd's gRPC API`)
		}

		if c.BGP != nil {
			v.fail("bgp", "is set but gobgp.mode is remote: the remote gobgpd reads its own configuration, remove this section")
		}

		if g.APIAddress != "" {
			v.fail("gobgp.api-address", "%q is set but gobgp.mode is remote: only an embedded GoBGP exposes its API", g.APIAddress)
		}
	}

	if g.RemoteAddress != "" {
		if g.Mode != ModeRemote {
			v.fail("gobgp.remote-address", "%q is set but gobgp.mode is %q: set gobgp.mode: remote or remove it", g.RemoteAddress, g.Mode)
		} else if _, err := checkAddress(g.RemoteAddress); err != nil {
			v.fail("gobgp.remote-address", "%q %v", g.RemoteAddress, err)
		}
	}

	if g.APIAddress != "" {
		if _, err := checkAddress(g.APIAddress); err != nil {
			v.fail("gobgp.api-address", "%q %v", g.APIAddress, err)
		}
	}

	v.intRange("gobgp.ebgp-distance", g.EBGPDistance, 1, 255)
	v.intRange("gobgp.ibgp-distance", g.IBGPDistance, 1, 255)

	switch g.Table {
	case 0, 252, 253, 255:
		v.fail("gobgp.table", "%d is reserved by the kernel: use 254 (main) or a table from 1 to 251 or above 255", g.Table)
	}

	v.positive("gobgp.convergence-timeout", g.ConvergenceTimeout)
}

// checkAddress checks host:port and reports whether the host is a
// loopback address. An empty host means all addresses.
func checkAddress(address string) (loopback bool, err error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return false, fmt.Errorf("is not host:port, such as 127.0.0.1:9342 or [::1]:9342")
	}

	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return false, fmt.Errorf("has an invalid port: use 1-65535")
	}

	return IsLoopbackHost(host), nil
}

// isIPAddress reports whether the host of host:port is an IP address
// rather than a name such as localhost.
func isIPAddress(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}

	_, err = netip.ParseAddr(host)

	return err == nil
}

// IsLoopbackHost reports whether host is "localhost" or a loopback
// address (127.0.0.0/8, ::1, or 127.0.0.0/8 mapped into IPv6).
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}

	addr, err := netip.ParseAddr(host)

	return err == nil && addr.Unmap().IsLoopback()
}

// checkSourceName accepts the names that the API and metrics can carry:
// letters, digits and ".-_", at most 64.
func checkSourceName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("is not a valid source name: use 1 to 64 letters, digits, '.', '-' or '_'")
	}

	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_", r)
		if !ok {
			return fmt.Errorf("is not a valid source name: use 1 to 64 letters, digits, '.', '-' or '_'")
		}
	}

	return nil
}

// Warnings lists settings that are valid but probably mistaken, one
// sentence each naming the key and value. The daemon logs them at start
// and `fibd run --check` prints them.
func (c *Config) Warnings() []string {
	var out []string
	for i, name := range c.FIB.Hold {
		if name == BGPSource {
			continue
		}

		if _, ok := c.API.Sources[name]; ok {
			continue
		}

		out = append(out, fmt.Sprintf("fib.hold[%d]: source %q is neither %q nor listed in api.sources; check the spelling, because a source that never connects makes every restart keep leftover routes for fib.hold-timeout (%s)",
			i, name, BGPSource, time.Duration(c.FIB.HoldTimeout)))
	}

	return out
}
