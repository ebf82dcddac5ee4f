package cli

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/fibd/fibd/api/fibdv1"
)

// writeRoutes prints routes the way `ip route` does, with fibd's source
// and distance, and the state when the kernel does not hold the route.
// A source filter matches every route where that source has a candidate,
// also one that is not selected. So when source is not empty, a route
// selected from another source gets a line for the filtered source's
// candidate:
//
//	192.0.2.0/24 nhid 3000000003 proto fibd metric 20 table 254 source grpc distance 10
//		nexthop via 198.51.100.2 dev v0 weight 1
//		candidate source bgp distance 20 metric 20 via 198.51.100.9 dev v0
func writeRoutes(w io.Writer, routes []*fibdv1.RouteState, source string) {
	for _, rs := range routes {
		fmt.Fprintln(w, routeLine(rs))

		sel := selected(rs)
		if len(sel.GetNexthops()) > 1 || sel.GetResilient() != nil {
			for _, h := range sel.GetNexthops() {
				fmt.Fprintf(w, "\tnexthop %s weight %d\n", hopText(h), weightOf(h))
			}
		}

		if source == "" || sel.GetSource() == source {
			continue
		}

		for _, c := range rs.GetCandidates() {
			if c.GetSource() == source {
				fmt.Fprintf(w, "\t%s\n", candidateLine(c))
			}
		}
	}
}

// candidateLine formats a candidate that is not selected on one line, with
// a "nexthop" word before each hop when it has several.
func candidateLine(c *fibdv1.Route) string {
	var b strings.Builder
	b.WriteString("candidate ")
	if typ := c.GetType(); typ != fibdv1.RouteType_ROUTE_TYPE_UNICAST && typ != fibdv1.RouteType_ROUTE_TYPE_UNSPECIFIED {
		b.WriteString(typeName(typ) + " ")
	}

	fmt.Fprintf(&b, "source %s distance %d metric %d", c.GetSource(), c.GetDistance(), c.GetMetric())

	hops := c.GetNexthops()
	if len(hops) == 1 && c.GetResilient() == nil {
		b.WriteString(" " + hopText(hops[0]))

		return b.String()
	}

	for _, h := range hops {
		fmt.Fprintf(&b, " nexthop %s weight %d", hopText(h), weightOf(h))
	}

	return b.String()
}

// selected returns the selected candidate, or nil when no source wants the
// key (a route fibd still has to delete).
func selected(rs *fibdv1.RouteState) *fibdv1.Route {
	if c := rs.GetCandidates(); len(c) > 0 {
		return c[0]
	}

	return nil
}

// routeLine formats the first line of a route.
func routeLine(rs *fibdv1.RouteState) string {
	var b strings.Builder
	sel := selected(rs)
	installed := rs.GetInstalled()

	typ := sel.GetType()
	if sel == nil {
		typ = installed.GetType()
	}

	if typ != fibdv1.RouteType_ROUTE_TYPE_UNICAST && typ != fibdv1.RouteType_ROUTE_TYPE_UNSPECIFIED {
		b.WriteString(typeName(typ) + " ")
	}

	b.WriteString(rs.GetPrefix())
	if id := installed.GetNexthopId(); id != 0 {
		fmt.Fprintf(&b, " nhid %d", id)
	}

	if hops := sel.GetNexthops(); len(hops) == 1 && sel.GetResilient() == nil {
		b.WriteString(" " + hopText(hops[0]))
	}

	metric := installed.GetMetric()
	if sel != nil {
		metric = sel.GetMetric()
	}

	fmt.Fprintf(&b, " proto fibd metric %d table %d", metric, rs.GetTable())
	if sel != nil {
		fmt.Fprintf(&b, " source %s distance %d", sel.GetSource(), sel.GetDistance())
	} else {
		b.WriteString(" source none")
	}

	b.WriteString(stateSuffix(rs))

	return b.String()
}

// stateSuffix describes a route that the kernel does not hold as wanted.
func stateSuffix(rs *fibdv1.RouteState) string {
	switch {
	case rs.GetConflict():
		return " conflict " + strconv.Quote(rs.GetError())
	case rs.GetError() != "":
		return " failed " + strconv.Quote(rs.GetError())
	case rs.GetUnresolved():
		return " unresolved"
	case rs.GetAdopted():
		return " adopted"
	case selected(rs) == nil:
		return " unwanted"
	case rs.GetInstalled() == nil:
		return " pending"
	}

	return ""
}

// hopText formats a next hop as iproute2 does: "via ADDR dev NAME onlink".
func hopText(h *fibdv1.Nexthop) string {
	var parts []string
	if h.GetGateway() != "" {
		parts = append(parts, "via "+h.GetGateway())
	}

	if h.GetDevice() != "" {
		parts = append(parts, "dev "+h.GetDevice())
	}

	if h.GetOnlink() {
		parts = append(parts, "onlink")
	}

	return strings.Join(parts, " ")
}

func weightOf(h *fibdv1.Nexthop) uint32 {
	if h.Weight == nil {
		return 1
	}

	return h.GetWeight()
}

func typeName(t fibdv1.RouteType) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "ROUTE_TYPE_"))
}

// writeCandidates prints every source's candidate as a table, like
// `gobgp global rib`: "*>" marks the selected candidate.
func writeCandidates(w io.Writer, routes []*fibdv1.RouteState) {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "   Network\tTable\tSource\tDistance\tMetric\tNext Hop\tState")

	for _, rs := range routes {
		for i, c := range rs.GetCandidates() {
			mark, state := "*  ", ""
			if i == 0 {
				mark, state = "*> ", candidateState(rs)
			}

			fmt.Fprintf(tw, "%s%s\t%d\t%s\t%d\t%d\t%s\t%s\n", mark, rs.GetPrefix(), rs.GetTable(), c.GetSource(), c.GetDistance(), c.GetMetric(), nexthopsText(c), state)
		}
	}

	tw.Flush()

	// tabwriter pads the empty state column of other candidates.
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		io.WriteString(w, strings.TrimRight(line, " \n"))
		if strings.HasSuffix(line, "\n") {
			io.WriteString(w, "\n")
		}
	}
}

// candidateState is the state column of a selected candidate.
func candidateState(rs *fibdv1.RouteState) string {
	if s := strings.TrimSpace(stateSuffix(rs)); s != "" {
		return s
	}

	if id := rs.GetInstalled().GetNexthopId(); id != 0 {
		return fmt.Sprintf("installed nhid %d", id)
	}

	return "installed"
}

// nexthopsText is the next-hop column: the type for routes without next
// hops, else the hops separated by commas with weights other than 1.
func nexthopsText(r *fibdv1.Route) string {
	if len(r.GetNexthops()) == 0 {
		return typeName(r.GetType())
	}

	parts := make([]string, 0, len(r.GetNexthops()))
	for _, h := range r.GetNexthops() {
		text := strings.TrimPrefix(hopText(h), "via ")
		if wt := weightOf(h); wt != 1 {
			text += fmt.Sprintf(" weight %d", wt)
		}

		parts = append(parts, text)
	}

	return strings.Join(parts, ", ")
}

// writeNexthops prints nexthop objects like `ip nexthop`, with reference
// counts: "id 3000000003 group 3000000001/3000000002 refs 10000".
func writeNexthops(w io.Writer, objects []*fibdv1.NexthopObject) {
	for _, o := range objects {
		var b strings.Builder
		fmt.Fprintf(&b, "id %d", o.GetId())

		if len(o.GetGroup()) > 0 {
			b.WriteString(" group " + groupText(o.GetGroup()))
		} else {
			b.WriteString(" " + hopText(o.GetHop()))
			if o.GetHop().GetGateway() == "" {
				b.WriteString(" " + strings.ToLower(strings.TrimPrefix(o.GetFamily().String(), "FAMILY_")))
			}
		}

		if r := o.GetResilient(); r != nil {
			fmt.Fprintf(&b, " type resilient buckets %d idle_timer %d unbalanced_timer %d", r.GetBuckets(), r.GetIdleTimer(), r.GetUnbalancedTimer())
		}

		fmt.Fprintf(&b, " refs %d", o.GetRefs())
		b.WriteString(nexthopState(o))

		fmt.Fprintln(w, b.String())
	}
}

// groupText formats group members as iproute2 does: "ID[,WEIGHT]/...".
func groupText(members []*fibdv1.GroupMember) string {
	parts := make([]string, 0, len(members))
	for _, m := range members {
		if m.GetWeight() > 1 {
			parts = append(parts, fmt.Sprintf("%d,%d", m.GetId(), m.GetWeight()))
		} else {
			parts = append(parts, strconv.FormatUint(uint64(m.GetId()), 10))
		}
	}

	return strings.Join(parts, "/")
}

// nexthopState describes an object that is not installed and healthy.
func nexthopState(o *fibdv1.NexthopObject) string {
	var b strings.Builder
	if len(o.GetDown()) > 0 {
		b.WriteString(" down " + strings.Join(o.GetDown(), ","))
	}

	if o.GetHeld() {
		b.WriteString(" held")
	}

	if o.GetOrphan() {
		b.WriteString(" orphan")
	}

	if !o.GetInstalled() {
		b.WriteString(" not-installed")
	}

	if o.GetError() != "" {
		b.WriteString(" failed " + strconv.Quote(o.GetError()))
	}

	return b.String()
}
