package fib

import (
	"net/netip"
	"testing"
)

// TestPrefixIndex checks that keys of both families, with the same address
// at several lengths and in several tables, stay apart, and that a table's
// maps go once its last key is deleted.
func TestPrefixIndex(t *testing.T) {
	keys := []Key{
		{Table: TableMain, Prefix: netip.MustParsePrefix("0.0.0.0/0")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("10.0.0.0/16")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("255.255.255.255/32")},
		{Table: 1000, Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("::/0")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("2001:db8::/32")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("2001:db8::/48")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("2001:db8:0:ff00::/56")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("2001:db8:0:ff00::/57")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("2001:db8:0:ff80::/57")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("2001:db8:0:ffff::/64")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("2001:db8:0:ffff::/128")},
		{Table: TableMain, Prefix: netip.MustParsePrefix("::ffff:10.0.0.0/104")},
		{Table: 1000, Prefix: netip.MustParsePrefix("2001:db8::1/128")},
	}

	x := newPrefixIndex()
	for i, k := range keys {
		x.put(compactOf(k), int32(i))
	}

	for i, k := range keys {
		if got, ok := x.get(compactOf(k)); !ok || got != int32(i) {
			t.Errorf("get %v = %d, %t; want %d, true", k, got, ok, i)
		}
	}

	missing := Key{Table: 1001, Prefix: netip.MustParsePrefix("10.0.0.0/8")}
	if _, ok := x.get(compactOf(missing)); ok {
		t.Errorf("get %v found a key never put", missing)
	}

	for _, k := range keys {
		x.delete(compactOf(k))
		if _, ok := x.get(compactOf(k)); ok {
			t.Errorf("get %v after delete found it", k)
		}
	}

	if len(x.tables) != 0 {
		t.Errorf("%d tables left after deleting every key, want 0", len(x.tables))
	}
}
