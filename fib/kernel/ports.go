package kernel

// PortIDs returns the netlink port ids of the Kernel's sockets. The kernel
// puts the requester's port id in the notifications that a change causes,
// so a listener such as package monitor can tell fibd's own changes from
// those of other processes and drop them.
func (k *Kernel) PortIDs() []uint32 {
	ids := []uint32{k.query.PID()}
	if t, ok := k.apply.(*rawTransport); ok {
		ids = append(ids, t.conn.PID())
	}

	return ids
}
