// Package lab builds fibd's demonstration lab: a router namespace running
// fibd with its embedded BGP speaker, upstream peers in their own namespaces,
// and a real Internet routing table for the peers to announce.
package lab

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Network is one announced network of the real table: a prefix and the AS
// that originates it.
type Network struct {
	Prefix   netip.Prefix
	OriginAS uint32
}

// ReadLocationDump reads the text that `location dump` (IPFire libloc)
// prints and returns the networks that have an origin AS, in the order of
// the dump. Networks without an "aut-num" line are country allocations that
// nobody announces, so they are left out. Each returned slice is owned by
// the caller.
func ReadLocationDump(r io.Reader) (v4, v6 []Network, err error) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)

	var current netip.Prefix
	line := 0
	for scanner.Scan() {
		line++
		key, value, ok := splitField(scanner.Text())
		if !ok {
			if strings.TrimSpace(scanner.Text()) == "" {
				current = netip.Prefix{}
			}

			continue
		}

		switch key {
		case "net":
			p, err := netip.ParsePrefix(value)
			if err != nil {
				return nil, nil, fmt.Errorf("read location dump line %d: invalid network %q: %w", line, value, err)
			}

			current = p.Masked()
		case "aut-num":
			if !current.IsValid() {
				continue // an aut-num block, not a network's origin
			}

			as, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return nil, nil, fmt.Errorf("read location dump line %d: invalid origin AS %q: %w", line, value, err)
			}

			n := Network{Prefix: current, OriginAS: uint32(as)}
			if current.Addr().Is4() {
				v4 = append(v4, n)
			} else {
				v6 = append(v6, n)
			}
		}
	}

	if err := scanner.Err(); err != nil {
		return nil, nil, fmt.Errorf("read location dump after line %d: %w", line, err)
	}

	return v4, v6, nil
}

// splitField splits "key:   value" lines; comments and blank lines are not
// fields.
func splitField(s string) (key, value string, ok bool) {
	if s == "" || s[0] == '#' {
		return "", "", false
	}

	key, value, ok = strings.Cut(s, ":")
	if !ok {
		return "", "", false
	}

	return key, strings.TrimSpace(value), true
}
