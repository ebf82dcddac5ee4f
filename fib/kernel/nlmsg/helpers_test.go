package nlmsg

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
)

var cmpOpts = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// diffValues returns a readable difference between got and want, or "".
func diffValues(got, want any) string {
	return cmp.Diff(got, want, cmpOpts)
}

func mustAddr(s string) netip.Addr {
	return netip.MustParseAddr(s)
}
