package fib

import (
	"math"
	"math/rand/v2"
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

// randomKey returns a masked key in one of a few tables, with addresses
// drawn from a small pool so that lengths and tables collide often.
func randomKey(rng *rand.Rand) Key {
	tables := []uint32{1, 254, 256, 1000, 70000, math.MaxUint32}
	table := tables[rng.IntN(len(tables))]

	var a netip.Addr
	var bits int
	switch rng.IntN(3) {
	case 0:
		// Neighbours that share a block, and the lengths around it.
		a = netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(40)), byte(rng.IntN(4) * 64)})
		bits = 20 + rng.IntN(7)
	case 1:
		pool := [][4]byte{{10, 0, 0, 0}, {10, 0, 0, 1}, {255, 255, 255, 255}, {0, 0, 0, 0}, {192, 0, 2, 255}}
		a = netip.AddrFrom4(pool[rng.IntN(len(pool))])
		bits = rng.IntN(33)
	default:
		pool := []string{"2001:db8:0:ff00::", "2001:db8:0:ffff::ff", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::38", "fe80::1"}
		a = netip.MustParseAddr(pool[rng.IntN(len(pool))])
		bits = rng.IntN(129)
	}

	return Key{Table: table, Prefix: netip.PrefixFrom(a, bits).Masked()}
}

// TestPrefixIndexMatchesMap runs random puts, gets and deletes on
// the index and on a plain map keyed by compactKey, and requires the same
// results, with no table left once its last key is gone.
func TestPrefixIndexMatchesMap(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		x := newPrefixIndex()
		ref := make(map[compactKey]int32)
		for step := range 20000 {
			ck := compactOf(randomKey(rng))
			switch rng.IntN(3) {
			case 0:
				i := int32(step)
				x.put(ck, i)
				ref[ck] = i
			case 1:
				x.delete(ck)
				delete(ref, ck)
			}

			got, ok := x.get(ck)
			want, wantOK := ref[ck]
			if ok != wantOK || got != want {
				t.Fatalf("seed %d step %d: get %v = %d, %t; want %d, %t", seed, step, ck.key(), got, ok, want, wantOK)
			}
		}

		for ck, want := range ref {
			if got, ok := x.get(ck); !ok || got != want {
				t.Fatalf("seed %d: final get %v = %d, %t; want %d, true", seed, ck.key(), got, ok, want)
			}
		}

		tables := make(map[uint32]bool)
		for ck := range ref {
			tables[ck.table] = true
		}

		if len(x.tables) != len(tables) {
			t.Errorf("seed %d: index has %d tables, the keys use %d", seed, len(x.tables), len(tables))
		}
	}
}
