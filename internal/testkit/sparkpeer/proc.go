package sparkpeer

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// descendants are pid and the processes below it, from /proc: pyspark starts the
// JVM through spark-submit, so the JVM is a child of the driver.
func descendants(pid int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		child, parent, ok := parentOf(path)
		if ok {
			children[parent] = append(children[parent], child)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// parentOf reads a /proc/PID/stat: its pid and parent's. The parent is the second
// field after the command, which is in parentheses and may hold spaces.
func parentOf(statPath string) (pid, parent int, ok bool) {
	b, err := os.ReadFile(statPath)
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	head, rest, found := strings.Cut(s, " (")
	end := strings.LastIndex(rest, ")")
	if !found || end < 0 {
		return 0, 0, false
	}
	fields := strings.Fields(rest[end+1:])
	if len(fields) < 2 {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(head)
	parent, err2 := strconv.Atoi(fields[1])
	return pid, parent, err1 == nil && err2 == nil
}
