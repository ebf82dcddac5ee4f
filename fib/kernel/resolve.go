package kernel

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/mdlayher/netlink"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

// Resolve completes hop; see fib.Dataplane. A hop with a device is
// returned unchanged once the device exists. A hop with only a gateway
// takes the device of the route the kernel would use to reach it
// (RTM_GETROUTE). When that route has a gateway, the gateway is not
// directly connected and the hop takes the route's gateway too, so that a
// BGP next hop several hops away resolves recursively. The result's
// family is its gateway's, so that an IPv4 route can use an IPv6 gateway
// (RFC 5549). The error for a gateway that a blackhole, unreachable or
// prohibit route covers names that kind of route and unwraps to the
// kernel's errno.
func (k *Kernel) Resolve(ctx context.Context, hop nexthop.Hop) (nexthop.Hop, error) {
	if hop.Device != "" {
		return hop, k.checkDevice(ctx, hop)
	}

	if !hop.Gateway.IsValid() {
		return hop, fmt.Errorf("resolve next hop %s: neither gateway nor device is set", hop)
	}

	if hop.Gateway.Is6() && hop.Gateway.IsLinkLocalUnicast() {
		return hop, fmt.Errorf("resolve next hop %s: a link-local gateway needs an interface: set the device", hop)
	}

	r, err := k.routeGet(ctx, hop)
	if err != nil {
		return hop, err
	}

	switch r.Type {
	case nlmsg.RTN_UNICAST:
	case nlmsg.RTN_LOCAL:
		return hop, fmt.Errorf("resolve next hop %s: gateway %s is a local address of this host; use a neighbor's address", hop, hop.Gateway)
	default:
		return hop, fmt.Errorf("resolve next hop %s: the route to gateway %s is %s, not unicast", hop, hop.Gateway, fib.Type(r.Type))
	}

	device, err := k.links.name(ctx, r.OIF)
	if err != nil {
		return hop, fmt.Errorf("resolve next hop %s: %w", hop, err)
	}

	if device == "" {
		return hop, fmt.Errorf("resolve next hop %s: the route to the gateway has no known device (ifindex %d)", hop, r.OIF)
	}

	// When the route to the gateway has several paths, the kernel returns
	// the one its hash picks for the gateway address; ResolvePaths returns
	// them all.
	gateway := hop.Gateway
	if r.Gateway.IsValid() {
		gateway = r.Gateway
	}

	return nexthop.Hop{Family: nexthop.FamilyOf(gateway), Gateway: gateway, Device: device}, nil
}

func (k *Kernel) checkDevice(ctx context.Context, hop nexthop.Hop) error {
	i, err := k.links.index(ctx, hop.Device)
	if err != nil {
		return fmt.Errorf("resolve next hop %s: %w", hop, err)
	}

	if i == 0 {
		return fmt.Errorf("resolve next hop %s: device %s not found", hop, hop.Device)
	}

	return nil
}

// routeGet looks up the route the kernel would use to reach the hop's
// gateway.
func (k *Kernel) routeGet(ctx context.Context, hop nexthop.Hop) (nlmsg.Route, error) {
	req := requestMessage(nlmsg.AppendRouteGet(nil, nlmsg.Header{}, hop.Gateway, 0))
	msgs, err := k.execute(ctx, req)
	if err != nil {
		return nlmsg.Route{}, routeGetError(hop, err)
	}

	return firstRoute(hop, msgs)
}

// routeGetError explains a failed lookup of the route to the hop's
// gateway. A blackhole, unreachable or prohibit route fails the lookup
// itself, so the errno is the only sign of the route's type. A second
// lookup with RTM_F_FIB_MATCH fails with the same errno (Linux 6.18).
func routeGetError(hop nexthop.Hop, err error) error {
	const fix = "set the next hop's device, or use a gateway that a unicast route reaches"

	if kind := rejectingRoute(err); kind != "" {
		return fmt.Errorf("resolve next hop %s: %s covers gateway %s (%w); %s", hop, kind, hop.Gateway, err, fix)
	}

	if errors.Is(err, syscall.ENETUNREACH) {
		return fmt.Errorf("resolve next hop %s: no route to gateway %s (%w); add a route to it, %s", hop, hop.Gateway, err, fix)
	}

	return fmt.Errorf("resolve next hop %s: look up the route to gateway %s: %w", hop, hop.Gateway, err)
}

// rejectingRoute names the kind of route or policy rule that makes the
// kernel fail a route lookup with err, or returns "". Linux 6.18 returns
// these errnos to RTM_GETROUTE for IPv4 and IPv6 alike (checked with
// `ip route get`). An unreachable rule returns ENETUNREACH, like a missing
// route.
func rejectingRoute(err error) string {
	// The kernel explains a request it rejects in an extended
	// acknowledgement, while a rejecting route comes with none.
	var opErr *netlink.OpError
	if errors.As(err, &opErr) && opErr.Message != "" {
		return ""
	}

	switch errnoOf(err) {
	case syscall.EINVAL:
		return "a blackhole route or rule"
	case syscall.EHOSTUNREACH:
		return "an unreachable route"
	case syscall.EACCES:
		return "a prohibit route or rule"
	}

	return ""
}

// firstRoute decodes the route of a lookup's reply for hop.
func firstRoute(hop nexthop.Hop, msgs []netlink.Message) (nlmsg.Route, error) {
	for _, m := range msgs {
		if m.Header.Type != nlmsg.RTM_NEWROUTE {
			continue
		}

		var r nlmsg.Route
		if err := r.UnmarshalBinary(m.Data); err != nil {
			return nlmsg.Route{}, fmt.Errorf("resolve next hop %s: %w", hop, err)
		}

		return r, nil
	}

	return nlmsg.Route{}, fmt.Errorf("resolve next hop %s: %w", hop, errNoRoute)
}

var errNoRoute = errors.New("the kernel returned no route to the gateway")
