package bench

import "testing"

func TestParseCPUTimes(t *testing.T) {
	c, err := parseCPUTimes("cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 50 2 25 400 10 1 1 5 0 0\n")
	if err != nil {
		t.Fatal(err)
	}

	if c.idle != 820 || c.total != 990 {
		t.Fatalf("got idle %d total %d, want 820 and 990", c.idle, c.total)
	}

	later := cpuTimes{idle: c.idle + 150, total: c.total + 200}
	if got := later.busySince(c); got != 0.25 {
		t.Fatalf("busy = %v, want 0.25", got)
	}
}

func TestParseCPUTimesRejectsOtherText(t *testing.T) {
	for _, in := range []string{"", "intr 1 2 3\n", "cpu 1 2 x 4 5\n"} {
		if _, err := parseCPUTimes(in); err == nil {
			t.Errorf("parseCPUTimes(%q) succeeded", in)
		}
	}
}
