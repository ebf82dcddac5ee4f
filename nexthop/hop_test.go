package nexthop

import (
	"strings"
	"testing"
)

func TestSetValidateWeight(t *testing.T) {
	tests := []struct {
		weight uint32
		err    string
	}{
		{1, ""},
		{MaxWeight, ""},
		{65535, ""},
		{65536, "invalid weight 65536 for next hop via 198.51.100.1 dev v0: must be 1 to 65535"},
	}

	for _, tt := range tests {
		s := Set{Members: []Member{{Hop: hopA, Weight: tt.weight}, {Hop: hopB, Weight: 1}}}
		err := s.Validate()
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("weight %d: %v, want valid", tt.weight, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("weight %d: %v, want %q", tt.weight, err, tt.err)
		}
	}
}
