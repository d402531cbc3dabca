package reqlog

import "testing"

// What a line costs the manager in user space, parsed and counted.
func BenchmarkParseAdd(b *testing.B) {
	c := NewCounts()
	dgram := line("1713", "105", "127.0.0.1:44201", "200", "0.001", "GET")
	var req Request
	b.ReportAllocs()
	for i := range b.N {
		req.Conn, req.Rank = 0, 0
		if err := Parse(dgram, &req); err != nil {
			b.Fatal(err)
		}
		req.Rank = uint64(i + 1)
		c.Add(&req)
	}
}
