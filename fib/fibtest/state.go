package fibtest

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// FailNext makes the next operation of kind fail with errno. Faults queue
// up: two calls fail the next two operations of that kind.
func (d *Dataplane) FailNext(kind fib.OpKind, errno syscall.Errno) {
	d.mu.Lock()
	defer d.mu.Unlock()

	d.faults = append(d.faults, fault{kind: kind, errno: errno})
}

// SetLinkDown sets the link state of a device. On link down it does what
// Linux does: hop objects on the device are deleted, with the routes that
// use them, and leave the groups that contain them; groups left empty are
// deleted with their routes. Creating a hop object on a device that is
// down fails with ENETDOWN.
func (d *Dataplane) SetLinkDown(device string, down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()

	d.init()
	if !down {
		delete(d.down, device)

		return
	}

	d.down[device] = true
	for id, n := range d.nexthops {
		if !n.obj.IsGroup() && n.obj.Hop.Device == device {
			_ = d.deleteNexthop(id)
		}
	}
}

// SetGateway makes Resolve complete hops with gateway addr with device.
// An empty device makes the gateway unreachable again.
func (d *Dataplane) SetGateway(addr netip.Addr, device string) {
	d.mu.Lock()
	defer d.mu.Unlock()

	d.init()
	if device == "" {
		delete(d.gateways, addr)

		return
	}

	d.gateways[addr] = device
}

// AddNexthop adds an object with another protocol (or Protocol, to
// simulate what a previous run of fibd left), bypassing faults.
func (d *Dataplane) AddNexthop(o nexthop.Object, proto string) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	d.init()

	return d.createNexthop(o, proto, false)
}

// ReplaceNexthop replaces an existing object in place with one of
// protocol proto, as `ip nexthop replace` does: the routes on it stay.
// It bypasses faults.
func (d *Dataplane) ReplaceNexthop(o nexthop.Object, proto string) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	d.init()

	return d.createNexthop(o, proto, true)
}

// AddRoute adds a route with another protocol (or Protocol), bypassing
// faults.
func (d *Dataplane) AddRoute(r fib.KernelRoute, proto string) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	d.init()

	return d.addRoute(r, proto, false)
}

// DeleteNexthop deletes an object behind fib's back, with the kernel's
// cascade (see SetLinkDown).
func (d *Dataplane) DeleteNexthop(id nexthop.ID) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	d.init()

	return d.deleteNexthop(id)
}

// DeleteRoute deletes a route behind fib's back.
func (d *Dataplane) DeleteRoute(r fib.KernelRoute) error {
	d.mu.Lock()
	defer d.mu.Unlock()

	d.init()

	return d.deleteRoute(r)
}

// Snapshot returns what a dump by the kernel package would find: the
// objects and routes of Protocol, and the ids of other protocols' objects.
func (d *Dataplane) Snapshot() fib.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()

	var s fib.Snapshot
	for _, n := range d.nexthops {
		if n.proto != Protocol {
			s.ForeignNexthops = append(s.ForeignNexthops, n.obj.ID)

			continue
		}

		n.obj.Group = slices.Clone(n.obj.Group)
		s.Nexthops = append(s.Nexthops, n.obj)
	}

	for _, r := range d.routes {
		if r.proto == Protocol {
			s.Routes = append(s.Routes, r.route)
		}
	}

	slices.SortFunc(s.Nexthops, func(a, b nexthop.Object) int { return cmp.Compare(a.ID, b.ID) })
	slices.Sort(s.ForeignNexthops)
	slices.SortFunc(s.Routes, compareRoutes)

	return s
}

// Count returns how many operations of kind Apply received, failed or not.
func (d *Dataplane) Count(kind fib.OpKind) int {
	d.mu.Lock()
	defer d.mu.Unlock()

	return d.counts[kind]
}

// Writes returns how many operations Apply received in total.
func (d *Dataplane) Writes() int {
	d.mu.Lock()
	defer d.mu.Unlock()

	n := 0
	for _, c := range d.counts {
		n += c
	}

	return n
}

// ResetCounts sets the operation counts to zero.
func (d *Dataplane) ResetCounts() {
	d.mu.Lock()
	defer d.mu.Unlock()

	clear(d.counts)
}

// Render returns the nexthop objects, then the routes, as `ip nexthop` and
// `ip route` print them, one per line, sorted (objects by id, routes by
// table, prefix and metric). Each part ends with a newline.
func (d *Dataplane) Render() string {
	d.mu.Lock()
	defer d.mu.Unlock()

	var b strings.Builder
	ids := make([]nexthop.ID, 0, len(d.nexthops))
	for id := range d.nexthops {
		ids = append(ids, id)
	}

	slices.Sort(ids)
	for _, id := range ids {
		n := d.nexthops[id]
		fmt.Fprintf(&b, "id %d %s proto %s\n", id, formatNexthop(n.obj), n.proto)
	}

	routes := make([]entryRoute, 0, len(d.routes))
	for _, r := range d.routes {
		routes = append(routes, r)
	}

	slices.SortFunc(routes, func(a, b entryRoute) int { return compareRoutes(a.route, b.route) })
	for _, r := range routes {
		b.WriteString(formatRoute(r.route, r.proto))
		b.WriteByte('\n')
	}

	return b.String()
}

func formatNexthop(o nexthop.Object) string {
	if !o.IsGroup() {
		return o.Hop.String()
	}

	parts := make([]string, 0, len(o.Group))
	for _, m := range o.Group {
		p := strconv.FormatUint(uint64(m.ID), 10)
		if m.Weight != 1 {
			p += "," + strconv.FormatUint(uint64(m.Weight), 10)
		}

		parts = append(parts, p)
	}

	s := "group " + strings.Join(parts, "/")
	if r := o.Resilient; r != nil {
		s += fmt.Sprintf(" type resilient buckets %d idle_timer %d unbalanced_timer %d", r.Buckets, r.IdleTimer, r.UnbalancedTimer)
	}

	return s
}

func formatRoute(r fib.KernelRoute, proto string) string {
	var b strings.Builder
	if r.Type != fib.TypeUnicast {
		b.WriteString(r.Type.String())
		b.WriteByte(' ')
	}

	b.WriteString(r.Prefix.String())
	if r.Type == fib.TypeUnicast {
		fmt.Fprintf(&b, " nhid %d", r.Nexthop)
	}

	if r.Table != fib.TableMain {
		fmt.Fprintf(&b, " table %d", r.Table)
	}

	fmt.Fprintf(&b, " proto %s metric %d", proto, r.Metric)

	return b.String()
}

func compareRoutes(a, b fib.KernelRoute) int {
	return cmp.Or(
		cmp.Compare(a.Table, b.Table),
		cmp.Compare(a.Prefix.Addr().BitLen(), b.Prefix.Addr().BitLen()),
		a.Prefix.Addr().Compare(b.Prefix.Addr()),
		cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()),
		cmp.Compare(a.Metric, b.Metric),
	)
}

// Resolves returns how many times Resolve was called.
func (d *Dataplane) Resolves() int {
	d.mu.Lock()
	defer d.mu.Unlock()

	return d.resolves
}
