package fib

import "encoding/binary"

// prefixIndex maps keys to their entries' slots. Each table has an index
// per family. IPv4 keys and IPv6 keys up to /56 go in blocks of
// blockSlots keys that differ only in their last significant bits: the
// 16 /24s of a /20 share one block. Sources offer prefixes mostly in
// address order, so consecutive calls find their block without a map
// lookup, and a map holds a sixteenth of the keys.
type prefixIndex struct {
	tables map[uint32]*tableIndex

	// last is the table of the previous call, which the next call most
	// likely names too.
	last   *tableIndex
	lastID uint32
}

type tableIndex struct {
	v4    blockIndex
	v6    blockIndex     // prefixes up to /56
	v6Far map[key6]int32 // longer prefixes
}

// key6 is an IPv6 prefix as two words and a length.
type key6 struct {
	hi, lo uint64
	bits   uint8
}

// blockSlots is the number of keys in a block, a power of two.
const (
	blockBits  = 4
	blockSlots = 1 << blockBits
)

// block is the slots of blockSlots keys, each stored plus one so that zero
// is empty, and the number of keys in use.
type block struct {
	slots [blockSlots]int32
	used  uint8
}

// blockIndex maps keys of at most 56 significant bits to slots. A key is
// its significant bits and its length. The last blockBits of the bits
// pick the place in a block, and the rest with the length name the block.
type blockIndex struct {
	blocks map[uint64]*block

	// lastKey and lastBlock are the block of the previous lookup.
	lastKey   uint64
	lastBlock *block
}

func (b *blockIndex) len() int {
	return len(b.blocks)
}

// find returns the block of key sig/bits and the place in it, creating
// the block when create is set. The block is nil when there is none.
func (b *blockIndex) find(sig uint64, bits uint8, create bool) (*block, int) {
	key, place := blockKey(sig, bits), int(sig&(blockSlots-1))
	if b.lastBlock != nil && b.lastKey == key {
		return b.lastBlock, place
	}

	blk := b.blocks[key]
	if blk == nil {
		if !create {
			return nil, place
		}

		if b.blocks == nil {
			b.blocks = make(map[uint64]*block)
		}

		blk = &block{}
		b.blocks[key] = blk
	}

	b.lastKey, b.lastBlock = key, blk

	return blk, place
}

// blockKey returns the key of the block of sig/bits: the bits above the
// place in the block, and the length in the low byte.
func blockKey(sig uint64, bits uint8) uint64 {
	return sig>>blockBits<<8 | uint64(bits)
}

func (b *blockIndex) get(sig uint64, bits uint8) (int32, bool) {
	blk, place := b.find(sig, bits, false)
	if blk == nil || blk.slots[place] == 0 {
		return 0, false
	}

	return blk.slots[place] - 1, true
}

func (b *blockIndex) put(sig uint64, bits uint8, i int32) {
	blk, place := b.find(sig, bits, true)
	if blk.slots[place] == 0 {
		blk.used++
	}

	blk.slots[place] = i + 1
}

func (b *blockIndex) delete(sig uint64, bits uint8) {
	blk, place := b.find(sig, bits, false)
	if blk == nil || blk.slots[place] == 0 {
		return
	}

	blk.slots[place] = 0
	blk.used--
	if blk.used == 0 {
		delete(b.blocks, blockKey(sig, bits))
		b.lastBlock = nil
	}
}

// maxShort6 is the longest IPv6 prefix in a block index: its significant
// bits, without the place in the block, and its length then fit one
// uint64. Longer IPv6 prefixes are rare in BGP, where networks commonly
// filter those longer than /48.
const maxShort6 = 56

func newPrefixIndex() prefixIndex {
	return prefixIndex{tables: make(map[uint32]*tableIndex)}
}

// sig4Of returns the significant bits of an IPv4 prefix.
func sig4Of(ck compactKey) uint64 {
	return uint64(binary.BigEndian.Uint32(ck.addr[12:])) >> (32 - ck.bits)
}

// sig6Of returns the significant bits of an IPv6 prefix of at most
// maxShort6 bits, all in its upper word.
func sig6Of(ck compactKey) uint64 {
	if ck.bits == 0 {
		return 0
	}

	return binary.BigEndian.Uint64(ck.addr[:8]) >> (64 - ck.bits)
}

func keyFar6Of(ck compactKey) key6 {
	return key6{hi: binary.BigEndian.Uint64(ck.addr[:8]), lo: binary.BigEndian.Uint64(ck.addr[8:]), bits: ck.bits}
}

// table returns the index of a table, creating it when create is set.
func (x *prefixIndex) table(id uint32, create bool) *tableIndex {
	if x.last != nil && x.lastID == id {
		return x.last
	}

	t, ok := x.tables[id]
	if !ok {
		if !create {
			return nil
		}

		t = &tableIndex{v6Far: make(map[key6]int32)}
		x.tables[id] = t
	}

	x.last, x.lastID = t, id

	return t
}

func (x *prefixIndex) get(ck compactKey) (int32, bool) {
	t := x.table(ck.table, false)
	if t == nil {
		return 0, false
	}

	switch {
	case ck.is4:
		return t.v4.get(sig4Of(ck), ck.bits)
	case ck.bits <= maxShort6:
		return t.v6.get(sig6Of(ck), ck.bits)
	}

	i, ok := t.v6Far[keyFar6Of(ck)]

	return i, ok
}

func (x *prefixIndex) put(ck compactKey, i int32) {
	t := x.table(ck.table, true)
	switch {
	case ck.is4:
		t.v4.put(sig4Of(ck), ck.bits, i)
	case ck.bits <= maxShort6:
		t.v6.put(sig6Of(ck), ck.bits, i)
	default:
		t.v6Far[keyFar6Of(ck)] = i
	}
}

// delete removes a key, and its table's index once the table is empty.
func (x *prefixIndex) delete(ck compactKey) {
	t := x.table(ck.table, false)
	if t == nil {
		return
	}

	switch {
	case ck.is4:
		t.v4.delete(sig4Of(ck), ck.bits)
	case ck.bits <= maxShort6:
		t.v6.delete(sig6Of(ck), ck.bits)
	default:
		delete(t.v6Far, keyFar6Of(ck))
	}

	if t.v4.len() == 0 && t.v6.len() == 0 && len(t.v6Far) == 0 {
		delete(x.tables, ck.table)
		x.last = nil
	}
}
