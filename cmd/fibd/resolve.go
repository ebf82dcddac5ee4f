package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/fibd/fibd/nexthop"
)

// resolveFunc is the signature of fib.Dataplane.Resolve.
type resolveFunc func(ctx context.Context, hop nexthop.Hop) (nexthop.Hop, error)

// rejectLocalGateways wraps the dataplane's Resolve for the API. The
// kernel's Resolve checks only the device of a hop that names one, so
// "via 192.0.2.1 dev eth0" with 192.0.2.1 on this host would pass it. The
// kernel then rejects the nexthop object, after the request has changed
// the FIB, so the gateway is checked here first.
func rejectLocalGateways(resolve resolveFunc) resolveFunc {
	return func(ctx context.Context, hop nexthop.Hop) (nexthop.Hop, error) {
		if hop.Gateway.IsValid() && hop.Device != "" {
			local, err := isLocalAddress(hop.Gateway)
			if err != nil {
				return hop, fmt.Errorf("resolve next hop %s: %w", hop, err)
			}

			if local {
				return hop, fmt.Errorf("resolve next hop %s: gateway %s is a local address of this host; use a neighbor's address", hop, hop.Gateway)
			}
		}

		return resolve(ctx, hop)
	}
}

// isLocalAddress reports whether addr is assigned to an interface of this
// network namespace, or is a loopback address.
func isLocalAddress(addr netip.Addr) (bool, error) {
	if addr.IsLoopback() {
		return true, nil
	}

	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false, fmt.Errorf("list local addresses: %w", err)
	}

	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok {
			continue
		}

		if ip, ok := netip.AddrFromSlice(ipnet.IP); ok && ip.Unmap() == addr {
			return true, nil
		}
	}

	return false, nil
}
