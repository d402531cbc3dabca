package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// app is the instance: it serves on -port (for hellomgr's readiness
// probe) and writes -lines numbered lines ("<n> <padding>", about 100
// bytes, one write each, as an access log would) at -rate bytes a second,
// then "done", and serves on until stopped.
func app(args []string) int {
	fs := flag.NewFlagSet("app", flag.ExitOnError)
	port := fs.Int("port", 0, "")
	lines := fs.Int("lines", 0, "")
	rate := fs.Int("rate", 0, "")
	fs.Parse(args)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(*port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	const padding = " GET /some/path/of/an/access/log/line HTTP/1.1 200 1234 0.42ms 127.0.0.1 curl/8.0 ok"
	start := time.Now()
	written := 0
	buf := make([]byte, 0, 128)
	for n := 1; n <= *lines; n++ {
		buf = append(strconv.AppendInt(buf[:0], int64(n), 10), padding...)
		buf = append(buf, '\n')
		os.Stdout.Write(buf)
		written += len(buf)
		if *rate > 0 && n%32 == 0 {
			if ahead := time.Duration(float64(written)/float64(*rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
	}
	fmt.Println("done")
	select {}
}
