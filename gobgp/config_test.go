package gobgp

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func yamlNode(t *testing.T, text string) *yaml.Node {
	t.Helper()

	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("parse YAML: %v", err)
	}

	return doc.Content[0]
}

func TestConfigParse(t *testing.T) {
	cfg, err := parseConfig(yamlNode(t, `
global:
  config:
    as: 65000
    router-id: 192.0.2.1
    port: 1790
  use-multiple-paths:
    config:
      enabled: true
neighbors:
  - config:
      neighbor-address: 198.51.100.1
      peer-as: 65001
  - config:
      neighbor-address: 198.51.100.2
      peer-group: upstream
peer-groups:
  - config:
      peer-group-name: upstream
      peer-as: 65002
`))
	if err != nil {
		t.Fatalf("parseConfig: %v", err)
	}

	set := cfg.set
	if !set.Global.UseMultiplePaths.Config.Enabled {
		t.Errorf("use-multiple-paths not enabled")
	}

	if got := set.Global.Config.Port; got != 1790 {
		t.Errorf("port = %d, want 1790", got)
	}

	if got := len(set.Neighbors); got != 2 {
		t.Fatalf("%d neighbors, want 2", got)
	}

	if got := set.Neighbors[1].Config.PeerAs; got != 65002 {
		t.Errorf("peer-as from peer group = %d, want 65002", got)
	}

	// GoBGP's defaults are applied.
	if got := set.Neighbors[0].Timers.Config.HoldTime; got != 90 {
		t.Errorf("hold-time = %v, want GoBGP's default 90", got)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{
			name: "unknown key",
			text: "global:\n  config:\n    as: 65000\n    router-id: 192.0.2.1\n    colour: blue\n",
			want: "colour",
		},
		{
			name: "wrong type",
			text: "global:\n  config:\n    as: many\n    router-id: 192.0.2.1\n",
			want: "many",
		},
		{
			name: "missing as",
			text: "global:\n  config:\n    router-id: 192.0.2.1\n",
			want: "bgp.global.config.as",
		},
		{
			name: "invalid router id",
			text: "global:\n  config:\n    as: 65000\n    router-id: 2001:db8::1\n",
			want: `bgp.global.config.router-id "2001:db8::1"`,
		},
		{
			name: "zebra",
			text: "global:\n  config:\n    as: 65000\n    router-id: 192.0.2.1\nzebra:\n  config:\n    enabled: true\n",
			want: "bgp.zebra.config.enabled",
		},
		{
			name: "neighbor address not canonical",
			text: "global:\n  config:\n    as: 65000\n    router-id: 192.0.2.1\nneighbors:\n  - config:\n      neighbor-address: 2001:db8:0::1\n      peer-as: 65001\n",
			want: `neighbor-address "2001:db8:0::1": write it as 2001:db8::1`,
		},
		{
			name: "neighbor without peer as",
			text: "global:\n  config:\n    as: 65000\n    router-id: 192.0.2.1\nneighbors:\n  - config:\n      neighbor-address: 198.51.100.1\n",
			want: "bgp.neighbors[0] 198.51.100.1: missing config.peer-as",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(yamlNode(t, tt.text))
			if err == nil {
				t.Fatalf("parseConfig succeeded, want an error containing %q", tt.want)
			}

			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "unknown mode", opts: Options{Mode: "zebra"}, want: `invalid gobgp mode "zebra"`},
		{name: "embedded without config", opts: Options{Mode: ModeEmbedded}, want: "missing bgp configuration"},
		{name: "remote without address", opts: Options{Mode: ModeRemote}, want: "missing remote-address"},
		{name: "reserved table", opts: Options{Mode: ModeRemote, RemoteAddress: "127.0.0.1:50051", Table: 255}, want: "invalid gobgp table 255"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts, newFakeSink())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
