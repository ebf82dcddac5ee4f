package bench

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// factory makes a contender; available reports "" when its software is
// present, or why it is not.
type factory struct {
	name      string
	fast      bool
	make      func() Contender
	available func() string
}

var (
	registryMu sync.Mutex
	registry   = []factory{
		{name: "writer", fast: true, make: func() Contender { return NewWriter(false, false) }},
		{name: "writer-ack", make: func() Contender { return NewWriter(true, false) }},
		{name: "writer-nhg", fast: true, make: func() Contender { return NewWriter(false, true) }},
		{name: "ip-batch", fast: true, make: func() Contender { return NewIPBatch() }},
		{name: "bird", make: func() Contender { return NewBIRD() }, available: BIRDAvailable},
		{name: "zebra", make: func() Contender { return NewZebra() }, available: ZebraAvailable},
		{name: "fibd-bgp", make: func() Contender { return NewFibdBGP() }},
		{name: "fibd-grpc", make: func() Contender { return NewFibdGRPC() }},
	}
)

// Register adds a contender that another package provides (fibd's own, so
// that this package does not depend on fibd's fib and kernel packages).
// Fast contenders run in --short mode by default.
func Register(name string, fast bool, make func() Contender, available func() string) {
	registryMu.Lock()
	defer registryMu.Unlock()

	registry = append(registry, factory{name: name, fast: fast, make: make, available: available})
}

// ContenderNames lists the known contenders.
func ContenderNames() []string {
	registryMu.Lock()
	defer registryMu.Unlock()

	var names []string
	for _, f := range registry {
		names = append(names, f.name)
	}

	return names
}

// FastContenders lists the contenders that --short runs by default.
func FastContenders() []string {
	registryMu.Lock()
	defer registryMu.Unlock()

	var names []string
	for _, f := range registry {
		if f.fast && (f.available == nil || f.available() == "") {
			names = append(names, f.name)
		}
	}

	return names
}

// SelectContenders makes the contenders named in a comma-separated list,
// or every available one for "".
func SelectContenders(list string) ([]Contender, error) {
	registryMu.Lock()
	defer registryMu.Unlock()

	var want []string
	if list != "" {
		want = strings.Split(list, ",")
	}

	var cs []Contender
	for _, f := range registry {
		if want != nil && !slices.Contains(want, f.name) {
			continue
		}

		if f.available != nil {
			if reason := f.available(); reason != "" {
				if want != nil {
					return nil, fmt.Errorf("contender %s is not available: %s", f.name, reason)
				}

				continue
			}
		}

		cs = append(cs, f.make())
	}

	for _, name := range want {
		if !slices.ContainsFunc(registry, func(f factory) bool { return f.name == name }) {
			return nil, fmt.Errorf("unknown contender %q (known: %s)", name, strings.Join(contenderNamesLocked(), ","))
		}
	}

	return cs, nil
}

// contenderNamesLocked lists the known contenders; the caller holds
// registryMu.
func contenderNamesLocked() []string {
	var names []string
	for _, f := range registry {
		names = append(names, f.name)
	}

	return names
}

// NewResults starts the results of an invocation: command, machine and
// the contenders' descriptions and versions.
func NewResults(command string, short bool, cs []Contender) *Results {
	r := &Results{
		Command:  command,
		Started:  time.Now().UTC().Format(time.RFC3339),
		Short:    short,
		Machine:  DescribeMachine(),
		Versions: map[string]string{"ip": commandVersion("ip", "-V")},
	}

	for _, c := range cs {
		info := ContenderInfo{Name: c.Name(), Protocol: c.Protocol()}
		if d, ok := c.(Describer); ok {
			info.Description, info.Version = d.Describe(), d.Version()
		}

		if s, ok := c.(Synchronous); ok {
			info.Synchronous = s.Synchronous()
		}

		r.Contenders = append(r.Contenders, info)
	}

	return r
}
