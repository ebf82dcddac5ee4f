package netnstest

import (
	"strings"
	"testing"
)

func TestVethBetweenNamespaces(t *testing.T) {
	a := New(t)
	b := New(t)
	a.Veth("v0", b, "v1")
	a.IP("addr", "add", "198.51.100.1/24", "dev", "v0")
	b.IP("addr", "add", "198.51.100.2/24", "dev", "v1")

	out, err := a.TryIP("route", "get", "198.51.100.2")
	if err != nil {
		t.Fatalf("route get: %v: %s", err, out)
	}

	if !strings.Contains(out, "dev v0") {
		t.Errorf("route get 198.51.100.2 = %q, want dev v0", out)
	}

	var links []struct {
		Name string `json:"ifname"`
	}
	b.JSON(&links, "link", "show", "v1")
	if len(links) != 1 || links[0].Name != "v1" {
		t.Errorf("links in %s = %+v, want v1", b.Name, links)
	}
}
