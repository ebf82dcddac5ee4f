package gobgp

// This file decodes GoBGP's own configuration for the embedded speaker.

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/osrg/gobgp/v3/pkg/config"
	"github.com/osrg/gobgp/v3/pkg/config/oc"
	"gopkg.in/yaml.v3"
)

// bgpConfig is a decoded GoBGP configuration with GoBGP's defaults
// applied.
type bgpConfig struct {
	set *oc.BgpConfigSet
}

// parseConfig decodes node exactly as gobgpd decodes its YAML file: keys
// unknown to GoBGP's schema are errors, and the defaults gobgpd applies
// depend on which keys are present. GoBGP exposes that decoder only for a
// file, so the node is written to a private temporary file first.
func parseConfig(node *yaml.Node) (*bgpConfig, error) {
	data, err := yaml.Marshal(node)
	if err != nil {
		return nil, fmt.Errorf("encode bgp configuration: %w", err)
	}

	f, err := os.CreateTemp("", "fibd-gobgp-*.yaml")
	if err != nil {
		return nil, fmt.Errorf("decode bgp configuration: %w", err)
	}

	defer os.Remove(f.Name())

	if _, err := f.Write(data); err != nil {
		f.Close()

		return nil, fmt.Errorf("decode bgp configuration: write %s: %w", f.Name(), err)
	}

	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("decode bgp configuration: write %s: %w", f.Name(), err)
	}

	set, err := config.ReadConfigFile(f.Name(), "yaml")
	if err != nil {
		return nil, fmt.Errorf("invalid bgp configuration: %w", err)
	}

	if err := validateConfig(set); err != nil {
		return nil, err
	}

	return &bgpConfig{set: set}, nil
}

// validateConfig rejects what GoBGP would only find when the speaker
// starts, and the features that conflict with fibd programming the kernel.
func validateConfig(set *oc.BgpConfigSet) error {
	g := set.Global.Config
	if g.As == 0 {
		return fmt.Errorf("invalid bgp configuration: missing bgp.global.config.as, set the local AS number")
	}

	if a, err := netip.ParseAddr(g.RouterId); err != nil || !a.Is4() {
		return fmt.Errorf("invalid bgp.global.config.router-id %q: must be an IPv4 address", g.RouterId)
	}

	if set.Zebra.Config.Enabled {
		return fmt.Errorf("invalid bgp.zebra.config.enabled true: fibd installs the routes itself, remove the zebra section")
	}

	if set.Collector.Config.Url != "" {
		return fmt.Errorf("invalid bgp.collector.config.url %q: GoBGP does not support the collector in a library", set.Collector.Config.Url)
	}

	for i, n := range set.Neighbors {
		if err := validateNeighbor(i, n); err != nil {
			return err
		}
	}

	return nil
}

func validateNeighbor(i int, n oc.Neighbor) error {
	c := n.Config
	if c.NeighborAddress == "" && c.NeighborInterface == "" {
		return fmt.Errorf("invalid bgp.neighbors[%d]: missing config.neighbor-address or config.neighbor-interface", i)
	}

	if c.NeighborAddress != "" {
		a, err := netip.ParseAddr(c.NeighborAddress)
		if err != nil {
			return fmt.Errorf("invalid bgp.neighbors[%d].config.neighbor-address %q: %w", i, c.NeighborAddress, err)
		}

		// GoBGP finds the neighbor of an incoming session by comparing
		// the text of the addresses.
		if a.String() != c.NeighborAddress {
			return fmt.Errorf("invalid bgp.neighbors[%d].config.neighbor-address %q: write it as %s, GoBGP matches sessions by the canonical text", i, c.NeighborAddress, a)
		}
	}

	if c.PeerAs == 0 && c.PeerGroup == "" {
		return fmt.Errorf("invalid bgp.neighbors[%d] %s: missing config.peer-as or config.peer-group", i, c.NeighborAddress+c.NeighborInterface)
	}

	return nil
}
