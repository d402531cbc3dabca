package proc

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseTCP(t *testing.T) {
	const table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F41 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F41 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4243 1 0000000000000000 20 4 30 10 -1
  12: 00000000000000000000000001000000:1F42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 99 1 0000000000000000 100 0 0 10 0
`
	var got []socket
	if err := parseTCP(strings.NewReader(table), func(s socket) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	want := []socket{
		{localPort: 8001, state: tcpListen, inode: 4242},
		{localPort: 8001, state: tcpEstablished, inode: 4243},
		{localPort: 8002, state: tcpListen, inode: 99},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sockets %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %+v, want %+v", i+1, got[i], want[i])
		}
	}
	for _, bad := range []string{"header\n   0: 0100007F:1F41\n", "header\n 0: 0100007F 0 0A 0 0 0 0 0 0 1\n", "header\n 0: 0:1F41 0 ZZ 0 0 0 0 0 0 1\n"} {
		if err := parseTCP(strings.NewReader(bad), func(socket) {}); err == nil {
			t.Errorf("%q: got no error", bad)
		}
	}
}

func TestEstablished(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			l := listen(t, network)
			port := l.Addr().(*net.TCPAddr).Port
			waitEstablished(t, port, 0)

			var conns []net.Conn
			for range 2 {
				c, err := net.Dial(network, l.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				s, err := l.Accept()
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c, s)
			}
			// Only the two server ends have port as their local port.
			waitEstablished(t, port, 2)
			for _, c := range conns {
				c.Close()
			}
			waitEstablished(t, port, 0)
		})
	}
}

func TestPortRange(t *testing.T) {
	for _, port := range []int{0, -1, 65536} {
		if _, err := Established(port); err == nil {
			t.Errorf("Established(%d): got no error", port)
		}
		if _, err := Holders(port); err == nil {
			t.Errorf("Holders(%d): got no error", port)
		}
	}
}

// waitEstablished waits until Established(port) is want: the kernel updates
// a socket's state as the packets go, not when the call that sends them
// returns.
func waitEstablished(t *testing.T, port, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := Established(port)
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %d: got %d established connections, want %d", port, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listen opens a TCP listener on a free loopback port, skipping the test
// when the machine has no IPv6 loopback.
func listen(t *testing.T, network string) *net.TCPListener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	l, err := net.Listen(network, addr)
	if err != nil && network == "tcp6" {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.(*net.TCPListener)
}
