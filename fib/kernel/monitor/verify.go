package monitor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// Report is the outcome of Verify.
type Report struct {
	// Differences lists each difference between the kernel and the FIB's
	// desired state on one line, sorted; empty means in sync.
	Differences []string

	// Routes and Nexthops count fibd's routes and nexthop objects found
	// in the kernel.
	Routes   int
	Nexthops int
}

// Verify dumps the kernel and compares it with the FIB's expected state
// (FIB.Expected). Every selected route must be installed with the
// expected type, metric and next hops, and so must every route adopted
// from a previous run that is kept until the sweep. A selected route that
// is unresolved, or whose last change failed, is a difference with the
// FIB's reason. Every nexthop object that the FIB has installed must exist
// with the same content. Every route and object of fibd's protocol in the
// kernel must be expected by the FIB. Changes in flight show up as
// differences, so call the FIB's Sync first for a stable result.
func (m *Monitor) Verify(ctx context.Context) (Report, error) {
	snap, err := m.cfg.Kernel.Dump(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("verify: %w", err)
	}

	want := m.cfg.FIB.Expected()

	return Report{
		Differences: diff(want, snap),
		Routes:      len(snap.Routes),
		Nexthops:    len(snap.Nexthops),
	}, nil
}

// errText returns err's text, or fallback when err is nil.
func errText(err error, fallback string) string {
	if err == nil {
		return fallback
	}

	return err.Error()
}

// routeID identifies a route in the kernel.
type routeID struct {
	table  uint32
	prefix netip.Prefix
	metric uint32
}

func (r routeID) String() string {
	return fmt.Sprintf("route %s table %d metric %d", r.prefix, r.table, r.metric)
}

// diff returns the differences between the expected state and a dump, one
// line each, sorted.
func diff(want fib.ExpectedState, got fib.Snapshot) []string {
	var out []string

	kernelRoutes := make(map[routeID]fib.KernelRoute, len(got.Routes))
	for _, r := range got.Routes {
		id := routeID{r.Table, r.Prefix, normalMetric(r.Prefix, r.Metric)}
		kernelRoutes[id] = r
	}

	kernelObjects := objectsByID(got.Nexthops)
	fibObjects := objectsByID(want.Nexthops)
	for _, r := range want.Routes {
		out = diffRoute(out, r, kernelRoutes, kernelObjects, fibObjects)
	}

	for id := range kernelRoutes {
		out = append(out, "extra "+id.String())
	}

	out = diffNexthops(out, want.Nexthops, kernelObjects, got.ForeignNexthops)
	slices.Sort(out)

	return out
}

// diffRoute compares one expected route with the kernel and removes the
// kernel's route from kernelRoutes. A route the FIB selected but could not
// install is a difference too. An unresolved one always is. A failed one (a
// conflict, a kernel error) is when the kernel still holds the older route
// that the FIB installed before.
func diffRoute(out []string, want fib.ExpectedRoute, kernelRoutes map[routeID]fib.KernelRoute, kernelObjects, fibObjects map[nexthop.ID]nexthop.Object) []string {
	r := want.Route
	id := routeID{r.Table, r.Prefix, normalMetric(r.Prefix, r.Metric)}
	if want.Unresolved {
		reason := errText(want.Err, "no live next hop")
		if _, ok := kernelRoutes[id]; ok {
			delete(kernelRoutes, id)

			return append(out, fmt.Sprintf("%s is in the kernel, but unresolved in the FIB: %s", id, reason))
		}

		return append(out, fmt.Sprintf("missing %s: unresolved: %s", id, reason))
	}

	before := len(out)
	out = diffInstalledRoute(out, id, want, kernelRoutes, kernelObjects, fibObjects)
	if len(out) == before && want.Err != nil {
		out = append(out, fmt.Sprintf("failed %s: %v; the kernel keeps the route installed before", id, want.Err))
	}

	return out
}

// diffInstalledRoute compares the kernel's route for id with want.
func diffInstalledRoute(out []string, id routeID, want fib.ExpectedRoute, kernelRoutes map[routeID]fib.KernelRoute, kernelObjects, fibObjects map[nexthop.ID]nexthop.Object) []string {
	r := want.Route
	kr, ok := kernelRoutes[id]
	if !ok {
		if want.Err != nil {
			return append(out, fmt.Sprintf("missing %s: %v", id, want.Err))
		}

		return append(out, "missing "+id.String())
	}

	delete(kernelRoutes, id)
	if kr.Type != r.Type {
		return append(out, fmt.Sprintf("%s type differs: kernel %s, expected %s", id, kr.Type, r.Type))
	}

	if r.Type != fib.TypeUnicast {
		return out
	}

	return diffRouteHops(out, id, want, kr, kernelObjects, fibObjects)
}

// diffRouteHops compares the next hops of a unicast route.
func diffRouteHops(out []string, id routeID, want fib.ExpectedRoute, kr fib.KernelRoute, kernelObjects, fibObjects map[nexthop.ID]nexthop.Object) []string {
	if _, ok := kernelObjects[kr.Nexthop]; !ok {
		return append(out, fmt.Sprintf("%s uses nexthop %d, which is not one of fibd's objects in the kernel", id, kr.Nexthop))
	}

	// The FIB's own object for the route is the reference: it holds only
	// the members that are alive. Without one, the requested set is.
	wantHops := want.NextHops
	if in := want.Route.Nexthop; in != 0 {
		// A group adopted with members of other owners has no hops in the
		// FIB, so its members are compared by id.
		if wantHops == nil {
			if _, ok := fibObjects[in]; !ok {
				return append(out, fmt.Sprintf("%s is installed on nexthop %d, which the FIB does not hold", id, in))
			}

			wantHops = expand(in, fibObjects)
		}

		if in != kr.Nexthop {
			out = append(out, fmt.Sprintf("%s uses nexthop %d, expected %d", id, kr.Nexthop, in))
		}
	}

	gotHops := expand(kr.Nexthop, kernelObjects)
	if !sameHops(gotHops, wantHops) {
		out = append(out, fmt.Sprintf("%s next hops differ: kernel %s, expected %s", id, formatHops(gotHops), formatHops(wantHops)))
	}

	return out
}

// diffNexthops compares the objects the FIB holds installed with the
// kernel's, and reports the kernel's objects that the FIB does not hold.
func diffNexthops(out []string, want []nexthop.Object, kernelObjects map[nexthop.ID]nexthop.Object, foreign []nexthop.ID) []string {
	expected := make(map[nexthop.ID]bool, len(want))
	for _, o := range want {
		expected[o.ID] = true
		out = diffNexthop(out, o, kernelObjects, foreign)
	}

	for id := range kernelObjects {
		if !expected[id] {
			out = append(out, fmt.Sprintf("extra nexthop %d", id))
		}
	}

	return out
}

func diffNexthop(out []string, want nexthop.Object, kernelObjects map[nexthop.ID]nexthop.Object, foreign []nexthop.ID) []string {
	got, ok := kernelObjects[want.ID]
	switch {
	case !ok && slices.Contains(foreign, want.ID):
		return append(out, fmt.Sprintf("nexthop %d is held by another owner", want.ID))
	case !ok:
		return append(out, fmt.Sprintf("missing nexthop %d", want.ID))
	case want.IsGroup() != got.IsGroup():
		return append(out, fmt.Sprintf("nexthop %d differs: kernel %s, expected %s", want.ID, formatObject(got), formatObject(want)))
	case want.IsGroup():
		if !slices.Equal(sortedMembers(want.Group), sortedMembers(got.Group)) || !sameResilient(want.Resilient, got.Resilient) {
			return append(out, fmt.Sprintf("nexthop %d members %s differ: kernel %s", want.ID, formatObject(want), formatObject(got)))
		}
	case want.Hop != got.Hop:
		return append(out, fmt.Sprintf("nexthop %d differs: kernel %s, expected %s", want.ID, got.Hop, want.Hop))
	}

	return out
}

func objectsByID(objects []nexthop.Object) map[nexthop.ID]nexthop.Object {
	m := make(map[nexthop.ID]nexthop.Object, len(objects))
	for _, o := range objects {
		m[o.ID] = o
	}

	return m
}

// expand returns the hops an object forwards to, with weights, in
// canonical order. A member missing from objects becomes a hop whose
// device names the missing id, so that it never matches.
func expand(id nexthop.ID, objects map[nexthop.ID]nexthop.Object) []nexthop.Member {
	o, ok := objects[id]
	if !ok {
		return []nexthop.Member{{Hop: missingHop(id), Weight: 1}}
	}

	if !o.IsGroup() {
		return []nexthop.Member{{Hop: o.Hop, Weight: 1}}
	}

	var s nexthop.Set
	for _, gm := range o.Group {
		hop := missingHop(gm.ID)
		if member, ok := objects[gm.ID]; ok && !member.IsGroup() {
			hop = member.Hop
		}

		s.Members = append(s.Members, nexthop.Member{Hop: hop, Weight: gm.Weight})
	}

	return s.Canonical().Members
}

func missingHop(id nexthop.ID) nexthop.Hop {
	return nexthop.Hop{Device: fmt.Sprintf("(missing nexthop %d)", id)}
}

// sameHops compares the kernel's hops with the expected ones. An expected
// hop without a device (a gateway the FIB has not resolved) matches any
// device.
func sameHops(got, want []nexthop.Member) bool {
	if len(got) != len(want) {
		return false
	}

	for i := range got {
		g, w := got[i], want[i]
		if w.Hop.Device == "" {
			g.Hop.Device = ""
		}

		if g != w {
			return false
		}
	}

	return true
}

func formatHops(hops []nexthop.Member) string {
	if len(hops) == 1 && hops[0].Weight == 1 {
		return hops[0].Hop.String()
	}

	parts := make([]string, len(hops))
	for i, m := range hops {
		parts[i] = fmt.Sprintf("%s weight %d", m.Hop, m.Weight)
	}

	return strings.Join(parts, ", ")
}

func formatObject(o nexthop.Object) string {
	if !o.IsGroup() {
		return o.Hop.String()
	}

	parts := make([]string, 0, len(o.Group))
	for _, gm := range sortedMembers(o.Group) {
		p := strconv.FormatUint(uint64(gm.ID), 10)
		if gm.Weight > 1 {
			p += "*" + strconv.FormatUint(uint64(gm.Weight), 10)
		}

		parts = append(parts, p)
	}

	return strings.Join(parts, ",")
}

func sortedMembers(g []nexthop.GroupMember) []nexthop.GroupMember {
	s := slices.Clone(g)
	for i := range s {
		if s[i].Weight == 0 {
			s[i].Weight = 1
		}
	}

	slices.SortFunc(s, func(a, b nexthop.GroupMember) int {
		return int(int64(a.ID) - int64(b.ID))
	})

	return s
}

func sameResilient(a, b *nexthop.Resilient) bool {
	if a == nil || b == nil {
		return a == b
	}

	return a.Buckets == b.Buckets
}
