package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Results is everything one benchmark invocation measured, as written to
// the JSON file that the results page is generated from.
type Results struct {
	Command    string            `json:"command"`
	Started    string            `json:"started"` // RFC 3339, UTC
	Seconds    float64           `json:"seconds"` // wall time of the whole invocation
	Short      bool              `json:"short"`
	Runs       int               `json:"runs"`
	Machine    Machine           `json:"machine"`
	Versions   map[string]string `json:"versions"`    // contender or tool name to version
	Contenders []ContenderInfo   `json:"contenders"`  // in the order they ran
	Compat     []int             `json:"compat_mode"` // first: the namespace's mode; failover is measured in each

	Measurements []Measurement `json:"measurements"`

	// Invocations describes each invocation of merged results, in the
	// order of their command lines. Merge sets it.
	Invocations []Invocation `json:"-"`
}

// Invocation is the start, duration and machine of one of several merged
// invocations.
type Invocation struct {
	Started string
	Seconds float64
	Machine Machine
}

// Machine describes where the benchmark ran.
type Machine struct {
	Kernel   string `json:"kernel"`
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemoryMB int    `json:"memory_mb"`
	Go       string `json:"go"`
	Commit   string `json:"commit"` // fibd's git commit

	// LoadStart and LoadEnd are /proc/loadavg at the start and the end:
	// other work on the machine shares its CPUs with the benchmark.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
}

// ContenderInfo describes a contender for the results page.
type ContenderInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Version     string `json:"version"`
	Protocol    uint8  `json:"protocol"`
	Synchronous bool   `json:"synchronous"`
}

// Measurement is one contender on one workload in one scenario, over all
// runs.
type Measurement struct {
	Contender string   `json:"contender"`
	Scenario  string   `json:"scenario"` // install, restart, withdraw, failover-compat0, failover-compat1
	Workload  Workload `json:"workload"`
	Skipped   string   `json:"skipped,omitempty"`
	Samples   []Sample `json:"samples"`

	// Invocation is the index of the results file a merged measurement
	// comes from; ratios pair only measurements of the same invocation.
	Invocation int `json:"invocation,omitempty"`

	// Shadowed marks a merged measurement that an earlier invocation also
	// made: the tables show the earlier one, and this one serves only to
	// pair ratios with the other contenders of its own invocation.
	Shadowed bool `json:"-"`
}

// Sample is one run of a measurement.
type Sample struct {
	// Seconds is the reported time: for a synchronous contender the time
	// its own call took, otherwise ObservedSeconds.
	Seconds float64 `json:"seconds"`

	// ReturnedSeconds is the time until the contender returned (for
	// restart: reported ready); ObservedSeconds the time until the monitor
	// saw the final kernel state.
	ReturnedSeconds float64 `json:"returned_seconds"`
	ObservedSeconds float64 `json:"observed_seconds"`

	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSSKB  int64   `json:"peak_rss_kb"`
	Writes     uint64  `json:"writes"`   // route and nexthop notifications during the scenario
	Overruns   int     `json:"overruns"` // monitor overruns repaired by a dump
	Err        string  `json:"error,omitempty"`
}

// Summary is the median, min and max of the successful samples.
type Summary struct {
	N                int
	Median, Min, Max float64
}

// Summarize reduces the samples' values selected by fn; failed samples are
// left out.
func Summarize(samples []Sample, fn func(Sample) float64) Summary {
	var v []float64
	for _, s := range samples {
		if s.Err == "" {
			v = append(v, fn(s))
		}
	}

	if len(v) == 0 {
		return Summary{}
	}

	slices.Sort(v)
	med := v[len(v)/2]
	if len(v)%2 == 0 {
		med = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}

	return Summary{N: len(v), Median: med, Min: v[0], Max: v[len(v)-1]}
}

// Find returns the measurement of a contender, scenario and workload.
func (r *Results) Find(contender, scenario string, w Workload) *Measurement {
	for i := range r.Measurements {
		m := &r.Measurements[i]
		if !m.Shadowed && m.Contender == contender && m.Scenario == scenario && m.Workload == w {
			return m
		}
	}

	return nil
}

// findIn returns the measurement of a contender, scenario and workload
// made by one invocation, shadowed or not.
func (r *Results) findIn(contender, scenario string, w Workload, invocation int) *Measurement {
	for i := range r.Measurements {
		m := &r.Measurements[i]
		if m.Invocation == invocation && m.Contender == contender && m.Scenario == scenario && m.Workload == w {
			return m
		}
	}

	return nil
}

func (r *Results) measurement(contender, scenario string, w Workload) *Measurement {
	if m := r.Find(contender, scenario, w); m != nil {
		return m
	}

	r.Measurements = append(r.Measurements, Measurement{Contender: contender, Scenario: scenario, Workload: w})

	return &r.Measurements[len(r.Measurements)-1]
}

// Workloads returns the distinct workloads in the order they were run.
func (r *Results) Workloads() []Workload {
	var ws []Workload
	for _, m := range r.Measurements {
		if !slices.Contains(ws, m.Workload) {
			ws = append(ws, m.Workload)
		}
	}

	return ws
}

// WriteFile writes the results as indented JSON.
func (r *Results) WriteFile(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}

	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results %s: %w", path, err)
	}

	return nil
}

// ReadResults reads a results file.
func ReadResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}

	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode results %s: %w", path, err)
	}

	return &r, nil
}

// Merge combines the results of several invocations into one page's
// worth: commands are listed one per line, contenders and measurements
// are added in order, and a measurement already present (same contender,
// scenario and workload) keeps the first invocation's samples in the
// tables. The later one stays, shadowed, so that ratios still pair
// samples of the same run.
func Merge(rs []*Results) *Results {
	if len(rs) == 0 {
		return &Results{}
	}

	m := *rs[0]
	m.Invocations = make([]Invocation, len(rs))
	for i, r := range rs {
		m.Invocations[i] = Invocation{Started: r.Started, Seconds: r.Seconds, Machine: r.Machine}
	}

	m.Versions = map[string]string{}
	m.Contenders = slices.Clone(m.Contenders)
	m.Measurements = slices.Clone(m.Measurements)
	for i, r := range rs {
		for k, v := range r.Versions {
			m.Versions[k] = v
		}

		if i == 0 {
			continue
		}

		m.Command += "\n" + r.Command
		m.Seconds += r.Seconds
		m.Machine.LoadEnd = r.Machine.LoadEnd
		for _, c := range r.Contenders {
			if !slices.ContainsFunc(m.Contenders, func(x ContenderInfo) bool { return x.Name == c.Name }) {
				m.Contenders = append(m.Contenders, c)
			}
		}

		for _, x := range r.Measurements {
			x.Invocation = i
			x.Shadowed = m.Find(x.Contender, x.Scenario, x.Workload) != nil
			m.Measurements = append(m.Measurements, x)
		}
	}

	return &m
}
