package nexthop

import (
	"encoding/binary"
	"fmt"
)

// idAllocator hands out ids from a range, round robin, skipping the ids in
// use and those reserved by other owners.
type idAllocator struct {
	rng      Range
	next     ID
	used     map[ID]*object
	reserved map[ID]struct{}
	taken    uint64 // ids of the range in use or reserved
}

func (a *idAllocator) init(r Range, used map[ID]*object) {
	a.rng = r
	a.next = r.First
	a.used = used
	a.reserved = make(map[ID]struct{})
}

func (a *idAllocator) inRange(id ID) bool {
	return id >= a.rng.First && id <= a.rng.Last
}

func (a *idAllocator) isTaken(id ID) bool {
	if a.used[id] != nil {
		return true
	}

	_, ok := a.reserved[id]

	return ok
}

// allocate returns a free id. The caller adds the object with take.
func (a *idAllocator) allocate() (ID, error) {
	size := uint64(a.rng.Last-a.rng.First) + 1
	if a.taken >= size {
		return 0, fmt.Errorf("allocate nexthop id: range %s exhausted, all %d ids are in use or reserved by other owners", a.rng, size)
	}

	for {
		id := a.next
		if a.next == a.rng.Last {
			a.next = a.rng.First
		} else {
			a.next++
		}

		if !a.isTaken(id) {
			return id, nil
		}
	}
}

// take counts id as used; call it before adding the object to used.
func (a *idAllocator) take(id ID) {
	if a.inRange(id) && !a.isTaken(id) {
		a.taken++
	}
}

// free counts id as free again; call it after removing the object from
// used.
func (a *idAllocator) free(id ID) {
	if a.inRange(id) && !a.isTaken(id) {
		a.taken--
	}
}

// TODO: reserved ids are never released, so an id that its other owner
// frees stays unused until fibd restarts.
func (a *idAllocator) reserve(id ID) {
	if _, ok := a.reserved[id]; ok {
		return
	}

	if a.inRange(id) && a.used[id] == nil {
		a.taken++
	}

	a.reserved[id] = struct{}{}
}

// AppendSetKey appends a compact binary key of the canonical set s to b:
// two sets have the same key exactly when they program the same object.
// It does not allocate when b has room. Unlike Set.Key, the key is not
// text.
func AppendSetKey(b []byte, s Set) []byte {
	for _, m := range s.Members {
		b = appendHopKey(b, m.Hop)
		b = binary.LittleEndian.AppendUint32(b, m.Weight)
	}

	if r := s.Resilient; r != nil {
		b = append(b, 'r')
		b = binary.LittleEndian.AppendUint16(b, r.Buckets)
		b = binary.LittleEndian.AppendUint32(b, r.IdleTimer)
		b = binary.LittleEndian.AppendUint32(b, r.UnbalancedTimer)
	}

	return b
}

func appendHopKey(b []byte, h Hop) []byte {
	b = append(b, byte(h.Family))
	if h.Onlink {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}

	switch {
	case h.Gateway.Is4():
		a := h.Gateway.As4()
		b = append(b, 4)
		b = append(b, a[:]...)
	case h.Gateway.Is6():
		a := h.Gateway.As16()
		b = append(b, 16)
		b = append(b, a[:]...)
	default:
		b = append(b, 0)
	}

	b = append(b, byte(len(h.Device)))

	return append(b, h.Device...)
}

// IsCanonical reports whether s is in canonical order with no zero weight,
// so that Canonical would return an equal set.
func (s Set) IsCanonical() bool {
	for i, m := range s.Members {
		if m.Weight == 0 {
			return false
		}

		if i > 0 && compareHops(s.Members[i-1].Hop, m.Hop) > 0 {
			return false
		}
	}

	return true
}
