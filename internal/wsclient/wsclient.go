// Package wsclient is the small websocket client (RFC 6455) that the
// end-to-end tests and benches use to tell a websocket closed with a
// close frame from one dropped without (1006): text messages, pings
// answered, the close handshake, no extensions. For tests and tools only.
package wsclient

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Abnormal is the code a client reports for a websocket that ended
// without a close frame (RFC 6455, 7.1.5).
const Abnormal = 1006

// Opcodes of the frames this client reads and writes.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// Conn is one client websocket. Not safe for concurrent writes.
type Conn struct {
	c  net.Conn
	br *bufio.Reader
}

// CloseError is what Read returns once the websocket has ended: Code is
// the code of the server's close frame, or Abnormal when it ended without
// one.
type CloseError struct {
	Code   int
	Reason string
	Err    error // the read error, for Abnormal
}

func (e *CloseError) Error() string {
	if e.Code == Abnormal {
		return fmt.Sprintf("websocket dropped without a close frame (1006): %v", e.Err)
	}
	return fmt.Sprintf("websocket closed by the server: %d %s", e.Code, e.Reason)
}

// Dial opens a websocket to rawURL (ws://host:port/path) within timeout.
// An answer other than 101 is an error that carries the status line.
func Dial(rawURL string, timeout time.Duration) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", u.Host, timeout)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	keyBytes := make([]byte, 16)
	rand.Read(keyBytes)
	key := base64.StdEncoding.EncodeToString(keyBytes)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", u.RequestURI(), u.Host, key)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		c.Close()
		return nil, errors.New("websocket handshake: wrong Sec-WebSocket-Accept")
	}
	c.SetDeadline(time.Time{})
	return &Conn{c: c, br: br}, nil
}

// Send writes one text message.
func (w *Conn) Send(text string) error { return w.write(opText, []byte(text)) }

// Read returns the next text message, answering pings on the way. Once
// the websocket ends it returns a *CloseError; after a close frame it has
// answered it with the same code, as the protocol asks.
func (w *Conn) Read(deadline time.Time) (string, error) {
	w.c.SetReadDeadline(deadline)
	for {
		op, payload, err := w.readFrame()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return "", err
			}
			return "", &CloseError{Code: Abnormal, Err: err}
		}
		switch op {
		case opText:
			return string(payload), nil
		case opPing:
			w.write(opPong, payload)
		case opClose:
			ce := &CloseError{Code: 1005} // no status in the frame
			if len(payload) >= 2 {
				ce.Code, ce.Reason = int(binary.BigEndian.Uint16(payload)), string(payload[2:])
			}
			w.write(opClose, payload[:min(2, len(payload))])
			w.c.Close()
			return "", ce
		}
	}
}

// Close sends a close frame with code and closes the connection without
// waiting for the answer.
func (w *Conn) Close(code int) error {
	w.write(opClose, binary.BigEndian.AppendUint16(nil, uint16(code)))
	return w.c.Close()
}

// readFrame reads one whole frame (fragmented messages are not used by
// the apps under test).
func (w *Conn) readFrame() (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(w.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(w.br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("websocket frame of %d bytes, more than this client reads", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(w.br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0f, payload, nil
}

// write sends one final, masked frame (a client must mask).
func (w *Conn) write(op byte, payload []byte) error {
	b := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	w.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := w.c.Write(b)
	return err
}
