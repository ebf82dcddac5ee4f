package bench

import "fmt"

// cpuReference is the contender whose CPU time the section on fibd's time
// compares with: it sends the same nexthop-object requests.
const cpuReference = "writer-nhg"

// renderCPU explains the gap between fibd and the minimal writer with the
// CPU time that each spent on the same install, from the same run.
func renderCPU(p func(string, ...any), r *Results) {
	type row struct {
		w          Workload
		ref, fibd  Summary // install seconds
		refC, fibC Summary // install CPU seconds
	}

	var rows []row
	for _, w := range r.Workloads() {
		mf, mr := r.Find(fibdName, "install", w), r.Find(cpuReference, "install", w)
		if mf == nil || mr == nil || mf.Invocation != mr.Invocation {
			continue
		}

		secs := func(s Sample) float64 { return s.Seconds }
		cpu := func(s Sample) float64 { return s.CPUSeconds }
		x := row{w: w, ref: Summarize(mr.Samples, secs), fibd: Summarize(mf.Samples, secs), refC: Summarize(mr.Samples, cpu), fibC: Summarize(mf.Samples, cpu)}
		if x.ref.N > 0 && x.fibd.N > 0 {
			rows = append(rows, x)
		}
	}

	if len(rows) == 0 {
		return
	}

	p("## Where fibd's install time goes")
	p("")
	p("The kernel does the same work for every route whoever sends it, and the minimal writer does almost nothing else: its CPU time is nearly all the kernel's, spent inside sendmsg. fibd spends CPU time of its own on every route as well: storing the candidate in its index, interning the next-hop set, planning and recording each change, and the Go runtime's memory management. On a machine with %d CPUs, which the benchmark's monitor uses too, the kernel's work and fibd's own cannot all run at once, so fibd's install time grows with its CPU time. fibd's writer runs at nice -10 while it writes (kernel.writer-nice), so that fibd's other threads and the monitor take their CPU time from each other rather than from the kernel's work. The last column is fibd's CPU time beyond the writer's, per route (medians, same run).", r.Machine.CPUs)
	p("")
	p("| workload | %s install (s) | its CPU (s) | fibd install (s) | fibd CPU (s) | fibd's extra CPU per route (µs) |", cpuReference)
	p("|---|---|---|---|---|---|")
	for _, x := range rows {
		extra := (x.fibC.Median - x.refC.Median) / float64(x.w.Routes) * 1e6
		p("| %s | %s | %s | %s | %s | %s |", x.w, seconds(x.ref.Median), seconds(x.refC.Median), seconds(x.fibd.Median), seconds(x.fibC.Median), fmt.Sprintf("%.2f", extra))
	}

	p("")
}
