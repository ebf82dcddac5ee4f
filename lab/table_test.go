package lab

import (
	"net/netip"
	"strings"
	"testing"
)

const dumpSample = `#
# Location Database Export
#

aut-num:                 AS13335
name:                    CLOUDFLARENET

net:                     192.0.2.0/23
country:                 AU

net:                     192.0.2.0/24
country:                 AU
aut-num:                 13335
is-anycast:              yes

net:                     2001:db8::/32
country:                 DE
aut-num:                 3209
`

func TestReadLocationDumpOrigins(t *testing.T) {
	v4, v6, err := ReadLocationDump(strings.NewReader(dumpSample))
	if err != nil {
		t.Fatal(err)
	}

	if len(v4) != 1 {
		t.Fatalf("IPv4 networks = %v, want only 192.0.2.0/24 (the /23 has no origin)", v4)
	}

	if want := (Network{netip.MustParsePrefix("192.0.2.0/24"), 13335}); v4[0] != want {
		t.Errorf("IPv4 network = %+v, want %+v", v4[0], want)
	}

	if want := (Network{netip.MustParsePrefix("2001:db8::/32"), 3209}); len(v6) != 1 || v6[0] != want {
		t.Errorf("IPv6 networks = %+v, want [%+v]", v6, want)
	}
}

func TestReadLocationDumpInvalid(t *testing.T) {
	_, _, err := ReadLocationDump(strings.NewReader("net: 192.0.2.0/33\naut-num: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "192.0.2.0/33") {
		t.Errorf("error = %v, want one naming 192.0.2.0/33", err)
	}
}
