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
// (RFC 5549).
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
		if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
			return nlmsg.Route{}, fmt.Errorf("resolve next hop %s: no route to gateway %s: %w", hop, hop.Gateway, err)
		}

		return nlmsg.Route{}, fmt.Errorf("resolve next hop %s: look up the route to the gateway: %w", hop, err)
	}

	return firstRoute(hop, msgs)
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
