package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Ms is d in milliseconds.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Pct is the p-quantile (0 to 1) of sorted latencies (0 when none).
func Pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// RSSKB is the resident set of process pid in KiB (0 when it is gone).
func RSSKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return n
		}
	}
	return 0
}

// CPUTime is the CPU time process pid has used, user and system (0 when
// it is gone), from /proc/PID/stat.
func CPUTime(pid int) time.Duration {
	t, _ := CPUTimeOK(pid)
	return t
}

// CPUTimeOK is CPUTime, and false when pid is gone.
func CPUTimeOK(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command name (which may hold spaces), from
	// state on: utime and stime are the 12th and 13th, in clock ticks.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var n int64
	for _, i := range []int{11, 12} {
		if i < len(f) {
			v, _ := strconv.ParseInt(f[i], 10, 64)
			n += v
		}
	}
	return time.Duration(n) * time.Second / clockTicks, true
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on Linux).
const clockTicks = 100
