package fib

import (
	"cmp"
	"net/netip"
	"time"

	"github.com/fibd/fibd/nexthop"
)

// entry is the state of one key: the candidates that sources offer, and
// what fib installed for it. Entries live in chunks (see entries) so that
// a million routes cost no per-route allocation and stay in place.
type entry struct {
	ck compactKey

	// first is the selected candidate when hasFirst is set; rest holds the
	// other candidates, in selection order. Most keys have one candidate,
	// which then costs no allocation.
	first    candidate
	rest     []candidate
	hasFirst bool

	// ref is the nexthop object the installed route uses, or that an
	// adopted or lost route used. It is kept across a lost route, so the
	// route comes back on the same object.
	ref nexthop.Ref

	inst installed

	err     error
	flags   entryFlags
	backoff uint8 // retries since the last success, for the delay
}

// key returns the entry's key.
func (e *entry) key() Key {
	return e.ck.key()
}

// compactKey is a Key without pointers, so that the index and the entries
// cost the garbage collector nothing to scan for it and take 16 bytes less
// per route. Keys are validated, so the prefix has no zone.
type compactKey struct {
	addr  [16]byte
	table uint32
	bits  uint8
	is4   bool
}

func compactOf(k Key) compactKey {
	a := k.Prefix.Addr()

	return compactKey{addr: a.As16(), table: k.Table, bits: uint8(k.Prefix.Bits()), is4: a.Is4()}
}

func (c compactKey) key() Key {
	a := netip.AddrFrom16(c.addr)
	if c.is4 {
		a = a.Unmap()
	}

	return Key{Table: c.table, Prefix: netip.PrefixFrom(a, int(c.bits))}
}

func (c compactKey) family() nexthop.Family {
	if c.is4 {
		return nexthop.FamilyIPv4
	}

	return nexthop.FamilyIPv6
}

// installed is the route fib has in the kernel for a key.
type installed struct {
	ok      bool
	typ     Type
	metric  uint32
	nexthop nexthop.ID
}

func (i installed) route(k Key) KernelRoute {
	return KernelRoute{Table: k.Table, Prefix: k.Prefix, Metric: i.metric, Type: i.typ, Nexthop: i.nexthop}
}

type entryFlags uint8

const (
	flagDirty      entryFlags = 1 << iota // in the queue
	flagAdopted                           // installed by a previous run, kept until the sweep
	flagConflict                          // another owner holds the route
	flagUnresolved                        // selected but no live or resolvable next hop
	flagRetry                             // in the retry heap
	flagUsed                              // the slot holds an entry
	flagBatch                             // popped by the running batch
)

// candidate is one source's offer for a key.
type candidate struct {
	set      *requested // nil for types without next hops
	source   string
	metric   uint32
	typ      Type
	distance Distance
}

// compareCandidates orders candidates by distance, then metric, then
// source name: the first one is selected.
func compareCandidates(a, b candidate) int {
	return cmp.Or(
		cmp.Compare(a.distance, b.distance),
		cmp.Compare(a.metric, b.metric),
		cmp.Compare(a.source, b.source),
	)
}

// requested is a next-hop set as sources requested it, shared by every
// candidate that requests the same set, with its resolution cached.
type requested struct {
	key  string
	set  nexthop.Set
	refs int

	// resolved is set with every hop's device found, valid while gen
	// equals the FIB's resolution generation; err is why it could not be.
	resolved nexthop.Set
	gen      uint64
	err      error
}

// needsResolve reports whether a hop has a gateway but no device.
func needsResolve(h nexthop.Hop) bool {
	return h.Gateway.IsValid() && h.Device == ""
}

const chunkBits = 12

// entries stores entries in fixed chunks addressed by index.
type entries struct {
	chunks [][]entry
	free   []int32
	n      int32 // slots handed out
}

func (s *entries) at(i int32) *entry {
	return &s.chunks[i>>chunkBits][i&(1<<chunkBits-1)]
}

func (s *entries) alloc() int32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]

		return i
	}

	if int(s.n>>chunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, prefaulted(make([]entry, 1<<chunkBits)))
	}

	i := s.n
	s.n++

	return i
}

// prefaulted writes every page of a new array that is filled over time.
// Until written, memory fresh from the kernel maps its shared zero page
// when read, such as when the garbage collector scans the array. The first
// write then copies the page and flushes the TLB of every CPU that runs one
// of fibd's threads, interrupting the dataplane's sendmsg on the other.
// Measured with perf on a 1M install.
func prefaulted[T any](s []T) []T {
	clear(s[:cap(s)])

	return s
}

func (s *entries) release(i int32) {
	*s.at(i) = entry{}
	s.free = append(s.free, i)
}

// candidates calls fn for each candidate of e in selection order.
func (e *entry) candidates(fn func(*candidate) bool) {
	if !e.hasFirst {
		return
	}

	if !fn(&e.first) {
		return
	}

	for i := range e.rest {
		if !fn(&e.rest[i]) {
			return
		}
	}
}

func (e *entry) selected() (*candidate, bool) {
	if !e.hasFirst {
		return nil, false
	}

	return &e.first, true
}

// put stores c in place of the candidate of the same source and returns the
// candidate it replaced.
func (e *entry) put(c candidate) (candidate, bool) {
	old, had := e.remove(c.source)

	switch {
	case !e.hasFirst:
		e.first, e.hasFirst = c, true
	case len(e.rest) == 0 && compareCandidates(c, e.first) < 0:
		e.first, e.rest = c, []candidate{e.first}
	case len(e.rest) == 0:
		e.rest = []candidate{c}
	default:
		all := append([]candidate{e.first}, e.rest...)
		i := 0
		for i < len(all) && compareCandidates(all[i], c) <= 0 {
			i++
		}

		all = append(all[:i], append([]candidate{c}, all[i:]...)...)
		e.first, e.rest = all[0], all[1:]
	}

	return old, had
}

// remove drops the candidate of source and returns it.
func (e *entry) remove(source string) (candidate, bool) {
	if !e.hasFirst {
		return candidate{}, false
	}

	if e.first.source == source {
		old := e.first
		if len(e.rest) == 0 {
			e.first, e.hasFirst = candidate{}, false
		} else {
			e.first = e.rest[0]
			e.rest = shrink(e.rest[1:])
		}

		return old, true
	}

	for i, c := range e.rest {
		if c.source == source {
			e.rest = shrink(append(e.rest[:i:i], e.rest[i+1:]...))

			return c, true
		}
	}

	return candidate{}, false
}

func shrink(cs []candidate) []candidate {
	if len(cs) == 0 {
		return nil
	}

	return cs
}

// scratch holds buffers that the loop reuses from batch to batch.
type scratch struct {
	popped       []int32
	plans        planPages
	segments     []segment
	deletes      []Op
	deleteOwners []routeOp
}

// retryItem schedules an entry for another try.
type retryItem struct {
	at  time.Time
	idx int32
	ck  compactKey // the entry's key, to skip the item of a removed entry
}

// retryHeap is a min-heap of retries by time, for container/heap.
type retryHeap []retryItem

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(retryItem)) }

func (h *retryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]

	return x
}
