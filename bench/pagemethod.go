package bench

func renderMethod(p func(string, ...any), r *Results) {
	p("## Contenders")
	p("")
	p("| contender | kernel protocol | how it is driven | figure taken from |")
	p("|---|---|---|---|")
	for _, c := range r.Contenders {
		from := "the monitor: time until the kernel showed the final state"
		if c.Synchronous {
			from = "its own call: the kernel handles each netlink request inside sendmsg, so the call returns when the kernel is done"
		}

		p("| %s | %d | %s | %s |", c.Name, c.Protocol, c.Description, from)
	}

	p("")
	p("## What is measured")
	p("")
	p("Each contender runs against a fresh pair of namespaces (`fibdb-<random>-r` holding the routes, `fibdb-<random>-p` holding the gateways and BGP peers) joined by two veth links, hop0 (192.0.2.0/24, 2001:db8:ffff:1::/64) and hop1 (198.51.100.0/24, 2001:db8:ffff:2::/64). IPv4 routes are /24s counted up from 16.0.0.0 (no documentation range holds a million prefixes; the routes exist only inside the benchmark's namespaces and no packet is sent), IPv6 routes are /56s inside 2001:db8::/32. A single-hop route uses hop0; an ECMP route uses both. A workload of N groups (--groups) spreads ECMP routes over N next-hop sets of both hops, route i weighing hop0 1 + i mod N and hop1 1, so that consecutive routes use different nexthop groups. BGP carries no weights, so the contenders fed by a BGP peer skip that workload.")
	p("")
	p("A netlink monitor in the router namespace subscribes to route and nexthop notifications and follows the contender's routes (by kernel protocol, main table) and every nexthop object, so that it knows which routes forward through hop0 directly or through a nexthop group. A dump of routes and nexthops starts it, and rebuilds its state whenever its socket overruns (ENOBUFS; reported under the tables). After every scenario a dump checks the route count; a mismatch fails the run. The monitor runs in the benchmark's own process, on a machine with %d CPUs; its CPU time is not counted as the contender's. It keeps the workload's routes in an array indexed like the workload, so that following a million notifications takes little of the CPU and cache that the contender shares with it.", r.Machine.CPUs)
	p("")
	p("Every scenario starts once the machine is idle: at most %.0f%% of all CPU time busy over %s, waiting at most %s. Set-up and the end of the previous scenario are then not measured. fibd's benchmark process builds its million routes when it starts, and BIRD stayed busy for 5 to 7 s after its 1M restart had ended by the definition below. Invocations before this wait was added measured some scenarios while such work went on.", 100*idleBusy, idleWindow, idleLimit)
	p("")
	p("| scenario | ends when | does NOT measure |")
	p("|---|---|---|")
	p("| install | every route is in the kernel | process start-up of the synchronous contenders, and the writers' encoding, which happen before the clock starts; for BIRD the time includes parsing its configuration, for zebra the BGP session set-up and bgpd's best-path work; forwarding performance |")
	p("| restart | the restarted contender reports ready and the kernel has been quiet for %s; *writes* counts the notifications meanwhile | writes that change nothing (the kernel sends no notification for an identical replace, so the writers' full rewrite shows 0); the time the old process took to die |", quietPeriod)
	p("| failover (ECMP only) | no route forwards through hop0 any more; for nexthop-group contenders this is one group replace per group (or the BGP session of the hop0 peer going down), for the others a rewrite of every route | detection of the failure (BFD, link state, BGP hold timer): the failure is triggered directly; traffic loss during the change |")
	p("| withdraw | no route of the contender is left | removal of the nexthop objects after the last route |")
	p("")
	p("nexthop_compat_mode=1 makes the kernel send a route notification for every route that uses a changed nexthop group, and dumps carry the expanded next hops; with 0 a group replace is a single notification. Failover is measured in each mode on the same installed routes, with a recovery (hop0 back) in between that is not measured.")
	p("")
}
