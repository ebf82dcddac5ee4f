package monitor

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// Wire sizes of struct ifinfomsg and struct ifaddrmsg, from
// include/uapi/linux/rtnetlink.h and include/uapi/linux/if_addr.h.
const (
	sizeofIfinfomsg = 16
	sizeofIfaddrmsg = 8
)

// link is the state of one interface as the monitor tracks it.
type link struct {
	Index uint32
	Name  string
	Up    bool
}

// linkUp reports whether nexthop objects can live on a device with the
// given ifi_flags. Linux (net/ipv4/nexthop.c, nh_netdev_event) flushes the
// nexthops of a device on NETDEV_DOWN and, on NETDEV_CHANGE, when the
// device has neither IFF_RUNNING nor IFF_LOWER_UP.
func linkUp(flags uint32) bool {
	return flags&unix.IFF_UP != 0 && flags&(unix.IFF_RUNNING|unix.IFF_LOWER_UP) != 0
}

// decodeLink decodes an RTM_NEWLINK or RTM_DELLINK payload.
func decodeLink(payload []byte) (link, error) {
	if len(payload) < sizeofIfinfomsg {
		return link{}, fmt.Errorf("decode link: %d bytes, need %d", len(payload), sizeofIfinfomsg)
	}

	l := link{
		Index: binary.NativeEndian.Uint32(payload[4:]),
		Up:    linkUp(binary.NativeEndian.Uint32(payload[8:])),
	}

	ad, err := netlink.NewAttributeDecoder(payload[sizeofIfinfomsg:])
	if err != nil {
		return link{}, fmt.Errorf("decode link %d: %w", l.Index, err)
	}

	for ad.Next() {
		if ad.Type() == unix.IFLA_IFNAME {
			l.Name = ad.String()
		}
	}

	if err := ad.Err(); err != nil {
		return link{}, fmt.Errorf("decode link %d: %w", l.Index, err)
	}

	return l, nil
}

// addrIndex returns the interface index of an RTM_NEWADDR or RTM_DELADDR
// payload.
func addrIndex(payload []byte) (uint32, error) {
	if len(payload) < sizeofIfaddrmsg {
		return 0, fmt.Errorf("decode address: %d bytes, need %d", len(payload), sizeofIfaddrmsg)
	}

	return binary.NativeEndian.Uint32(payload[4:]), nil
}

// link translates RTM_NEWLINK and RTM_DELLINK into changes of a device's
// state by name.
//
// A device that goes down (admin down, or carrier lost) loses its nexthop
// objects and their routes without any notification. A device that comes
// up needs them again. A device deleted and created again under the same
// name gets a new index, and fibd's hops follow it by name.
func (t *translator) link(acts []action, h nlmsg.Header, payload []byte) ([]action, error) {
	l, err := decodeLink(payload)
	if err != nil {
		return acts, err
	}

	if h.Type == nlmsg.RTM_DELLINK {
		return t.linkGone(acts, l.Index), nil
	}

	return t.updateLink(acts, l), nil
}

// updateLink records the state of a device that exists.
func (t *translator) updateLink(acts []action, l link) []action {
	prev, known := t.links[l.Index]
	if known && prev.Name == l.Name {
		t.links[l.Index] = l
		if prev.Up != l.Up {
			acts = linkChanged(acts, l.Name, l.Up)
		}

		return acts
	}

	// A renamed device: its old name is gone.
	if known {
		acts = t.linkGone(acts, l.Index)
	}

	// A device with this name under another index was deleted without a
	// notification that reached the monitor.
	for index, other := range t.links {
		if other.Name == l.Name {
			acts = t.linkGone(acts, index)
		}
	}

	t.links[l.Index] = l
	acts = append(acts, action{kind: actRefreshLinks})
	if l.Up {
		acts = linkChanged(acts, l.Name, true)
	}

	return acts
}

// linkGone removes the device with index from the tracked devices and
// reports it down if it was up.
func (t *translator) linkGone(acts []action, index uint32) []action {
	prev, known := t.links[index]
	if !known {
		return acts
	}

	delete(t.links, index)
	acts = append(acts, action{kind: actRefreshLinks})
	if prev.Up {
		acts = linkChanged(acts, prev.Name, false)
	}

	return acts
}

// linkChanged appends the actions for a device that went down or came up.
// The kernel also drops another owner's nexthop objects on a device that
// goes down, without a notification, and does not bring them back. A
// gateway resolved over such an object's route has to resolve again, so
// that it does not take the device back when the device comes up.
func linkChanged(acts []action, device string, up bool) []action {
	return append(acts, action{kind: actLinkChanged, device: device, up: up}, action{kind: actReresolve})
}

// address translates RTM_NEWADDR and RTM_DELADDR. A new address can make
// gateways reachable. A removed one makes the kernel drop the routes whose
// gateway it made reachable (routes without nexthop objects), so its
// removal requests a resync as well. IPv6 link-local addresses come and go
// with the link itself, whose own notification covers them.
func (t *translator) address(acts []action, h nlmsg.Header, payload []byte) ([]action, error) {
	index, err := addrIndex(payload)
	if err != nil {
		return acts, err
	}

	acts = append(acts, action{kind: actReresolve})
	if h.Type != nlmsg.RTM_DELADDR {
		return acts, nil
	}

	if payload[0] == nlmsg.AF_INET6 && payload[3] == nlmsg.RT_SCOPE_LINK {
		return acts, nil
	}

	name := t.links[index].Name
	if name == "" {
		name = fmt.Sprintf("index %d", index)
	}

	return append(acts, action{kind: actResync, reason: "address removed from " + name}), nil
}

// setLinks replaces the tracked devices with the result of a link dump and
// returns the actions for every difference.
func (t *translator) setLinks(acts []action, links []link) []action {
	seen := make(map[uint32]bool, len(links))
	for _, l := range links {
		seen[l.Index] = true
	}

	for index := range t.links {
		if !seen[index] {
			acts = t.linkGone(acts, index)
		}
	}

	for _, l := range links {
		if prev, ok := t.links[l.Index]; ok && prev == l {
			continue
		}

		acts = t.updateLink(acts, l)
	}

	return acts
}
