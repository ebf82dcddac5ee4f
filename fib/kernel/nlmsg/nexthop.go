package nlmsg

import (
	"fmt"
	"net/netip"
)

// Nexthop is a nexthop object message: struct nhmsg and its attributes.
// Unknown attributes are skipped when decoding.
type Nexthop struct {
	Family   uint8 // nh_family: AF_INET, AF_INET6, or AF_UNSPEC for a group or blackhole
	Scope    uint8 // nh_scope, set by the kernel in replies
	Protocol uint8 // nh_protocol: RTPROT_*

	Flags uint32 // nh_flags: RTNH_F_ONLINK, RTNH_F_DEAD, RTNH_F_LINKDOWN, ...

	ID        uint32     // NHA_ID; 0 is not encoded, so the kernel picks an id
	OIF       uint32     // NHA_OIF; 0 is not encoded
	Gateway   netip.Addr // NHA_GATEWAY, 4 or 16 bytes
	Blackhole bool       // NHA_BLACKHOLE

	// Group holds the members of a group (NHA_GROUP).
	Group []GroupMember

	// GroupType is NHA_GROUP_TYPE: NEXTHOP_GRP_TYPE_MPATH or
	// NEXTHOP_GRP_TYPE_RES. It is encoded when Group is not empty or
	// GroupType is not zero.
	GroupType uint16

	// Resilient holds the parameters of a resilient group (NHA_RES_GROUP).
	Resilient *Resilient

	FDB        bool   // NHA_FDB
	Master     uint32 // NHA_MASTER, a dump filter; 0 is not encoded
	GroupsOnly bool   // NHA_GROUPS, a dump filter

	// OpFlags is NHA_OP_FLAGS, not encoded when 0. In replies the kernel
	// (Linux 6.12 and later) sets NHA_OP_FLAG_RESP_GRP_RESVD_0, and only
	// then does the decoder read the high byte of the group weights. The kernel
	// rejects NHA_OP_FLAGS in RTM_NEWNEXTHOP requests, so leave it zero
	// there.
	OpFlags uint32
}

// GroupMember is one entry of NHA_GROUP (struct nexthop_grp).
type GroupMember struct {
	ID uint32

	// Weight is the real weight, 1 to MaxWeight. The wire carries weight-1
	// in the weight byte and, since Linux 6.12, its high byte in
	// weight_high. Encoding takes 0 as 1 and caps values above 65536 at
	// 65536, which the kernel rejects.
	Weight uint32
}

// Resilient holds the attributes nested in NHA_RES_GROUP. The timers are
// clock_t values in USER_HZ ticks.
type Resilient struct {
	Buckets         uint16 // NHA_RES_GROUP_BUCKETS
	IdleTimer       uint32 // NHA_RES_GROUP_IDLE_TIMER
	UnbalancedTimer uint32 // NHA_RES_GROUP_UNBALANCED_TIMER

	// UnbalancedTime is NHA_RES_GROUP_UNBALANCED_TIME, reported by the
	// kernel. It is encoded only when not zero, because the kernel rejects
	// it in requests.
	UnbalancedTime uint64
}

// AppendNexthop appends a complete nexthop message to b: h with its length
// computed, the nhmsg and the attributes. The caller sets h.Type
// (RTM_NEWNEXTHOP, RTM_DELNEXTHOP) and h.Flags. It allocates only when b
// must grow.
func AppendNexthop(b []byte, h Header, n *Nexthop) []byte {
	b, start := appendHeader(b, h)
	b = n.appendPayload(b)

	return finishMessage(b, start)
}

// MarshalBinary returns the nexthop's payload: the nhmsg and attributes,
// without a netlink header.
func (n *Nexthop) MarshalBinary() ([]byte, error) {
	return n.appendPayload(make([]byte, 0, 64+SizeofNexthopGrp*len(n.Group))), nil
}

func (n *Nexthop) appendPayload(b []byte) []byte {
	b = append(b, n.Family, n.Scope, n.Protocol, 0)
	b = native.AppendUint32(b, n.Flags)

	if n.ID != 0 {
		b = appendU32Attr(b, NHA_ID, n.ID)
	}

	if len(n.Group) > 0 {
		b = appendGroup(b, n.Group)
	}

	if len(n.Group) > 0 || n.GroupType != 0 {
		b = appendU16Attr(b, NHA_GROUP_TYPE, n.GroupType)
	}

	if n.Resilient != nil {
		b = appendResilient(b, n.Resilient)
	}

	if n.Blackhole {
		b = appendFlagAttr(b, NHA_BLACKHOLE)
	}

	if n.OIF != 0 {
		b = appendU32Attr(b, NHA_OIF, n.OIF)
	}

	if n.Gateway.IsValid() {
		b = appendAddrAttr(b, NHA_GATEWAY, n.Gateway)
	}

	return n.appendFilters(b)
}

func (n *Nexthop) appendFilters(b []byte) []byte {
	if n.FDB {
		b = appendFlagAttr(b, NHA_FDB)
	}

	if n.GroupsOnly {
		b = appendFlagAttr(b, NHA_GROUPS)
	}

	if n.Master != 0 {
		b = appendU32Attr(b, NHA_MASTER, n.Master)
	}

	if n.OpFlags != 0 {
		b = appendU32Attr(b, NHA_OP_FLAGS, n.OpFlags)
	}

	return b
}

// appendGroup appends NHA_GROUP, with weight-1 split over the weight and
// weight_high bytes of struct nexthop_grp.
func appendGroup(b []byte, members []GroupMember) []byte {
	b = appendAttrHeader(b, NHA_GROUP, SizeofNexthopGrp*len(members))
	for _, m := range members {
		w := wireWeight(m.Weight)
		b = native.AppendUint32(b, m.ID)
		b = append(b, uint8(w), uint8(w>>8), 0, 0)
	}

	return b
}

// MaxWeight is the largest group member weight that Linux 6.12 and later
// accept. The wire value weight-1 = 0xffff would stand for 65536, which the
// kernel rejects as "Invalid value for weight". Kernels before 6.12 accept
// at most 256 and reject a non-zero weight_high byte.
const MaxWeight = 65535

// wireWeight returns weight-1 as struct nexthop_grp stores it, taking 0 as
// 1 and capping at 65536, the most the 16 bits hold. The kernel rejects
// 65536 with an error rather than a silently lower weight.
func wireWeight(weight uint32) uint16 {
	switch {
	case weight == 0:
		return 0
	case weight > 1<<16:
		return 1<<16 - 1
	}

	return uint16(weight - 1)
}

func appendResilient(b []byte, r *Resilient) []byte {
	b, start := beginNested(b, NHA_RES_GROUP|NLA_F_NESTED)
	b = appendU16Attr(b, NHA_RES_GROUP_BUCKETS, r.Buckets)
	b = appendU32Attr(b, NHA_RES_GROUP_IDLE_TIMER, r.IdleTimer)
	b = appendU32Attr(b, NHA_RES_GROUP_UNBALANCED_TIMER, r.UnbalancedTimer)

	if r.UnbalancedTime != 0 {
		b = appendU64Attr(b, NHA_RES_GROUP_UNBALANCED_TIME, r.UnbalancedTime)
	}

	return endNested(b, start)
}

// UnmarshalBinary decodes a nexthop payload: the nhmsg and its attributes.
// It resets n first and skips unknown attributes. Group weights use the
// weight_high byte only when NHA_OP_FLAGS carries
// NHA_OP_FLAG_RESP_GRP_RESVD_0, because older kernels left that byte
// uninitialised in dumps.
func (n *Nexthop) UnmarshalBinary(payload []byte) error {
	*n = Nexthop{}
	if len(payload) < SizeofNhmsg {
		return fmt.Errorf("decode nhmsg: %d bytes, need %d: %w", len(payload), SizeofNhmsg, ErrTruncated)
	}

	n.Family, n.Scope, n.Protocol = payload[0], payload[1], payload[2]
	n.Flags = native.Uint32(payload[4:])

	group, err := n.decodeAttrs(payload[SizeofNhmsg:])
	if err != nil {
		return fmt.Errorf("decode nexthop %d attributes: %w", n.ID, err)
	}

	if group != nil {
		n.Group = decodeGroup(group, n.OpFlags&NHA_OP_FLAG_RESP_GRP_RESVD_0 != 0)
	}

	return nil
}

// decodeAttrs decodes the attributes into n and returns the raw NHA_GROUP
// payload, whose weights depend on NHA_OP_FLAGS, which may come later.
func (n *Nexthop) decodeAttrs(b []byte) ([]byte, error) {
	var group []byte

	d := newAttrDecoder(b)
	for d.Next() {
		switch d.Type() {
		case NHA_ID:
			n.ID = d.Uint32("NHA_ID")
		case NHA_GROUP:
			group = d.Data()
			if len(group)%SizeofNexthopGrp != 0 {
				d.fail(fmt.Errorf("decode NHA_GROUP: %d bytes, not a multiple of %d: %w", len(group), SizeofNexthopGrp, ErrTruncated))
			}
		case NHA_GROUP_TYPE:
			n.GroupType = d.Uint16("NHA_GROUP_TYPE")
		case NHA_BLACKHOLE:
			n.Blackhole = true
		case NHA_OIF:
			n.OIF = d.Uint32("NHA_OIF")
		case NHA_GATEWAY:
			n.Gateway = d.Addr("NHA_GATEWAY")
		case NHA_GROUPS:
			n.GroupsOnly = true
		case NHA_MASTER:
			n.Master = d.Uint32("NHA_MASTER")
		case NHA_FDB:
			n.FDB = true
		case NHA_RES_GROUP:
			r, err := decodeResilient(d.Data())
			if err != nil {
				d.fail(err)
			}

			n.Resilient = r
		case NHA_OP_FLAGS:
			n.OpFlags = d.Uint32("NHA_OP_FLAGS")
		}
	}

	return group, d.Err()
}

func decodeGroup(b []byte, weightHigh bool) []GroupMember {
	members := make([]GroupMember, 0, len(b)/SizeofNexthopGrp)
	for ; len(b) >= SizeofNexthopGrp; b = b[SizeofNexthopGrp:] {
		w := uint32(b[4])
		if weightHigh {
			w |= uint32(b[5]) << 8
		}

		members = append(members, GroupMember{ID: native.Uint32(b), Weight: w + 1})
	}

	return members
}

func decodeResilient(b []byte) (*Resilient, error) {
	r := &Resilient{}

	d := newAttrDecoder(b)
	for d.Next() {
		switch d.Type() {
		case NHA_RES_GROUP_BUCKETS:
			r.Buckets = d.Uint16("NHA_RES_GROUP_BUCKETS")
		case NHA_RES_GROUP_IDLE_TIMER:
			r.IdleTimer = d.Uint32("NHA_RES_GROUP_IDLE_TIMER")
		case NHA_RES_GROUP_UNBALANCED_TIMER:
			r.UnbalancedTimer = d.Uint32("NHA_RES_GROUP_UNBALANCED_TIMER")
		case NHA_RES_GROUP_UNBALANCED_TIME:
			r.UnbalancedTime = d.Uint64("NHA_RES_GROUP_UNBALANCED_TIME")
		}
	}

	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("decode NHA_RES_GROUP: %w", err)
	}

	return r, nil
}
