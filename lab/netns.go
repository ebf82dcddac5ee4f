package lab

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ip runs iproute2's ip with args and returns its standard output. Errors
// carry the command and ip's own message.
func ip(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("ip", args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr

	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}

	return stdout.String(), nil
}

// namespaceExists reports whether a named network namespace exists.
func namespaceExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)

	return err == nil
}

// sysctl sets a sysctl inside a namespace.
func sysctl(ns, key, value string) error {
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", key+"="+value).CombinedOutput()
	if err != nil {
		return fmt.Errorf("set %s=%s in namespace %s: %w: %s", key, value, ns, err, strings.TrimSpace(string(out)))
	}

	return nil
}

// link is one veth pair between the router and an upstream, with the
// addresses of both ends.
type link struct {
	router, peer     string // interface names
	routerV4, peerV4 string // with prefix length
	routerV6, peerV6 string
	routerNS, peerNS string
}

// create makes the veth pair, addresses it and brings it up. IPv6
// addresses are kept when the link goes down so that a failover test can
// bring it back.
func (l link) create() error {
	if _, err := ip("-n", l.routerNS, "link", "add", l.router, "type", "veth", "peer", "name", l.peer, "netns", l.peerNS); err != nil {
		return err
	}

	for _, end := range []struct{ ns, dev, v4, v6 string }{
		{l.routerNS, l.router, l.routerV4, l.routerV6},
		{l.peerNS, l.peer, l.peerV4, l.peerV6},
	} {
		if err := sysctl(end.ns, "net.ipv6.conf."+end.dev+".keep_addr_on_down", "1"); err != nil {
			return err
		}

		if err := sysctl(end.ns, "net.ipv6.conf."+end.dev+".accept_dad", "0"); err != nil {
			return err
		}

		for _, args := range [][]string{
			{"addr", "add", end.v4, "dev", end.dev},
			{"addr", "add", end.v6, "dev", end.dev, "nodad"},
			{"link", "set", end.dev, "up"},
		} {
			if _, err := ip(append([]string{"-n", end.ns}, args...)...); err != nil {
				return err
			}
		}
	}

	return nil
}
