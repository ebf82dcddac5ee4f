package nexthop

// Object is a nexthop object as it is, or is to be, programmed in the kernel:
// either a single hop or a group of other objects.
type Object struct {
	ID ID

	// Hop is the next hop of a single object; it is unused for a group.
	Hop Hop

	// Group lists the members of a group object by id, with weights. It is
	// nil for a single object. It holds only the members that are alive,
	// so it can be shorter than the set the routes requested.
	Group []GroupMember

	// Resilient is set for a resilient group and nil otherwise.
	Resilient *Resilient
}

// IsGroup reports whether o is a group object.
func (o Object) IsGroup() bool {
	return o.Group != nil
}

// GroupMember is one member of a group object: the id of a single object and
// its weight (1 to MaxWeight).
type GroupMember struct {
	ID     ID
	Weight uint32
}

// Range is the inclusive range of ids that fibd allocates from. It must not
// overlap the ranges of other nexthop owners on the machine.
type Range struct {
	First, Last ID
}

// DefaultRange is the id range used when none is configured. FRR allocates
// protocol-owned ids below 250,000,000 and keeps the top 4 bits for EVPN
// (types 1 and 2), so ids with the top nibble 0xB stay clear of both.
var DefaultRange = Range{First: 3_000_000_000, Last: 3_099_999_999}
