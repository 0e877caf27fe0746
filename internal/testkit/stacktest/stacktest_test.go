package stacktest

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
)

// The ports of the tests' own servers are outside this machine's ephemeral range
// (Linux's default where the kernel does not say), and free.
func TestFreePortIsOutsideTheEphemeralRange(t *testing.T) {
	low, high := 32768, 60999
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if _, err := fmt.Sscan(string(b), &low, &high); err != nil {
			t.Fatalf("reading the ephemeral range %q: %v", b, err)
		}
	}
	for range 20 {
		port := FreePort(t)
		if port >= low && port <= high {
			t.Errorf("port %d is in the ephemeral range %d–%d", port, low, high)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		_ = ln.Close()
	}
}
